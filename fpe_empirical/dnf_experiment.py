"""Old import path of ``fpe_empirical.experiments.dnf`` (kept for existing code): the same module object."""

import sys

from .experiments import dnf as _module

if __name__ == "__main__":  # python -m fpe_empirical.dnf_experiment
    sys.exit(_module.main())
sys.modules[__name__] = _module
