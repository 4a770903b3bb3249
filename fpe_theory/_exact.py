"""Exact P(all clauses covered) by inclusion–exclusion, with certified error bounds.

    P(all covered) = sum_{j=0..C} (-1)^j C(C,j) m_j^U,   m_j = sum_{i=0..j} (-1)^i C(j,i) r_i

(docs/THEORY.md). ``r_i`` is the probability that one unit covers i given clauses; U is the
number of i.i.d. units (alpha*N sparse neurons for the subset model, N parents for the
partition and literal models). Each model (``fpe_theory.models``) supplies its r_i. When one
unit covers different clauses independently (the literal model: r_i = p_u^i) the sum is the
product (1 - (1 - p_u)^U)^C, evaluated directly (``product_eval``: rational, or mpmath with a
certified bound). Otherwise the outer alternating sum cancels catastrophically, so it is
evaluated by one of these methods, cheapest exact one first:

``rational``
    Exact integer arithmetic over a common denominator D = n↓(I·k): r_i·D and m_j·D are
    integers, P = (sum_j (-1)^j C(C,j) (m_j D)^U) / D^U, one correctly rounded division.
``mpmath``
    mpmath floating point at a working precision W chosen from the observed cancellation,
    with a rigorous running error bound; W grows until the bound is below 2^-60 of the
    smaller of P and 1 - P. m_j are formed from r_i in fixed-point integers (exact
    subtraction), so the inner binomial transform adds at most 2^j units of 2^-W2.
``bonferroni``
    As ``mpmath`` but the outer sum stops at j = J < C: the Bonferroni inequalities bound the
    truncation error by the next term S_{J+1} = C(C,J+1) m_{J+1}^U, which is added to the
    certified error. Used when C is too large for the full sum (P near 1, or moderate).
``underflow-certificate``
    P(all C covered) <= P(all of C' <= C given clauses covered); when the latter (computed
    exactly) is below the smallest double, the float result 0.0 is exact.
``approximation``
    Only when all of the above exceed the work budget: the independent-clauses value
    q^C (q = P(one clause covered)) clipped to certified bounds [max(0, 1 - C(1-p_u)^U),
    min(q, P_{C'})]; the bounds are reported.

r_i: subset r_i = d↓(ik)/n↓(ik); partition r_i = i!/n↓(ik) [x^i] (sum_m d↓(mk) x^m/m!)^alpha,
the exponential generating function of "assign the i clauses to children, each child
holding its clauses' literals" (equal to the composition sum of THEORY.md); literal
r_i = alpha^(i(1-k)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np

from ._logspace import log_neg_log1m
from ._validate import Config
from .models import TheoryModel, get_model

# Work limits (tuned on the 2-core CI machine: each is roughly a few seconds at most).
RATIONAL_BIT_BUDGET = 4.0e6  # ~bits processed; above this the mpmath path is faster
MP_OP_BUDGET = 2.5e6  # mpmath operations per evaluation attempt
TARGET_REL = 2.0**-60  # certified relative accuracy of P and 1 - P before rounding to float
TINY = mpmath.mpf(2) ** -1100  # below every double: an absolute error this small is invisible
MAX_BITS = 60000


@dataclass
class UnitResult:
    """Exact evaluation for one U: P(all covered), P(some missed), certified bounds."""

    p_all: float
    p_miss: float
    p_all_lo: float
    p_all_hi: float
    p_miss_lo: float
    p_miss_hi: float
    method: str
    precision_bits: int | None
    terms: int
    reason: str
    p_miss_exact: object = None  # Fraction (rational) or mpf interval midpoint, for exact compares
    p_miss_err: object = None  # certified absolute error of p_miss_exact (0 for rational)


def as_model(model):
    """A model instance from a model or its name (internal callers pass either)."""
    return model if isinstance(model, TheoryModel) else get_model(model)


# ----------------------------------------------------------------------------- rational path
def rational_cost(cfg: Config, model, c_eff: int, us: list[int]) -> float:
    """Approximate bits processed by the rational path (powers dominate)."""
    model = as_model(model)
    imax = min(c_eff, model.max_cover(cfg))
    dbits = model.scaled_bits(cfg, imax)
    return (c_eff + 1) * dbits * float(sum(us)) + model.rational_extra_cost(cfg, imax)


def rational_eval(cfg: Config, model, c_eff: int, us: list[int]) -> list[UnitResult]:
    """Exact rational inclusion–exclusion for every U in ``us``."""
    model = as_model(model)
    imax = min(c_eff, model.max_cover(cfg))
    r_scaled, denom = model.cover_scaled(cfg, imax)
    a = []
    for j in range(c_eff + 1):
        s = 0
        for i in range(min(j, imax) + 1):
            term = math.comb(j, i) * r_scaled[i]
            s += -term if i & 1 else term
        a.append(s)
    out = []
    for u in us:
        du = denom**u
        num = 0
        for j in range(c_eff + 1):
            term = math.comb(c_eff, j) * a[j] ** u
            num += -term if j & 1 else term
        p_all = Fraction(num, du)
        p_miss = 1 - p_all
        fa, fm = float(p_all), float(p_miss)
        out.append(
            UnitResult(fa, fm, fa, fa, fm, fm, "rational", None, c_eff,
                       "exact rational arithmetic", p_miss, 0)
        )
    return out


# ----------------------------------------------------------------------------- product form
def product_eval(cfg: Config, model, c_eff: int, u: int, *, force: str | None = None,
                 target_rel=TARGET_REL) -> UnitResult:
    """P(all of ``c_eff`` clauses covered) = (1 - (1 - p_u)^U)^C for a model whose clauses are
    covered independently (literal): exact rationals when cheap, else mpmath with a
    certified error bound (derivation in the comments; constants generous)."""
    model = as_model(model)
    pu = model.unit_cover(cfg)
    reason = "(1 - (1 - p_u)^U)^C: clauses covered independently"
    if pu >= 1:  # every unit covers every clause (k = 1)
        return UnitResult(1.0, 0.0, 1.0, 1.0, 0.0, 0.0, "rational", None, 1,
                          f"exact: {reason}, p_u = 1", Fraction(0), 0)
    bits = float(c_eff) * float(u) * max(pu.denominator.bit_length(), 1)
    if force == "rational" or (force is None and bits <= RATIONAL_BIT_BUDGET):
        p_all = (1 - (1 - pu) ** u) ** c_eff
        p_miss = 1 - p_all
        fa, fm = float(p_all), float(p_miss)
        return UnitResult(fa, fm, fa, fa, fm, fm, "rational", None, 1,
                          f"exact rational arithmetic: {reason}", p_miss, 0)
    target_rel = mpmath.mpf(target_rel)
    # magnitudes of A = U·log(1 - p_u) and B = C·log(1 - e^A), for the working precision
    log2_a = math.log2(max(float(u), 1.0)) + math.log2(max(-math.log1p(-float(pu)), 1e-300))
    w = 96 + int(-mpmath.log(target_rel, 2)) + max(int(log2_a), 0) + c_eff.bit_length() \
        + int(u).bit_length() + 64
    for _ in range(8):
        with mpmath.workprec(w):
            eps = mpmath.mpf(2) ** (-w)
            pu_mp = mpmath.mpf(pu.numerator) / mpmath.mpf(pu.denominator)  # rel err <= 3 eps
            l1 = mpmath.log1p(-pu_mp)  # p_u <= 1/2 (k >= 2): rel err <= 3eps/(1-p_u) + eps <= 7 eps
            a = u * l1  # u exact (w > its bits): rel err <= 9 eps
            e_a = 9 * eps * abs(a)  # absolute error of A
            if a < -mpmath.log(2):
                x = mpmath.exp(a)  # (1 - p_u)^U, rel err <= e_a + eps
                lq = mpmath.log1p(-x)  # |lq| >= x: rel err <= 2 rel(x) + eps
                rel_lq = 2 * (e_a + eps) + eps
            else:
                q = -mpmath.expm1(a)  # rel err <= e_a e^A / (1 - e^A) + eps <= e_a / |A| + eps <= 10 eps
                lq = mpmath.log(q)  # q <= 1/2, |lq| >= log 2: rel err <= 10 eps / log 2 + eps
                rel_lq = 16 * eps
            b = c_eff * lq
            rel_b = rel_lq + eps
            p_all = mpmath.exp(b)  # rel err <= |B| rel_b + eps
            p_miss = -mpmath.expm1(b)  # rel err <= rel_b |B| e^B / (1 - e^B) + eps <= rel_b + eps
            err_all = (abs(b) * rel_b + eps) * p_all * (1 + mpmath.mpf(2) ** -40)
            err_miss = (rel_b + eps) * p_miss * (1 + mpmath.mpf(2) ** -40)
            if err_all <= target_rel * p_all and err_miss <= target_rel * p_miss:
                return UnitResult(
                    float(p_all), float(p_miss), float(max(p_all - err_all, 0)), float(min(p_all + err_all, 1)),
                    float(max(p_miss - err_miss, 0)), float(min(p_miss + err_miss, 1)), "mpmath", w, 1,
                    f"{reason}, at {w} bits with a certified error bound", p_miss, err_miss)
            w *= 2  # |B| was larger than estimated
    raise ArithmeticError("product form did not reach its target precision")  # pragma: no cover


# ----------------------------------------------------------------------------- mpmath path
def mp_cost(cfg: Config, model, j_terms: int, n_u: int) -> float:
    model = as_model(model)
    i_needed = min(j_terms + 1, model.max_cover(cfg))
    ops = i_needed * cfg.clause_size + model.mp_extra_ops(cfg, i_needed)
    ops += 0.05 * (j_terms + 2) ** 2  # fixed-point integer differencing
    ops += n_u * (j_terms + 2) * 12  # powers and sums
    return ops


def _m_fixed(r, rel, j_max: int, prec_fixed: int):
    """m_j and its certified absolute error for j = 0..j_max from mpf r_i.

    r_i -> floor(r_i 2^W2) as Python ints; the binomial transform is then exact integer
    differencing: row_{t+1}[i] = row_t[i] - row_t[i+1], m_t = row_t[0]. The same with '+'
    gives A_j = sum_i C(j,i) r_i, which bounds the propagated error of the r_i.
    """
    length = j_max + 1
    scale = mpmath.mpf(2) ** prec_fixed
    vals = [int(mpmath.floor(x * scale)) for x in r[:length]]
    vals += [0] * (length - len(vals))
    row = np.array(vals, dtype=object)
    pos = row.copy()
    m_int = [row[0]]
    a_int = [pos[0]]
    for _ in range(j_max):
        row = row[:-1] - row[1:]
        pos = pos[:-1] + pos[1:]
        m_int.append(row[0])
        a_int.append(pos[0])
    ms, errs = [], []
    for j in range(j_max + 1):
        m = mpmath.mpf(m_int[j]) / scale
        a = mpmath.mpf(a_int[j]) / scale
        # |error| <= sum_i C(j,i) (1 ulp + r_i*rel) <= 2^j ulp + (A_j + 2^j ulp) * rel * 1.01
        ulp_part = mpmath.mpf(2) ** (j - prec_fixed)
        errs.append(ulp_part * 2 + (a + ulp_part) * rel * mpmath.mpf(1.01))
        ms.append(m)
    return ms, errs


def _prepare_logs(cfg: Config, model, j_terms: int, prec: int, cache: dict | None):
    """log m_j, log(m_j + e_j), log(m_j - e_j) for j <= j_terms + 1 at >= ``prec`` bits.

    Powers are then exp(U log m) (U can be 2^600). ``cache`` keeps the largest (J, bits)
    computed so far; a request it covers is served from it.
    """
    if cache:
        ((cj, cp), logs), = cache.items()
        if cj >= j_terms and cp >= prec:
            return logs
        j_terms, prec = max(cj, j_terms), max(cp, prec)
    imax = min(j_terms + 1, model.max_cover(cfg))
    with mpmath.workprec(prec + 32):
        r, rel = model.cover_mp(cfg, imax, prec + 32)
    prec_fixed = prec + j_terms + 40
    with mpmath.workprec(prec_fixed + 32):
        ms, errs = _m_fixed(r, rel, j_terms + 1, prec_fixed)
    with mpmath.workprec(prec + 32):
        logs = []
        for m, e in zip(ms, errs):
            if m > 2 * e:
                # relative error of m: (m ± e)^U = m^U exp(U log(1 ± e/m)), and
                # |log(1 ± e/m)| <= e/(m - e) =: rel_e, so one exp per term suffices
                # (kept as mpf: it is often far below the smallest double)
                logs.append((mpmath.log(m), None, e / (m - e) * (1 + mpmath.mpf(2) ** -40)))
            else:  # m not resolved: only the upper value (m + e)^U is meaningful
                logs.append((None, mpmath.log(m + e) if m + e > 0 else None, None))
    if cache is not None:
        cache.clear()
        cache[(j_terms, prec)] = logs
    return logs


def _outer(logs, c_eff: int, u: int, j_terms: int, prec: int):
    """Outer inclusion–exclusion sum for one U with ``j_terms`` terms at ``prec`` bits.

    Returns (p_miss, arithmetic error bound, truncation bound, resolved, sum of |terms|);
    ``resolved`` says whether m_{J+1}^U is known to a factor 2 (else the truncation bound
    is meaningless and precision, not J, must grow).
    """
    with mpmath.workprec(prec):
        eps = mpmath.mpf(2) ** (-prec)

        def power(lg):
            # exp(u·log m): log m is good to ~2^-(prec+30) relative, so u·log m carries an
            # absolute error <= u·|log m|·2^-prec, added to the bound
            if lg is None:
                return mpmath.mpf(0), mpmath.mpf(0)
            v = mpmath.exp(u * lg)
            return v, v * (abs(u * lg) * eps + 8 * eps)

        s = mpmath.mpf(0)
        err = mpmath.mpf(0)
        abs_sum = mpmath.mpf(0)
        trunc = mpmath.mpf(0)
        resolved = True
        for j in range(1, j_terms + 2):
            if j > c_eff:
                break
            b = mpmath.mpf(math.comb(c_eff, j))
            lm, lhi, rel_e = logs[j]
            if lm is not None:
                tv, terr = power(lm)
                t = b * tv
                # |(m ± e)^U - m^U| <= m^U expm1(U·rel_e)  (rel_e >= |log(1 ± e/m)|)
                with mpmath.workprec(64):
                    spread = mpmath.expm1(u * rel_e) * (1 + mpmath.mpf(2) ** -40)
                hi = t * (1 + spread) + b * terr
                dev = t * spread + b * terr
            else:
                hv, herr = power(lhi)
                t = mpmath.mpf(0)
                hi = b * (hv + herr)
                dev = hi
            if j == j_terms + 1:
                trunc = hi * (1 + 16 * eps)
                resolved = lm is not None and hi <= 2 * t
                break
            err += 2 * dev + abs(t) * 16 * eps
            abs_sum += abs(t)
            s += -t if j & 1 else t
        err += abs_sum * (j_terms + 8) * eps
        return -s, err, trunc, resolved, abs_sum


def mp_eval(cfg: Config, model, c_eff: int, us: list[int], j_terms: int, prec: int,
            cache: dict | None = None):
    """One pass for every U at ``prec`` bits and ``j_terms`` outer terms:
    (p_miss, arithmetic error bound, truncation bound, resolved) per U."""
    logs = _prepare_logs(cfg, as_model(model), j_terms, prec, cache)
    return [_outer(logs, c_eff, u, j_terms, prec)[:4] for u in us]


def _scale_estimate(cfg: Config, model, c_eff: int, u: int):
    """Rough min(P(all), P(miss)) from the independent-clauses value q^C (magnitude only),
    used to choose the precision when the computed value is still lost in the noise."""
    with mpmath.workprec(64 + int(u).bit_length()):
        pu = mpmath.exp(mpmath.mpf(model.log_unit_cover(cfg)))
        if pu >= 1:
            return TINY
        log_miss1 = u * mpmath.log1p(-pu)
        miss1 = mpmath.exp(log_miss1)
        q = -mpmath.expm1(log_miss1)
        p_all = mpmath.exp(c_eff * mpmath.log(q)) if q > 0 else mpmath.mpf(0)
        p_miss = min(mpmath.mpf(1), c_eff * miss1)
        return max(min(p_all, p_miss), TINY)


def _bonferroni_terms_needed(cfg: Config, model, c_eff: int, u: int) -> float:
    """Rough number of outer terms the truncated sum needs (Poisson heuristic).

    With lambda = C·(1 - p_u)^U expected missed clauses, S_j ≈ lambda^j/j! and
    P(all) ≈ e^-lambda, so S_{J+1} <= 2^-60 P(all) needs J ≈ e^2·lambda + 60.
    """
    la = math.log(u) + log_neg_log1m(model.log_unit_cover(cfg))
    a = math.exp(min(la, 700.0))
    log_lam = math.log(c_eff) - a
    lam = math.exp(min(log_lam, 700.0))
    return math.e**2 * lam + 60


def certified_eval(cfg: Config, model, c_eff: int, us: list[int], *, budget=MP_OP_BUDGET,
                   full: bool = False, cache: dict | None = None, target_rel=TARGET_REL):
    """Adaptive mpmath evaluation; a UnitResult per U, or None where the budget is exceeded.

    Each U keeps its own number of terms J and precision; the m_j (the expensive part) are
    computed once at the largest (J, bits) any pending U needs and shared.
    """
    model = as_model(model)
    if cache is None:
        cache = {}
    results: list[UnitResult | None] = [None] * len(us)
    pending = list(range(len(us)))
    if not full and c_eff > 48:
        # skip what the truncated sum cannot finish within the budget (P(all) tiny, C huge)
        pending = [i for i in pending
                   if mp_cost(cfg, model, int(min(_bonferroni_terms_needed(cfg, model, c_eff, us[i]),
                                                  c_eff)), 1) <= budget]
    j0 = c_eff if (full or c_eff <= 48) else min(c_eff, 24)
    jt = {i: j0 for i in pending}
    pr = {i: 96 + 2 * min(j0, 512) + int(us[i]).bit_length() for i in pending}
    if cache:
        ((cj, cp),) = cache.keys()
        for i in pending:  # m_j already computed (min_parents probes): use all of it
            if cj >= jt[i] and cp >= pr[i]:
                jt[i], pr[i] = cj, cp
    for _ in range(60):
        if not pending:
            break
        j_max = max(jt[i] for i in pending)
        p_max = max(pr[i] for i in pending)
        if mp_cost(cfg, model, j_max, len(pending)) > budget or p_max > MAX_BITS:
            break
        logs = _prepare_logs(cfg, model, j_max, p_max, cache)
        still = []
        for i in pending:
            p_miss, err, trunc, resolved, abs_sum = _outer(logs, c_eff, us[i], jt[i], pr[i])
            total = err + trunc
            p_all = 1 - p_miss
            scale_v = min(abs(p_miss), abs(p_all))
            target = max(target_rel * scale_v, TINY)
            if total <= target:
                j_terms, prec = jt[i], pr[i]
                method = "mpmath" if j_terms >= c_eff else "bonferroni"
                reason = (
                    f"inclusion–exclusion at {prec} bits with a certified error bound"
                    if method == "mpmath"
                    else f"inclusion–exclusion truncated after {j_terms} of {c_eff} terms; "
                    f"Bonferroni bound on the rest, {prec} bits"
                )
                with mpmath.workprec(prec):
                    results[i] = UnitResult(
                        float(p_all), float(p_miss),
                        float(max(p_all - total, 0)), float(min(p_all + total, 1)),
                        float(max(p_miss - total, 0)), float(min(p_miss + total, 1)),
                        method, prec, j_terms, reason, p_miss, total,
                    )
                continue
            still.append(i)
            if resolved and trunc > err and jt[i] < c_eff:
                jt[i] = min(c_eff, 2 * jt[i])
                pr[i] = max(pr[i], 96 + 2 * min(jt[i], 512) + int(us[i]).bit_length())
                continue
            if err > scale_v:  # the value is still noise: aim at the estimated magnitude
                scale_v = _scale_estimate(cfg, model, c_eff, us[i])
                target = max(target_rel * scale_v, TINY)
            need = float(mpmath.log(max(err, trunc, abs_sum * mpmath.mpf(2) ** -pr[i]) / target, 2))
            pr[i] += int(math.ceil(min(max(need, 16), 4 * pr[i]))) + 32
        pending = still
    return results


# ----------------------------------------------------------------------------- driver
def evaluate(cfg: Config, model, us: list[int], *, force: str | None = None,
             c_eff: int | None = None, cache: dict | None = None,
             target_rel=None) -> list[UnitResult]:
    """Exact P(all covered) for each U in ``us`` (see module docstring for the methods).

    Models whose clauses are covered independently (literal) use the product form
    (1 - (1 - p_u)^U)^C; ``force`` then picks rational or mpmath for it too.
    """
    model = as_model(model)
    c = cfg.n_clauses if c_eff is None else c_eff
    if model.clauses_independent:
        return [product_eval(cfg, model, c, u, force=force,
                             target_rel=TARGET_REL if target_rel is None else target_rel) for u in us]
    if force == "rational" or (force is None and rational_cost(cfg, model, c, us) <= RATIONAL_BIT_BUDGET):
        return rational_eval(cfg, model, c, us)
    if force == "mpmath":
        res = certified_eval(cfg, model, c, us, budget=float("inf"), full=True)
        return res  # type: ignore[return-value]
    res = certified_eval(cfg, model, c, us, cache=cache,
                         target_rel=TARGET_REL if target_rel is None else target_rel)
    missing = [i for i, r in enumerate(res) if r is None]
    if missing:
        fb = _fallback(cfg, model, [us[i] for i in missing])
        for i, r in zip(missing, fb):
            res[i] = r
    return res  # type: ignore[return-value]


def _fallback(cfg: Config, model, us: list[int]) -> list[UnitResult]:
    """Certified underflow, or an approximation clipped to certified bounds.

    Upper bounds used: P(all C covered) <= P(all of C' given clauses covered) (computed
    exactly, C' = min(C, 64)), and for the subset model the negative-association bound
    P(all covered) <= q^C: a uniform d-subset is negatively associated (Joag-Dev & Proschan
    1983, permutation distributions), "clause c covered" is an increasing function of
    disjoint sets of those indicators across independent units, so the events are NA and
    P(intersection) <= product. (It fails for the partition model, whose disjoint children
    make coverage of different clauses positively correlated; the tests show both.)
    """
    c = cfg.n_clauses
    c_sub = min(c, 64)
    sub = evaluate(cfg, model, us, c_eff=c_sub)
    log_pu = model.log_unit_cover(cfg)
    out = []
    for u, s in zip(us, sub):
        with mpmath.workprec(128):
            pu = mpmath.exp(mpmath.mpf(log_pu))
            miss1 = mpmath.exp(u * mpmath.log1p(-pu)) if pu < 1 else mpmath.mpf(0)
            q = 1 - miss1 if miss1 < mpmath.mpf(2) ** -64 else -mpmath.expm1(u * mpmath.log1p(-pu))
            qc = mpmath.exp(c * mpmath.log(q)) if q > 0 else mpmath.mpf(0)
            # a 2^-40 relative margin covers the float log_pu behind q
            na_hi = qc * (1 + c * mpmath.mpf(2) ** -40) if model.negatively_associated else mpmath.mpf(1)
            hi = min(q, mpmath.mpf(s.p_all_hi), na_hi)
            lo = max(mpmath.mpf(0), 1 - c * miss1 * (1 + mpmath.mpf(2) ** -40))
            approx = min(max(qc, lo), hi)
        if s.p_all_hi == 0.0 or float(hi) == 0.0:  # the certified upper bound rounds to 0.0
            why = (f"P(all {c} covered) <= P(all {c_sub} given clauses covered) <= {s.p_all_hi:.3g}"
                   if s.p_all_hi == 0.0 else
                   f"P(all {c} covered) <= q^C = {mpmath.nstr(na_hi, 5)} (negative association)")
            out.append(UnitResult(0.0, 1.0, 0.0, 0.0, 1.0, 1.0, "underflow-certificate", None, c_sub,
                                  why + ", below the smallest double", None, None))
            continue
        out.append(UnitResult(
            float(approx), float(1 - approx), float(lo), float(hi), float(1 - hi), float(1 - lo),
            "approximation", None, c_sub,
            f"exact inclusion–exclusion over C={c} clauses exceeds the work budget; value is the "
            f"independent-clauses approximation q^C clipped to certified bounds [{float(lo):.6g}, {float(hi):.6g}]",
            None, None))
    return out
