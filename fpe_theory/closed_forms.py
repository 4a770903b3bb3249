"""Closed forms for clause coverage and collisions of random Fixed Parameter Expansion.

Notation (docs/THEORY.md): C = ``n_clauses``, k = ``clause_size``, n = C·k literals,
alpha = expansion factor, d = n/alpha child fan-in, N = ``n_parents``, x↓m falling factorial.

- p = d↓k / n↓k: one child covers a given clause (paper: alpha^-k).
- q2 = d↓2k / n↓2k: one child covers two given clauses (paper: alpha^-2k).
- Models: ``"independent"`` (alpha·N independent sparse neurons, the paper's A.5 model) and
  ``"partition"`` (N parents, each split by a uniform balanced partition into alpha children).
  A unit covers a clause with probability p_u = p (independent, U = alpha·N units) or
  alpha·p (partition, U = N parents: the alpha children are disjoint events).
- ``method="exact"``: exact values (see ``_exact`` for the inclusion–exclusion);
  ``"union_bound"``: the union bound over clauses; ``"paper"``: the paper's approximations
  p ≈ alpha^-k and 1 - x <= e^-x.

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

from . import _exact
from ._validate import (
    COLLISION_METHODS,
    LAYOUTS,
    MODELS,
    PROB_METHODS,
    Config,
    check_bool,
    check_choice,
    check_config,
    check_delta,
    check_int,
    check_n_parents,
)

__all__ = [
    "ExactInfo",
    "prob_all_covered",
    "prob_clause_covered",
    "expected_collisions",
    "dense_collisions",
    "collision_ratio",
    "min_parents_for_coverage",
    "prob_child_covers",
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


# ----------------------------------------------------------------------------- log-space helpers
def _log_falling_ratio(a: int, b: int, m: int) -> float:
    """log(a↓m / b↓m) for integers 0 <= a <= b, m >= 0; -inf when m > a.

    Each factor (a-i)/(b-i) is a quotient of exactly representable integers (rounded once),
    so the log-sum has absolute error ~m·1e-16; for m > 4096 mpmath's loggamma is used.
    """
    if m > a:
        return -math.inf
    if m == 0:
        return 0.0
    if m <= 4096 and b < 2**53:
        i = np.arange(m, dtype=np.float64)
        return math.fsum(np.log((a - i) / (b - i)).tolist())
    digits = 30 + len(str(b))
    with mpmath.workdps(digits):
        v = (mpmath.loggamma(a + 1) - mpmath.loggamma(a - m + 1)
             - mpmath.loggamma(b + 1) + mpmath.loggamma(b - m + 1))
        return float(v)


def _log_p(cfg: Config) -> float:
    """log p, p = d↓k / n↓k."""
    return _log_falling_ratio(cfg.d, cfg.n, cfg.clause_size)


def _log_unit_cover(cfg: Config, model: str) -> float:
    """log p_u: p (independent unit) or alpha·p (partition parent)."""
    if model == "partition" and cfg.clause_size == 1:
        return 0.0  # alpha·d/n = 1 exactly: every parent covers a one-literal clause (logs would round)
    lp = _log_p(cfg)
    return lp if model == "independent" else math.log(cfg.alpha) + lp


def _log_neg_log1m(log_x: float) -> float:
    """log(-log(1 - x)) from log x, accurate for tiny x; +inf at x = 1."""
    if log_x >= 0.0:
        return math.inf
    if log_x > math.log(1e-5):
        x = math.exp(log_x)
        return math.log(-math.log1p(-x))
    x = math.exp(log_x)  # may underflow to 0: the series correction then vanishes
    return log_x + math.log1p(x / 2 + x * x / 3)


def _hazard_logs(log_pu: float, units: np.ndarray) -> np.ndarray:
    """log A with A = -U·log(1 - p_u): P(clause missed by all U units) = exp(-A)."""
    return np.log(units) + _log_neg_log1m(log_pu)


def _miss_cover_from_log_hazard(log_a: np.ndarray, *, complement: bool, log: bool):
    """From log A: P(covered) = -expm1(-A) (or P(missed) = exp(-A) when ``complement``)."""
    with np.errstate(over="ignore"):
        a = np.exp(log_a)  # inf when A is astronomically large: exp(-inf) = 0 is right
    if complement:
        return -a if log else np.exp(-a)
    cov = -np.expm1(-a)
    if not log:
        return cov
    # log(1 - e^-A): log(-expm1(-A)) is accurate for small A, log1p(-e^-A) for large A
    with np.errstate(divide="ignore"):  # both branches are evaluated; A -> 0 gives -inf
        return np.where(a < math.log(2), _safe_log(cov), np.log1p(-np.exp(-a)))


def _safe_log(x: np.ndarray) -> np.ndarray:
    out = np.full(np.shape(x), -np.inf)
    pos = x > 0
    out[pos] = np.log(x[pos])
    return out


def _units(n_parents: tuple, per_parent: int) -> np.ndarray:
    """Units U = N·per_parent as float64 (huge ints are fine: logs are taken of them)."""
    return np.array([float(n) * per_parent for n in n_parents], dtype=np.float64)


def _shape(values, scalar: bool):
    arr = np.asarray(values, dtype=np.float64)
    return float(arr[0]) if scalar else arr


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
def prob_child_covers(n_clauses, clause_size, alpha, *, clauses: int = 1, method: str = "exact") -> float:
    """Probability that one child (a uniform d-subset of the n literals) holds ``clauses``
    given clauses: d↓(jk) / n↓(jk) (exact) or alpha^(-jk) (paper); j = ``clauses``.

    ``clauses=1`` is p of THEORY.md, ``clauses=2`` is q2.
    """
    cfg = check_config(n_clauses, clause_size, alpha)
    method = check_choice("method", method, COLLISION_METHODS)
    j = check_int("clauses", clauses, minimum=0)
    if j > cfg.n_clauses:
        raise ValueError(f"clauses must be <= n_clauses = {cfg.n_clauses}, got {j}")
    if method == "paper":
        return float(Fraction(1, cfg.alpha ** (j * cfg.clause_size)))  # correctly rounded
    return float(math.exp(_log_falling_ratio(cfg.d, cfg.n, j * cfg.clause_size)))


def prob_clause_covered(n_clauses, clause_size, alpha, n_parents, *, model: str = "partition",
                        method: str = "exact", layout: str = "contiguous", complement: bool = False,
                        log: bool = False, full_output: bool = False):
    """P(a given clause is covered by at least one unit).

    exact / union_bound (a union bound over one clause is exact):
    1 - (1 - p)^(alpha·N) (independent), 1 - (1 - alpha·p)^N (partition);
    paper: 1 - exp(-N·alpha^(1-k)) for both models. ``model="two_four"`` (alpha = 2, each
    aligned group of 4 inputs split 2/2) is exact for ``layout="contiguous"`` (clauses differ;
    the value is the mean over clauses, i.e. the expected covered fraction) and
    ``"shuffled"`` (literal positions uniformly permuted, the same for all parents).
    ``complement=True``: P(clause missed); ``log=True``: natural log.
    """
    cfg = check_config(n_clauses, clause_size, alpha)
    model = check_choice("model", model, MODELS + ("two_four",))
    method = check_choice("method", method, PROB_METHODS)
    layout = check_choice("layout", layout, LAYOUTS)
    complement, log, full_output = (check_bool("complement", complement), check_bool("log", log),
                                    check_bool("full_output", full_output))
    parents, scalar = check_n_parents(n_parents)
    if model == "two_four":
        if method != "exact":
            raise ValueError(f"method must be 'exact' for model='two_four', got {method!r}")
        val, lo, hi = _two_four_clause(cfg, parents, layout, complement)
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
        log_pu = _log_unit_cover(cfg, model)
        log_a = _hazard_logs(log_pu, _units(parents, _exact.units_per_draw(model, cfg.alpha)))
        reason = "exact: 1 - (1 - p_u)^U in log space"
    val = _miss_cover_from_log_hazard(log_a, complement=complement, log=log)
    out = _shape(val, scalar)
    if not full_output:
        return out
    used = "closed-form" if method != "paper" else "paper"
    return out, _float_closed_form(val, method, scalar, reason, log=log, used=used)


def prob_all_covered(n_clauses, clause_size, alpha, n_parents, *, model: str = "partition",
                     method: str = "exact", complement: bool = False, log: bool = False,
                     full_output: bool = False):
    """P(every clause is covered by at least one unit).

    exact: sum_{j=0..C} (-1)^j C(C,j) m_j^U by exact rationals or certified high precision
    (``full_output`` says which; see fpe_theory._exact); union_bound: 1 - C·(1 - p_u)^U,
    clipped at 0 (a lower bound); paper: 1 - C·exp(-N·alpha^(1-k)), clipped at 0.
    ``complement=True`` returns P(some clause missed) without cancellation.
    """
    cfg = check_config(n_clauses, clause_size, alpha)
    model = check_choice("model", model, MODELS + ("two_four",))
    if model == "two_four":
        raise ValueError("model must be 'independent' or 'partition' for prob_all_covered "
                         "(no closed form for 'two_four'; estimate it with simulate())")
    method = check_choice("method", method, PROB_METHODS)
    complement, log, full_output = (check_bool("complement", complement), check_bool("log", log),
                                    check_bool("full_output", full_output))
    parents, scalar = check_n_parents(n_parents)
    if method in ("union_bound", "paper"):
        if method == "paper":
            log_a = np.log(_units(parents, 1)) + (1 - cfg.clause_size) * math.log(cfg.alpha)
        else:
            log_a = _hazard_logs(_log_unit_cover(cfg, model),
                                 _units(parents, _exact.units_per_draw(model, cfg.alpha)))
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
    us = [n * _exact.units_per_draw(model, cfg.alpha) for n in parents]
    uniq = sorted(set(us))
    res = dict(zip(uniq, _exact.evaluate(cfg, model, uniq)))
    rs = [res[u] for u in us]
    if complement:
        vals = [r.p_miss for r in rs]
        los, his = [r.p_miss_lo for r in rs], [r.p_miss_hi for r in rs]
    else:
        vals = [r.p_all for r in rs]
        los, his = [r.p_all_lo for r in rs], [r.p_all_hi for r in rs]
    if log:
        vals, los, his = (_log_list(v) for v in (vals, los, his))
    out = _shape(vals, scalar)
    if not full_output:
        return out
    methods = [r.method for r in rs]
    reasons = sorted({r.reason for r in rs})
    info = _info("exact", methods, "; ".join(reasons), los, his, scalar,
                 precision=_collapse([r.precision_bits for r in rs]),
                 terms=_collapse([r.terms for r in rs]))
    return out, info


def _log_list(xs):
    return [math.log(x) if x > 0 else -math.inf for x in xs]


def _collapse(xs):
    return xs[0] if len(set(xs)) == 1 else tuple(xs)


def expected_collisions(n_clauses, clause_size, alpha, n_parents, *, method: str = "exact",
                        model: str = "partition", layout: str = "contiguous", log: bool = False,
                        full_output: bool = False):
    """Expected number of (unit, unordered clause pair) collisions after the split.

    exact: alpha·N·C(C,2)·q2 with q2 = d↓2k / n↓2k (the same for both random models, by
    linearity); paper: alpha·N·C(C,2)·alpha^(-2k). ``model="two_four"`` is exact for both
    layouts (sum over clause pairs of the groups-of-4 occupancy product).
    """
    cfg = check_config(n_clauses, clause_size, alpha)
    method = check_choice("method", method, COLLISION_METHODS)
    model = check_choice("model", model, MODELS + ("two_four",))
    layout = check_choice("layout", layout, LAYOUTS)
    log, full_output = check_bool("log", log), check_bool("full_output", full_output)
    parents, scalar = check_n_parents(n_parents)
    c = cfg.n_clauses
    if model == "two_four":
        if method != "exact":
            raise ValueError(f"method must be 'exact' for model='two_four', got {method!r}")
        per_parent = _two_four_pair_sum(cfg, layout)  # Fraction: E[collisions of one parent]
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
        log_q = _log_falling_ratio(cfg.d, cfg.n, 2 * cfg.clause_size)
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
                    full_output: bool = False):
    """E_FPE / E_dense = alpha·q2 = alpha·d↓2k / n↓2k (exact) or alpha^(1-2k) (paper).

    Defined for n_clauses >= 2 (a single clause has no pairs).
    """
    cfg = check_config(n_clauses, clause_size, alpha)
    method = check_choice("method", method, COLLISION_METHODS)
    log, full_output = check_bool("log", log), check_bool("full_output", full_output)
    if cfg.n_clauses < 2:
        raise ValueError(f"n_clauses must be >= 2 for a collision ratio (pairs of clauses), got {cfg.n_clauses}")
    if method == "paper":
        lv = (1 - 2 * cfg.clause_size) * math.log(cfg.alpha)
        val = lv if log else float(Fraction(1, cfg.alpha ** (2 * cfg.clause_size - 1)))
    else:
        lv = math.log(cfg.alpha) + _log_falling_ratio(cfg.d, cfg.n, 2 * cfg.clause_size)
        val = lv if log else (math.exp(lv) if lv > -math.inf else 0.0)
    if not full_output:
        return float(val)
    return float(val), _float_closed_form([val], method, True, "alpha·q2 in log space", log=log)


def min_parents_for_coverage(n_clauses, clause_size, alpha, delta, *, model: str = "partition",
                             method: str = "exact", full_output: bool = False):
    """Smallest N with P(some clause missed) <= delta.

    exact: the exact probability (binary search between the single-clause bound and the
    union bound); union_bound: smallest N with C·(1 - p_u)^U <= delta;
    paper: ceil(alpha^(k-1)·ln(C/delta)). Returns a Python int (it can exceed 2^63).
    """
    cfg = check_config(n_clauses, clause_size, alpha)
    delta = check_delta(delta)
    model = check_choice("model", model, MODELS)
    method = check_choice("method", method, PROB_METHODS)
    full_output = check_bool("full_output", full_output)
    if method == "paper":
        val = _paper_min_parents(cfg, delta)
        info = ExactInfo("paper", "paper", "ceil(alpha^(k-1)·ln(C/delta))", val, val)
        return (val, info) if full_output else val
    n_ub = _union_min_parents(cfg, model, delta, cfg.n_clauses)
    if method == "union_bound" or cfg.n_clauses == 1:
        info = ExactInfo(method, "union_bound" if method == "union_bound" else "closed-form",
                         "smallest N with C·(1 - p_u)^U <= delta (high precision)", n_ub, n_ub)
        return (n_ub, info) if full_output else n_ub
    n_lo = _union_min_parents(cfg, model, delta, 1)  # one clause alone needs this many
    per = _exact.units_per_draw(model, cfg.alpha)
    dfrac = Fraction(delta)
    methods = set()
    undecided: list = []

    s12 = _first_two_sums(cfg, model)
    cache: dict = {}  # m_j at the precision reached so far, shared by the probes

    def ok(n: int) -> bool:
        # cheap certificates first: P(miss) <= S1 (union bound) and
        # P(miss) >= max(S1 - S2, S1^2 / (S1 + 2 S2)) (Bonferroni, de Caen); only the
        # N near the answer, where neither decides with a 2^-40 margin, need the full sum.
        s1, s2 = s12(n * per)
        d_mp = mpmath.mpf(delta)
        if s1 <= d_mp * (1 - mpmath.mpf(2) ** -40):
            methods.add("bonferroni")
            return True
        lower = max(s1 - s2, s1 * s1 / (s1 + 2 * s2))
        if lower > d_mp * (1 + mpmath.mpf(2) ** -40):
            methods.add("bonferroni")
            return False
        (r,) = _exact.evaluate(cfg, model, [n * per], cache=cache)
        methods.add(r.method)
        if r.method == "rational":
            return r.p_miss_exact <= dfrac
        for _ in range(6):  # refine while delta lies inside the certified interval
            if r.p_miss_exact is None:
                break
            with mpmath.workprec(max(r.precision_bits or 128, 128) + 64):
                gap = abs(r.p_miss_exact - mpmath.mpf(delta))
                if gap > r.p_miss_err:
                    return r.p_miss_exact <= mpmath.mpf(delta)
                rel = gap / mpmath.mpf(delta) / 4
                if rel == 0 or r.precision_bits > _exact.MAX_BITS // 2:
                    break
                (r,) = _exact.evaluate(cfg, model, [n * per], cache=cache,
                                       target_rel=max(rel, mpmath.mpf(2) ** -(_exact.MAX_BITS // 2)))
                methods.add(r.method)
        if r.p_miss_exact is not None:
            undecided.append(n)  # delta within the certified error: decided by the midpoint
            with mpmath.workprec(max(r.precision_bits or 128, 128)):
                return r.p_miss_exact <= mpmath.mpf(delta)
        return r.p_miss <= delta

    lo, hi = n_lo, n_ub  # ok(hi) is guaranteed by the union bound
    if ok(lo):
        hi = lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    used = sorted(methods) if methods else ["closed-form"]
    reason = f"binary search on the exact P(some clause missed) in [{n_lo}, {n_ub}]"
    if undecided:
        reason += (f"; at N in {undecided[:3]} delta lay within the certified error at "
                   f"{_exact.MAX_BITS // 2} bits and the midpoint decided")
    info = ExactInfo("exact", used[0] if len(used) == 1 else tuple(used), reason, hi, hi)
    return (hi, info) if full_output else hi


# ----------------------------------------------------------------------------- min parents helpers
def _union_min_parents(cfg: Config, model: str, delta: float, n_events: int) -> int:
    """Smallest N >= 1 with n_events·(1 - p_u)^(per·N) <= delta, decided at high precision."""
    n, k = cfg.n, cfg.clause_size
    pu = Fraction(math.perm(cfg.d, k), math.perm(n, k))
    if model == "partition":
        pu *= cfg.alpha
    if pu >= 1:
        return 1
    per = _exact.units_per_draw(model, cfg.alpha)
    bits = 128
    for _ in range(8):
        with mpmath.workprec(bits):
            h = -per * mpmath.log1p(-mpmath.mpf(pu.numerator) / pu.denominator)
            target = mpmath.log(mpmath.mpf(n_events)) - mpmath.log(mpmath.mpf(delta))
            x = target / h
            if x <= 1:
                return 1
            mag = int(mpmath.log(x, 2)) + 1
            if mag + 64 > bits:  # not enough bits to place x between integers
                bits = mag + 96
                continue
            cand = int(mpmath.ceil(x))
            # x within 2^-32 of an integer: refine before deciding
            if abs(x - mpmath.nint(x)) < mpmath.mpf(2) ** -32 and bits < 4096:
                bits *= 2
                continue
            return max(cand, 1)
    return max(cand, 1)


def _first_two_sums(cfg: Config, model: str):
    """Return U -> (S1, S2) = (C·m_1^U, C(C,2)·m_2^U) as mpf, accurate to ~2^-64 relative.

    m_1 = 1 - r_1 and m_2 = 1 - 2 r_1 + r_2 are exact rationals; their logs are taken at a
    precision that covers the bits of U, so U·log m is accurate.
    """
    t = _exact.cover_numerators(cfg, model, 2)
    n, k, c = cfg.n, cfg.clause_size, cfg.n_clauses
    r1 = Fraction(t[1], math.perm(n, k))
    r2 = Fraction(t[2], math.perm(n, 2 * k)) if 2 * k <= n else Fraction(0)
    x1 = r1  # 1 - m_1
    x2 = 2 * r1 - r2  # 1 - m_2

    def sums(u: int):
        prec = 96 + int(u).bit_length() + max(x1.denominator.bit_length(), 64)
        with mpmath.workprec(min(prec, 20000)):
            def pw(x):
                if x >= 1:
                    return mpmath.mpf(0)
                return mpmath.exp(u * mpmath.log1p(-mpmath.mpf(x.numerator) / x.denominator))
            s1 = c * pw(x1)
            s2 = math.comb(c, 2) * pw(x2) if c >= 2 else mpmath.mpf(0)
            return +s1, +s2

    return sums


def _paper_min_parents(cfg: Config, delta: float) -> int:
    k, a = cfg.clause_size, cfg.alpha
    factor = a ** (k - 1)
    bits = factor.bit_length() + 96
    with mpmath.workprec(bits):
        x = factor * (mpmath.log(mpmath.mpf(cfg.n_clauses)) - mpmath.log(mpmath.mpf(delta)))
        return max(int(mpmath.ceil(x)), 1)


# ----------------------------------------------------------------------------- two_four (alpha = 2)
_H = (Fraction(1), Fraction(1, 2), Fraction(1, 6), Fraction(0), Fraction(0))


def _check_two_four(cfg: Config) -> None:
    if cfg.alpha != 2:
        raise ValueError(f"alpha must be 2 for model='two_four', got {cfg.alpha}")
    if cfg.n % 4:
        raise ValueError(f"n = n_clauses*clause_size must be a multiple of 4 for model='two_four', got {cfg.n}")


def _group_counts(start: int, stop: int) -> dict:
    """Literals per aligned group of 4 for positions [start, stop)."""
    counts: dict = {}
    for pos in range(start, stop):
        counts[pos // 4] = counts.get(pos // 4, 0) + 1
    return counts


def _child_holds(counts: dict) -> Fraction:
    """P(child 0 holds every listed position): product over groups of h(t)."""
    out = Fraction(1)
    for t in counts.values():
        out *= _H[t]
        if not out:
            break
    return out


def _occupancy_patterns(n: int, m: int):
    """Yield (probability, P(child 0 holds all)) over group patterns of m uniform positions."""
    g = n // 4
    total = math.comb(n, m)
    for s2 in range(m // 2 + 1):
        s1 = m - 2 * s2
        if s1 + s2 > g:
            continue
        ways = math.comb(g, s1 + s2) * math.comb(s1 + s2, s1) * 4**s1 * 6**s2
        yield Fraction(ways, total), Fraction(1, 2**s1 * 6**s2)
    # patterns with a group holding >= 3 positions: the child never holds them all


def _two_four_clause(cfg: Config, parents: tuple, layout: str, complement: bool):
    _check_two_four(cfg)
    k = cfg.clause_size
    out = []
    if layout == "shuffled":
        pats = list(_occupancy_patterns(cfg.n, k))
        for n_par in parents:
            with mpmath.workdps(40):
                miss = mpmath.mpf(1) - sum(mpmath.mpf(pr.numerator) / pr.denominator for pr, _ in pats)
                for pr, s in pats:
                    s_par = 2 * s
                    prm = mpmath.mpf(pr.numerator) / pr.denominator
                    miss += prm * mpmath.exp(n_par * mpmath.log1p(-mpmath.mpf(s_par.numerator) / s_par.denominator)) \
                        if s_par < 1 else 0
                cov = 1 - miss
                out.append(float(miss if complement else cov))
        return out, out, out
    # contiguous: clause c at [ck, ck+k); its coverage probability depends on c mod period
    period = 4 // math.gcd(k, 4)
    classes = []
    for r in range(period):
        cnt = len(range(r, cfg.n_clauses, period))
        s_par = 2 * _child_holds(_group_counts(r * k, r * k + k))
        classes.append((cnt, s_par))
    for n_par in parents:
        with mpmath.workdps(40):
            tot = mpmath.mpf(0)
            for cnt, s_par in classes:
                if s_par >= 1:
                    miss = mpmath.mpf(0)
                else:
                    miss = mpmath.exp(n_par * mpmath.log1p(-mpmath.mpf(s_par.numerator) / s_par.denominator))
                tot += cnt * (miss if complement else 1 - miss)
            out.append(float(tot / cfg.n_clauses))
    return out, out, out


def _two_four_pair_sum(cfg: Config, layout: str) -> Fraction:
    """E[collisions of one parent] = sum over pairs, over the 2 children, of P(child holds both)."""
    _check_two_four(cfg)
    c, k = cfg.n_clauses, cfg.clause_size
    if c < 2:
        return Fraction(0)
    if layout == "shuffled":
        q2 = sum(pr * s for pr, s in _occupancy_patterns(cfg.n, 2 * k))
        return 2 * math.comb(c, 2) * q2
    period = 4 // math.gcd(k, 4)
    v = [_child_holds(_group_counts(r * k, r * k + k)) for r in range(period)]
    counts = [len(range(r, c, period)) for r in range(period)]
    s1 = sum(cnt * x for cnt, x in zip(counts, v))
    s2 = sum(cnt * x * x for cnt, x in zip(counts, v))
    total = (s1 * s1 - s2) / 2  # pairs as if independent across groups
    # pairs that can share a group of 4 are at most 4 clauses apart: correct them exactly
    for delta_c in range(1, 5):
        for r in range(period):
            n_pairs = len(range(r, c - delta_c, period))
            if not n_pairs:
                continue
            a, b = r * k, (r + delta_c) * k
            joint_counts = _group_counts(a, a + k)
            for g, t in _group_counts(b, b + k).items():
                joint_counts[g] = joint_counts.get(g, 0) + t
            joint = _child_holds(joint_counts)
            naive = v[r] * v[(r + delta_c) % period]
            total += n_pairs * (joint - naive)
    return 2 * total
