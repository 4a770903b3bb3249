"""Theory vs trained networks: the A.5 closed forms against the random splits of trained DNF networks.

After dense training every first-layer weight is non-zero, so the random split of each parent
is a uniform balanced partition of all n literals: the partition model holds *exactly* before
re-sparsification, and measured frequencies must agree with the closed forms. Pruning only
removes entries, so coverage and collisions can only drop (exact, per network).

Statistical tests: exact two-sided binomial tests rejecting at p < 1e-7, three per test
function, so a correct implementation fails this file with probability < 1e-6.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

import fpe_theory as T
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
    """The predicted collision reduction N C(C,2) (1 - alpha q2) and the load C/N beside measured RI
    (validation's benefit claims): exact values, increasing in C and in N."""
    from validation.claims.dnf import _benefit_table

    class Ctx:
        def frame(self, requirement):
            rows = []
            for c in (3, 8):
                for h in (4, 8):
                    for s, ri in (("clause", 0.1), ("random", 0.05)):
                        rows.append({"n_clauses": c, "clause_size": 4, "hidden": h, "alpha": 2, "strategy": s,
                                     "relative_improvement": ri * c / h})
            return pd.DataFrame(rows)

    t = _benefit_table(Ctx()).set_index(["n_clauses", "hidden"])
    q2 = T.prob_child_covers(8, 4, 2, clauses=2)
    assert t.loc[(8, 4), "collision_reduction"] == pytest.approx(4 * math.comb(8, 2) * (1 - 2 * q2), rel=1e-12)
    assert t.loc[(3, 4), "fpe_collisions"] == 0.0  # 2k = 8 > n / alpha = 6: no collision possible
    assert t.loc[(8, 8), "collision_reduction"] > t.loc[(8, 4), "collision_reduction"] > t.loc[(3, 4), "collision_reduction"]
    assert t.loc[(8, 4), "polysemantic_load"] == 2.0 and t.loc[(8, 4), "ri_random"] == pytest.approx(0.1)
