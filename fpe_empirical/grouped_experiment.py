"""``python -m fpe_empirical.grouped_experiment``: the grouped-FPE study CLI
(``fpe_empirical.experiments.grouped``; a separate entry module so the kinds register once)."""

import sys

from .experiments import grouped as _module

if __name__ == "__main__":
    sys.exit(_module.main())
sys.modules[__name__] = _module
