"""Old import path of ``fpe_empirical.experiments.coverage`` (kept for existing code): the same module object."""

import sys

from .experiments import coverage as _module
sys.modules[__name__] = _module
