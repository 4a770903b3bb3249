"""Closed forms of fpe_theory against independent exact computations.

Independent references written here, not shared with the library:
- brute-force enumeration of every subset / balanced partition a unit can draw, then an
  exact DP over units on the set of covered clauses (no inclusion–exclusion at all);
- a Markov chain over the number of covered clauses with r_i from the *composition sum*
  of THEORY.md (the library uses the generating function), in Fractions;
- mpmath at high precision for the float closed forms.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fpe_theory as ft
from fpe_theory import _exact
from fpe_theory._validate import check_config
from fpe_theory.models import get_model

REL = 1e-9  # required agreement with independent exact computations (issue #2)


# ----------------------------------------------------------------------------- references
def falling(x: int, m: int) -> int:
    out = 1
    for i in range(m):
        out *= x - i
    return out


def compositions(total: int, parts: int):
    if parts == 1:
        yield (total,)
        return
    for first in range(total + 1):
        for rest in compositions(total - first, parts - 1):
            yield (first,) + rest


def r_composition(C, k, alpha, i, model) -> Fraction:
    """THEORY.md's r_i: independent d↓ik/n↓ik; partition the composition sum."""
    n = C * k
    d = n // alpha
    if model == "subset":
        return Fraction(falling(d, i * k), falling(n, i * k)) if i * k <= d else Fraction(0)
    total = Fraction(0)
    for comp in compositions(i, alpha):
        if any(m * k > d for m in comp):
            continue
        multinom = math.factorial(i)
        prod = 1
        for m in comp:
            multinom //= math.factorial(m)
            prod *= falling(d, m * k)
        total += multinom * prod
    return total / falling(n, i * k)


def p_all_markov(C, k, alpha, n_parents, model) -> Fraction:
    """Exact P(all covered): Markov chain over the number of covered clauses.

    A fresh unit newly covers exactly t of the g uncovered clauses with probability
    C(g,t) sum_i (-1)^i C(g-t,i) r_{t+i} (inclusion–exclusion inside ONE unit only).
    """
    r = [r_composition(C, k, alpha, i, model) for i in range(C + 1)]
    units = alpha * n_parents if model == "subset" else n_parents
    trans = {}
    for g in range(C + 1):
        row = []
        for t in range(g + 1):
            s = sum((-1) ** i * math.comb(g - t, i) * r[t + i] for i in range(g - t + 1))
            row.append(math.comb(g, t) * s)
        trans[g] = row
    state = [Fraction(0)] * (C + 1)  # state[c] = P(c clauses covered)
    state[0] = Fraction(1)
    for _ in range(units):
        new = [Fraction(0)] * (C + 1)
        for c, pc in enumerate(state):
            if pc:
                for t, pt in enumerate(trans[C - c]):
                    new[c + t] += pc * pt
        state = new
    return state[C]


def unit_distribution(C, k, alpha, model):
    """Enumerate every draw of one unit: P(mask of covered clauses), E[collisions]."""
    n = C * k
    d = n // alpha
    clause_masks = [sum(1 << l for l in range(c * k, c * k + k)) for c in range(C)]

    def covered(sub_mask):
        return sum(1 << c for c, cm in enumerate(clause_masks) if cm & sub_mask == cm)

    dist = defaultdict(int)
    coll = 0
    total = 0
    if model == "subset":
        for sub in itertools.combinations(range(n), d):
            m = covered(sum(1 << l for l in sub))
            dist[m] += 1
            coll += math.comb(bin(m).count("1"), 2)
            total += 1
    else:
        def parts(remaining, left):
            if left == 0:
                yield ()
                return
            for sub in itertools.combinations(remaining, d):
                rest = tuple(x for x in remaining if x not in sub)
                for tail in parts(rest, left - 1):
                    yield (sub,) + tail

        for partition in parts(tuple(range(n)), alpha):
            m = 0
            for child in partition:
                cm = covered(sum(1 << l for l in child))
                m |= cm
                coll += math.comb(bin(cm).count("1"), 2)
            dist[m] += 1
            total += 1
    return {m: Fraction(v, total) for m, v in dist.items()}, Fraction(coll, total)


def p_all_bruteforce(C, k, alpha, n_parents, model) -> Fraction:
    dist, _ = unit_distribution(C, k, alpha, model)
    units = alpha * n_parents if model == "subset" else n_parents
    full = (1 << C) - 1
    state = {0: Fraction(1)}
    for _ in range(units):
        new = defaultdict(Fraction)
        for s, ps in state.items():
            for m, pm in dist.items():
                new[s | m] += ps * pm
        state = new
    return state.get(full, Fraction(0))


def rel_close(a, b, rel=REL):
    a, b = float(a), float(b)
    return abs(a - b) <= rel * max(abs(a), abs(b)) or (a == b)


TINY_CONFIGS = [  # (C, k, alpha): every draw enumerable
    (2, 2, 2), (3, 2, 2), (2, 3, 2), (3, 2, 3), (4, 2, 2), (4, 1, 2), (2, 4, 2), (4, 2, 4),
    (3, 3, 3), (6, 1, 3), (6, 2, 3),
]


# ----------------------------------------------------------------------------- worked example
def test_worked_example_matches_theory_md():
    """THEORY.md: C=8, k=4, alpha=2, N=8."""
    assert round(ft.prob_child_covers(8, 4, 2), 5) == 0.05061
    assert ft.prob_child_covers(8, 4, 2, method="paper") == 0.0625
    assert round(ft.prob_all_covered(8, 4, 2, 8, model="subset"), 5) == 0.00666
    assert round(ft.prob_all_covered(8, 4, 2, 8, model="partition"), 5) == 0.01367
    assert round(ft.expected_collisions(8, 4, 2, 8), 3) == 0.548
    assert ft.dense_collisions(8, 8) == 224.0
    assert round(ft.collision_ratio(8, 4, 2), 5) == 0.00245
    assert ft.collision_ratio(8, 4, 2, method="paper") == 2.0**-7  # 0.0078
    # and the same values against the independent exact references
    for model in ("subset", "partition"):
        ref = p_all_markov(8, 4, 2, 8, model)
        assert rel_close(ft.prob_all_covered(8, 4, 2, 8, model=model), ref)
    q2 = Fraction(falling(16, 8), falling(32, 8))
    assert rel_close(ft.expected_collisions(8, 4, 2, 8), 2 * 8 * 28 * q2)
    assert rel_close(ft.collision_ratio(8, 4, 2), 2 * q2)


# ----------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("C,k,alpha", TINY_CONFIGS)
@pytest.mark.parametrize("model", ["subset", "partition"])
def test_prob_all_covered_matches_bruteforce(C, k, alpha, model):
    """Exact P(all covered) equals enumeration + DP over units (no inclusion–exclusion)."""
    for n_parents in (1, 2, 3, 5):
        ref = p_all_bruteforce(C, k, alpha, n_parents, model)
        got = ft.prob_all_covered(C, k, alpha, n_parents, model=model)
        miss = ft.prob_all_covered(C, k, alpha, n_parents, model=model, complement=True)
        assert rel_close(got, ref), (n_parents, got, float(ref))
        assert rel_close(miss, 1 - ref), (n_parents, miss, float(1 - ref))


@pytest.mark.parametrize("C,k,alpha", TINY_CONFIGS)
@pytest.mark.parametrize("model", ["subset", "partition"])
def test_clause_and_collisions_match_bruteforce(C, k, alpha, model):
    """P(clause covered) and E[collisions] from the enumerated per-unit distribution."""
    dist, coll_per_unit = unit_distribution(C, k, alpha, model)
    per = alpha if model == "subset" else 1
    p_unit = sum(p for m, p in dist.items() if m & 1)  # clause 0 covered by one unit
    for n_parents in (1, 4, 9):
        ref = 1 - (1 - p_unit) ** (per * n_parents)
        assert rel_close(ft.prob_clause_covered(C, k, alpha, n_parents, model=model), ref)
        assert rel_close(ft.expected_collisions(C, k, alpha, n_parents) if C > 1 else 0.0,
                         coll_per_unit * per * n_parents)


@pytest.mark.parametrize("C,k,alpha", [(4, 2, 2), (3, 3, 3), (6, 2, 3), (5, 2, 5), (8, 1, 4), (6, 2, 2)])
def test_generating_function_equals_composition_sum(C, k, alpha):
    """r_i by the EGF power equals THEORY.md's sum over compositions, exactly."""
    cfg = check_config(C, k, alpha)
    t = get_model("partition").cover_numerators(cfg, C)
    for i in range(C + 1):
        assert Fraction(t[i], falling(cfg.n, i * k)) == r_composition(C, k, alpha, i, "partition")


@pytest.mark.parametrize("C,k,alpha,n_parents", [
    (8, 4, 2, 8), (8, 4, 2, 40), (12, 2, 3, 5), (10, 3, 5, 30), (16, 4, 4, 64), (9, 2, 3, 2),
])
@pytest.mark.parametrize("model", ["subset", "partition"])
def test_prob_all_covered_matches_markov_chain(C, k, alpha, n_parents, model):
    """Exact P(all covered) and P(some missed) vs the Markov chain with composition r_i."""
    ref = p_all_markov(C, k, alpha, n_parents, model)
    assert rel_close(ft.prob_all_covered(C, k, alpha, n_parents, model=model), ref)
    assert rel_close(ft.prob_all_covered(C, k, alpha, n_parents, model=model, complement=True), 1 - ref)


@pytest.mark.parametrize("C,k,alpha,model,parents", [
    (8, 4, 2, "partition", [1, 8, 64]), (32, 4, 4, "subset", [16, 64]),
    (12, 2, 3, "partition", [1, 5, 50]), (6, 1, 2, "partition", [1, 3]),
    (40, 3, 8, "partition", [10, 100]), (30, 2, 2, "subset", [3, 30, 300]),
])
def test_rational_and_mpmath_paths_agree(C, k, alpha, model, parents):
    """The two exact engines (integers vs certified mpmath) give the same floats (1e-15)."""
    cfg = check_config(C, k, alpha)
    per = alpha if model == "subset" else 1
    us = [per * n for n in parents]
    rat = _exact.evaluate(cfg, model, us, force="rational")
    mp = _exact.evaluate(cfg, model, us, force="mpmath")
    for a, b in zip(rat, mp):
        assert a.method == "rational" and b.method == "mpmath"
        assert rel_close(a.p_all, b.p_all, 1e-15) and rel_close(a.p_miss, b.p_miss, 1e-15)
        assert b.p_all_lo <= a.p_all <= b.p_all_hi


def test_full_output_reports_method_and_bounds():
    val, info = ft.prob_all_covered(8, 4, 2, [4, 8, 16], full_output=True)
    assert info.method_requested == "exact" and info.method_used == "rational"
    assert not info.fell_back
    assert np.all(info.lower <= val) and np.all(val <= info.upper)
    # large C: certified truncated inclusion–exclusion, reported as such
    val, info = ft.prob_all_covered(1000, 4, 2, 100, full_output=True)
    assert info.method_used == "bonferroni" and "truncated" in info.reason
    assert info.lower <= val <= info.upper and info.upper - info.lower <= 1e-15 * val
    # hopeless coverage at huge C: certified underflow, not a silent 0
    val, info = ft.prob_all_covered(2**20, 4, 2, 1, model="subset", full_output=True)
    assert val == 0.0 and info.method_used == "underflow-certificate" and info.upper == 0.0
    val, info = ft.prob_all_covered(2**24, 64, 1024, 10**6, full_output=True)
    assert val == 0.0 and info.method_used == "underflow-certificate" and info.upper == 0.0
    # partition at huge C: no certificate is strong enough; the fallback says so
    val, info = ft.prob_all_covered(2**20, 4, 2, 1, model="partition", full_output=True)
    assert info.method_used == "approximation" and info.fell_back and 0 <= val <= info.upper


@pytest.mark.parametrize("C,k,alpha", TINY_CONFIGS)
def test_negative_association_bound_used_by_the_fallback(C, k, alpha):
    """Independent model: P(all covered) <= q^C (negative association), which the fallback
    uses as a certificate; the partition model violates it (children are disjoint), so the
    fallback must not use it there."""
    for n_parents in (1, 2, 3):
        q_ind = ft.prob_clause_covered(C, k, alpha, n_parents, model="subset")
        assert float(p_all_bruteforce(C, k, alpha, n_parents, "subset")) <= q_ind**C * (1 + 1e-12)
    if (C, k, alpha) == (2, 2, 2):  # n = 4: one child = clause 0 forces the other = clause 1
        q_par = ft.prob_clause_covered(C, k, alpha, 1, model="partition")
        assert p_all_bruteforce(C, k, alpha, 1, "partition") == Fraction(1, 3) > q_par**2


def test_fallback_is_reported_with_certified_bounds():
    """Where exact inclusion–exclusion exceeds the work budget, the result says so."""
    val, info = ft.prob_all_covered(10**6, 4, 2, 60, full_output=True)
    assert info.method_used == "approximation" and info.fell_back
    assert "exceeds the work budget" in info.reason
    assert 0.0 <= info.lower <= val <= info.upper <= 1.0


# ----------------------------------------------------------------------------- properties
@st.composite
def configs(draw, max_clauses=24):
    """Valid (C, k, alpha): alpha divides n = C·k and k <= n/alpha, built directly."""
    k = draw(st.integers(1, 5))
    alpha = draw(st.integers(2, 6))
    # C must make alpha | C·k and k <= C·k/alpha, i.e. C >= alpha
    step = alpha // math.gcd(alpha, k)
    lo_mult = max(1, -(-alpha // step))
    mult = draw(st.integers(lo_mult, max(lo_mult, max_clauses // step)))
    return step * mult, k, alpha


@given(cfg=configs(), model=st.sampled_from(["subset", "partition"]),
       n_parents=st.integers(1, 200))
def test_probabilities_in_unit_interval_and_union_bound_below_exact(cfg, model, n_parents):
    """Every probability lies in [0, 1]; the union bound never exceeds the exact value,
    P(all covered) <= P(one clause covered), and value + complement = 1."""
    C, k, a = cfg
    exact = ft.prob_all_covered(C, k, a, n_parents, model=model)
    miss = ft.prob_all_covered(C, k, a, n_parents, model=model, complement=True)
    union = ft.prob_all_covered(C, k, a, n_parents, model=model, method="union_bound")
    clause = ft.prob_clause_covered(C, k, a, n_parents, model=model)
    paper = ft.prob_all_covered(C, k, a, n_parents, method="paper")
    for v in (exact, miss, union, clause, paper):
        assert 0.0 <= v <= 1.0
    assert union <= exact * (1 + 1e-12)
    assert exact <= clause * (1 + 1e-12)
    assert abs(exact + miss - 1.0) <= 2e-16 * 4


@given(cfg=configs(), model=st.sampled_from(["subset", "partition"]))
def test_monotone_in_n_parents(cfg, model):
    """More parents can only help coverage (each extra unit is independent)."""
    C, k, a = cfg
    ns = np.array([1, 2, 3, 5, 8, 13, 21, 34, 55, 89])
    p_all = ft.prob_all_covered(C, k, a, ns, model=model)
    p_cl = ft.prob_clause_covered(C, k, a, ns, model=model)
    assert np.all(np.diff(p_all) >= -1e-15) and np.all(np.diff(p_cl) >= -1e-15)
    e = ft.expected_collisions(C, k, a, ns)
    assert np.all(np.diff(e) >= 0)


@given(k=st.integers(1, 6), alpha=st.integers(2, 8))
def test_collision_ratio_tends_to_paper_value(k, alpha):
    """exact/paper = prod_i (d-i)/(d-i/alpha) rises towards 1 as C grows (alpha, k fixed),
    and 1 - ratio <= (2k)^2/(2d) (first-order bound)."""
    ratios = []
    for C in (alpha * 2 * k, alpha * 20 * k, alpha * 2000 * k, alpha * 200000 * k):
        d = C * k // alpha
        r = ft.collision_ratio(C, k, alpha) / ft.collision_ratio(C, k, alpha, method="paper")
        assert r <= 1.0 + 1e-12
        assert 1 - r <= (2 * k) ** 2 / (2 * d) + 1e-12
        ratios.append(r)
    assert all(b >= a - 1e-15 for a, b in zip(ratios, ratios[1:]))
    assert ratios[-1] > 1 - 1e-3


@given(cfg=configs(max_clauses=12), n_parents=st.integers(1, 30),
       model=st.sampled_from(["subset", "partition"]))
def test_partition_is_at_least_as_good_for_one_clause(cfg, n_parents, model):
    """(1 - alpha p)^N <= (1 - p)^(alpha N): disjoint children never cover a clause less often."""
    C, k, a = cfg
    part = ft.prob_clause_covered(C, k, a, n_parents, model="partition")
    ind = ft.prob_clause_covered(C, k, a, n_parents, model="subset")
    assert part >= ind * (1 - 1e-13)


@given(cfg=configs(max_clauses=16), delta=st.floats(1e-9, 0.9),
       model=st.sampled_from(["subset", "partition"]))
def test_min_parents_is_the_smallest_sufficient(cfg, delta, model):
    """min_parents(exact) is the first N with P(miss) <= delta; union bound needs at least as many."""
    C, k, a = cfg
    n = ft.min_parents_for_coverage(C, k, a, delta, model=model)
    n_ub = ft.min_parents_for_coverage(C, k, a, delta, model=model, method="union_bound")
    assert 1 <= n <= n_ub
    assert ft.prob_all_covered(C, k, a, n, model=model, complement=True) <= delta * (1 + 1e-12)
    if n > 1:
        assert ft.prob_all_covered(C, k, a, n - 1, model=model, complement=True) > delta * (1 - 1e-12)


def test_min_parents_paper_formula():
    """ceil(alpha^(k-1) ln(C/delta)): C=8, k=4, alpha=2, delta=0.01 -> ceil(8 ln 800) = 54."""
    assert ft.min_parents_for_coverage(8, 4, 2, 0.01, method="paper") == 54
    assert ft.min_parents_for_coverage(8, 4, 2, 0.01, method="paper") == math.ceil(8 * math.log(800))


# ----------------------------------------------------------------------------- two_four
_SMALL_24 = [(2, 2), (4, 1), (2, 4), (4, 2), (2, 6)]  # shuffled: <= 2520 layouts to enumerate


@pytest.mark.parametrize("C,k,layout", [(c, k, "contiguous") for c, k in _SMALL_24 + [
    (3, 4), (4, 3), (6, 2), (8, 1), (5, 4)]] + [(c, k, "shuffled") for c, k in _SMALL_24])
def test_two_four_closed_forms_match_enumeration(C, k, layout):
    """two_four: enumerate the 6^(n/4) splits of a parent (and every layout when shuffled)."""
    n = C * k
    groups = n // 4
    splits = list(itertools.combinations(range(4), 2))  # positions of child 0 in a group
    if layout == "shuffled":
        # only which positions each clause gets matters: ordered set partitions into blocks of k
        layouts = []
        for blocks in _ordered_blocks(tuple(range(n)), k):
            layouts.append(tuple(p for b in blocks for p in b))
    else:
        layouts = [tuple(range(n))]
    n_parents = 3
    cov_sum = Fraction(0)
    coll_sum = Fraction(0)
    for lay in layouts:  # lay[literal] = position
        per_clause_p = []
        coll = Fraction(0)
        for choice in itertools.product(splits, repeat=groups):
            child0 = {g * 4 + i for g, ch in enumerate(choice) for i in ch}
            cov = []
            cnt = [0, 0]
            for c in range(C):
                pos = [lay[c * k + j] for j in range(k)]
                in0 = all(p in child0 for p in pos)
                in1 = all(p not in child0 for p in pos)
                cov.append(in0 or in1)
                cnt[0] += in0
                cnt[1] += in1
            per_clause_p.append(cov)
            coll += math.comb(cnt[0], 2) + math.comb(cnt[1], 2)
        m = len(per_clause_p)
        for c in range(C):
            pc = Fraction(sum(cv[c] for cv in per_clause_p), m)
            cov_sum += 1 - (1 - pc) ** n_parents
        coll_sum += coll / m
    ref_cov = cov_sum / (C * len(layouts))
    ref_coll = coll_sum * n_parents / len(layouts)
    got = ft.prob_clause_covered(C, k, 2, n_parents, model="two_four", layout=layout)
    assert rel_close(got, ref_cov)
    if C > 1:
        assert rel_close(ft.expected_collisions(C, k, 2, n_parents, model="two_four", layout=layout),
                         ref_coll) or (ref_coll == 0 and ft.expected_collisions(
                             C, k, 2, n_parents, model="two_four", layout=layout) == 0)


def _ordered_blocks(positions, k):
    if not positions:
        yield ()
        return
    for block in itertools.combinations(positions, k):
        rest = tuple(p for p in positions if p not in block)
        for tail in _ordered_blocks(rest, k):
            yield (block,) + tail


def test_two_four_contiguous_aligned_clauses_never_covered():
    """k = 4 clauses sit in one aligned group, split 2/2: no child can hold one."""
    assert ft.prob_clause_covered(8, 4, 2, 1000, model="two_four") == 0.0
    assert ft.expected_collisions(8, 4, 2, 1000, model="two_four") == 0.0
    assert ft.prob_clause_covered(8, 4, 2, 10, model="two_four", layout="shuffled") > 0.0


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("args,kw,exc,match", [
    ((8, 4, 3, 8), {}, ValueError, "alpha must be an integer >= 2 dividing n = 32, got 3"),
    ((8, 4, 1, 8), {}, ValueError, "alpha must be an integer >= 2"),
    ((8, 4, 2.0, 8), {}, ValueError, "alpha must be an integer"),
    ((8, 4, "2", 8), {}, TypeError, "alpha must be an integer"),
    ((8, 4, True, 8), {}, TypeError, "alpha"),
    ((2, 4, 4, 8), {}, ValueError, "clause_size must be <= n / alpha = 2"),
    ((0, 4, 2, 8), {}, ValueError, "n_clauses must be an integer >= 1"),
    ((8, 0, 2, 8), {}, ValueError, "clause_size must be an integer >= 1"),
    ((8, 4, 2, 0), {}, ValueError, "n_parents must be an integer >= 1"),
    ((8, 4, 2, [3, 0]), {}, ValueError, "n_parents"),
    ((8, 4, 2, [[1, 2]]), {}, ValueError, "1-d"),
    ((8, 4, 2, 2.5), {}, ValueError, "n_parents"),
    ((8, 4, 2, None), {}, TypeError, "n_parents"),
    ((8, 4, 2, 8), {"model": "dense"}, ValueError, "model must be one of"),
    ((8, 4, 2, 8), {"method": "approx"}, ValueError, "method must be one of"),
    ((8, 4, 2, 8), {"model": "two_four"}, ValueError, "no closed form for 'two_four'"),
])
def test_bad_input_names_parameter_and_rule(args, kw, exc, match):
    with pytest.raises(exc, match=match):
        ft.prob_all_covered(*args, **kw)


@pytest.mark.parametrize("delta", [0, 1, -0.1, 1.5, float("nan"), float("inf")])
def test_bad_delta(delta):
    with pytest.raises(ValueError, match="delta must satisfy 0 < delta < 1"):
        ft.min_parents_for_coverage(8, 4, 2, delta)


def test_bad_input_other_functions():
    with pytest.raises(ValueError, match="method must be one of"):
        ft.collision_ratio(8, 4, 2, method="union_bound")
    with pytest.raises(ValueError, match="alpha must be 2 for model='two_four'"):
        ft.prob_clause_covered(8, 4, 4, 3, model="two_four")
    with pytest.raises(ValueError, match="n_clauses must be an integer >= 1"):
        ft.dense_collisions(0, 3)
    with pytest.raises(ValueError, match="layout must be one of"):
        ft.expected_collisions(8, 4, 2, 3, layout="random")


# ----------------------------------------------------------------------------- numerical extremes
EXTREME_CONFIGS = [  # n up to ~1e9, clause size 64, alpha 1024
    (15_625_000, 64, 512),  # n = 1e9
    (2**24, 64, 1024),  # n = 2^30
    (250_000_000, 4, 1000),  # n = 1e9
    (10**9, 1, 2),
    (2**14, 64, 1024),  # n = 2^20
    (64, 64, 64),
]
EXTREME_PARENTS = [1, 1000, 10**6, 10**12, 2**200, 2**640]


def mp_falling_ratio(a, b, m, dps):
    with mpmath.workdps(dps):
        out = mpmath.mpf(1)
        for i in range(m):
            out *= mpmath.mpf(a - i) / (b - i)
        return out


def mp_rel(a, b):
    if a == b:  # includes equal infinities (log of an exact zero)
        return 0
    if b == 0:
        return abs(a)
    return abs((mpmath.mpf(a) - b) / b)


@pytest.mark.parametrize("C,k,alpha", EXTREME_CONFIGS)
def test_extreme_float_closed_forms_against_mpmath(C, k, alpha):
    """Closed forms at n ~ 1e9, k = 64, alpha = 1024 agree with 60-digit mpmath to 1e-10
    (values below the smallest double are compared in log space)."""
    n = C * k
    d = n // alpha
    with mpmath.workdps(60):
        p = mp_falling_ratio(d, n, k, 60)
        q2 = mp_falling_ratio(d, n, 2 * k, 60)
        assert mp_rel(ft.prob_child_covers(C, k, alpha), p) <= 1e-10
        assert mp_rel(ft.collision_ratio(C, k, alpha, log=True), mpmath.log(alpha * q2)) <= 1e-10
        if alpha * q2 > mpmath.mpf(2) ** -1000:
            assert mp_rel(ft.collision_ratio(C, k, alpha), alpha * q2) <= 1e-10
        for model, pu, per in (("subset", p, alpha), ("partition", alpha * p, 1)):
            for n_par in EXTREME_PARENTS:
                u = per * n_par
                miss = mpmath.exp(u * mpmath.log1p(-pu)) if pu < 1 else mpmath.mpf(0)
                cov = 1 - miss
                got_cov = ft.prob_clause_covered(C, k, alpha, n_par, model=model)
                got_miss = ft.prob_clause_covered(C, k, alpha, n_par, model=model, complement=True)
                assert mp_rel(got_cov, cov) <= 1e-10, (model, n_par, got_cov, cov)
                if miss > mpmath.mpf(2) ** -1000:
                    assert mp_rel(got_miss, miss) <= 1e-10, (model, n_par, got_miss, miss)
                else:
                    assert got_miss < 2.0**-990
                # union bound on P(some clause missed) = min(1, C·miss)
                ub = ft.prob_all_covered(C, k, alpha, n_par, model=model, method="union_bound",
                                         complement=True)
                ref_ub = min(mpmath.mpf(1), C * miss)
                if ref_ub > mpmath.mpf(2) ** -1000:
                    assert mp_rel(ub, ref_ub) <= 1e-10
                e = ft.expected_collisions(C, k, alpha, n_par, log=True)
                assert mp_rel(e, mpmath.log(alpha * n_par * math.comb(C, 2) * q2)) <= 1e-10
                assert math.isfinite(got_cov) and (math.isfinite(e) or q2 == 0)


@pytest.mark.parametrize("C,k,alpha", EXTREME_CONFIGS)
@pytest.mark.parametrize("model", ["subset", "partition"])
def test_extreme_min_parents_union_and_paper_exact(C, k, alpha, model):
    """min_parents (union bound, paper) at the extremes are the exact integers (checked by
    evaluating the defining inequality at N and N - 1 with mpmath at high precision)."""
    delta = 1e-3
    n = C * k
    d = n // alpha
    paper = ft.min_parents_for_coverage(C, k, alpha, delta, method="paper")
    with mpmath.workprec(alpha.bit_length() * k + 200):
        x = mpmath.mpf(alpha) ** (k - 1) * mpmath.log(mpmath.mpf(C) / delta)
        assert paper - 1 < x <= paper
    nub = ft.min_parents_for_coverage(C, k, alpha, delta, model=model, method="union_bound")
    per = alpha if model == "subset" else 1
    p = Fraction(falling(d, k), falling(n, k)) * (alpha if model == "partition" else 1)
    if p >= 1:
        assert nub == 1
        return
    with mpmath.workprec(nub.bit_length() + 200):
        def s1(N):
            return C * mpmath.exp(per * N * mpmath.log1p(-mpmath.mpf(p.numerator) / p.denominator))
        assert s1(nub) <= delta
        assert nub == 1 or s1(nub - 1) > delta


@pytest.mark.slow
@pytest.mark.parametrize("C,k,alpha", [(2**24, 64, 1024), (15_625_000, 64, 512)])
@pytest.mark.parametrize("model", ["subset", "partition"])
def test_extreme_exact_prob_all_and_min_parents(C, k, alpha, model):
    """Exact P(all covered) at n ~ 1e9: certified methods, bounds contain the value, and the
    exact min_parents satisfies its definition."""
    delta = 1e-3
    nmin, info = ft.min_parents_for_coverage(C, k, alpha, delta, model=model, full_output=True)
    assert "approximation" not in str(info.method_used)
    miss, pinfo = ft.prob_all_covered(C, k, alpha, nmin, model=model, complement=True, full_output=True)
    assert pinfo.method_used in ("bonferroni", "mpmath") and miss <= delta
    # N and N - 1 differ by ~2^-635 relative here: compare the certified high-precision
    # values (interval midpoint ± certified error), not the rounded floats
    per = alpha if model == "subset" else 1
    cfg = check_config(C, k, alpha)
    at, before = _exact.evaluate(cfg, model, [nmin * per, (nmin - 1) * per],
                                 target_rel=mpmath.mpf(2) ** -900)
    assert "midpoint" not in info.reason
    with mpmath.workprec(at.precision_bits):
        assert at.p_miss_exact + at.p_miss_err <= mpmath.mpf(delta)
        assert before.p_miss_exact - before.p_miss_err > mpmath.mpf(delta)
    # union bound S1 and its first Bonferroni correction bracket P(miss) at nmin
    ub = ft.prob_all_covered(C, k, alpha, nmin, model=model, method="union_bound", complement=True)
    assert miss <= ub <= miss * (1 + 2 * ub)


@pytest.mark.parametrize("model", ["subset", "partition"])
def test_certified_error_bound_holds_at_very_high_precision(model):
    """At 2^-1050 relative accuracy the certified interval of the mpmath path contains the
    exact rational value."""
    cfg = check_config(8, 4, 2)
    u = 128 if model == "subset" else 64  # P(miss) ~ 0.01
    (exact,) = _exact.evaluate(cfg, model, [u], force="rational")
    (hp,) = _exact.certified_eval(cfg, model, 8, [u], budget=float("inf"), full=True,
                                  target_rel=mpmath.mpf(2) ** -1050)
    assert hp.method == "mpmath" and hp.precision_bits > 1050
    with mpmath.workprec(hp.precision_bits + 64):
        ref = mpmath.mpf(exact.p_miss_exact.numerator) / exact.p_miss_exact.denominator
        assert abs(hp.p_miss_exact - ref) <= hp.p_miss_err
        assert hp.p_miss_err <= mpmath.mpf(2) ** -1040 * ref


def test_certified_error_bound_holds_with_huge_unit_counts():
    """U ~ 2^634 amplifies tiny errors of m_j: the certified interval must still contain a
    naive 4000-bit evaluation from exact rational m_j. (The slow extreme test is the
    regression test for relative errors below the smallest double once flushed to 0.0.)"""
    C, k, alpha = 2**14, 64, 1024  # n = 2^20, p ~ 2^-640
    cfg = check_config(C, k, alpha)
    n_par = ft.min_parents_for_coverage(C, k, alpha, 1e-3, model="subset", method="union_bound")
    u = alpha * n_par
    (hp,) = _exact.certified_eval(cfg, "subset", C, [u], target_rel=mpmath.mpf(2) ** -1000)
    assert hp is not None and hp.method == "bonferroni"
    n, d = cfg.n, cfg.d
    terms = 12
    r = [Fraction(falling(d, i * k), falling(n, i * k)) for i in range(terms + 2)]
    with mpmath.workprec(4000):
        ref = mpmath.mpf(0)
        s_next = None
        for j in range(1, terms + 2):
            m = sum((-1) ** i * math.comb(j, i) * r[i] for i in range(j + 1))
            term = math.comb(C, j) * mpmath.exp(u * mpmath.log(mpmath.mpf(m.numerator) / m.denominator))
            if j == terms + 1:
                s_next = term  # Bonferroni: the truncation error is at most S_{J+1}
                break
            ref += term if j & 1 else -term
        assert abs(hp.p_miss_exact - ref) <= hp.p_miss_err + s_next
        assert hp.p_miss_err <= mpmath.mpf(2) ** -990 * ref


@given(cfg=configs(), model=st.sampled_from(["literal", "subset", "partition"]),
       n_parents=st.integers(1, 500))
def test_log_and_complement_outputs_are_consistent(cfg, model, n_parents):
    """log=True is the log of the value and complement=True is 1 - value (to rounding),
    for every probability function and method."""
    C, k, a = cfg
    for fn, methods in ((ft.prob_all_covered, ("exact", "union_bound", "paper")),
                        (ft.prob_clause_covered, ("exact", "paper"))):
        for method in methods:
            kw = {"model": model, "method": method}
            v = fn(C, k, a, n_parents, **kw)
            c = fn(C, k, a, n_parents, complement=True, **kw)
            assert abs(v + c - 1.0) <= 1e-15
            for val, lg in ((v, fn(C, k, a, n_parents, log=True, **kw)),
                            (c, fn(C, k, a, n_parents, log=True, complement=True, **kw))):
                if val > 0:
                    assert math.exp(lg) == pytest.approx(val, rel=1e-12)
                else:
                    assert lg == -math.inf or lg < -700
