"""Old import path of ``fpe_empirical.sweeps.profiles`` (kept for existing code): the same module object."""

import sys

from .sweeps import profiles as _module
sys.modules[__name__] = _module
