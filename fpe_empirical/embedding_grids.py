"""Old import path of ``fpe_empirical.sweeps.vision_grids`` (kept for existing code): the same module object."""

import sys

from .sweeps import vision_grids as _module

if __name__ == "__main__":  # python -m fpe_empirical.embedding_grids
    sys.exit(_module.main())
sys.modules[__name__] = _module
