"""Closed forms for clause coverage and collisions of random Fixed Parameter Expansion.

Notation (docs/THEORY.md): C = ``n_clauses``, k = ``clause_size``, n = C·k literals,
alpha = expansion factor, d = n/alpha child fan-in, N = ``n_parents``, x↓m falling factorial.

Models (``model=``, see ``fpe_theory.models``; name the model with every number):

- ``"literal"``: each input weight of a parent goes to one of its alpha children
  independently and uniformly (the model under which the paper's A.5 formulas are exact).
  A child holds a clause with probability alpha^-k, a parent covers it with p_u = alpha^(1-k),
  clauses are independent: P(all covered) = (1 - (1 - alpha^(1-k))^N)^C, collision ratio
  alpha^(1-2k). Any integer alpha >= 2 (no balance rule).
- ``"subset"``: alpha·N independent sparse neurons, each a uniform d-subset (formerly
  ``"independent"``, a deprecated alias): p_u = p = d↓k / n↓k, U = alpha·N units.
- ``"partition"`` (default): N parents, each split by a uniform balanced partition into
  alpha children of d inputs: p_u = alpha·p, U = N parents (disjoint children).
- ``"two_four"``: alpha = 2, every aligned group of 4 inputs split 2/2 (clause coverage
  and collisions only; ``layout`` matters).

Balanced models: p = d↓k / n↓k (one child covers a given clause; paper alpha^-k) and
q2 = d↓2k / n↓2k (two given clauses; paper alpha^-2k). ``method="exact"``: exact values (see
``_exact`` for the inclusion–exclusion); ``"union_bound"``: the union bound over clauses;
``"paper"``: the paper's approximations p ≈ alpha^-k and 1 - x <= e^-x (model-free: they
equal the literal model's exact p, q2 and collision ratio).

Grouped split (``n_partitions=G``, partition and literal models; ``fpe_theory._grouped``):
parents of one group cover the same clauses, so the coverage functions take ``n_partitions``
and equal their ungrouped values at N = G; ``expected_collisions`` is unchanged (validated
only) and ``collisions_variance`` grows by sum_g m_g^2 / N; ``min_partitions_for_coverage``
is the smallest G.

Every function validates its input once (``ValueError`` naming the parameter and the rule,
``TypeError`` for wrong types), accepts ``n_parents`` as an int or a 1-d array (returning a
float or an array), and with ``full_output=True`` returns ``(value, ExactInfo)`` saying which
method produced the number and certified bounds on it. Simple closed forms are evaluated in
log space (``log1p``/``expm1``, sums of logs of exact integer ratios), so they stay finite and
accurate to ~1e-13 relative for n up to 1e9+, clause size 64+, alpha 1024+. ``log=True``
returns the natural log of the value (useful below the smallest double) and
``complement=True`` returns 1 - value without cancellation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np

from . import _exact, _grouped, _min_parents
from ._logspace import _hazard_logs, _miss_cover_from_log_hazard, _safe_log, _shape, _units, inv_power_float
from ._validate import (
    COLLISION_METHODS,
    LAYOUTS,
    PROB_METHODS,
    check_bool,
    check_choice,
    check_delta,
    check_int,
    check_n_parents,
)
from .models import get_model, model_names

__all__ = [
    "ExactInfo",
    "prob_all_covered",
    "prob_clause_covered",
    "expected_collisions",
    "dense_collisions",
    "collision_ratio",
    "min_parents_for_coverage",
    "prob_child_covers",
    "expected_covered_clauses",
    "collisions_variance",
    "min_partitions_for_coverage",
]

# relative error bound of the log-space float closed forms (sums of <= 2k correctly rounded
# logs, one exp/expm1): generous, checked against mpmath at 1e-10 in the tests
FLOAT_REL_BOUND = 1e-12


@dataclass(frozen=True)
class ExactInfo:
    """How a value was computed (returned with ``full_output=True``).

    ``method_used`` is one of ``"rational"`` (exact rationals), ``"mpmath"`` (high precision
    with a certified error bound), ``"bonferroni"`` (inclusion–exclusion truncated with a
    certified Bonferroni bound), ``"underflow-certificate"`` (true value below the smallest
    double, certified), ``"approximation"`` (fallback; see ``reason`` and the bounds),
    ``"closed-form"`` (log-space float closed form), ``"union_bound"`` or ``"paper"``; a tuple
    of these (one per ``n_parents`` entry) when they differ. ``lower``/``upper`` bound the true
    value (arrays when ``n_parents`` is an array); ``fell_back`` is True when the method used
    is not the one requested (or a certified variant of it).
    """

    method_requested: str
    method_used: object
    reason: str
    lower: object
    upper: object
    precision_bits: object = None
    terms: object = None

    @property
    def fell_back(self) -> bool:
        used = self.method_used if isinstance(self.method_used, tuple) else (self.method_used,)
        if self.method_requested == "exact":
            return any(m == "approximation" for m in used)
        return any(m != self.method_requested for m in used)


# ----------------------------------------------------------------------------- float helpers
def _info(requested, used, reason, lower, upper, scalar, precision=None, terms=None):
    def sh(v):
        if isinstance(v, (list, tuple, np.ndarray)):
            return _shape(v, scalar)
        return v

    if isinstance(used, (list, tuple)):
        used = used[0] if len(set(used)) == 1 else tuple(used)
    return ExactInfo(requested, used, reason, sh(lower), sh(upper), precision, terms)


def _float_closed_form(value, requested, scalar, reason="log-space float closed form", *,
                       log=False, used=None):
    """Wrap a float closed form with relative error bound FLOAT_REL_BOUND."""
    val = np.asarray(value, dtype=np.float64)
    if log:
        slack = np.where(np.isfinite(val), FLOAT_REL_BOUND * np.maximum(np.abs(val), 1.0), 0.0)
    else:
        # a value exp(x) from log space carries the exponent's absolute error, ~|x| ulps:
        # relative slack FLOAT_REL_BOUND * max(1, |log value|) (measured: 1.5e-12 at |x| = 466)
        with np.errstate(divide="ignore"):
            mag = np.abs(np.log(np.where(val > 0, val, 1.0)))
        # plus a few subnormal ulps: a value that underflowed (to 0 or a subnormal) is
        # still bounded above by the bound (these values are all >= 0)
        slack = FLOAT_REL_BOUND * np.abs(val) * np.maximum(mag, 1.0) + 4 * np.nextafter(0.0, 1.0)
        return _info(requested, used or ("closed-form" if requested == "exact" else requested), reason,
                     np.maximum(val - slack, 0.0), val + slack, scalar)
    return _info(requested, used or ("closed-form" if requested == "exact" else requested), reason,
                 val - slack, val + slack, scalar)


# ----------------------------------------------------------------------------- public API
def _units_of_coverage(n_parents, n_partitions, model_name: str) -> tuple[tuple, bool]:
    """The parent counts that coverage depends on: N, or G for a grouped split."""
    parents, scalar = check_n_parents(n_parents)
    gs, parents, scalar = _grouped.check_partitions(n_partitions, parents, scalar, model_name)
    return (parents if n_partitions is None else gs), scalar


def _model_and_config(model, n_clauses, clause_size, alpha, capability=None, what=""):
    """Resolve the model first: it decides the size rules (literal: no balance rule)."""
    if capability is not None and model == "two_four":
        raise ValueError(f"model must be one of {list(model_names(capability))} for {what}, got 'two_four' "
                         f"(no closed form for 'two_four'; estimate it with simulate())")
    m = get_model(model, capability=capability)
    return m, m.check_config(n_clauses, clause_size, alpha)


def prob_child_covers(n_clauses, clause_size, alpha, *, clauses: int = 1, method: str = "exact",
                      model: str = "partition") -> float:
    """Probability that one child holds ``clauses`` (j) given clauses.

    exact: d↓(jk) / n↓(jk) (subset, partition: a uniform d-subset) or alpha^(-jk) (literal:
    each literal lands in the child with probability 1/alpha); paper: alpha^(-jk).
    ``clauses=1`` is p of THEORY.md, ``clauses=2`` is q2.
    """
    m, cfg = _model_and_config(model, n_clauses, clause_size, alpha, "has_child_cover", "prob_child_covers")
    method = check_choice("method", method, COLLISION_METHODS)
    j = check_int("clauses", clauses, minimum=0)
    if j > cfg.n_clauses:
        raise ValueError(f"clauses must be <= n_clauses = {cfg.n_clauses}, got {j}")
    if method == "paper":
        return inv_power_float(cfg.alpha, j * cfg.clause_size)  # correctly rounded
    return float(m.child_cover_float(cfg, j))


def prob_clause_covered(n_clauses, clause_size, alpha, n_parents, *, model: str = "partition",
                        method: str = "exact", layout: str = "contiguous", complement: bool = False,
                        log: bool = False, full_output: bool = False, n_partitions=None):
    """P(a given clause is covered by at least one unit).

    exact / union_bound (a union bound over one clause is exact): 1 - (1 - p_u)^U, i.e.
    1 - (1 - alpha^(1-k))^N (literal), 1 - (1 - p)^(alpha·N) (subset), 1 - (1 - alpha·p)^N
    (partition); paper: 1 - exp(-N·alpha^(1-k)) for every model. ``model="two_four"`` (alpha
    = 2, each aligned group of 4 inputs split 2/2) is exact for ``layout="contiguous"``
    (clauses differ; the value is the mean over clauses, i.e. the expected covered fraction)
    and ``"shuffled"`` (literal positions uniformly permuted, the same for all parents); the
    other models do not depend on the layout. ``complement=True``: P(clause missed);
    ``log=True``: natural log. ``n_partitions=G`` (grouped split; partition, literal): the
    value at N = G (a group's parents cover the same clauses), e.g. 1 - (1 - alpha·p)^G.
    """
    m, cfg = _model_and_config(model, n_clauses, clause_size, alpha)
    method = check_choice("method", method, PROB_METHODS)
    layout = check_choice("layout", layout, LAYOUTS)
    complement, log, full_output = (check_bool("complement", complement), check_bool("log", log),
                                    check_bool("full_output", full_output))
    parents, scalar = _units_of_coverage(n_parents, n_partitions, m.name)
    special = None if method == "paper" else m.clause_covered_exact(cfg, parents, layout, complement)
    if special is None and not m.has_child_cover:
        raise ValueError(f"method must be 'exact' for model={m.name!r}, got {method!r}")
    if special is not None:
        if method != "exact":
            raise ValueError(f"method must be 'exact' for model={m.name!r}, got {method!r}")
        val, lo, hi = special
        if log:
            val, lo, hi = (_safe_log(np.asarray(x, dtype=np.float64)) for x in (val, lo, hi))
        out = _shape(val, scalar)
        info = _info("exact", "rational", "exact sum over occupancy patterns of the groups of 4",
                     lo, hi, scalar)
        return (out, info) if full_output else out
    if method == "paper":
        log_pu = -cfg.clause_size * math.log(cfg.alpha) + math.log(cfg.alpha)
        log_a = np.log(_units(parents, 1)) + log_pu  # A = N·alpha^(1-k)
        reason = "paper: p ≈ alpha^-k and 1 - x <= exp(-x)"
    else:
        log_a = _hazard_logs(m.log_unit_cover(cfg), _units(parents, m.units_per_parent(cfg.alpha)))
        reason = "exact: 1 - (1 - p_u)^U in log space"
    val = _miss_cover_from_log_hazard(log_a, complement=complement, log=log)
    out = _shape(val, scalar)
    if not full_output:
        return out
    used = "closed-form" if method != "paper" else "paper"
    return out, _float_closed_form(val, method, scalar, reason, log=log, used=used)


def prob_all_covered(n_clauses, clause_size, alpha, n_parents, *, model: str = "partition",
                     method: str = "exact", complement: bool = False, log: bool = False,
                     full_output: bool = False, n_partitions=None):
    """P(every clause is covered by at least one unit).

    exact: literal (1 - (1 - alpha^(1-k))^N)^C (clauses independent); subset and partition
    sum_{j=0..C} (-1)^j C(C,j) m_j^U; by exact rationals or certified high precision
    (``full_output`` says which; see fpe_theory._exact). union_bound: 1 - C·(1 - p_u)^U,
    clipped at 0 (a lower bound); paper: 1 - C·exp(-N·alpha^(1-k)), clipped at 0 (a lower
    bound under the literal model). ``complement=True`` returns P(some clause missed)
    without cancellation. ``n_partitions=G`` (grouped split; partition, literal): the value at
    N = G, e.g. literal (1 - (1 - alpha^(1-k))^G)^C.
    """
    m, cfg = _model_and_config(model, n_clauses, clause_size, alpha, "has_all_covered", "prob_all_covered")
    method = check_choice("method", method, PROB_METHODS)
    complement, log, full_output = (check_bool("complement", complement), check_bool("log", log),
                                    check_bool("full_output", full_output))
    parents, scalar = _units_of_coverage(n_parents, n_partitions, m.name)
    if method in ("union_bound", "paper"):
        if method == "paper":
            log_a = np.log(_units(parents, 1)) + (1 - cfg.clause_size) * math.log(cfg.alpha)
        else:
            log_a = _hazard_logs(m.log_unit_cover(cfg), _units(parents, m.units_per_parent(cfg.alpha)))
        # P(missed) <= C·exp(-A): log = log C - A
        with np.errstate(over="ignore"):
            log_miss = math.log(cfg.n_clauses) - np.exp(log_a)
        with np.errstate(divide="ignore"):
            if complement:
                val = np.minimum(log_miss, 0.0) if log else np.minimum(np.exp(log_miss), 1.0)
            else:
                cov = np.where(log_miss < math.log(0.5), -np.expm1(np.minimum(log_miss, 0.0)),
                               np.maximum(1.0 - np.exp(np.minimum(log_miss, 0.0)), 0.0))
                cov = np.maximum(cov, 0.0)
                val = _safe_log(cov) if log else cov
        out = _shape(val, scalar)
        if not full_output:
            return out
        reason = ("union bound over clauses: 1 - C(1 - p_u)^U" if method == "union_bound"
                  else "paper: 1 - C·exp(-N·alpha^(1-k))")
        return out, _float_closed_form(val, method, scalar, reason, log=log)
    per = m.units_per_parent(cfg.alpha)
    us = [n * per for n in parents]
    uniq = sorted(set(us))
    res = dict(zip(uniq, _exact.evaluate(cfg, m, uniq)))
    rs = [res[u] for u in us]
    if log:  # from the exact / certified values: finite even below the smallest double
        vals, los, his = (list(x) for x in zip(*(_exact_logs(r, complement) for r in rs)))
    elif complement:
        vals = [r.p_miss for r in rs]
        los, his = [r.p_miss_lo for r in rs], [r.p_miss_hi for r in rs]
    else:
        vals = [r.p_all for r in rs]
        los, his = [r.p_all_lo for r in rs], [r.p_all_hi for r in rs]
    out = _shape(vals, scalar)
    if not full_output:
        return out
    methods = [r.method for r in rs]
    reasons = sorted({r.reason for r in rs})
    info = _info("exact", methods, "; ".join(reasons), los, his, scalar,
                 precision=_collapse([r.precision_bits for r in rs]),
                 terms=_collapse([r.terms for r in rs]))
    return out, info


def _exact_logs(r, complement: bool) -> tuple:
    """(log value, log lower bound, log upper bound) of P(some clause missed) (``complement``)
    or P(all covered) from a ``_exact.UnitResult``, using its exact or certified value when it
    has one (a rational, or an mpf with its certified absolute error)."""
    if r.p_miss_exact is None:
        v = (r.p_miss, r.p_miss_lo, r.p_miss_hi) if complement else (r.p_all, r.p_all_lo, r.p_all_hi)
        return tuple(_log_list(list(v)))
    x, err = r.p_miss_exact, r.p_miss_err or 0
    if isinstance(x, Fraction):
        val = x if complement else 1 - x
        if val <= 0:
            return -math.inf, -math.inf, -math.inf
        with mpmath.workprec(128):  # each int rounded once: the log is good to ~2^-120
            lv = float(mpmath.log(mpmath.mpf(val.numerator) / mpmath.mpf(val.denominator)))
        return lv, lv, lv
    with mpmath.workprec(max(r.precision_bits or 0, 128) + 64):
        val = +x if complement else 1 - x
        lo, hi = val - err, val + err

        def lg(v):
            return float(mpmath.log(v)) if v > 0 else -math.inf

        return lg(val), lg(lo), lg(min(hi, mpmath.mpf(1)))


def _log_list(xs):
    return [math.log(x) if x > 0 else -math.inf for x in xs]


def _collapse(xs):
    return xs[0] if len(set(xs)) == 1 else tuple(xs)


def expected_collisions(n_clauses, clause_size, alpha, n_parents, *, method: str = "exact",
                        model: str = "partition", layout: str = "contiguous", log: bool = False,
                        full_output: bool = False, n_partitions=None):
    """Expected number of (unit, unordered clause pair) collisions after the split.

    exact: alpha·N·C(C,2)·q2 (by linearity over the alpha children of each parent) with
    q2 = d↓2k / n↓2k (subset and partition alike) or alpha^(-2k) (literal);
    paper: alpha·N·C(C,2)·alpha^(-2k). ``model="two_four"`` is exact for both layouts (sum
    over clause pairs of the groups-of-4 occupancy product). ``n_partitions`` (grouped split)
    leaves the expectation unchanged (each parent is marginally an ungrouped one); it is
    validated and broadcast with ``n_parents``; see ``collisions_variance`` for what changes.
    """
    m, cfg = _model_and_config(model, n_clauses, clause_size, alpha)
    method = check_choice("method", method, COLLISION_METHODS)
    layout = check_choice("layout", layout, LAYOUTS)
    log, full_output = check_bool("log", log), check_bool("full_output", full_output)
    parents, scalar = check_n_parents(n_parents)
    _, parents, scalar = _grouped.check_partitions(n_partitions, parents, scalar, m.name)
    c = cfg.n_clauses
    per_parent = m.collisions_per_parent(cfg, layout)  # Fraction, or None: alpha·C(C,2)·q2
    if per_parent is not None:
        if method != "exact":
            raise ValueError(f"method must be 'exact' for model={m.name!r}, got {method!r}")
        vals = [float(per_parent * n) for n in parents]
        if log:
            vals = _log_list(vals)
        out = _shape(vals, scalar)
        info = _info("exact", "rational", "exact sum over clause pairs (groups of 4)", vals, vals, scalar)
        return (out, info) if full_output else out
    if c < 2:
        log_q = -math.inf
    elif method == "paper":
        log_q = -2 * cfg.clause_size * math.log(cfg.alpha)
    else:
        log_q = m.log_child_cover(cfg, 2)
    log_pairs = math.log(math.comb(c, 2)) if c >= 2 else -math.inf
    with np.errstate(divide="ignore"):
        log_e = math.log(cfg.alpha) + np.log(_units(parents, 1)) + log_pairs + log_q
        val = log_e if log else np.exp(log_e)
    out = _shape(val, scalar)
    if not full_output:
        return out
    return out, _float_closed_form(val, method, scalar, "alpha·N·C(C,2)·q2 in log space", log=log)


def dense_collisions(n_clauses, n_parents):
    """Collisions of the dense layer: every parent covers every clause, N·C(C,2)."""
    c = check_int("n_clauses", n_clauses, minimum=1)
    parents, scalar = check_n_parents(n_parents)
    vals = [float(n * math.comb(c, 2)) for n in parents]
    return _shape(vals, scalar)


def collision_ratio(n_clauses, clause_size, alpha, *, method: str = "exact", log: bool = False,
                    full_output: bool = False, model: str = "partition", layout: str = "contiguous"):
    """E_FPE / E_dense: alpha·q2 = alpha·d↓2k / n↓2k (subset, partition: exact), alpha^(1-2k)
    (literal: exact; and the paper's approximation for every model); two_four: the exact
    expected collisions of one parent over C(C,2).

    Defined for n_clauses >= 2 (a single clause has no pairs).
    """
    m, cfg = _model_and_config(model, n_clauses, clause_size, alpha)
    method = check_choice("method", method, COLLISION_METHODS)
    layout = check_choice("layout", layout, LAYOUTS)
    log, full_output = check_bool("log", log), check_bool("full_output", full_output)
    if cfg.n_clauses < 2:
        raise ValueError(f"n_clauses must be >= 2 for a collision ratio (pairs of clauses), got {cfg.n_clauses}")
    per_parent = m.collisions_per_parent(cfg, layout)
    if per_parent is not None:
        if method != "exact":
            raise ValueError(f"method must be 'exact' for model={m.name!r}, got {method!r}")
        ratio = per_parent / math.comb(cfg.n_clauses, 2)
        val = (math.log(ratio) if ratio > 0 else -math.inf) if log else float(ratio)
        info = ExactInfo("exact", "rational", "exact sum over clause pairs (groups of 4) / C(C,2)", val, val)
        return (float(val), info) if full_output else float(val)
    if method == "paper":
        lv = (1 - 2 * cfg.clause_size) * math.log(cfg.alpha)
        val = lv if log else inv_power_float(cfg.alpha, 2 * cfg.clause_size - 1)
        reason = "paper: alpha^(1-2k), correctly rounded"
    else:
        val = m.log_collision_ratio(cfg) if log else m.collision_ratio_float(cfg)
        reason = "alpha·q2 (log space, or correctly rounded where exact)"
    if not full_output:
        return float(val)
    return float(val), _float_closed_form([val], method, True, reason, log=log)


def min_parents_for_coverage(n_clauses, clause_size, alpha, delta, *, model: str = "partition",
                             method: str = "exact", full_output: bool = False):
    """Smallest N with P(some clause missed) <= delta.

    exact: the exact probability of the model (binary search between the single-clause
    bound and the union bound); union_bound: smallest N with C·(1 - p_u)^U <= delta (under
    the literal model C·(1 - alpha^(1-k))^N); paper: ceil(alpha^(k-1)·ln(C/delta)), which is
    sufficient under the literal model. Returns a Python int (it can exceed 2^63).
    """
    m, cfg = _model_and_config(model, n_clauses, clause_size, alpha, "has_all_covered",
                               "min_parents_for_coverage")
    delta = check_delta(delta)
    method = check_choice("method", method, PROB_METHODS)
    full_output = check_bool("full_output", full_output)
    if method == "paper":
        val = _min_parents.paper_min_parents(cfg, delta)
        info = ExactInfo("paper", "paper", "ceil(alpha^(k-1)·ln(C/delta))", val, val)
        return (val, info) if full_output else val
    if method == "union_bound" or cfg.n_clauses == 1:
        n_ub = _min_parents.union_min_parents(cfg, m, delta, cfg.n_clauses)
        info = ExactInfo(method, "union_bound" if method == "union_bound" else "closed-form",
                         "smallest N with C·(1 - p_u)^U <= delta (high precision)", n_ub, n_ub)
        return (n_ub, info) if full_output else n_ub
    hi, used, reason = _min_parents.exact_min_parents(cfg, m, delta)
    info = ExactInfo("exact", used[0] if len(used) == 1 else tuple(used), reason, hi, hi)
    return (hi, info) if full_output else hi


def expected_covered_clauses(n_clauses, clause_size, alpha, n_parents, *, model: str = "partition",
                             method: str = "exact", layout: str = "contiguous", n_partitions=None):
    """Expected number of covered clauses: C·P(a clause covered) (linearity; for two_four the
    mean over clauses). ``n_partitions=G``: the value at N = G."""
    p = prob_clause_covered(n_clauses, clause_size, alpha, n_parents, model=model, method=method, layout=layout,
                            n_partitions=n_partitions)
    c = check_int("n_clauses", n_clauses, minimum=1)
    return c * p if np.ndim(p) else float(c * p)


def collisions_variance(n_clauses, clause_size, alpha, n_parents, *, model: str = "partition", n_partitions=None):
    """Variance of the number of collisions (unit, unordered clause pair), exact (partition
    and literal models).

    Ungrouped: N·Var(Y) (parents independent); grouped (``n_partitions=G``):
    (sum_g m_g^2)·Var(Y), group sizes m_g of the even deal (r groups of q + 1, G - r of q,
    N = qG + r), with Var(Y) one parent's variance (``fpe_theory._grouped`` gives E[Y^2]).
    Exact rationals, returned as floats (an array when ``n_parents``/``n_partitions`` is one).
    """
    m, cfg = _model_and_config(model, n_clauses, clause_size, alpha)
    if m.name not in _grouped.GROUPED_MODELS:
        raise ValueError(f"model must be one of {list(_grouped.GROUPED_MODELS)} for collisions_variance, "
                         f"got {m.name!r}")
    parents, scalar = check_n_parents(n_parents)
    gs, parents, scalar = _grouped.check_partitions(n_partitions, parents, scalar, m.name)
    _, var = _grouped.parent_collision_moments(m, cfg)
    vals = [float(var * (n if g is None else _grouped.sum_squared_group_sizes(n, g))) for n, g in zip(parents, gs)]
    return _shape(vals, scalar)


def min_partitions_for_coverage(n_clauses, clause_size, alpha, delta, *, model: str = "partition",
                                method: str = "exact", full_output: bool = False):
    """Smallest number of partitions G with P(some clause missed) <= delta for a grouped split.

    Coverage of a grouped layer is that of G parents, so this is ``min_parents_for_coverage``
    (same model, method and certificates) read as a count of partitions: any layer with
    N >= G parents split with ``n_partitions=G`` meets it. Partition and literal models.
    """
    m = get_model(model, capability="has_all_covered")
    if m.name not in _grouped.GROUPED_MODELS:
        raise ValueError(f"model must be one of {list(_grouped.GROUPED_MODELS)} for min_partitions_for_coverage, "
                         f"got {m.name!r}")
    return min_parents_for_coverage(n_clauses, clause_size, alpha, delta, model=m.name, method=method,
                                    full_output=full_output)
