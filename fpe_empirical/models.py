"""Old import path of ``fpe_empirical.nn.models`` (kept for existing code): the same module object."""

import sys

from .nn import models as _module
sys.modules[__name__] = _module
