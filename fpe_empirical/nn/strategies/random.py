"""``"random"``: a uniformly random balanced partition of each parent's live inputs (paper
Section 2.3): child sizes differ by at most one.

Grouped (``n_partitions=G``, issue 16): the layer's parents are dealt into G groups (a seeded
uniform permutation of ``arange(N) % G``: group sizes differ by at most one); each group draws
one uniform balanced partition of *all* the layer's inputs into alpha parts, and child ``a``
of every parent of the group takes part ``a`` (intersected with the parent's live inputs).
Parents of one group then have identical child supports (before pruning) and the layer is
``alpha * G`` dense blocks on permuted inputs (``fpe_empirical.sparse`` runs it as GEMMs).
``G = N`` is one partition per parent (today's distribution for dense parents); ``G = 1``
gives every parent the same partition. ``n_partitions=None`` (default) is the classic split,
drawing exactly the same random numbers as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fpe_common.checks import check_int

from .registry import LayerSplit, register_strategy

__all__ = ["balanced_labels", "random_labels", "GroupedPartition", "grouped_partition"]


def balanced_labels(m: int, alpha: int, rng: np.random.Generator) -> np.ndarray:
    """Uniformly random child labels for ``m`` items, part sizes differing by at most one."""
    base = (np.arange(m) + rng.integers(alpha)) % alpha
    return rng.permutation(base)


@dataclass(frozen=True, eq=False)
class GroupedPartition:
    """The shared partitions of a grouped split layer.

    ``group_of_parent (N,)``: the group of each parent; ``input_part (G, in_features)``: the
    part (child label ``0 .. alpha-1``) of each input in each group's partition. Child
    ``p * alpha + a`` may use exactly the inputs ``i`` with ``input_part[group_of_parent[p], i] == a``.
    """

    group_of_parent: np.ndarray
    input_part: np.ndarray

    @property
    def n_partitions(self) -> int:
        return int(self.input_part.shape[0])


def grouped_partition(n_parents: int, n_inputs: int, alpha: int, n_partitions: int,
                      rng: np.random.Generator) -> GroupedPartition:
    """Deal ``n_parents`` into ``n_partitions`` groups (seeded, sizes differ by <= 1), then one
    uniform balanced partition of the ``n_inputs`` inputs into ``alpha`` parts per group
    (drawn in group order after the deal)."""
    groups = rng.permutation(np.arange(n_parents) % n_partitions)
    parts = np.stack([balanced_labels(n_inputs, alpha, rng) for _ in range(n_partitions)])
    return GroupedPartition(groups.astype(np.int64), parts.astype(np.int64))


def _validate(options: dict, fan_ins, alpha: int) -> dict:
    g = options.get("n_partitions")
    return {"n_partitions": None if g is None else check_int("n_partitions", g, 1)}


def _prepare(layer: LayerSplit) -> GroupedPartition | None:
    g = layer.options.get("n_partitions")
    if g is None:
        return None  # the classic split: no extra draws, bit-identical to before
    n_parents = layer.weight.shape[0]
    if g > n_parents:
        raise ValueError(f"n_partitions must be <= the number of parents of the split layer "
                         f"({n_parents}), got {g}")
    return grouped_partition(n_parents, layer.in_features, layer.alpha, g, layer.rng)


@register_strategy("random", options=("n_partitions",), validate=_validate, prepare=_prepare, rewirable=True)
def random_labels(layer: LayerSplit, parent: int, live: np.ndarray) -> np.ndarray:
    """Uniformly random balanced partition of the live inputs (sizes differ by at most one);
    with ``n_partitions``, the parent's group's shared partition restricted to its live inputs."""
    if not isinstance(layer.state, GroupedPartition):
        return balanced_labels(live.size, layer.alpha, layer.rng)
    return layer.state.input_part[layer.state.group_of_parent[parent], live]
