"""``"gram"``: groups from clustering the split layer's input Gram matrix, balanced as for
``"clause"`` (paper Section 3.3).

The rows of ``G = W^T W`` (``W`` the layer's effective weight, ``in x in``; for layer 1 the
paper's feature Gram matrix) are compared by cosine distance ``1 - <g_i, g_j> / (|g_i||g_j|)``
(scale-free; an all-zero row, a dead input, is at distance 1 from everything) and clustered
by average-linkage agglomerative clustering (scipy). The number of clusters is ``n_clusters``
when given, else the value in ``[2, min(in - 1, max(2, in // 2))]`` maximising the silhouette
score on those distances (smallest on ties). A cluster larger than a child's fan-in
``ceil(in / alpha)`` is cut into consecutive pieces of at most that size (in input order).
Deterministic: the clustering involves no randomness; only the balancing uses the seeded
generator.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from fpe_common.checks import check_int

from .clause import group_labels
from .registry import LayerSplit, register_strategy

__all__ = ["gram_groups", "silhouette", "gram_labels"]


def _cosine_distance_rows(G: np.ndarray) -> np.ndarray:
    """``1 - cos(g_i, g_j)`` between rows of ``G``; zero rows are at distance 1 from all."""
    norms = np.linalg.norm(G, axis=1)
    R = np.divide(G, norms[:, None], out=np.zeros_like(G), where=norms[:, None] > 0)
    D = 1.0 - R @ R.T
    np.clip(D, 0.0, 2.0, out=D)
    D = 0.5 * (D + D.T)
    np.fill_diagonal(D, 0.0)
    return D


def silhouette(D: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette ``(b_i - a_i) / max(a_i, b_i)`` on a precomputed distance matrix ``D``.

    ``a_i``: mean distance to the other members of i's cluster; ``b_i``: the smallest mean
    distance to another cluster; ``s_i = 0`` for singletons (sklearn's convention, which this
    matches; it is O(n^2) per call via per-cluster column sums).
    """
    n = D.shape[0]
    order = np.argsort(labels, kind="stable")
    lab = labels[order]
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    if starts.size < 2 or starts.size >= n:
        raise ValueError(f"silhouette needs 2 <= clusters <= n - 1, got {starts.size} for n = {n}")
    sizes = np.diff(np.r_[starts, n])
    sums = np.add.reduceat(D[:, order], starts, axis=1)  # (n, k) distance sum to each cluster
    own = np.searchsorted(starts, np.searchsorted(lab, labels, side="left"))
    rows = np.arange(n)
    own_size = sizes[own]
    a = np.divide(sums[rows, own], own_size - 1, out=np.zeros(n), where=own_size > 1)
    mean_other = sums / sizes
    mean_other[rows, own] = np.inf
    b = mean_other.min(axis=1)
    denom = np.maximum(a, b)
    s = np.divide(b - a, denom, out=np.zeros(n), where=denom > 0)
    s[own_size == 1] = 0.0
    return float(s.mean())


def gram_groups(weight: torch.Tensor | np.ndarray, alpha: int, n_clusters: int | None = None) -> list[np.ndarray]:
    """Input groups for the ``"gram"`` split of a layer with effective weight ``weight`` (out, in).

    Clusters the rows of ``G = W^T W`` by average-linkage agglomerative clustering on their
    cosine distances; ``n_clusters`` clusters, or (when None) the count in
    ``[2, min(in - 1, max(2, in // 2))]`` with the highest silhouette score (smallest on ties).
    Clusters larger than ``ceil(in / alpha)`` are cut into consecutive pieces of at most that
    size. Returns sorted index arrays ordered by their smallest index. Deterministic.
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    W = weight.detach().double().cpu().numpy() if torch.is_tensor(weight) else np.asarray(weight, dtype=np.float64)
    n = W.shape[1]
    cap = math.ceil(n / alpha)
    if n < 3:
        clusters = [np.array([i]) for i in range(n)]
    else:
        D = _cosine_distance_rows(W.T @ W)
        Z = linkage(squareform(D, checks=False), method="average")
        if n_clusters is not None:
            labels = fcluster(Z, t=n_clusters, criterion="maxclust")
        else:
            best, labels = -np.inf, None
            for k in range(2, min(n - 1, max(2, n // 2)) + 1):
                lab = fcluster(Z, t=k, criterion="maxclust")
                if np.unique(lab).size < 2:
                    continue
                score = silhouette(D, lab)
                if score > best + 1e-12:
                    best, labels = score, lab
            if labels is None:  # every cut gave one cluster (all rows identical)
                labels = np.ones(n, dtype=np.int64)
        clusters = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    groups = []
    for c in clusters:
        for start in range(0, c.size, cap):
            groups.append(c[start : start + cap])
    groups.sort(key=lambda g: int(g[0]))
    return groups


def _validate(options: dict, fan_ins, alpha: int) -> dict:
    n_clusters = options.get("n_clusters")
    if n_clusters is None:
        return {"n_clusters": None}
    n_clusters = check_int("n_clusters", n_clusters, 1)
    for where, n_in in fan_ins.items():
        if n_clusters > n_in:
            raise ValueError(f"n_clusters must be <= in_features of {where} ({n_in}), got {n_clusters}")
    return {"n_clusters": n_clusters}


def _prepare(layer: LayerSplit) -> list[np.ndarray]:
    return gram_groups(layer.weight, layer.alpha, layer.options.get("n_clusters"))


@register_strategy("gram", options=("n_clusters",), validate=_validate, prepare=_prepare, rewirable=True)
def gram_labels(layer: LayerSplit, parent: int, live: np.ndarray) -> np.ndarray:
    """Clusters of the layer's input Gram matrix kept inside one child, balanced as for clause."""
    return group_labels(live, layer.state, layer.alpha, layer.rng)
