"""fpe_empirical.coverage: clause coverage and collisions measured on masks, next to the closed forms.

Exact tests: hand-built masks with known answers, the dense layer's N * C(C, 2) collisions,
``split_support`` reproducing ``fpe_expand``'s draws (pruned masks are subsets; identical when
pruning only touches W2), exact non-zero accounting of the split and the re-sparsification.
Statistical tests (fixed seeds; two-sided exact binomial tests at p < 1e-7 per example, at
most 5 examples per property, so a correct implementation fails with probability < 1e-6):
masks that ``fpe_expand(strategy="random")`` builds follow the partition model.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from budget import examples
from scipy import stats
from scipy import stats as sst

import fpe_theory as T
from fpe_empirical import MLP, count_nonzero, fpe_expand
from fpe_empirical.config import config_key
from fpe_empirical.coverage import (
    CoverageCounts,
    CoverageExperiment,
    compare_with_theory,
    coverage_table,
    measure_coverage,
    replicate_split_seed,
    run_coverage,
    split_support,
    support,
    theory_values,
    unit_clause_cover,
)

P_REJECT = 1e-7


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """One torch thread: two spinning OpenMP threads on a loaded 2-core box slow tiny training
    several-fold (PERFORMANCE.md)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)  # per-example false-failure probability of the binomial tests


def contiguous(n_clauses: int, k: int) -> list[list[int]]:
    return [list(range(c * k, c * k + k)) for c in range(n_clauses)]


def dense_model(n_in: int, hidden: int, out: int = 1, *, seed: int = 0, tiny_w2: bool = False) -> MLP:
    """A dense MLP with full first-layer support; ``tiny_w2``: head weights below every |W1| entry,
    so re-sparsification prunes only head weights (possible when out >= alpha - 1)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        m = MLP(n_in, hidden, out)
    with torch.no_grad():
        w = m.layers[0].weight
        w.copy_(torch.sign(w) * (0.5 + w.abs()))  # |W1| >= 0.5, no exact zeros
        if tiny_w2:
            m.layers[1].weight.mul_(1e-3)
    return m


# --------------------------------------------------------------------------- exact


def test_hand_built_counts():
    """Known answers: unit 0 covers clauses 0 and 1, unit 1 covers clause 2 only, clause 3 is missed."""
    clauses = contiguous(4, 2)
    s = np.zeros((3, 8), dtype=bool)
    s[0, [0, 1, 2, 3, 7]] = True  # clauses 0, 1 (+ half of clause 3)
    s[1, [4, 5]] = True  # clause 2
    s[2, [6]] = True  # half of clause 3
    c = measure_coverage(s, clauses)
    assert c.cover.tolist() == [[True, True, False, False], [False, False, True, False], [False] * 4]
    assert c.covered.tolist() == [True, True, True, False]
    assert (c.n_covered, c.all_covered, c.collisions) == (3, False, 1)
    assert c.units_per_clause.tolist() == [1, 1, 1, 0]
    assert c.clauses_per_unit.tolist() == [2, 1, 0]
    assert c.pattern() == "1110"
    assert c.covered_fraction == 0.75


@given(c=st.integers(1, 9), k=st.integers(1, 5), n=st.integers(1, 12))
def test_dense_layer_collisions_are_n_choose_pairs(c, k, n):
    """A dense layer (full support) covers every clause with every unit: N * C(C, 2) collisions,
    the closed form ``dense_collisions``."""
    cnt = measure_coverage(np.ones((n, c * k), dtype=bool), contiguous(c, k))
    assert cnt.all_covered and cnt.collisions == n * math.comb(c, 2) == T.dense_collisions(c, n)


def test_support_mask_vs_weights():
    """``use="mask"`` is the mask; ``use="weights"`` the non-zeros of weight * mask."""
    m = dense_model(8, 3)
    with torch.no_grad():
        m.layers[0].weight[0, 0] = 0.0
    assert support(m).all()
    w = support(m, use="weights")
    assert not w[0, 0] and w.sum() == 23


@settings(max_examples=examples(0.5))
@given(
    n_clauses=st.integers(2, 6),
    k=st.integers(2, 4),
    alpha=st.sampled_from([2, 3, 4]),
    hidden=st.integers(1, 5),
    out=st.integers(1, 3),
    strategy=st.sampled_from(["random", "clause", "two_four"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_split_support_matches_fpe_expand_and_counts_exactly(n_clauses, k, alpha, hidden, out, strategy, seed):
    """``split_support`` draws what ``fpe_expand`` draws before pruning: siblings are disjoint and cover
    the parent's support; the pruned masks are subsets; and the non-zeros add up exactly: the split adds
    N(alpha-1) bias copies and out*N(alpha-1) head weights, and pruning removes exactly that many weights
    from W1' and W2' (count_nonzero unchanged)."""
    n = n_clauses * k
    if strategy == "two_four":
        alpha = 2
        n = 4 * math.ceil(n / 4)
    alpha = min(alpha, n)
    clauses = contiguous(n_clauses, k)
    groups = clauses if strategy == "clause" else None
    if strategy == "clause" and k > math.ceil(n / alpha):
        alpha = 2
    m = dense_model(n, hidden, out, seed=seed % 1000)
    pre = split_support(m, alpha, strategy=strategy, groups=groups, seed=seed)
    assert pre.shape == (hidden * alpha, n)
    sib = pre.reshape(hidden, alpha, n)
    assert (sib.sum(axis=1) == 1).all()  # disjoint and covering the full support
    new = fpe_expand(m, alpha, strategy=strategy, groups=groups, seed=seed)
    post = support(new)
    assert not (post & ~pre).any()
    assert count_nonzero(new) == count_nonzero(m)
    w2_after = int((new.layers[1].masked_weight() != 0).sum())
    pruned = int(pre.sum() - post.sum()) + (out * hidden * alpha - w2_after)
    assert pruned == hidden * (alpha - 1) * (1 + out)
    if strategy == "clause":  # every clause inside one child, before pruning
        cover = unit_clause_cover(pre, clauses).reshape(hidden, alpha, n_clauses)
        assert (cover.sum(axis=1) == 1).all()


@settings(max_examples=examples(0.2))
@given(n_clauses=st.integers(2, 8), k=st.integers(2, 4), hidden=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_head_only_pruning_leaves_the_partition(n_clauses, k, hidden, seed):
    """With alpha 2, one output and |W2| below every |W1| entry, re-sparsification prunes only head
    weights: fpe_expand's first-layer masks are then exactly split_support's partition."""
    m = dense_model(n_clauses * k, hidden, tiny_w2=True, seed=seed % 1000)
    new = fpe_expand(m, 2, seed=seed)
    assert np.array_equal(support(new), split_support(m, 2, seed=seed))


def test_partition_of_live_inputs_only():
    """A parent's dead inputs (exact zeros) are given to no child."""
    m = dense_model(12, 2)
    with torch.no_grad():
        m.layers[0].weight[0, :6] = 0.0
    pre = split_support(m, 2, seed=3)
    assert not pre[:2, :6].any() and pre[:2, 6:].sum(axis=0).tolist() == [1] * 6
    assert pre[2:].sum() == 12


# --------------------------------------------------------------------------- statistical


def _binom_ok(k: int, n: int, p: float) -> bool:
    return stats.binomtest(k, n, p).pvalue >= P_REJECT


@settings(max_examples=examples(0.08))
@given(
    cfg=st.sampled_from([(3, 2, 2, 2), (4, 2, 2, 1), (2, 3, 2, 3), (6, 2, 3, 2), (4, 3, 4, 2), (8, 2, 2, 4)]),
    base_seed=st.integers(0, 10**6),
)
def test_fpe_expand_random_masks_follow_partition_model(cfg, base_seed):
    """Binomial test (two-sided, exact; reject at p < 1e-7, 2 tests x 4 examples: false failure < 1e-6):
    over R independent fpe_expand(strategy="random") splits (head-only pruning, so the masks are the
    split's), the indicator "clause r mod C is covered" in split r is Bernoulli(prob_clause_covered,
    partition model) by exchangeability; likewise "child (r mod alpha*N) covers clause pair
    (r mod C, r+1 mod C)" is Bernoulli(q2 = d_(2k) / n_(2k)), whose sum over units and pairs is
    expected_collisions. Exact property: a clause is inside at most one child of each parent."""
    c, k, alpha, hidden = cfg
    n = c * k
    clauses = contiguous(c, k)
    m = dense_model(n, hidden, tiny_w2=True, seed=1)
    if alpha != 2:  # head-only pruning needs out >= alpha - 1
        m = dense_model(n, hidden, out=alpha - 1, tiny_w2=True, seed=1)
    R = 200
    hit_clause = hit_pair = 0
    for r in range(R):
        s = support(fpe_expand(m, alpha, seed=base_seed + r))
        cover = unit_clause_cover(s, clauses)
        assert (cover.reshape(hidden, alpha, c).sum(axis=1) <= 1).all()
        hit_clause += bool(cover[:, r % c].any())
        hit_pair += bool(cover[r % (alpha * hidden), r % c] and cover[r % (alpha * hidden), (r + 1) % c])
    p = T.prob_clause_covered(c, k, alpha, hidden)
    q2 = T.prob_child_covers(c, k, alpha, clauses=2)
    assert _binom_ok(hit_clause, R, p), (hit_clause, R, p)
    assert _binom_ok(hit_pair, R, q2), (hit_pair, R, q2)
    assert math.isclose(alpha * hidden * math.comb(c, 2) * q2, T.expected_collisions(c, k, alpha, hidden), rel_tol=1e-12)


# --------------------------------------------------------------------------- theory helpers


def test_theory_values_case_study():
    """THEORY.md's worked example: P(all covered) 0.01367 (partition), 0.00666 (independent);
    collisions 0.548 vs 224 dense; ratio alpha * q2 = 0.00245 vs the paper's 1/128."""
    t = theory_values(8, 4, 2, 8)
    assert t["p_all_covered"] == pytest.approx(0.013674, abs=1e-6)
    assert t["p_all_covered_independent"] == pytest.approx(0.006662, abs=1e-6)
    assert t["expected_collisions"] == pytest.approx(0.548165, abs=1e-6)
    assert t["dense_collisions"] == 224.0
    assert t["collision_ratio"] == pytest.approx(t["expected_collisions"] / t["dense_collisions"], rel=1e-12)
    assert t["collision_ratio_paper"] == 1 / 128
    with pytest.raises(ValueError, match="clause_size"):
        theory_values(1, 4, 2, 3)


def test_compare_with_theory_intervals():
    """Exact fallbacks with few events: 50/50 replicates covering everything give the Clopper-Pearson
    lower end 0.005^(1/50) at level 0.99 for the fraction (rotating clause) and for P(all covered);
    collisions use the Garwood interval of the total (6 per replicate, closed form 0: disagrees)."""
    counts = [CoverageCounts(np.ones((2, 3), dtype=bool))] * 50
    comp = compare_with_theory(counts, 3, 2, 2, 2, level=0.99)
    cp = 0.005 ** (1 / 50)
    assert comp.covered_fraction.mean == 1.0 and comp.covered_fraction.low == pytest.approx(cp, rel=1e-9)
    assert comp.all_covered.mean == 1.0 and comp.all_covered.low == pytest.approx(cp, rel=1e-9)
    lo, hi = sst.chi2.ppf(0.005, 600) / 2 / 50, sst.chi2.ppf(0.995, 602) / 2 / 50
    assert (comp.collisions.low, comp.collisions.high) == pytest.approx((lo, hi), rel=1e-9)
    assert comp.collisions.mean == 6.0 and not comp.collisions.agrees
    frame = pd.DataFrame({"covered": [3, 2], "all_covered": [True, False], "collisions": [1, 0], "pattern": ["111", "110"]})
    comp2 = compare_with_theory(frame, 3, 2, 2, 2)
    assert comp2.covered_fraction.mean == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="level"):
        compare_with_theory(frame, 3, 2, 2, 2, level=1.5)
    with pytest.raises(ValueError, match="pattern"):
        compare_with_theory(frame.drop(columns="pattern"), 3, 2, 2, 2)


# --------------------------------------------------------------------------- the experiment kind


def test_coverage_experiment_mirrors_dnf_defaults():
    """Every shared field has DNFExperiment's default, so from_dnf(DNFExperiment()) is the default
    config; the code version follows DNFExperiment's, and the default key is pinned relative to it
    (sha256 of kind, code version and no changed fields)."""
    import hashlib
    import json

    from fpe_empirical.dnf_experiment import DNFExperiment

    d = DNFExperiment()
    c = CoverageExperiment()
    for f in CoverageExperiment.SHARED:
        assert getattr(c, f) == getattr(d, f), f
    assert CoverageExperiment.from_dnf(d) == c
    assert c.dnf_config().strategies == ("dense", "random")
    assert CoverageExperiment.code_version == 1000 + DNFExperiment.code_version
    blob = json.dumps({"kind": "dnf-coverage", "code_version": CoverageExperiment.code_version, "fields": {}},
                      sort_keys=True, separators=(",", ":"))
    assert config_key(c) == hashlib.sha256(blob.encode()).hexdigest()[:16]
    assert config_key(CoverageExperiment(replicates=40, seed=3)) != config_key(CoverageExperiment(replicates=40, seed=4))


def test_coverage_experiment_bad_input():
    with pytest.raises(ValueError, match="strategy"):
        CoverageExperiment(strategy="dense")
    with pytest.raises(ValueError, match="replicates"):
        CoverageExperiment(replicates=0)
    with pytest.raises(TypeError, match="replicates"):
        CoverageExperiment(replicates=2.0)
    with pytest.raises(ValueError, match="alpha"):
        CoverageExperiment(n_clauses=1, clause_size=2, alpha=4)
    with pytest.raises(TypeError, match="DNFExperiment"):
        CoverageExperiment.from_dnf(CoverageExperiment())


def test_run_coverage_tiny():
    """The runner: one dense row and a pre/post row per replicate; replicate 0 is the DNF experiment's
    own split; post-pruning coverage and collisions never exceed pre-pruning (subset masks)."""
    from fpe_empirical.dnf_experiment import derive_seed

    cfg = CoverageExperiment(n_clauses=4, hidden=3, pretrain_epochs=2, n_samples=200, replicates=3, seed=7)
    f = run_coverage([cfg], backend="loop")[0]
    assert len(f) == 1 + 2 * 3
    assert f.loc[f.stage == "dense", "collisions"].item() == 3 * math.comb(4, 2)
    assert set(f["nonzero"]) == {f.loc[f.stage == "dense", "nonzero"].item()}
    pre, post = f[f.stage == "pre_prune"].set_index("replicate"), f[f.stage == "post_prune"].set_index("replicate")
    assert pre.loc[0, "split_seed"] == derive_seed(7, "split") == replicate_split_seed(7, 0)
    assert (post["covered"] <= pre["covered"]).all() and (post["collisions"] <= pre["collisions"]).all()
    assert (pre["pruned_w1"] + pre["pruned_w2"] == 3 * 1 * 2).all()
    t = coverage_table(f)
    assert set(t["stage"]) == {"pre_prune", "post_prune"} and (t["replicates"] == 3).all()


def test_measure_coverage_bad_input():
    with pytest.raises(TypeError, match="bool"):
        measure_coverage(np.ones((2, 4)), contiguous(2, 2))
    with pytest.raises(ValueError, match="input indices"):
        measure_coverage(np.ones((2, 4), dtype=bool), [[0, 9]])
    with pytest.raises(ValueError, match="2-D"):
        unit_clause_cover(np.ones(4, dtype=bool), [[0, 1]])
    with pytest.raises(ValueError, match="alpha"):
        split_support(dense_model(8, 2), 1)
    with pytest.raises(ValueError, match="groups"):
        split_support(dense_model(8, 2), 2, strategy="clause")
    with pytest.raises(ValueError, match="use"):
        support(dense_model(8, 2), use="both")
