"""Interference metrics on trained networks (paper Section 3.2, Figure 4, Tables A1-A2).

All functions take the first layer's effective weight ``W1`` (``(neurons, inputs)``, a
tensor or array) or an ``MLP`` (its ``layers[0].masked_weight()``), and compute in float64
NumPy.

- ``gram_matrix``: ``G = W1^T W1`` (inputs x inputs); clause blocks sit on its diagonal.
- ``feature_vectors``: feature ``i`` is column ``i`` of ``W1``, or, with ``groups`` (e.g.
  clauses), ``f_c = sum_{i in c} W1[:, i]``.
- ``feature_capacity`` (Scherlis et al. 2022): ``C_i = (f_i.f_i)^2 / sum_j (f_i.f_j)^2``
  (``j`` runs over all features, ``i`` included); ``0`` for an all-zero feature. Each
  ``C_i`` lies in ``[0, 1]`` and the total is at most the number of neurons.
- ``mean_cosine_similarity``: mean of ``cos(w_a, w_b)`` over all unordered pairs of distinct
  neurons (rows of ``W1``); all-zero rows (dead or fully pruned neurons) have no direction
  and are left out.
- ``relative_improvement``: ``RI = (acc - acc_dense) / acc_dense``; ``fold_change``:
  ``value / baseline`` (Figure 4a-b); ``linear_fit``: least-squares line with Pearson ``r``
  (Figure 4c); ``summarize`` / ``metric_table``: mean and sample std per group (Tables A1-A2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

__all__ = [
    "first_layer_weight",
    "gram_matrix",
    "feature_vectors",
    "feature_capacity",
    "Capacity",
    "mean_cosine_similarity",
    "relative_improvement",
    "fold_change",
    "linear_fit",
    "LinearFit",
    "summarize",
    "metric_table",
]


def first_layer_weight(model_or_weight) -> np.ndarray:
    """``W1`` as float64 ``(neurons, inputs)``: an MLP's effective first layer, or a 2-D matrix."""
    layers = getattr(model_or_weight, "layers", None)
    if layers is not None:
        w = layers[0].masked_weight()
    else:
        w = model_or_weight
    if torch.is_tensor(w):
        w = w.detach().to("cpu", torch.float64).numpy()
    try:
        w = np.asarray(w, dtype=np.float64)
    except (TypeError, ValueError) as exc:  # strings, ragged lists, other objects
        raise TypeError(f"weight must be a 2-D (neurons, inputs) matrix of numbers or an MLP: {exc}") from None
    if w.ndim != 2:
        raise ValueError(f"weight must be a 2-D (neurons, inputs) matrix, got shape {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("weight must be finite (no NaN or inf)")
    return w


def gram_matrix(model_or_weight) -> np.ndarray:
    """Feature Gram matrix ``G = W1^T W1`` of shape (inputs, inputs)."""
    W = first_layer_weight(model_or_weight)
    return W.T @ W


def feature_vectors(model_or_weight, groups: Sequence[Sequence[int]] | None = None) -> np.ndarray:
    """(features, neurons): columns of ``W1``, or per group ``f_c = sum_{i in c} W1[:, i]``."""
    W = first_layer_weight(model_or_weight)
    if groups is None:
        return W.T.copy()
    if isinstance(groups, (str, bytes)) or not isinstance(groups, (Sequence, np.ndarray)):
        raise TypeError(f"groups must be a sequence of index sequences, got {type(groups).__name__}")
    rows = []
    for g, group in enumerate(groups):
        idx = np.asarray(group)
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"groups[{g}] must be a non-empty sequence of ints, got {group!r}")
        if idx.min() < 0 or idx.max() >= W.shape[1]:
            raise ValueError(f"groups[{g}] must hold input indices in [0, {W.shape[1]}), got {list(idx)}")
        rows.append(W[:, idx].sum(axis=1))
    return np.stack(rows) if rows else np.zeros((0, W.shape[0]))


class Capacity(NamedTuple):
    """Per-feature capacities ``C_i`` and their sum."""

    per_feature: np.ndarray
    total: float


def feature_capacity(model_or_weight, groups: Sequence[Sequence[int]] | None = None) -> Capacity:
    """Scherlis et al. capacity ``C_i = (f_i.f_i)^2 / sum_j (f_i.f_j)^2`` of each feature.

    Features are columns of ``W1`` or, with ``groups``, the summed columns of each group
    (clause capacity). A zero feature has capacity 0.
    """
    F = feature_vectors(model_or_weight, groups)  # (features, neurons)
    D = F @ F.T  # (features, features) dot products
    num = np.diag(D) ** 2
    den = (D**2).sum(axis=1)
    per = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return Capacity(per, float(per.sum()))


def mean_cosine_similarity(model_or_weight, *, absolute: bool = False) -> float:
    """Mean ``cos(w_a, w_b)`` over unordered pairs ``a < b`` of non-zero rows of ``W1``.

    ``absolute=True`` averages ``|cos|``. NaN when fewer than two rows are non-zero.
    """
    if not isinstance(absolute, (bool, np.bool_)):
        raise TypeError(f"absolute must be a bool, got {type(absolute).__name__} {absolute!r}")
    W = first_layer_weight(model_or_weight)
    norms = np.linalg.norm(W, axis=1)
    U = W[norms > 0] / norms[norms > 0, None]
    m = U.shape[0]
    if m < 2:
        return float("nan")
    S = U @ U.T
    iu = np.triu_indices(m, k=1)
    vals = np.clip(S[iu], -1.0, 1.0)
    if absolute:
        vals = np.abs(vals)
    return float(vals.mean())


def _finite_array(name: str, value) -> np.ndarray:
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number or an array of numbers: {exc}") from None
    if not np.isfinite(arr).all():  # a NaN/inf accuracy would give a silent NaN ratio
        raise ValueError(f"{name} must be finite (no NaN or inf), got {value!r}")
    return arr


def relative_improvement(accuracy, dense_accuracy):
    """``RI = (accuracy - dense_accuracy) / dense_accuracy`` (broadcasts over arrays)."""
    a = _finite_array("accuracy", accuracy)
    d = _finite_array("dense_accuracy", dense_accuracy)
    if np.any(d <= 0):
        raise ValueError("dense_accuracy must be > 0")
    out = (a - d) / d
    return float(out) if out.ndim == 0 else out


def fold_change(value, baseline):
    """``value / baseline`` (Figure 4a-b: FPE metric over the dense model's)."""
    v = np.asarray(value, dtype=np.float64)
    b = np.asarray(baseline, dtype=np.float64)
    if np.any(b == 0):
        raise ValueError("baseline must be non-zero")
    out = v / b
    return float(out) if out.ndim == 0 else out


class LinearFit(NamedTuple):
    slope: float
    intercept: float
    r: float
    p_value: float
    stderr: float
    n: int


def linear_fit(x, y) -> LinearFit:
    """Least-squares line ``y = slope*x + intercept`` with Pearson ``r`` and its two-sided
    p-value (scipy.stats.linregress), as in Figure 4c (RI against an interference metric)."""
    from scipy.stats import linregress

    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    if x.size < 3:
        raise ValueError(f"linear_fit needs at least 3 points, got {x.size}")
    res = linregress(x, y)
    return LinearFit(float(res.slope), float(res.intercept), float(res.rvalue), float(res.pvalue), float(res.stderr), int(x.size))


def summarize(frame, value: str = "test_accuracy", by: Sequence[str] | str = "strategy"):
    """Mean, sample std (ddof=1) and count of ``value`` per group, as a DataFrame."""
    by = [by] if isinstance(by, str) else list(by)
    missing = [c for c in [*by, value] if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing}")
    out = frame.groupby(by, sort=False)[value].agg(["mean", "std", "count"]).reset_index()
    return out


def metric_table(frame, value: str, index: str = "n_literals", columns: str = "strategy", digits: int = 3):
    """Tables A1-A2: ``mean ± std`` of ``value`` with rows ``index`` and columns ``columns``."""
    stats = frame.groupby([index, columns], sort=True)[value].agg(["mean", "std"])
    text = stats.apply(lambda r: f"{r['mean']:.{digits}f} ± {0.0 if np.isnan(r['std']) else r['std']:.{digits}f}", axis=1)
    return text.unstack(columns)
