"""fpe_theory: exact closed forms for clause coverage and collisions of random FPE, and Monte Carlo checks.

Three random models of the split (``model=``; ``fpe_theory.models``): ``"literal"`` (each
input weight to an independent uniform child: the model under which the paper's A.5
formulas are exact), ``"subset"`` (alpha·N independent uniform d-subsets; ``"independent"``
is its deprecated old name) and ``"partition"`` (the real balanced split, the default),
plus ``"two_four"`` (the structured 2:4 split).

Modules: ``closed_forms`` (exact values, union bounds, the paper's approximations),
``models`` (the model registry), ``montecarlo`` (``simulate``), ``bound_checks`` (the CLI
``python -m fpe_theory.simulate``), ``curves`` (the theory figures' closed-form curves).

Public names load lazily (PEP 562): ``import fpe_theory`` is cheap, numba is imported only
when ``simulate`` is used. ``fpe_theory.simulate`` is the callable module
``fpe_theory/simulate.py`` (function and command share the name; see that module).
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
    "expected_covered_clauses": "closed_forms",
    "collisions_variance": "closed_forms",
    "min_partitions_for_coverage": "closed_forms",
    "ExactInfo": "closed_forms",
    "simulate": "simulate",
    "SimulationResult": "montecarlo",
    "simulation_frame": "montecarlo",
    "get_model": "models",
    "model_names": "models",
    "TheoryModel": "models",
    "coverage_curves": "curves",
    "collision_curves": "curves",
    "model_gap_curves": "curves",
    "Estimate": "_stats",
    "sample_masks": "montecarlo",
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
