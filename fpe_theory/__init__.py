"""fpe_theory: exact closed forms for clause coverage and collisions of random FPE, and Monte Carlo checks.

Public names load lazily (PEP 562): ``import fpe_theory`` is cheap, numba is imported only
when ``simulate`` is used, and ``python -m fpe_theory.simulate`` runs without the module
being imported twice.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS = {
    "prob_all_covered": "closed_forms",
    "prob_clause_covered": "closed_forms",
    "expected_collisions": "closed_forms",
    "dense_collisions": "closed_forms",
    "collision_ratio": "closed_forms",
    "min_parents_for_coverage": "closed_forms",
    "prob_child_covers": "closed_forms",
    "ExactInfo": "closed_forms",
    "simulate": "simulate",
    "SimulationResult": "simulate",
    "Estimate": "_stats",
    "sample_masks": "_kernels",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fpe_theory' has no attribute {name!r}")
    mod = importlib.import_module(f"{__name__}.{module}")
    # ``simulate`` names a submodule too: hand out the (callable) module, so that
    # ``import fpe_theory.simulate as sim`` still finds ``sim.main`` after ``fpe_theory.simulate``
    # was looked up (caching the function here used to shadow the module)
    value = mod if module == name else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
