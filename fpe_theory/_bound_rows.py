"""The rows the bound-checking CLI (``fpe_theory.bound_checks``) prints and stores: one
simulated config with the closed forms it is checked against (``Row``), the sample variance
of the collisions as an ``Estimate`` (``_VarianceEstimate``) and the paper's sizing rule
against the exact smallest N (``SizingCheck``)."""

from __future__ import annotations

from dataclasses import dataclass

from ._stats import LEVEL
from .models import get_model
from .montecarlo import SimulationResult

@dataclass
class Row:
    """One config: the simulation and the closed forms it is checked against."""

    result: SimulationResult
    exact_all: float | None
    paper_all: float | None
    union_all: float | None
    exact_clause: float | None
    paper_clause: float | None
    exact_coll: float | None
    paper_coll: float | None
    exact_var: float | None = None

    def bound_violations(self) -> list:
        """Names of the lower bounds (union bound, paper) above the exact P(all covered)."""
        out = []
        if self.exact_all is None:
            return out
        slack = 1e-12 * max(abs(self.exact_all), 1e-300) + 1e-300
        for name, v in (("union_bound", self.union_all), ("paper", self.paper_all)):
            if v is not None and v > self.exact_all + slack:
                out.append(name)
        return out

    def checks(self):
        """(name, exact value, estimate) for every interval used by the verdict."""
        r = self.result
        out = []
        if self.exact_all is not None:
            out.append(("p_all_covered", self.exact_all, r.p_all_covered))
        if self.exact_clause is not None:
            out.append(("p_clause_covered", self.exact_clause, r.p_clause_covered))
        if self.exact_coll is not None:
            out.append(("mean_collisions", self.exact_coll, r.mean_collisions))
        return out


class _VarianceEstimate:
    """The sample variance of the collisions with its asymptotic normal interval (the
    ``Estimate`` interface the checks use)."""

    def __init__(self, result: SimulationResult):
        self.result = result
        self.value = result.collisions_variance
        self.low, self.high = result.collisions_variance_interval(LEVEL)

    def interval(self, level: float = LEVEL) -> tuple[float, float]:
        return self.result.collisions_variance_interval(level)

    def contains(self, x: float, level: float = LEVEL) -> bool:
        lo, hi = self.interval(level)
        slack = 1e-12 * max(abs(x), 1.0)
        return lo - slack <= x <= hi + slack


def _closed_forms_row(res: SimulationResult) -> Row:
    from . import closed_forms as cf

    c, k, a, n_par, model = res.n_clauses, res.clause_size, res.alpha, res.n_parents, res.model
    g = res.n_partitions
    if g is not None:  # grouped: coverage at N = G, collisions' mean unchanged, variance checked
        return Row(
            res,
            cf.prob_all_covered(c, k, a, n_par, model=model, n_partitions=g),
            cf.prob_all_covered(c, k, a, n_par, model=model, method="paper", n_partitions=g),
            cf.prob_all_covered(c, k, a, n_par, model=model, method="union_bound", n_partitions=g),
            cf.prob_clause_covered(c, k, a, n_par, model=model, n_partitions=g),
            cf.prob_clause_covered(c, k, a, n_par, model=model, method="paper", n_partitions=g),
            cf.expected_collisions(c, k, a, n_par, model=model, n_partitions=g),
            cf.expected_collisions(c, k, a, n_par, model=model, method="paper", n_partitions=g),
            cf.collisions_variance(c, k, a, n_par, model=model, n_partitions=g),
        )
    if not get_model(model).has_all_covered:  # two_four: clause coverage and collisions only
        clause = cf.prob_clause_covered(c, k, a, n_par, model=model, layout=res.layout)
        coll = cf.expected_collisions(c, k, a, n_par, model=model, layout=res.layout)
        return Row(res, None, None, None, clause, None, coll, None)
    return Row(
        res,
        cf.prob_all_covered(c, k, a, n_par, model=model),
        cf.prob_all_covered(c, k, a, n_par, model=model, method="paper"),
        cf.prob_all_covered(c, k, a, n_par, model=model, method="union_bound"),
        cf.prob_clause_covered(c, k, a, n_par, model=model),
        cf.prob_clause_covered(c, k, a, n_par, model=model, method="paper"),
        cf.expected_collisions(c, k, a, n_par, model=model),
        cf.expected_collisions(c, k, a, n_par, model=model, method="paper"),
    )


@dataclass
class SizingCheck:
    """The paper's sizing rule against the exact smallest N, for one (model, C, alpha)."""

    model: str
    n_clauses: int
    clause_size: int
    alpha: int
    delta: float
    rule: int
    exact: int

    @property
    def sufficient(self) -> bool:
        return self.rule >= self.exact

    @property
    def claimed(self) -> bool:
        """The paper derives its bounds under the literal model: only there is a failure a bug."""
        return self.model == "literal"


def _sizing_checks(rows: list, delta: float) -> list:
    from . import closed_forms as cf

    seen, out = set(), []
    for row in rows:
        r = row.result
        key = (r.model, r.n_clauses, r.clause_size, r.alpha)
        if row.exact_all is None or key in seen or r.n_partitions is not None:
            continue
        seen.add(key)
        out.append(SizingCheck(r.model, r.n_clauses, r.clause_size, r.alpha, delta,
                               cf.min_parents_for_coverage(r.n_clauses, r.clause_size, r.alpha, delta, model=r.model,
                                                           method="paper"),
                               cf.min_parents_for_coverage(r.n_clauses, r.clause_size, r.alpha, delta, model=r.model)))
    return out
