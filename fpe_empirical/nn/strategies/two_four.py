"""``"two_four"`` (``alpha == 2``): each aligned run of 4 inputs ``4r .. 4r+3`` gives 2
uniformly chosen inputs to each child (``in_features`` a multiple of 4): the 2:4 pattern of
sparse tensor cores (paper Table A5)."""

from __future__ import annotations

import numpy as np

from .registry import LayerSplit, register_strategy

__all__ = ["two_four_labels"]


def _check(alpha: int, fan_in: int | None, where: str) -> None:
    if alpha != 2:
        raise ValueError(f"alpha must be 2 for strategy='two_four', got {alpha}")
    if fan_in is not None and fan_in % 4:
        raise ValueError(f"strategy='two_four' needs in_features of {where} to be a multiple of 4, got {fan_in}")


@register_strategy("two_four", check=_check)
def two_four_labels(layer: LayerSplit, parent: int, live: np.ndarray) -> np.ndarray:
    """2:4 structured split (alpha 2): two inputs of every aligned run of four per child."""
    # (runs, 4): the 2 smallest random keys of each aligned run go to child 0
    keys = layer.rng.random((layer.in_features // 4, 4))
    rank = np.argsort(np.argsort(keys, axis=1, kind="stable"), axis=1, kind="stable")
    child_of_input = (rank >= 2).astype(np.int64).reshape(-1)
    return child_of_input[live]
