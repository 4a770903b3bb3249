"""Grouped split theory (issue 16): closed forms with ``n_partitions`` against enumeration and
the Monte Carlo (Numba kernel and NumPy reference), and their validation.

Statistical tests use fixed sample sizes and seeds; the false-failure bound is written beside
each.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import fpe_theory as ft
from budget import examples
from fpe_theory._grouped import sum_squared_group_sizes
from fpe_theory._reference import simulate_reference

P_MIN = 1e-9
CONFIGS = [(8, 4, 2, "partition"), (4, 2, 2, "partition"), (6, 2, 3, "partition"), (8, 4, 2, "literal"),
           (4, 3, 3, "literal"), (16, 4, 4, "partition")]


@pytest.mark.parametrize("c, k, a, model", CONFIGS)
def test_coverage_depends_on_g_not_n(c, k, a, model):
    for n_par in (1, 5, 16):
        for g in sorted({1, 2, 3, n_par} - {x for x in (2, 3) if x > n_par}):
            for method in ("exact", "union_bound", "paper"):
                assert ft.prob_all_covered(c, k, a, n_par, model=model, method=method, n_partitions=g) == \
                    ft.prob_all_covered(c, k, a, g, model=model, method=method)
                assert ft.prob_clause_covered(c, k, a, n_par, model=model, method=method, n_partitions=g) == \
                    ft.prob_clause_covered(c, k, a, g, model=model, method=method)
            assert ft.expected_covered_clauses(c, k, a, n_par, model=model, n_partitions=g) == pytest.approx(
                c * ft.prob_clause_covered(c, k, a, g, model=model), rel=1e-15)
            # the expectation of collisions does not move; G = N is the classic split
            assert ft.expected_collisions(c, k, a, n_par, model=model, n_partitions=g) == \
                ft.expected_collisions(c, k, a, n_par, model=model)
        assert ft.collisions_variance(c, k, a, n_par, model=model, n_partitions=n_par) == \
            ft.collisions_variance(c, k, a, n_par, model=model)


def test_arrays_broadcast_and_g_is_validated():
    got = ft.prob_all_covered(8, 4, 2, [8, 16], n_partitions=[4, 16])
    assert got.shape == (2,) and got[0] == ft.prob_all_covered(8, 4, 2, 4)
    assert ft.prob_clause_covered(8, 4, 2, 8, n_partitions=[1, 8]).shape == (2,)
    assert np.all(np.diff(ft.prob_clause_covered(8, 4, 2, 8, n_partitions=[1, 2, 4, 8])) > 0)
    for bad, match in [(0, r"in \[1, n_parents\]"), (9, r"in \[1, n_parents\]"), ([1, 2, 3], "one entry per")]:
        with pytest.raises(ValueError, match=match):
            ft.prob_all_covered(8, 4, 2, [8, 8], n_partitions=bad)
    with pytest.raises(TypeError, match="n_partitions"):
        ft.prob_all_covered(8, 4, 2, 8, n_partitions=True)
    for fn in (ft.prob_clause_covered, ft.expected_collisions):
        with pytest.raises(ValueError, match="n_partitions needs model"):
            fn(8, 4, 2, 8, model="subset", n_partitions=2)
    with pytest.raises(ValueError, match="model must be one of"):
        ft.collisions_variance(8, 4, 2, 8, model="subset")
    with pytest.raises(ValueError, match="model must be one of"):
        ft.min_partitions_for_coverage(8, 4, 2, 0.01, model="subset")


def _enumerate_parent(c, k, alpha, model):
    """Exact (E[Y], Var[Y]) of one parent's collisions by enumerating every split."""
    n, d = c * k, c * k // alpha
    if model == "literal":
        splits = itertools.product(range(alpha), repeat=n)
    else:
        splits = set(itertools.permutations([i // d for i in range(n)]))
    ys = []
    for lab in splits:
        lab = np.array(lab).reshape(c, k)
        held = (lab == lab[:, :1]).all(axis=1)
        ys.append(sum(math.comb(int((held & (lab[:, 0] == a)).sum()), 2) for a in range(alpha)))
    ys = np.array(ys, dtype=np.float64)
    return ys.mean(), ys.var()


@pytest.mark.parametrize("c, k, a, model", [(4, 2, 2, "partition"), (4, 1, 2, "partition"), (6, 1, 3, "partition"),
                                            (4, 2, 2, "literal"), (5, 1, 3, "literal"), (6, 1, 2, "literal"),
                                            (3, 2, 2, "literal"), (8, 1, 4, "partition")])
def test_collision_variance_matches_enumeration(c, k, a, model):
    mean, var = _enumerate_parent(c, k, a, model)
    assert ft.expected_collisions(c, k, a, 1, model=model) == pytest.approx(mean, rel=1e-12, abs=1e-15)
    assert ft.collisions_variance(c, k, a, 1, model=model) == pytest.approx(var, rel=1e-12, abs=1e-15)
    for n_par, g in [(7, 3), (8, 2), (5, 1), (6, 6)]:
        sizes = np.bincount(np.arange(n_par) % g)  # the even deal (fpe_expand and the kernel)
        assert sum_squared_group_sizes(n_par, g) == int((sizes ** 2).sum())
        assert ft.collisions_variance(c, k, a, n_par, model=model, n_partitions=g) == pytest.approx(
            var * (sizes ** 2).sum(), rel=1e-12, abs=1e-15)


@settings(max_examples=examples(0.3))
@given(cfg=st.sampled_from(CONFIGS), n_par=st.integers(2, 12), data=st.data(), seed=st.integers(0, 2**32))
def test_simulation_agrees_with_grouped_closed_forms(cfg, n_par, data, seed):
    """20000 trials: exact binomial tests on 'all covered' and 'clause 0 covered' (Binomial
    (trials, p) exactly), a CLT z-test on the mean collisions when >= 200 events are expected.
    Each p > 1e-9; at most 3 tests x 15 examples (ci): false failure < 5e-8."""
    c, k, a, model = cfg
    g = data.draw(st.integers(1, n_par))
    trials = 20000
    res = ft.simulate(c, k, a, n_par, trials=trials, seed=seed, model=model, n_partitions=g)
    assert res.n_partitions == g and res.config()["n_partitions"] == g
    p_all = ft.prob_all_covered(c, k, a, n_par, model=model, n_partitions=g)
    p_cl = ft.prob_clause_covered(c, k, a, n_par, model=model, n_partitions=g)
    assert stats.binomtest(int(res.missed_histogram[0]), trials, p_all).pvalue > P_MIN
    assert stats.binomtest(res.clause0_covered, trials, p_cl).pvalue > P_MIN
    e = ft.expected_collisions(c, k, a, n_par, model=model, n_partitions=g)
    groups_events = e * trials * g / n_par
    if groups_events >= 200:
        var = ft.collisions_variance(c, k, a, n_par, model=model, n_partitions=g)
        z = (res.mean_collisions.value - e) / math.sqrt(var / trials)  # exact variance: a plain CLT z
        assert abs(z) < 6.1  # two-sided 1.1e-9 under the normal approximation


def test_collision_variance_against_a_long_simulation():
    """200000 trials, fixed seeds: the sample variance within 6 asymptotic standard errors
    (fourth moment from the histogram) of the exact variance; under the normal limit a false
    failure has probability ~2e-9 per check (4 checks: < 1e-8)."""
    for c, k, a, n_par, g, model in [(8, 4, 2, 4, 2, "literal"), (8, 2, 2, 7, 3, "partition"),
                                     (4, 2, 2, 5, 1, "partition"), (6, 2, 3, 6, 4, "literal")]:
        res = ft.simulate(c, k, a, n_par, trials=200_000, seed=11, model=model, n_partitions=g)
        exact = ft.collisions_variance(c, k, a, n_par, model=model, n_partitions=g)
        lo, hi = res.collisions_variance_interval(level=1 - 2e-9)
        assert lo <= exact <= hi, (c, k, a, n_par, g, model, res.collisions_variance, exact)


def test_grouped_masks_repeat_per_group_and_none_is_the_classic_stream():
    masks, _ = ft.sample_masks(8, 2, 2, 7, seed=3, trial=5, n_partitions=3)
    for p in range(7):
        assert np.array_equal(masks[p], masks[p % 3])
    assert not np.array_equal(masks[0], masks[1]) or not np.array_equal(masks[1], masks[2])
    base = ft.simulate(8, 4, 2, 6, trials=3000, seed=4)
    same = ft.simulate(8, 4, 2, 6, trials=3000, seed=4, n_partitions=None)
    full = ft.simulate(8, 4, 2, 6, trials=3000, seed=4, n_partitions=6)
    assert same.to_dict() == base.to_dict() and "n_partitions" not in base.to_dict()
    for name in ("missed_histogram", "first_cover_histogram", "collisions_histogram"):
        assert np.array_equal(getattr(full, name), getattr(base, name))  # G = N: the classic draws
    back = type(full).from_dict(full.to_dict())
    assert back.to_dict() == full.to_dict() and back.n_partitions == 6


@pytest.mark.parametrize("model", ["literal", "partition"])
def test_kernel_and_numpy_reference_agree(model):
    """literal: the same stream, bit for bit. partition: different generators; two-sample
    chi-square on the collisions histograms (p > 1e-9, false failure <= 1e-9)."""
    c, k, a, n_par, g, trials = 8, 2, 2, 7, 3, 6000
    res = ft.simulate(c, k, a, n_par, trials=trials, seed=5, model=model, n_partitions=g)
    missed, coll, first, _ = simulate_reference(c, k, a, n_par, trials=trials, seed=5, model=model, n_partitions=g)
    if model == "literal":
        assert np.array_equal(np.bincount(missed, minlength=c + 1), res.missed_histogram)
        assert np.array_equal(np.bincount(coll, minlength=res.collisions_histogram.size), res.collisions_histogram)
        assert np.array_equal(np.bincount(first, minlength=n_par + 2), res.first_cover_histogram)
    else:
        ref = np.bincount(coll // 1, minlength=res.collisions_histogram.size)
        size = max(ref.size, res.collisions_histogram.size)
        table = np.zeros((2, size))
        table[0, :ref.size] = ref
        table[1, :res.collisions_histogram.size] = res.collisions_histogram
        keep = table.sum(axis=0) >= 20  # pool the sparse tail
        pooled = np.concatenate([table[:, keep], table[:, ~keep].sum(axis=1, keepdims=True)], axis=1)
        pooled = pooled[:, pooled.sum(axis=0) > 0]
        assert stats.chi2_contingency(pooled).pvalue > P_MIN


def test_min_partitions_for_coverage_is_the_smallest_g():
    for c, k, a, delta, model in [(32, 4, 2, 0.01, "partition"), (8, 4, 2, 0.05, "literal"), (16, 4, 4, 0.01, "partition")]:
        g = ft.min_partitions_for_coverage(c, k, a, delta, model=model)
        assert g == ft.min_parents_for_coverage(c, k, a, delta, model=model)
        n_par = 4 * g  # any wider layer: coverage is that of its G partitions
        assert ft.prob_all_covered(c, k, a, n_par, model=model, n_partitions=g, complement=True) <= delta
        if g > 1:
            assert ft.prob_all_covered(c, k, a, n_par, model=model, n_partitions=g - 1, complement=True) > delta


def test_simulate_rejects_bad_n_partitions():
    for kwargs, match in [(dict(n_partitions=0), ">= 1"), (dict(n_partitions=9), "<= n_parents = 8"),
                          (dict(n_partitions=2, model="subset"), "n_partitions needs model")]:
        with pytest.raises(ValueError, match=match):
            ft.simulate(8, 4, 2, 8, trials=10, **kwargs)


def test_cli_n_partitions(capsys):
    from fpe_theory.bound_checks import main

    rc = main(["--quick", "--trials", "2000", "--clauses", "4,8", "--alphas", "2", "--parents", "4,8",
               "--n-partitions", "1,2,8", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and "PASS" in out and "Collisions variance" in out
    assert main(["--n-partitions", "2", "--model", "subset", "--quick"]) == 2
    assert "--n-partitions needs --model" in capsys.readouterr().err
