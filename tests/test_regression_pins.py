"""Exact numbers that must not drift: the paper's worked example (8 clauses of 4 literals,
alpha 2) through every closed form, and the case study's non-zero count.

Each pin was computed by the code at the time it was written and checked by hand (the
formula beside it); a change to one of them changes a number printed in README.md, the
figures or the claims ledger, so it must be deliberate (update the pin and say why).
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch

import fpe_theory as ft
from fpe_empirical import fpe_expand
from fpe_empirical.dnf_experiment import DNFExperiment, train_dnf
from fpe_empirical.models import MLP, count_nonzero

C, K, ALPHA = 8, 4, 2  # the paper's worked example: n = 32 literals, child fan-in d = 16
N_LIT, D = C * K, C * K // ALPHA


def falling(x: int, m: int) -> int:
    return math.prod(range(x - m + 1, x + 1))


P = Fraction(falling(D, K), falling(N_LIT, K))  # one child holds a given clause: 16↓4 / 32↓4
Q2 = Fraction(falling(D, 2 * K), falling(N_LIT, 2 * K))  # ... two given clauses: 16↓8 / 32↓8


@pytest.mark.parametrize("delta, model, method, n_parents", [
    # partition (the real split, default): exact P(some clause missed) <= delta
    (0.01, "partition", "exact", 63),
    (0.05, "partition", "exact", 48),
    (0.01, "partition", "union_bound", 63),
    # literal (the paper's A.5 model): exact, and its union bound (one more at delta 0.05)
    (0.01, "literal", "exact", 51),
    (0.05, "literal", "exact", 38),
    (0.05, "literal", "union_bound", 39),
    # subset (alpha·N independent sparse neurons)
    (0.01, "subset", "exact", 65),
    # the paper's rule ceil(alpha^(k-1)·ln(C/delta)): 8·ln 800 = 53.48, 8·ln 160 = 40.60
    (0.01, "partition", "paper", 54),
    (0.05, "partition", "paper", 41),
    (0.05, "literal", "paper", 41),
])
def test_min_parents_for_coverage_pins(delta, model, method, n_parents):
    got = ft.min_parents_for_coverage(C, K, ALPHA, delta, model=model, method=method)
    assert got == n_parents and isinstance(got, int)
    if method == "exact":  # the smallest N: N meets delta, N - 1 does not
        assert ft.prob_all_covered(C, K, ALPHA, n_parents, model=model, complement=True) <= delta
        assert ft.prob_all_covered(C, K, ALPHA, n_parents - 1, model=model, complement=True) > delta


def test_paper_rule_pin_is_the_formula():
    for delta, n in ((0.01, 54), (0.05, 41)):
        assert math.ceil(ALPHA ** (K - 1) * math.log(C / delta)) == n


def test_child_cover_and_collision_pins():
    """p = 16↓4/32↓4 = 43680/863040, q2 = 16↓8/32↓8; the paper's alpha^-k = 1/16, alpha^-2k = 1/256."""
    assert P == Fraction(43680, 863040)
    assert ft.prob_child_covers(C, K, ALPHA) == float(P)
    assert ft.prob_child_covers(C, K, ALPHA, clauses=2) == pytest.approx(float(Q2), rel=1e-15)  # log space: 1 ulp
    assert ft.prob_child_covers(C, K, ALPHA, model="literal") == 1 / 16
    assert ft.prob_child_covers(C, K, ALPHA, method="paper", clauses=2) == 1 / 256
    # collision ratio E_FPE / E_dense = alpha·q2 (partition) vs alpha^(1-2k) = 1/128 (literal, paper)
    assert ft.collision_ratio(C, K, ALPHA) == pytest.approx(float(ALPHA * Q2), rel=1e-15)
    assert ft.collision_ratio(C, K, ALPHA) == pytest.approx(0.002447163515016686, rel=1e-15)
    assert ft.collision_ratio(C, K, ALPHA, model="literal") == ft.collision_ratio(C, K, ALPHA, method="paper") == 1 / 128
    # expected collisions at N = 8: alpha·N·C(C,2)·q2; dense: N·C(C,2) = 224
    assert ft.expected_collisions(C, K, ALPHA, 8) == pytest.approx(float(ALPHA * 8 * 28 * Q2), rel=1e-13)
    assert ft.expected_collisions(C, K, ALPHA, 8) == pytest.approx(0.5481646273637375, rel=1e-13)
    assert ft.expected_collisions(C, K, ALPHA, 8, method="paper") == pytest.approx(1.75, rel=1e-15)
    assert ft.dense_collisions(C, 8) == 224.0


def test_coverage_pins():
    """P(clause covered) at N = 8: partition 1 - (1 - alpha·p)^N, literal 1 - (1 - 1/8)^8;
    P(all covered) on either side of the partition's N = 63."""
    assert ft.prob_clause_covered(C, K, ALPHA, 8) == pytest.approx(float(1 - (1 - ALPHA * P) ** 8), rel=1e-13)
    assert ft.prob_clause_covered(C, K, ALPHA, 8) == pytest.approx(0.5741924552176352, rel=1e-13)
    assert ft.prob_clause_covered(C, K, ALPHA, 8, model="literal") == pytest.approx(1 - (7 / 8) ** 8, rel=1e-13)
    assert ft.prob_all_covered(C, K, ALPHA, 63) == pytest.approx(0.9904249794112647, rel=1e-12)
    assert ft.prob_all_covered(C, K, ALPHA, 62) == pytest.approx(0.9893520589808925, rel=1e-12)
    literal = ft.prob_all_covered(C, K, ALPHA, 51, model="literal")
    assert literal == pytest.approx((1 - (7 / 8) ** 51) ** 8, rel=1e-13)


CASE_STUDY_NONZERO = 273  # 32·8 first-layer weights + 8 biases + 8 head weights + 1 head bias


@pytest.mark.parametrize("strategy", ["random", "clause", "gram", "two_four"])
def test_case_study_nonzero_count_structural(strategy):
    """The case-study network (32 literals -> 8 hidden -> 1) has 273 non-zero parameters, and
    so has every split of it (16 hidden neurons): FPE keeps the count exactly."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        dense = MLP(N_LIT, 8, 1)
    assert count_nonzero(dense) == 32 * 8 + 8 + 8 + 1 == CASE_STUDY_NONZERO
    groups = [list(range(c * K, c * K + K)) for c in range(C)] if strategy == "clause" else None
    split = fpe_expand(dense, ALPHA, strategy=strategy, groups=groups, seed=0)
    assert split.hidden == [16]
    assert count_nonzero(split) == CASE_STUDY_NONZERO


def test_case_study_nonzero_count_after_training():
    """The case study's rows (DNFExperiment defaults: 8 clauses, 8 hidden, alpha 2; 2 + 2
    epochs here) report 273 non-zero parameters for the dense control and both splits."""
    res = train_dnf(DNFExperiment(pretrain_epochs=2, split_epochs=2, n_samples=400, seed=0))
    frame = res.frame.set_index("strategy")
    assert set(frame.index) == {"dense", "clause", "random"}
    assert (frame["nonzero"] == CASE_STUDY_NONZERO).all(), frame["nonzero"].to_dict()
    assert frame.loc["dense", "neurons"] == 8 and frame.loc["clause", "neurons"] == frame.loc["random", "neurons"] == 16
    assert count_nonzero(res.pretrained) == CASE_STUDY_NONZERO
