"""Old import path of ``fpe_empirical.experiments.sensitivity`` (kept for existing code): the same module object."""

import sys

from .experiments import sensitivity as _module

if __name__ == "__main__":  # python -m fpe_empirical.sensitivity
    sys.exit(_module.main())
sys.modules[__name__] = _module
