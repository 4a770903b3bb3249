"""Old import path of ``fpe_empirical.data.dnf`` (kept for existing code): the same module object."""

import sys

from .data import dnf as _module
sys.modules[__name__] = _module
