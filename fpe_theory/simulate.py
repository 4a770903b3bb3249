"""``fpe_theory.simulate``: one name for the Monte Carlo function and its command line.

Both are public contracts: ``fpe_theory.simulate(8, 4, 2, 8, trials=..., seed=0)`` calls the
simulator and ``python -m fpe_theory.simulate`` runs the bound checks. A package attribute
and a submodule of the same name are the same slot, so this module is the one object both
resolve to: it is callable (forwarding to ``fpe_theory.montecarlo.simulate``) and it runs
``fpe_theory.bound_checks.main`` as a script. Nothing else lives here: the simulator is
``fpe_theory.montecarlo``, the CLI ``fpe_theory.bound_checks``.
"""

from __future__ import annotations

import inspect
import sys
import types

from .bound_checks import main
from .montecarlo import SimulationResult, simulate

__all__ = ["simulate", "SimulationResult", "main"]


class _SimulateModule(types.ModuleType):
    """This module, callable as ``simulate`` (same signature, same result)."""

    __signature__ = inspect.signature(simulate)

    def __call__(self, *args, **kwargs) -> SimulationResult:
        return simulate(*args, **kwargs)


if __name__ == "__main__":
    sys.exit(main())
else:
    sys.modules[__name__].__class__ = _SimulateModule
