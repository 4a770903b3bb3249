"""Old import path of ``fpe_empirical.training.rewire`` (kept for existing code): the same module object."""

import sys

from .training import rewire as _module
sys.modules[__name__] = _module
