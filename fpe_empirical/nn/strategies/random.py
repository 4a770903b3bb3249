"""``"random"``: a uniformly random balanced partition of each parent's live inputs (paper
Section 2.3): child sizes differ by at most one."""

from __future__ import annotations

import numpy as np

from .registry import LayerSplit, register_strategy

__all__ = ["balanced_labels", "random_labels"]


def balanced_labels(m: int, alpha: int, rng: np.random.Generator) -> np.ndarray:
    """Uniformly random child labels for ``m`` items, part sizes differing by at most one."""
    base = (np.arange(m) + rng.integers(alpha)) % alpha
    return rng.permutation(base)


@register_strategy("random", rewirable=True)
def random_labels(layer: LayerSplit, parent: int, live: np.ndarray) -> np.ndarray:
    """Uniformly random balanced partition of the live inputs (sizes differ by at most one)."""
    return balanced_labels(live.size, layer.alpha, layer.rng)
