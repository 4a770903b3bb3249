"""Old import path of ``fpe_empirical.data.embeddings`` (kept for existing code): the same module object."""

import sys

from .data import embeddings as _module
sys.modules[__name__] = _module
