"""The partition model: what the random split really does (the default everywhere).

The n inputs of each parent are split by a uniform random balanced partition into alpha
children of exactly d = n/alpha inputs. Children of one parent are disjoint, so a unit is a
parent: p_u = alpha·p with p = d↓k / n↓k (the alpha events "clause inside child a" are
disjoint), and

    r_i = i!/n↓(ik) · [x^i] (sum_m d↓(mk) x^m / m!)^alpha,

the exponential generating function of "assign the i clauses to children, each child
holding all literals of its clauses" (equal to THEORY.md's composition sum).
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath

from .._logspace import log_falling_ratio
from .._validate import Config
from .base import BalancedModel, register


@register
class Partition(BalancedModel):
    name = "partition"
    summary = "each parent's inputs split by a uniform balanced partition (what random FPE does)"
    sim_code = 1

    def unit_cover(self, cfg: Config) -> Fraction:
        return cfg.alpha * self.child_cover(cfg, 1)

    def log_unit_cover(self, cfg: Config) -> float:
        if cfg.clause_size == 1:
            return 0.0  # alpha·d/n = 1 exactly: every parent covers a one-literal clause (logs would round)
        return math.log(cfg.alpha) + log_falling_ratio(cfg.d, cfg.n, cfg.clause_size)

    def max_cover(self, cfg: Config) -> int:
        return min(cfg.n_clauses, cfg.alpha * (cfg.d // cfg.clause_size))

    def cover_numerators(self, cfg: Config, imax: int) -> list:
        d, k = cfg.d, cfg.clause_size
        c = [math.perm(d, m * k) for m in range(min(d // k, imax) + 1)]
        return egf_power(c, cfg.alpha, imax + 1, 0, 1, int)

    def rational_extra_cost(self, cfg: Config, imax: int) -> float:
        return imax * imax * max(1, cfg.alpha.bit_length()) * self.scaled_bits(cfg, imax) / 64

    def mp_extra_ops(self, cfg: Config, i_needed: int) -> float:
        return i_needed * i_needed * (2 * cfg.alpha.bit_length() + 2) / 2

    def cover_mp(self, cfg: Config, imax: int, prec: int):
        n, k, d = cfg.n, cfg.clause_size, cfg.d
        with mpmath.workprec(prec):
            c = [mpmath.mpf(1)]
            f = mpmath.mpf(1)
            for m in range(1, min(d // k, imax) + 1):
                for l in range((m - 1) * k, m * k):
                    f = f * (d - l)
                c.append(f)
            t = egf_power(c, cfg.alpha, imax + 1, mpmath.mpf(0), mpmath.mpf(1), mpmath.mpf)
            r = []
            den = mpmath.mpf(1)
            for i in range(imax + 1):
                if i:
                    for l in range((i - 1) * k, i * k):
                        den = den * (n - l)
                r.append(t[i] / den)
            depth = 2 * cfg.alpha.bit_length() + 2
            rel = (4 * (imax + 1) * k + 4 * depth * (imax + 4) + 8) * mpmath.mpf(2) ** (-prec)
            return r, rel


# ----------------------------------------------------------------------------- EGF powers
def _binom_conv(a: list, b: list, size: int, binom_rows: list) -> list:
    """(a ⊛ b)_i = sum_l C(i,l) a_l b_{i-l} for i < size (the EGF product)."""
    out = []
    la, lb = len(a), len(b)
    for i in range(size):
        row = binom_rows[i]
        s = 0
        for l in range(max(0, i - lb + 1), min(i, la - 1) + 1):
            al = a[l]
            if al:
                s += row[l] * al * b[i - l]
        out.append(s)
    return out


def _binom_rows(size: int, conv=int) -> list:
    return [[conv(math.comb(i, l)) for l in range(i + 1)] for i in range(size)]


def egf_power(coeffs: list, alpha: int, size: int, zero, one, conv) -> list:
    """alpha-fold EGF power of ``coeffs`` truncated to ``size`` terms (square and multiply)."""
    rows = _binom_rows(size, conv)
    result = [one] + [zero] * (size - 1)
    base = list(coeffs[:size]) + [zero] * max(0, size - len(coeffs))
    e = alpha
    first = True
    while e:
        if e & 1:
            result = base[:] if first else _binom_conv(result, base, size, rows)
            first = False
        e >>= 1
        if e:
            base = _binom_conv(base, base, size, rows)
    return result
