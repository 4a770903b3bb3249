"""The closed-form curves of the theory figures, as tables (``paper_figures`` only draws them).

Each function returns a long ``pandas.DataFrame`` (one row per point: ``quantity``,
``model``, the x coordinate and ``value``) computed by ``fpe_theory.closed_forms``; the
Monte Carlo points the figures show next to them are stored ``theory-sim`` runs
(``fpe_theory.montecarlo.simulation_frame`` rows).

- ``coverage_curves``: P(all clauses covered) vs parents N for each model (exact, union
  bound), the paper's 1 - C·exp(-N·alpha^(1-k)), and the sizing lines (the paper's rule,
  the exact smallest N per model) for ``delta``.
- ``collision_curves``: collision ratio E_FPE / E_dense vs clauses C for each model, the
  paper's alpha^(1-2k), and their ratio.
- ``model_gap_curves``: the literal-vs-balanced gap vs the number of inputs n = C·k (k and
  alpha fixed): p / alpha^-k, q2 / alpha^-2k, the collision ratio over alpha^(1-2k), and
  P(all covered) at the paper's sizing-rule N, per model.
"""

from __future__ import annotations

import numpy as np

from . import closed_forms as cf
from ._validate import check_delta, check_int
from .models import get_model

__all__ = ["COVERAGE_MODELS", "coverage_curves", "collision_curves", "model_gap_curves", "valid_n_clauses"]

#: the models with closed forms for every quantity, in drawing order
COVERAGE_MODELS = ("literal", "subset", "partition")


def _frame(rows: list):
    import pandas as pd

    return pd.DataFrame(rows, columns=list(rows[0]) if rows else None)


def valid_n_clauses(n_clauses, clause_size: int, alpha: int, model: str) -> list:
    """The entries of ``n_clauses`` that are valid sizes for ``model`` (balanced models need
    alpha | n and k <= n/alpha; literal takes every C)."""
    m = get_model(model)
    out = []
    for c in n_clauses:
        try:
            m.check_config(int(c), clause_size, alpha)
        except ValueError:
            continue
        out.append(int(c))
    return out


def coverage_curves(n_clauses: int, clause_size: int, alpha: int, n_parents, *,
                    models=COVERAGE_MODELS, delta: float = 0.01):
    """P(all covered) vs N (``n_parents``: an array of N >= 1) for (C, k, alpha).

    Rows: ``quantity`` "exact" / "union_bound" (per model), "paper" (model "paper"),
    "min_parents_exact" (per model) and "min_parents_paper_rule" (``n_parents`` = that N,
    ``value`` = 1 - delta); columns ``quantity, model, n_clauses, clause_size, alpha,
    n_parents, value``.
    """
    ns = np.unique(np.asarray(n_parents, dtype=np.int64))
    delta = check_delta(delta)
    c, k, a = n_clauses, clause_size, alpha
    base = {"n_clauses": c, "clause_size": k, "alpha": a}
    rows = []
    for model in models:
        for quantity, method in (("exact", "exact"), ("union_bound", "union_bound")):
            vals = cf.prob_all_covered(c, k, a, ns, model=model, method=method)
            rows += [{"quantity": quantity, "model": model, **base, "n_parents": int(n), "value": float(v)}
                     for n, v in zip(ns, vals)]
        n_min = cf.min_parents_for_coverage(c, k, a, delta, model=model)
        rows.append({"quantity": "min_parents_exact", "model": model, **base, "n_parents": int(n_min),
                     "value": 1 - delta})
    paper = cf.prob_all_covered(c, k, a, ns, model=models[0], method="paper")
    rows += [{"quantity": "paper", "model": "paper", **base, "n_parents": int(n), "value": float(v)}
             for n, v in zip(ns, paper)]
    rule = cf.min_parents_for_coverage(c, k, a, delta, model=models[0], method="paper")
    rows.append({"quantity": "min_parents_paper_rule", "model": "paper", **base, "n_parents": int(rule),
                 "value": 1 - delta})
    return _frame(rows)


def collision_curves(clause_size: int, alpha: int, n_clauses, *, models=COVERAGE_MODELS):
    """Collision ratio E_FPE / E_dense vs C (``n_clauses``, each >= 2; sizes invalid for a
    balanced model are skipped for it).

    Rows: ``quantity`` "exact" (per model), "paper" (alpha^(1-2k), model "paper") and
    "exact_over_paper" (per model); columns ``quantity, model, clause_size, alpha,
    n_clauses, value``.
    """
    k, a = clause_size, alpha
    cs = sorted({check_int("n_clauses", c, minimum=2) for c in n_clauses})
    base = {"clause_size": k, "alpha": a}
    rows = []
    paper = None
    for model in models:
        for c in valid_n_clauses(cs, k, a, model):
            v = cf.collision_ratio(c, k, a, model=model)
            paper = cf.collision_ratio(c, k, a, model=model, method="paper")
            rows.append({"quantity": "exact", "model": model, **base, "n_clauses": c, "value": v})
            rows.append({"quantity": "exact_over_paper", "model": model, **base, "n_clauses": c, "value": v / paper})
    if paper is not None:
        rows += [{"quantity": "paper", "model": "paper", **base, "n_clauses": c, "value": paper} for c in cs]
    return _frame(rows)


def model_gap_curves(clause_size: int, alpha: int, n_clauses, *, delta: float = 0.05,
                     models=COVERAGE_MODELS):
    """The literal-vs-balanced gap vs n = C·k for fixed (k, alpha), C in ``n_clauses`` (>= 2).

    Rows (``quantity``; columns ``quantity, model, clause_size, alpha, n_clauses, n, value``):
    "p_over_literal" (one child covers a given clause: p / alpha^-k; 1 for literal),
    "q2_over_literal" (two given clauses: q2 / alpha^-2k), "collision_ratio_over_literal"
    (alpha·q2 / alpha^(1-2k)), "paper_rule_n_parents" (the paper's N for ``delta``; model
    "paper"), "p_all_at_paper_rule" (exact P(all covered) at that N) and
    "min_parents_exact" (the exact smallest N per model).
    """
    delta = check_delta(delta)
    k, a = clause_size, alpha
    cs = sorted({check_int("n_clauses", c, minimum=2) for c in n_clauses})
    rows = []

    def row(quantity, model, c, value):
        rows.append({"quantity": quantity, "model": model, "clause_size": k, "alpha": a, "n_clauses": c,
                     "n": c * k, "value": float(value)})

    for c in cs:
        rule = cf.min_parents_for_coverage(c, k, a, delta, model="literal", method="paper")
        row("paper_rule_n_parents", "paper", c, rule)
    for model in models:
        for c in valid_n_clauses(cs, k, a, model):
            lit1 = cf.prob_child_covers(c, k, a, model="literal")
            lit2 = cf.prob_child_covers(c, k, a, clauses=2, model="literal")
            row("p_over_literal", model, c, cf.prob_child_covers(c, k, a, model=model) / lit1)
            row("q2_over_literal", model, c, cf.prob_child_covers(c, k, a, clauses=2, model=model) / lit2)
            row("collision_ratio_over_literal", model, c,
                cf.collision_ratio(c, k, a, model=model) / cf.collision_ratio(c, k, a, model="literal"))
            rule = cf.min_parents_for_coverage(c, k, a, delta, model=model, method="paper")
            row("p_all_at_paper_rule", model, c, cf.prob_all_covered(c, k, a, rule, model=model))
            row("min_parents_exact", model, c, cf.min_parents_for_coverage(c, k, a, delta, model=model))
    return _frame(rows)
