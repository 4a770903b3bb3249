"""Old import path of ``fpe_empirical.sweeps.grids`` (kept for existing code): the same module object."""

import sys

from .sweeps import grids as _module
sys.modules[__name__] = _module
