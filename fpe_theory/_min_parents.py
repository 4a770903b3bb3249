"""Smallest number of parents N with P(some clause missed) <= delta (``min_parents_for_coverage``).

- paper: ceil(alpha^(k-1)·ln(C/delta)), decided at high precision;
- union bound: smallest N with C·(1 - p_u)^U <= delta (U = N·units per parent);
- exact: binary search on the exact P(some clause missed) between the one-clause bound and
  the union bound, with cheap Bonferroni / de Caen certificates deciding most probes.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath

from . import _exact
from ._validate import Config


def paper_min_parents(cfg: Config, delta: float) -> int:
    """ceil(alpha^(k-1)·ln(C/delta)), at least 1."""
    k, a = cfg.clause_size, cfg.alpha
    factor = a ** (k - 1)
    bits = factor.bit_length() + 96
    with mpmath.workprec(bits):
        x = factor * (mpmath.log(mpmath.mpf(cfg.n_clauses)) - mpmath.log(mpmath.mpf(delta)))
        return max(int(mpmath.ceil(x)), 1)


def union_min_parents(cfg: Config, model, delta: float, n_events: int) -> int:
    """Smallest N >= 1 with n_events·(1 - p_u)^(per·N) <= delta, decided at high precision."""
    pu = model.unit_cover(cfg)
    if pu >= 1:
        return 1
    per = model.units_per_parent(cfg.alpha)
    bits = 128
    cand = 1
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


def first_two_sums(cfg: Config, model):
    """Return U -> (S1, S2) = (C·m_1^U, C(C,2)·m_2^U) as mpf, accurate to ~2^-64 relative.

    m_1 = 1 - r_1 and m_2 = 1 - 2 r_1 + r_2 are exact rationals; their logs are taken at a
    precision that covers the bits of U, so U·log m is accurate.
    """
    c = cfg.n_clauses
    r1 = model.cover_fraction(cfg, 1)
    r2 = model.cover_fraction(cfg, 2)
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


def exact_min_parents(cfg: Config, model, delta: float) -> tuple:
    """(N, methods used, reason): the smallest N whose exact P(some clause missed) <= delta."""
    n_ub = union_min_parents(cfg, model, delta, cfg.n_clauses)
    n_lo = union_min_parents(cfg, model, delta, 1)  # one clause alone needs this many
    per = model.units_per_parent(cfg.alpha)
    dfrac = Fraction(delta)
    methods: set = set()
    undecided: list = []

    s12 = first_two_sums(cfg, model)
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
    return hi, used, reason
