"""The structured 2:4 split (alpha = 2): every aligned group of 4 consecutive inputs gives 2
to each child, one of the C(4,2) = 6 patterns uniformly.

A clause whose literals sit in one aligned group of 4 can never be held by one child, so
coverage depends on where literals sit: ``layout="contiguous"`` (clause c owns inputs
c·k .. c·k+k-1; clauses differ, values are means over clauses) or ``"shuffled"`` (literal
positions uniformly permuted, the same for all parents). P(a clause covered) and the
expected collisions are exact sums over the groups' occupancy patterns; there is no closed
form for P(all covered) (estimate it with ``simulate``).
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath

from .._validate import Config
from .base import BalancedModel, register


@register
class TwoFour(BalancedModel):
    name = "two_four"
    summary = "alpha = 2, each aligned group of 4 inputs split 2/2 (structured 2:4 sparsity)"
    sim_code = 2
    has_all_covered = False
    has_child_cover = False
    layout_dependent = True

    def check_config(self, n_clauses, clause_size, alpha) -> Config:
        cfg = super().check_config(n_clauses, clause_size, alpha)
        _check_two_four(cfg)
        return cfg

    def check_simulation(self, cfg: Config) -> None:
        _check_two_four(cfg)

    def clause_covered_exact(self, cfg: Config, parents: tuple, layout: str, complement: bool):
        return _two_four_clause(cfg, parents, layout, complement)

    def collisions_per_parent(self, cfg: Config, layout: str):
        return _two_four_pair_sum(cfg, layout)


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
