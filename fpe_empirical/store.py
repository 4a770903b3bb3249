"""Old import path of ``fpe_empirical.results.store`` (kept for existing code): the same module object."""

import sys

from .results import store as _module
sys.modules[__name__] = _module
