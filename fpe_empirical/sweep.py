"""Old import path of ``fpe_empirical.sweeps.sweep`` (kept for existing code): the same module object."""

import sys

from .sweeps import sweep as _module

if __name__ == "__main__":  # python -m fpe_empirical.sweep
    sys.exit(_module.main())
sys.modules[__name__] = _module
