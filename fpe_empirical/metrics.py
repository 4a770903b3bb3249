"""Old import path of ``fpe_empirical.nn.metrics`` (kept for existing code): the same module object."""

import sys

from .nn import metrics as _module
sys.modules[__name__] = _module
