"""Clause coverage and collisions of a network's layer (docs/THEORY.md definitions).

A unit *covers* clause ``c`` when its first-layer support (the entries that can be non-zero)
contains all ``k`` literals of ``c``; a *collision* is a (unit, unordered clause pair) with
both clauses covered by that unit. For a unit covering ``m_u`` clauses that is
``m_u (m_u - 1) / 2`` collisions; a dense layer with full support has ``N * C(C, 2)``.

The support is the mask (``use="mask"``: the paper's "has the potential to be non-zero"; a
split network's masks are fixed in training, ``apply_masks_`` keeps them) or the non-zero
pattern of the effective weight (``use="weights"``). ``split_support`` gives the child masks
``fpe_expand`` draws before re-sparsification (``experiments.coverage`` compares both with
fpe_theory's closed forms).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .expand import split_masks
from .models import MLP, MaskedLinear

__all__ = ["USES", "support", "unit_clause_cover", "CoverageCounts", "measure_coverage", "split_support"]

USES = ("mask", "weights")


def _layer(model: MLP, layer: int) -> MaskedLinear:
    if not isinstance(model, MLP):
        raise TypeError(f"model must be an fpe_empirical.MLP, got {type(model).__name__}")
    if isinstance(layer, bool) or not isinstance(layer, int):
        raise TypeError(f"layer must be an int, got {type(layer).__name__}")
    if not 0 <= layer < len(model.layers):
        raise ValueError(f"layer must be in [0, {len(model.layers)}), got {layer}")
    return model.layers[layer]


def support(model: MLP, *, layer: int = 0, use: str = "mask") -> np.ndarray:
    """Bool ``(units, inputs)`` support of ``model.layers[layer]``: its mask (``use="mask"``)
    or the non-zero pattern of ``weight * mask`` (``use="weights"``)."""
    if use not in USES:
        raise ValueError(f"use must be one of {list(USES)}, got {use!r}")
    lin = _layer(model, layer)
    with torch.no_grad():
        s = lin.mask if use == "mask" else lin.masked_weight() != 0
    return s.detach().cpu().numpy().astype(bool)


def _check_clauses(clauses, n_inputs: int) -> np.ndarray:
    """Clauses as an int array ``(C, k)`` of input indices (equal sizes, in range)."""
    if isinstance(clauses, (str, bytes)):
        raise TypeError("clauses must be a sequence of index sequences, got a string")
    try:
        arr = np.asarray([np.asarray(c).tolist() for c in clauses])
    except (TypeError, ValueError):
        raise TypeError("clauses must be a sequence of index sequences") from None
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"clauses must be a non-empty list of equal-size index lists, got shape {arr.shape}")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"clauses must hold ints, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= n_inputs:
        raise ValueError(f"clauses must hold input indices in [0, {n_inputs}), got values in [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64)


def unit_clause_cover(support_mask: np.ndarray, clauses) -> np.ndarray:
    """Bool ``(units, C)``: ``out[u, c]`` iff ``support_mask[u, i]`` for every literal ``i`` of clause ``c``."""
    s = np.asarray(support_mask)
    if s.ndim != 2:
        raise ValueError(f"support must be a 2-D (units, inputs) array, got shape {s.shape}")
    s = s.astype(bool)
    cl = _check_clauses(clauses, s.shape[1])
    return s[:, cl].all(axis=2)  # (units, C, k) -> (units, C)


@dataclass(frozen=True)
class CoverageCounts:
    """Coverage of one network's layer: ``cover[u, c]`` (unit u covers clause c).

    ``covered`` (C,): clause covered by some unit; ``units_per_clause`` (C,);
    ``clauses_per_unit`` (U,); ``collisions = sum_u m_u (m_u - 1) / 2``.
    """

    cover: np.ndarray

    @property
    def n_units(self) -> int:
        return int(self.cover.shape[0])

    @property
    def n_clauses(self) -> int:
        return int(self.cover.shape[1])

    @property
    def covered(self) -> np.ndarray:
        return self.cover.any(axis=0)

    @property
    def units_per_clause(self) -> np.ndarray:
        return self.cover.sum(axis=0)

    @property
    def clauses_per_unit(self) -> np.ndarray:
        return self.cover.sum(axis=1)

    @property
    def n_covered(self) -> int:
        return int(self.covered.sum())

    @property
    def covered_fraction(self) -> float:
        return self.n_covered / self.n_clauses

    @property
    def all_covered(self) -> bool:
        return bool(self.covered.all())

    @property
    def collisions(self) -> int:
        m = self.clauses_per_unit.astype(np.int64)
        return int((m * (m - 1) // 2).sum())

    def pattern(self) -> str:
        """Covered clauses as a string of 0/1, clause 0 first."""
        return "".join("1" if x else "0" for x in self.covered)


def measure_coverage(model_or_support, clauses, *, layer: int = 0, use: str = "mask") -> CoverageCounts:
    """Coverage and collisions of an ``MLP``'s layer (its support, see ``support``) or of a
    bool ``(units, inputs)`` support array, for ``clauses`` (literal indices per clause)."""
    if isinstance(model_or_support, MLP):
        s = support(model_or_support, layer=layer, use=use)
    else:
        s = np.asarray(model_or_support)
        if s.dtype != bool:
            raise TypeError(f"a support array must be bool, got dtype {s.dtype}")
    return CoverageCounts(unit_clause_cover(s, clauses))


def split_support(
    model: MLP,
    alpha: int,
    *,
    strategy: str = "random",
    groups: Sequence[Sequence[int]] | None = None,
    seed: int = 0,
    n_clusters: int | None = None,
) -> np.ndarray:
    """Bool ``(N * alpha, inputs)``: hidden layer 1's child masks as ``fpe_expand(model,
    alpha, strategy=..., groups=..., seed=seed)`` draws them, *before* re-sparsification.

    ``expand.split_masks``: the same checks, strategy, generator and draw order as
    ``fpe_expand`` with ``layers="first"``; its pruned masks are subsets of these (tested).
    """
    return split_masks(model, alpha, strategy=strategy, groups=groups, seed=seed, n_clusters=n_clusters)
