"""Fixed Parameter Expansion (paper Section 2.3, A.1, A.7): split neurons, keep the non-zero count.

``fpe_expand(model, alpha, ...)`` returns a *new* MLP (the input is never modified):

1. **Split.** Every hidden neuron ``p`` of a split layer becomes ``alpha`` children, units
   ``p*alpha ... p*alpha+alpha-1`` (contiguous, so sibling groups can be drawn). The
   parent's *live inputs* (the support of its effective weight row, ``weight*mask != 0``)
   are partitioned disjointly among the children; each child copies the parent's weights on
   its part and the parent's bias. ``parent_index[j] = j // alpha``. A LayerNorm after the
   split layer is widened, each child copying its parent's gain and bias.
2. **Widen the next layer.** The layer after a split layer gets ``alpha`` copies of the
   parent's input column, one per child (its mask likewise); biases are unchanged.
3. **Re-sparsify.** The split adds the children's bias copies and the next layer's column
   copies. The smallest-magnitude live weights of the *touched layers* (every split layer and
   the layer after it, i.e. the paper's ``W1'`` and ``W2'``) are pruned, pooled globally
   across those layers, until ``count_nonzero(new) == count_nonzero(model)`` exactly.
   Biases and LayerNorm parameters are counted but never pruned. Ties in magnitude are
   broken by position: lower layer index first, then row-major index inside the layer
   (a stable sort), so the result is a deterministic function of ``(model, alpha, strategy,
   groups, seed, layers)``. The count is asserted.

In every touched layer the new mask equals the support of the new effective weight, so the
number of trainable weight entries equals the non-zero count and cannot grow in training.

Partition strategies (``strategy``):

- ``"random"``: a uniformly random balanced partition of the live inputs (part sizes differ
  by at most one).
- ``"clause"``: ``groups`` (e.g. ``dataset.clauses``) are kept whole inside one child;
  groups are balanced across children (group counts per child differ by at most one;
  largest groups first, each to the child with the fewest groups, then the fewest inputs,
  then a random tie-break); inputs in no group go one by one (random order) to the child
  with the fewest inputs (random tie-break).
- ``"gram"``: groups come from clustering the rows of the split layer's input Gram matrix
  ``G = W^T W`` (``W`` its effective weight, ``in x in``; for layer 1 the paper's feature
  Gram matrix) and are then balanced as for ``"clause"``. Rows are compared by cosine
  distance ``1 - <g_i, g_j> / (|g_i||g_j|)`` (scale-free; an all-zero row, a dead input, is
  at distance 1 from everything) and clustered by average-linkage agglomerative clustering
  (scipy). The number of clusters is ``n_clusters`` when given, else the value in
  ``[2, min(in - 1, max(2, in // 2))]`` maximising the silhouette score on those distances
  (smallest on ties). A cluster larger than a child's fan-in ``ceil(in / alpha)`` is cut
  into consecutive pieces of at most that size (in input order). Deterministic: the
  clustering involves no randomness; only the balancing uses the seeded generator.
- ``"two_four"`` (``alpha == 2``): each aligned run of 4 inputs ``4r .. 4r+3`` gives 2
  uniformly chosen inputs to each child (``in`` must be a multiple of 4), the 2:4 pattern
  of sparse tensor cores.

Layers (``layers``): ``"first"`` splits hidden layer 1 only (the paper's shallow case);
``"alternate"`` (A.7) splits hidden layers 1, 3, 5, ... and never the classification head;
each even-numbered hidden layer only gets a wider input. All touched layers share one
pruning pool.

All randomness comes from ``numpy.random.default_rng(seed)``, drawn in a fixed order
(split layers in order, parents in order), so the same seed gives the same masks.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .models import MLP, MaskedLinear, count_nonzero

__all__ = [
    "fpe_expand",
    "split_layer_indices",
    "partition_inputs",
    "gram_groups",
    "silhouette",
    "STRATEGIES",
    "LAYER_SCHEMES",
]

STRATEGIES = ("random", "clause", "gram", "two_four")
LAYER_SCHEMES = ("first", "alternate")


# --------------------------------------------------------------------------- validation


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return value


def _check_choice(name: str, value, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, one of {list(choices)}, got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def split_layer_indices(n_hidden: int, layers: str = "first") -> list[int]:
    """Indices (into ``model.layers``) of the hidden layers that ``layers`` splits.

    ``"first"`` -> ``[0]``; ``"alternate"`` -> ``[0, 2, 4, ...] < n_hidden`` (never the head,
    which is ``model.layers[n_hidden]``).
    """
    _check_choice("layers", layers, LAYER_SCHEMES)
    if layers == "first":
        return [0]
    return list(range(0, n_hidden, 2))


def _check_groups(groups, in_features: int, child_fan_in: int) -> list[np.ndarray]:
    """Validate ``groups``: a sequence of non-empty, disjoint sequences of input indices."""
    if groups is None:
        raise ValueError("groups must be given for strategy='clause' (e.g. groups=dataset.clauses)")
    if isinstance(groups, (str, bytes)) or not isinstance(groups, (Sequence, np.ndarray)):
        raise TypeError(f"groups must be a sequence of index sequences, got {type(groups).__name__}")
    out: list[np.ndarray] = []
    seen = np.zeros(in_features, dtype=bool)
    for g, group in enumerate(groups):
        if isinstance(group, (str, bytes)) or not isinstance(group, (Sequence, np.ndarray, torch.Tensor)):
            raise TypeError(f"groups[{g}] must be a sequence of ints, got {type(group).__name__}")
        arr = np.asarray(group)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"groups[{g}] must be a non-empty flat sequence of ints, got {list(group)!r}")
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"groups[{g}] must contain ints, got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
        if arr.min() < 0 or arr.max() >= in_features:
            raise ValueError(
                f"groups[{g}] must hold input indices in [0, {in_features}), got {arr.tolist()}"
            )
        if np.unique(arr).size != arr.size or seen[arr].any():
            raise ValueError(f"groups must be disjoint and without repeats; groups[{g}] = {arr.tolist()} overlaps")
        if arr.size > child_fan_in:
            raise ValueError(
                f"groups[{g}] has {arr.size} inputs, more than a child's fan-in "
                f"ceil(in_features / alpha) = {child_fan_in}; it cannot stay inside one child"
            )
        seen[arr] = True
        out.append(np.sort(arr))
    return out


# --------------------------------------------------------------------------- partitions


def _balanced_labels(m: int, alpha: int, rng: np.random.Generator) -> np.ndarray:
    """Uniformly random child labels for ``m`` items, part sizes differing by at most one."""
    base = (np.arange(m) + rng.integers(alpha)) % alpha
    return rng.permutation(base)


def _group_labels(
    support: np.ndarray, groups: list[np.ndarray], alpha: int, rng: np.random.Generator
) -> np.ndarray:
    """Child label for each live input in ``support``, keeping each group inside one child."""
    pos = np.full(int(support.max()) + 1 if support.size else 0, -1, dtype=np.int64)
    pos[support] = np.arange(support.size)
    labels = np.full(support.size, -1, dtype=np.int64)
    live_groups = []
    for g in groups:
        g = g[g < pos.size]
        g = g[pos[g] >= 0] if g.size else g
        if g.size:
            live_groups.append(pos[g])
    n_groups = np.zeros(alpha, dtype=np.int64)
    n_inputs = np.zeros(alpha, dtype=np.int64)
    # largest groups first; equal sizes in a random order
    sizes = np.array([g.size for g in live_groups], dtype=np.int64)
    order = np.lexsort((rng.random(len(live_groups)), -sizes)) if live_groups else []
    for gi in order:
        tie = rng.random(alpha)
        child = np.lexsort((tie, n_inputs, n_groups))[0]
        labels[live_groups[gi]] = child
        n_groups[child] += 1
        n_inputs[child] += live_groups[gi].size
    rest = np.flatnonzero(labels < 0)
    for i in rng.permutation(rest):
        child = np.lexsort((rng.random(alpha), n_inputs))[0]
        labels[i] = child
        n_inputs[child] += 1
    return labels


def partition_inputs(
    support: np.ndarray,
    in_features: int,
    alpha: int,
    strategy: str,
    rng: np.random.Generator,
    groups: list[np.ndarray] | None = None,
) -> np.ndarray:
    """Disjoint child masks ``(alpha, in_features)`` bool covering ``support`` (sorted indices).

    The partition rule of one parent under ``strategy`` (see the module docstring).
    """
    masks = np.zeros((alpha, in_features), dtype=bool)
    if support.size == 0:
        return masks
    if strategy == "random":
        labels = _balanced_labels(support.size, alpha, rng)
    elif strategy in ("clause", "gram"):
        labels = _group_labels(support, groups or [], alpha, rng)
    elif strategy == "two_four":
        # (runs, 4): the 2 smallest random keys of each aligned run go to child 0
        keys = rng.random((in_features // 4, 4))
        rank = np.argsort(np.argsort(keys, axis=1, kind="stable"), axis=1, kind="stable")
        child_of_input = (rank >= 2).astype(np.int64).reshape(-1)
        labels = child_of_input[support]
    else:  # pragma: no cover - validated by the caller
        raise ValueError(f"strategy must be one of {list(STRATEGIES)}, got {strategy!r}")
    masks[labels, support] = True
    return masks


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


# --------------------------------------------------------------------------- the split


def _new_masked_linear(in_features: int, out_features: int, like: MaskedLinear) -> MaskedLinear:
    # fork_rng: building a MaskedLinear draws an init from torch's global generator;
    # we overwrite every value, and the caller's global RNG state must not move.
    with torch.random.fork_rng(devices=[]):
        layer = MaskedLinear(in_features, out_features, bias=like.bias is not None)
    return layer.to(device=like.weight.device, dtype=like.weight.dtype)


@torch.no_grad()
def _split_layer(
    model: MLP,
    i: int,
    alpha: int,
    strategy: str,
    rng: np.random.Generator,
    groups: list[np.ndarray] | None,
    n_clusters: int | None,
) -> None:
    """Split hidden layer ``i`` of ``model`` in place (no pruning)."""
    old, nxt = model.layers[i], model.layers[i + 1]
    W = old.masked_weight()  # (N, in)
    N, n_in = W.shape
    support = (W != 0).cpu().numpy()
    if strategy == "gram":
        groups = gram_groups(W, alpha, n_clusters)
    child_mask = np.zeros((N * alpha, n_in), dtype=bool)
    for p in range(N):
        child_mask[p * alpha : (p + 1) * alpha] = partition_inputs(
            np.flatnonzero(support[p]), n_in, alpha, strategy, rng, groups
        )
    mask = torch.from_numpy(child_mask).to(W.device)
    layer = _new_masked_linear(n_in, N * alpha, old)
    layer.weight.copy_(W.repeat_interleave(alpha, dim=0) * mask)
    layer.mask.copy_(mask)
    if old.bias is not None:
        layer.bias.copy_(old.bias.repeat_interleave(alpha))
    layer.parent_index.copy_(torch.arange(N, device=W.device).repeat_interleave(alpha))

    W2 = nxt.masked_weight().repeat_interleave(alpha, dim=1)  # (out2, N*alpha)
    layer2 = _new_masked_linear(N * alpha, nxt.out_features, nxt)
    layer2.weight.copy_(W2)
    layer2.mask.copy_(W2 != 0)
    if nxt.bias is not None:
        layer2.bias.copy_(nxt.bias)
    layer2.parent_index.copy_(nxt.parent_index)
    layer.train(old.training)
    layer2.train(nxt.training)
    model.layers[i] = layer
    model.layers[i + 1] = layer2

    norm = model.norms[i]
    if isinstance(norm, nn.LayerNorm):
        new_norm = nn.LayerNorm(
            N * alpha,
            eps=norm.eps,
            elementwise_affine=norm.elementwise_affine,
            bias=norm.bias is not None,
        ).to(device=W.device, dtype=W.dtype if norm.weight is None else norm.weight.dtype)
        if norm.weight is not None:
            new_norm.weight.copy_(norm.weight.repeat_interleave(alpha))
        if norm.bias is not None:
            new_norm.bias.copy_(norm.bias.repeat_interleave(alpha))
        new_norm.train(norm.training)
        model.norms[i] = new_norm
    elif not isinstance(norm, nn.Identity):
        raise TypeError(f"model.norms[{i}] must be LayerNorm or Identity to be split, got {type(norm).__name__}")


@torch.no_grad()
def _prune_to(model: MLP, touched: list[int], target: int) -> None:
    """Prune the smallest-magnitude live weights of ``touched`` layers until nnz == target."""
    excess = count_nonzero(model) - target
    if excess < 0:  # pragma: no cover - a split only adds parameters
        raise RuntimeError(f"the split lost parameters: {excess}")
    if excess == 0:
        return
    values, where = [], []
    for li in touched:
        w = model.layers[li].masked_weight().detach().reshape(-1)
        live = torch.nonzero(w != 0).reshape(-1)
        values.append(w[live].abs().double().cpu().numpy())
        where.append((li, live.cpu().numpy()))
    pool = np.concatenate(values)
    if excess >= pool.size:
        # bias / LayerNorm copies are counted but not prunable: on tiny layers they can
        # outnumber the weights, and the budget is then unreachable (or leaves no weight)
        raise ValueError(
            f"cannot keep the non-zero count: the split adds {excess} parameters but the touched "
            f"layers hold only {pool.size} live weights to prune; use a smaller alpha or wider layers"
        )
    # stable sort: ties by position (layer order, then row-major index)
    chosen = np.argsort(pool, kind="stable")[:excess]
    offsets = np.cumsum([0] + [v.size for v in values])
    for k, (li, live) in enumerate(where):
        sel = chosen[(chosen >= offsets[k]) & (chosen < offsets[k + 1])] - offsets[k]
        if sel.size == 0:
            continue
        layer = model.layers[li]
        flat_idx = torch.from_numpy(live[sel]).to(layer.mask.device)
        layer.mask.view(-1)[flat_idx] = False
        layer.weight.view(-1)[flat_idx] = 0


def fpe_expand(
    model: MLP,
    alpha: int,
    *,
    strategy: str = "random",
    groups: Sequence[Sequence[int]] | None = None,
    seed: int = 0,
    layers: str = "first",
    n_clusters: int | None = None,
) -> MLP:
    """Fixed Parameter Expansion: a new, wider, sparser MLP with ``count_nonzero`` unchanged.

    Each hidden neuron of the split layers (``layers="first"``: hidden layer 1;
    ``"alternate"``: hidden layers 1, 3, 5, ...) becomes ``alpha`` children (units
    ``p*alpha .. p*alpha+alpha-1``) with disjoint input masks covering the parent's live
    inputs, partitioned by ``strategy`` (``"random"``, ``"clause"`` with ``groups``,
    ``"gram"``, ``"two_four"``); the next layer gets a copy of the parent's column per
    child; then the smallest-magnitude weights of the touched layers are pruned until
    ``count_nonzero(new) == count_nonzero(model)``. ``n_clusters`` fixes the cluster count of
    ``"gram"`` (default: best silhouette). See the module docstring for every rule.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be an fpe_empirical.MLP, got {type(model).__name__}")
    alpha = _check_int("alpha", alpha, 2)
    strategy = _check_choice("strategy", strategy, STRATEGIES)
    layers = _check_choice("layers", layers, LAYER_SCHEMES)
    seed = _check_int("seed", seed, 0)
    n_hidden = len(model.layers) - 1
    split = split_layer_indices(n_hidden, layers)
    for i in split:
        fan_in = model.layers[i].in_features
        if alpha > fan_in:
            raise ValueError(
                f"alpha must be <= the fan-in of hidden layer {i + 1} (in_features = {fan_in}), got {alpha}"
            )
    if strategy == "two_four":
        if alpha != 2:
            raise ValueError(f"alpha must be 2 for strategy='two_four', got {alpha}")
        for i in split:
            fan_in = model.layers[i].in_features
            if fan_in % 4:
                raise ValueError(
                    f"strategy='two_four' needs in_features of hidden layer {i + 1} to be a multiple of 4, got {fan_in}"
                )
    checked_groups = None
    if strategy == "clause":
        if len(split) > 1:
            raise ValueError(
                "strategy='clause' groups name input features of layer 1 only; with layers='alternate' "
                f"this model splits {len(split)} layers: use strategy='random' or 'gram'"
            )
        checked_groups = _check_groups(groups, model.in_features, math.ceil(model.in_features / alpha))
    elif groups is not None:
        raise ValueError(f"groups is used only by strategy='clause', got strategy={strategy!r}")
    if n_clusters is not None:
        if strategy != "gram":
            raise ValueError(f"n_clusters is used only by strategy='gram', got strategy={strategy!r}")
        n_clusters = _check_int("n_clusters", n_clusters, 1)
        for i in split:
            if n_clusters > model.layers[i].in_features:
                raise ValueError(
                    f"n_clusters must be <= in_features of hidden layer {i + 1} "
                    f"({model.layers[i].in_features}), got {n_clusters}"
                )

    target = count_nonzero(model)
    rng = np.random.default_rng(seed)
    new = copy.deepcopy(model)
    for i in split:
        _split_layer(new, i, alpha, strategy, rng, checked_groups, n_clusters)
    touched = sorted(set(split) | {i + 1 for i in split})
    _prune_to(new, touched, target)
    got = count_nonzero(new)
    if got != target:  # pragma: no cover - guarded invariant
        raise RuntimeError(f"fpe_expand: non-zero count {got} != original {target}")
    return new
