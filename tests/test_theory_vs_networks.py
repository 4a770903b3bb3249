"""Theory vs trained networks: the A.5 closed forms against the random splits of trained DNF networks.

After dense training every first-layer weight is non-zero, so the random split of each parent
is a uniform balanced partition of all n literals: the partition model holds *exactly* before
re-sparsification, and measured frequencies must agree with the closed forms. Pruning only
removes entries, so coverage and collisions can only drop (exact, per network).

Statistical tests: every test function fails a correct implementation with probability
<= 1e-6, the test and the bound written beside it. The fixed-network tests use exact two-sided
binomial tests rejecting at p < 1e-7 (three per function). The property tests over (C, k,
alpha, N, seed) split the false-failure budget 1e-6 evenly over their quantities and examples
(Bonferroni; the example count is the active Hypothesis profile's) and use exact binomial /
Fisher tests for indicators and Bernstein's inequality for bounded counts, with the exact
variance where it is derived below (partition model) and the Bhatia-Davis bound
Var <= (mean - min)(max - mean) where it is not (2:4 split): both rigorous, no normal
approximation.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import fpe_empirical as fe
import fpe_theory as T
from budget import examples
from fpe_empirical import fpe_expand
from fpe_empirical.coverage import (
    CoverageExperiment,
    coverage_table,
    measure_coverage,
    run_coverage,
    split_support,
    support,
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
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def trained():
    """A DNF network (4 clauses x 4 literals, 3 hidden) after a short dense phase 1."""
    from fpe_empirical.dnf_experiment import DNFExperiment, build_dense, derive_seed, make_dataset
    from fpe_empirical.train import train_many

    cfg = DNFExperiment(n_clauses=4, hidden=3, pretrain_epochs=30, n_samples=400, seed=3)
    ds = make_dataset(cfg)
    m = build_dense(cfg)
    train_many([m], [(ds.X_train, ds.y_train)], [cfg.settings("pretrain")], [derive_seed(3, "pretrain_order")])
    return m, [list(c) for c in ds.clauses]


def test_trained_random_splits_follow_partition_model(trained):
    """Binomial tests over R = 400 split seeds of one trained network, before pruning: "clause r mod C
    covered" ~ Bernoulli(prob_clause_covered); "all clauses covered" ~ Bernoulli(prob_all_covered);
    "child r mod 2N covers clause pair (r mod C, r+1 mod C)" ~ Bernoulli(q2) (sum: expected_collisions)."""
    m, clauses = trained
    assert support(m, use="weights").all()  # full support: the partition model is exact
    c, k, a, n = len(clauses), 4, 2, 3
    R = 400
    hit = allc = pair = 0
    for r in range(R):
        cover = unit_clause_cover(split_support(m, a, seed=10_000 + r), clauses)
        hit += bool(cover[:, r % c].any())
        allc += bool(cover.any(axis=0).all())
        u = r % (a * n)
        pair += bool(cover[u, r % c] and cover[u, (r + 1) % c])
    for got, p in ((hit, T.prob_clause_covered(c, k, a, n)), (allc, T.prob_all_covered(c, k, a, n)),
                   (pair, T.prob_child_covers(c, k, a, clauses=2))):
        assert stats.binomtest(got, R, p).pvalue >= P_REJECT, (got, R, p)


def test_pruning_only_lowers_coverage_and_collisions(trained):
    """Exact, per network: fpe_expand's masks are subsets of the split (pruning removes entries), so
    covered clauses and collisions after re-sparsification never exceed those before; the pruned
    first-layer entries plus pruned head weights equal the split's excess N(alpha-1)(1+out)."""
    m, clauses = trained
    drops = []
    for s in range(40):
        pre = split_support(m, 2, seed=s)
        new = fpe_expand(m, 2, seed=s)
        post = support(new)
        assert not (post & ~pre).any()
        a, b = measure_coverage(pre, clauses), measure_coverage(post, clauses)
        assert b.n_covered <= a.n_covered and b.collisions <= a.collisions
        assert (b.cover <= a.cover).all()
        w2 = int((new.layers[1].masked_weight() != 0).sum())
        assert int(pre.sum() - post.sum()) + (6 - w2) == 3 * 1 * 2
        drops.append(a.n_covered - b.n_covered)
    assert min(drops) >= 0


def test_coverage_kind_agrees_before_pruning_and_reports_drift():
    """The dnf-coverage runner on the case-study size (2 seeds x 100 splits): before pruning the
    Clopper-Pearson intervals at level 1 - 1e-7 (exact: rotating clause, all-covered indicator) contain
    prob_clause_covered and prob_all_covered; after pruning the drift of the covered fraction is <= 0."""
    cfgs = [CoverageExperiment(pretrain_epochs=5, n_samples=400, replicates=100, seed=s) for s in (0, 1)]
    f = pd.concat(run_coverage(cfgs, backend="loop"), ignore_index=True)
    t = coverage_table(f, level=1 - 1e-7).set_index("stage")
    pre, post = t.loc["pre_prune"], t.loc["post_prune"]
    assert pre["replicates"] == 200
    assert pre["covered_fraction_agrees"] and pre["p_all_covered_agrees"]
    assert pre["covered_fraction_theory"] == pytest.approx(T.prob_clause_covered(8, 4, 2, 8))
    assert post["covered_fraction_mean"] <= pre["covered_fraction_mean"]
    assert post["collisions_mean"] <= pre["collisions_mean"]


def test_benefit_table_predictions():
    """The predicted relative collision reduction log(E_dense / E_FPE) = -log(alpha q2) and the load
    C/N beside measured RI (validation's benefit claims): exact values; the reduction does not depend
    on N (a relative measure) and is complete (infinite) where no collision is possible."""
    from validation.claims.dnf.networks import _benefit_table

    class Ctx:
        def frame(self, requirement):
            rows = []
            for c in (3, 8):
                for h in (4, 8):
                    for s, ri in (("clause", 0.1), ("random", 0.05)):
                        rows.append({"n_clauses": c, "clause_size": 4, "hidden": h, "alpha": 2, "strategy": s,
                                     "relative_improvement": ri * c / h})
            return pd.DataFrame(rows)

    t = _benefit_table(Ctx().frame("dnf.fig3c")).set_index(["n_clauses", "hidden"])
    q2 = T.prob_child_covers(8, 4, 2, clauses=2)
    assert t.loc[(8, 4), "log_collision_reduction"] == pytest.approx(-math.log(2 * q2), rel=1e-12)
    assert t.loc[(8, 4), "dense_collisions"] == 4 * math.comb(8, 2)
    assert t.loc[(3, 4), "fpe_collisions"] == 0.0  # 2k = 8 > n / alpha = 6: no collision possible
    assert t.loc[(3, 4), "log_collision_reduction"] == math.inf
    assert t.loc[(8, 8), "log_collision_reduction"] == pytest.approx(t.loc[(8, 4), "log_collision_reduction"], rel=1e-12)
    assert t.loc[(8, 4), "polysemantic_load"] == 2.0 and t.loc[(8, 4), "ri_random"] == pytest.approx(0.1)


# --------------------------------------------------------------------------- properties over (C, k, alpha, N, seed)

FAMILY = 1e-6  # false-failure probability of each property test (all its examples and quantities)


def _ff(x: int, m: int) -> int:
    """Falling factorial x(x-1)...(x-m+1); 0 when m > x."""
    return 0 if m > x else math.perm(x, m)


def _ratio(num: int, den: int) -> Fraction:
    return Fraction(0) if num == 0 else Fraction(num, den)


def partition_moments(C: int, k: int, alpha: int, N: int) -> dict[str, Fraction]:
    """Exact moments of one split under the partition model, derived here independently of
    fpe_theory (n = Ck inputs, d = n/alpha per child; parents independent).

    A child holds j given clauses with r_j = d_(jk) / n_(jk) (falling factorials); two given
    clauses sit in two given distinct children with d_(k)^2 / n_(2k) (place the 2k literals one
    by one). Per parent: covers a clause a1 = alpha r_1 (disjoint children), covers both of two
    clauses b2 = alpha r_2 + alpha(alpha-1) d_(k)^2 / n_(2k). Covered count X = sum_c I_c:
    E X = C p, Var X = C p(1-p) + C(C-1)(p2 - p^2), p = 1 - (1-a1)^N,
    p2 = 1 - 2(1-a1)^N + (1-2a1+b2)^N. Collisions of one parent Y = sum_a C(m_a, 2):
    E Y = alpha C(C,2) r_2; E Y^2 sums over ordered pairs of clause pairs (P, Q): same child
    with |P u Q| = 2, 3, 4 clauses (C(C,2), 2(C-2)C(C,2), C(C-2,2)C(C,2) pairs: r_2, r_3, r_4),
    different children only for disjoint P, Q (d_(2k)^2 / n_(4k)).
    """
    n = C * k
    d = n // alpha

    def r(j):
        return _ratio(_ff(d, j * k), _ff(n, j * k))

    a1 = alpha * r(1)
    b2 = alpha * r(2) + alpha * (alpha - 1) * _ratio(_ff(d, k) ** 2, _ff(n, 2 * k))
    miss1, miss2 = (1 - a1) ** N, (1 - 2 * a1 + b2) ** N
    p, p2 = 1 - miss1, 1 - 2 * miss1 + miss2
    pairs, disjoint = math.comb(C, 2), math.comb(C - 2, 2)
    ey = alpha * pairs * r(2)
    ey2 = (alpha * pairs * (r(2) + 2 * (C - 2) * r(3) + disjoint * r(4))
           + alpha * (alpha - 1) * pairs * disjoint * _ratio(_ff(d, 2 * k) ** 2, _ff(n, 4 * k)))
    return {"parent_covers": a1, "parent_covers_both": b2, "covered_mean": C * p,
            "covered_var": C * p * (1 - p) + C * (C - 1) * (p2 - p * p), "collisions_parent_mean": ey,
            "collisions_parent_var": ey2 - ey * ey}


def bernstein_halfwidth(var: float, bound: float, n: int, delta: float) -> float:
    """t with P(|mean of n iid - mu| >= t) <= delta by Bernstein's inequality
    2 exp(-n t^2 / (2 var + 2 bound t / 3)), for |X - mu| <= bound and Var X <= var."""
    L = math.log(2 / delta)
    a = 2 * bound * L / 3
    return (a + math.sqrt(a * a + 8 * n * var * L)) / (2 * n)


@pytest.mark.parametrize("C,k,alpha", [(2, 2, 2), (3, 2, 2), (2, 3, 2), (4, 2, 2), (4, 2, 4), (2, 4, 2), (8, 1, 2),
                                       (8, 1, 4), (4, 1, 2)])
def test_partition_moments_match_enumeration(C, k, alpha):
    """The exact moments the property tests use, checked by enumerating every balanced partition
    of one parent (exact rationals), and their means against fpe_theory's partition closed forms."""
    n, d = C * k, C * k // alpha
    clauses = [set(range(c * k, c * k + k)) for c in range(C)]
    labelings = set(itertools.permutations([i // d for i in range(n)]))
    cover1 = both = ey = ey2 = 0
    for lab in labelings:
        children = [{i for i in range(n) if lab[i] == a} for a in range(alpha)]
        m = [sum(cl <= ch for cl in clauses) for ch in children]
        covers = [any(cl <= ch for ch in children) for cl in clauses]
        cover1 += covers[0]
        both += covers[0] and covers[1]
        y = sum(x * (x - 1) // 2 for x in m)
        ey, ey2 = ey + y, ey2 + y * y
    total = len(labelings)
    mom = partition_moments(C, k, alpha, 1)
    assert mom["parent_covers"] == Fraction(cover1, total)
    assert mom["parent_covers_both"] == Fraction(both, total)
    assert mom["collisions_parent_mean"] == Fraction(ey, total)
    assert mom["collisions_parent_var"] == Fraction(ey2, total) - Fraction(ey, total) ** 2
    for N in (1, 3):
        mom = partition_moments(C, k, alpha, N)
        assert float(mom["covered_mean"]) == pytest.approx(C * T.prob_clause_covered(C, k, alpha, N), rel=1e-12, abs=1e-300)
        assert float(mom["collisions_parent_mean"] * N) == pytest.approx(
            T.expected_collisions(C, k, alpha, N), rel=1e-12, abs=1e-300)
        assert 0 <= mom["covered_var"] <= C * C / 4 and mom["collisions_parent_var"] >= 0


def _trained_dense(C: int, k: int, N: int, seed: int):
    """A dense DNF network (C clauses of k literals, N hidden) after a short phase 1 on its data
    set, and its clauses (contiguous literals, as make_dnf_dataset lays them out)."""
    ds = fe.make_dnf_dataset(C, k, 200, seed=seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        m = fe.MLP(C * k, [N], 1)
    fe.train(m, ds.X_train, ds.y_train, fe.TrainSettings(epochs=3, batch_size=50), seed=seed)
    clauses = [list(c) for c in ds.clauses]
    assert clauses == [list(range(c * k, c * k + k)) for c in range(C)]
    assert (m.layers[0].masked_weight() != 0).all()  # full support: the split is the partition model exactly
    return m, clauses


def _per_parent_collisions(cover: np.ndarray, alpha: int) -> np.ndarray:
    """Collisions of each parent: sum over its alpha children of C(m_u, 2)."""
    m = cover.sum(axis=1).astype(np.int64)
    return (m * (m - 1) // 2).reshape(-1, alpha).sum(axis=1)


def _check_pruning_only_removes(m, alpha: int, clauses, seeds, strategy: str) -> None:
    """fpe_expand's pruned masks are subsets of the split's masks: covered clauses and collisions
    of every network can only drop (the drift's sign), and the non-zero count is kept."""
    for s in seeds:
        pre = fe.split_support(m, alpha, strategy=strategy, seed=s)
        new = fpe_expand(m, alpha, strategy=strategy, seed=s)
        post = new.layers[0].mask.detach().numpy().astype(bool)
        assert not (post & ~pre).any(), f"seed {s}: a pruned mask is not a subset of the split"
        a, b = fe.measure_coverage(pre, clauses), fe.measure_coverage(post, clauses)
        assert (b.cover <= a.cover).all() and b.collisions <= a.collisions
        assert fe.count_nonzero(new) == fe.count_nonzero(m)


@st.composite
def partition_configs(draw):
    """(C, k, alpha, N, seed) valid by construction: alpha a divisor of n = Ck with d = n/alpha >= k
    (a child can hold a clause; alpha = 2 always qualifies since C >= 2)."""
    k = draw(st.integers(2, 4))
    C = draw(st.integers(2, 8))
    n = C * k
    alpha = draw(st.sampled_from([a for a in range(2, n // k + 1) if n % a == 0]))
    return C, k, alpha, draw(st.integers(1, 6)), draw(st.integers(0, 2**31 - 1))


PARTITION_EXAMPLES = examples(0.3)
SPLITS = 400  # random splits per network
PRUNED = 8  # of them also pruned by fpe_expand


@settings(max_examples=PARTITION_EXAMPLES)
@given(cfg=partition_configs())
def test_random_split_masks_follow_partition_closed_forms(cfg):
    """The masks ``fpe_expand(strategy="random")`` draws before pruning (``split_support``: same
    generator, same order) on a trained network, over SPLITS split seeds, for any (C, k, alpha, N):
    each parent's children partition its inputs into alpha sets of d (exact); the mean number of
    covered clauses and of collisions per parent match the partition closed forms
    (prob_clause_covered, expected_collisions), and the all-covered frequency matches
    prob_all_covered. Pruned masks (fpe_expand) are subsets: coverage only drops.

    Why: the partition model is what the paper's A.5 analysis should describe for the real random
    split; a split that is unbalanced, lets siblings overlap or reuses random draws shows here.

    False failure <= 1e-6: Bonferroni over 3 quantities x PARTITION_EXAMPLES examples; covered
    count (range [0, C]) and per-parent collisions (SPLITS x N iid values in [0, Ymax]) by
    Bernstein's inequality with the exact variances of ``partition_moments``; all-covered by the
    exact two-sided binomial test."""
    C, k, alpha, N, seed = cfg
    delta = FAMILY / (3 * PARTITION_EXAMPLES)
    m, clauses = _trained_dense(C, k, N, seed)
    n, d = C * k, C * k // alpha
    covered = np.empty(SPLITS)
    coll = np.empty((SPLITS, N))
    all_covered = 0
    for r in range(SPLITS):
        s = fe.split_support(m, alpha, seed=seed + r)
        kids = s.reshape(N, alpha, n)
        assert (kids.sum(axis=1) == 1).all() and (kids.sum(axis=2) == d).all()  # a balanced partition per parent
        c = fe.measure_coverage(s, clauses)
        covered[r], all_covered = c.n_covered, all_covered + c.all_covered
        coll[r] = _per_parent_collisions(c.cover, alpha)
        assert coll[r].sum() == c.collisions
    mom = partition_moments(C, k, alpha, N)
    mu = C * T.prob_clause_covered(C, k, alpha, N)
    assert mu == pytest.approx(float(mom["covered_mean"]), rel=1e-12, abs=1e-300)
    t = bernstein_halfwidth(float(mom["covered_var"]), max(mu, C - mu), SPLITS, delta)
    assert abs(covered.mean() - mu) <= t, (covered.mean(), mu, t)
    mu_y = T.expected_collisions(C, k, alpha, 1)
    y_max = min(alpha * math.comb(min(C, d // k), 2), math.comb(C, 2))
    t = bernstein_halfwidth(float(mom["collisions_parent_var"]), max(mu_y, y_max - mu_y), SPLITS * N, delta)
    assert abs(coll.mean() - mu_y) <= t, (coll.mean(), mu_y, t)
    p_all = T.prob_all_covered(C, k, alpha, N, model="partition")
    assert stats.binomtest(all_covered, SPLITS, min(max(p_all, 0.0), 1.0)).pvalue >= delta, (all_covered, SPLITS, p_all)
    _check_pruning_only_removes(m, alpha, clauses, range(seed, seed + PRUNED), "random")


@st.composite
def two_four_configs(draw):
    """(C, k, N, seed) with n = Ck a multiple of 4 by construction (C a multiple of 4 / gcd(k, 4))."""
    k = draw(st.integers(2, 5))
    step = 4 // math.gcd(k, 4)
    C = step * draw(st.integers(max(1, 2 // step), 8 // step))
    return C, k, draw(st.integers(1, 6)), draw(st.integers(0, 2**31 - 1))


TWO_FOUR_EXAMPLES = examples(0.2)
SIM_TRIALS = 20_000


@settings(max_examples=TWO_FOUR_EXAMPLES)
@given(cfg=two_four_configs())
def test_two_four_split_masks_follow_its_closed_forms_and_simulator(cfg):
    """The 2:4 split as ``fpe_expand(strategy="two_four")`` draws it (``split_support``), over
    SPLITS split seeds of a trained network: every aligned run of 4 inputs goes 2/2 to the two
    children (exact); the mean covered count and per-parent collisions match
    ``prob_clause_covered`` / ``expected_collisions`` with ``model="two_four"`` (contiguous
    clauses); the all-covered frequency matches fpe_theory's 2:4 simulator (no closed form);
    pruned masks are subsets.

    Why: structured sparsity changes which clauses a child can hold (a clause inside one run of 4
    never fits); the closed forms and the simulator must describe the masks the toolkit builds.

    False failure <= 1e-6: Bonferroni over 3 quantities x TWO_FOUR_EXAMPLES examples; Bernstein
    with the Bhatia-Davis variance bound mu (max - mu) for the covered count (max C) and the
    per-parent collisions (max C(C, 2)); Fisher's exact test (two-sided) for all-covered, networks
    vs SIM_TRIALS simulated splits."""
    C, k, N, seed = cfg
    delta = FAMILY / (3 * TWO_FOUR_EXAMPLES)
    m, clauses = _trained_dense(C, k, N, seed)
    n = C * k
    covered = np.empty(SPLITS)
    coll = np.empty((SPLITS, N))
    all_covered = 0
    for r in range(SPLITS):
        s = fe.split_support(m, 2, strategy="two_four", seed=seed + r)
        runs = s.reshape(N, 2, n // 4, 4)
        assert (runs.sum(axis=1) == 1).all() and (runs.sum(axis=3) == 2).all()  # 2 of every 4 to each child
        c = fe.measure_coverage(s, clauses)
        covered[r], all_covered = c.n_covered, all_covered + c.all_covered
        coll[r] = _per_parent_collisions(c.cover, 2)
    mu = C * T.prob_clause_covered(C, k, 2, N, model="two_four", layout="contiguous")
    t = bernstein_halfwidth(mu * (C - mu), max(mu, C - mu), SPLITS, delta)
    assert abs(covered.mean() - mu) <= t, (covered.mean(), mu, t)
    mu_y = T.expected_collisions(C, k, 2, 1, model="two_four", layout="contiguous")
    y_max = math.comb(C, 2)
    t = bernstein_halfwidth(mu_y * (y_max - mu_y), max(mu_y, y_max - mu_y), SPLITS * N, delta)
    assert abs(coll.mean() - mu_y) <= t, (coll.mean(), mu_y, t)
    sim = T.simulate(C, k, 2, N, trials=SIM_TRIALS, seed=seed, model="two_four")
    sim_all = round(sim.p_all_covered.value * SIM_TRIALS)
    table = [[all_covered, SPLITS - all_covered], [sim_all, SIM_TRIALS - sim_all]]
    assert stats.fisher_exact(table).pvalue >= delta, table
    _check_pruning_only_removes(m, 2, clauses, range(seed, seed + PRUNED // 2), "two_four")


def test_pruning_drift_is_negative_as_the_ledger_reports():
    """networks.after-pruning reports that re-sparsification removes covered clauses (the closed
    forms overstate coverage after pruning). Through the ledger's own pipeline (the dnf-coverage
    runner, a trained case-study network, 60 replicate splits): for every network the covered
    count and collisions after pruning are at most those before (D = pre - post >= 0, exact), and
    some network loses a covered clause, so E[D] > 0 and E[post] = E[pre] - E[D] is strictly below
    the partition closed form that E[pre] equals (previous tests).

    False failure: only if none of the 60 networks loses a clause, probability (1 - P(D > 0))^60;
    P(D > 0) measured ~0.5-0.6 at this size, and the bound is <= 1e-6 whenever P(D > 0) >= 0.21
    (0.79^60 = 7e-7)."""
    f = fe.run(CoverageExperiment(pretrain_epochs=5, n_samples=400, replicates=60, seed=0))
    pre = f[f.stage == "pre_prune"].set_index("replicate")
    post = f[f.stage == "post_prune"].set_index("replicate")
    assert len(pre) == len(post) == 60
    lost = pre["covered"] - post["covered"]
    assert (lost >= 0).all() and ((pre["collisions"] - post["collisions"]) >= 0).all()
    assert (lost > 0).sum() >= 1, "pruning removed no covered clause in 60 networks"
    assert post["covered"].mean() < pre["covered"].mean()
