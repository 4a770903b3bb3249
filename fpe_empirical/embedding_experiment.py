"""Old import path of ``fpe_empirical.experiments.embedding`` (kept for existing code): the same module object."""

import sys

from .experiments import embedding as _module

if __name__ == "__main__":  # python -m fpe_empirical.embedding_experiment
    sys.exit(_module.main())
sys.modules[__name__] = _module
