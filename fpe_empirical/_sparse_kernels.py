"""Old import path of ``fpe_empirical.sparse.kernels`` (kept for existing code): the same module object."""

import sys

from .sparse import kernels as _module
sys.modules[__name__] = _module
