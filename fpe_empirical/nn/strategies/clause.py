"""``"clause"``: known groups of inputs (e.g. the DNF clauses, ``groups=dataset.clauses``)
stay whole inside one child.

Groups are balanced across children: group counts per child differ by at most one (largest
groups first, each to the child with the fewest groups, then the fewest inputs, then a random
tie-break); inputs in no group go one by one (random order) to the child with the fewest
inputs (random tie-break). A group larger than a child's fan-in ``ceil(in_features / alpha)``
cannot stay whole and is refused. ``"gram"`` balances its clusters by the same rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from .registry import LayerSplit, register_strategy

__all__ = ["check_groups", "group_labels", "clause_labels"]


def check_groups(groups, in_features: int, child_fan_in: int) -> list[np.ndarray]:
    """Validate ``groups``: a sequence of non-empty, disjoint sequences of input indices,
    each at most ``child_fan_in`` long; returns them as sorted int64 arrays."""
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
            raise ValueError(f"groups[{g}] must hold input indices in [0, {in_features}), got {arr.tolist()}")
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


def group_labels(live: np.ndarray, groups: list[np.ndarray], alpha: int, rng: np.random.Generator) -> np.ndarray:
    """Child label for each live input (sorted indices), keeping each group inside one child."""
    pos = np.full(int(live.max()) + 1 if live.size else 0, -1, dtype=np.int64)
    pos[live] = np.arange(live.size)
    labels = np.full(live.size, -1, dtype=np.int64)
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


def _validate(options: dict, fan_ins, alpha: int) -> dict:
    (n_in,) = fan_ins.values()  # first_layer_only: one split layer
    return {"groups": check_groups(options.get("groups"), n_in, math.ceil(n_in / alpha))}


@register_strategy("clause", options=("groups",), validate=_validate, first_layer_only=True)
def clause_labels(layer: LayerSplit, parent: int, live: np.ndarray) -> np.ndarray:
    """Groups (``groups=``, e.g. the DNF clauses) kept whole inside one child, balanced."""
    return group_labels(live, layer.options["groups"], layer.alpha, layer.rng)
