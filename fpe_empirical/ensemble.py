"""Old import path of ``fpe_empirical.training.ensemble`` (kept for existing code): the same module object."""

import sys

from .training import ensemble as _module
sys.modules[__name__] = _module
