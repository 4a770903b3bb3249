"""Old import path of ``fpe_empirical.nn.expand`` (kept for existing code): the same module object."""

import sys

from .nn import expand as _module
sys.modules[__name__] = _module
