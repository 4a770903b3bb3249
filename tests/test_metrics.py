"""Interference metrics on hand-built matrices with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fpe_empirical.metrics import (
    feature_capacity,
    feature_vectors,
    fold_change,
    gram_matrix,
    linear_fit,
    mean_cosine_similarity,
    metric_table,
    relative_improvement,
    summarize,
)
from fpe_empirical.models import MLP


def test_gram_matrix_hand_example():
    W = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]])  # 2 neurons, 3 inputs
    np.testing.assert_array_equal(gram_matrix(W), [[1, 2, 0], [2, 5, 3], [0, 3, 9]])


def test_gram_matrix_of_model_uses_effective_weights():
    torch.manual_seed(0)
    m = MLP(4, 3, 1)
    m.layers[0].set_mask(torch.tensor([[1, 0, 1, 0], [1, 1, 1, 1], [0, 0, 0, 1]], dtype=torch.bool))
    W = m.layers[0].masked_weight().double().detach().numpy()
    np.testing.assert_allclose(gram_matrix(m), W.T @ W)


def test_capacity_orthogonal_features_are_one_each():
    cap = feature_capacity(np.eye(4)[:, :3])  # 3 orthogonal features in 4 neurons
    np.testing.assert_allclose(cap.per_feature, [1, 1, 1])
    assert cap.total == pytest.approx(3.0)


def test_capacity_hand_example():
    """f1 = (1, 0), f2 = (1, 1): f1.f1 = 1, f1.f2 = 1, f2.f2 = 2, so
    C1 = 1 / (1 + 1) = 1/2 and C2 = 4 / (1 + 4) = 4/5."""
    W = np.array([[1.0, 1.0], [0.0, 1.0]])  # columns are the features
    cap = feature_capacity(W)
    np.testing.assert_allclose(cap.per_feature, [0.5, 0.8])
    assert cap.total == pytest.approx(1.3)


def test_capacity_identical_features_share_one_dimension():
    W = np.ones((3, 4))  # 4 identical features
    np.testing.assert_allclose(feature_capacity(W).per_feature, [0.25] * 4)


def test_clause_capacity_sums_group_columns():
    """Clause features are summed literal columns: two clauses on disjoint neurons -> 1 each;
    a zero feature has capacity 0."""
    W = np.zeros((2, 6))
    W[0, 0:2] = [0.5, 1.5]
    W[1, 2:4] = [2.0, -1.0]
    groups = [[0, 1], [2, 3], [4, 5]]
    np.testing.assert_allclose(feature_vectors(W, groups), [[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(feature_capacity(W, groups).per_feature, [1.0, 1.0, 0.0])


@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 10)), elements=st.floats(-3, 3)))
def test_capacity_bounds(W):
    """Scherlis et al.: each C_i is in [0, 1] and the total is at most the number of neurons
    (the rank bound), for any weight matrix."""
    cap = feature_capacity(W)
    assert (cap.per_feature >= -1e-12).all() and (cap.per_feature <= 1 + 1e-12).all()
    assert cap.total <= W.shape[0] + 1e-9


def test_mean_cosine_hand_examples():
    assert mean_cosine_similarity(np.eye(3)) == pytest.approx(0.0)
    assert mean_cosine_similarity(np.ones((4, 5))) == pytest.approx(1.0)
    # rows (1,0), (1,1), (-1,0): cos = 1/sqrt2, -1, -1/sqrt2 -> mean -1/3
    W = np.array([[1.0, 0.0], [1.0, 1.0], [-1.0, 0.0]])
    assert mean_cosine_similarity(W) == pytest.approx(-1 / 3)
    assert mean_cosine_similarity(W, absolute=True) == pytest.approx((2 / math.sqrt(2) + 1) / 3)


def test_mean_cosine_ignores_zero_rows():
    W = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    assert mean_cosine_similarity(W) == pytest.approx(1 / math.sqrt(2))
    assert math.isnan(mean_cosine_similarity(np.array([[1.0, 2.0], [0.0, 0.0]])))


def test_relative_improvement_and_fold_change():
    assert relative_improvement(0.994, 0.787) == pytest.approx((0.994 - 0.787) / 0.787)
    np.testing.assert_allclose(relative_improvement([0.9, 0.8], 0.8), [0.125, 0.0])
    assert fold_change(3.0, 2.0) == 1.5
    with pytest.raises(ValueError, match="dense_accuracy must be > 0"):
        relative_improvement(0.5, 0.0)
    with pytest.raises(ValueError, match="baseline must be non-zero"):
        fold_change(1.0, 0.0)


def test_linear_fit_exact_line():
    x = np.arange(5.0)
    fit = linear_fit(x, 2 * x + 1)
    assert fit.slope == pytest.approx(2.0) and fit.intercept == pytest.approx(1.0)
    assert fit.r == pytest.approx(1.0) and fit.n == 5
    with pytest.raises(ValueError, match="at least 3 points"):
        linear_fit([1, 2], [3, 4])


def test_summarize_and_metric_table():
    f = pd.DataFrame(
        {
            "strategy": ["dense", "dense", "clause", "clause"],
            "n_literals": [32, 32, 32, 32],
            "test_accuracy": [0.7, 0.8, 0.9, 1.0],
        }
    )
    s = summarize(f).set_index("strategy")
    assert s.loc["dense", "mean"] == pytest.approx(0.75)
    assert s.loc["clause", "std"] == pytest.approx(np.std([0.9, 1.0], ddof=1))
    assert s.loc["clause", "count"] == 2
    t = metric_table(f, "test_accuracy", digits=2)
    assert t.loc[32, "dense"] == "0.75 ± 0.07"
    with pytest.raises(ValueError, match="lacks columns"):
        summarize(f, "feature_capacity")


def test_bad_weights():
    with pytest.raises(ValueError, match="2-D"):
        gram_matrix(np.ones(3))
    with pytest.raises(ValueError, match="finite"):
        feature_capacity(np.array([[np.nan]]))
    with pytest.raises(ValueError, match=r"groups\[0\] must hold input indices"):
        feature_capacity(np.ones((2, 2)), [[0, 5]])
