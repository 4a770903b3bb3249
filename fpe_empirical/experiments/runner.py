"""``run(config)`` and ``run_many(configs)``: run experiments by their registered kind.

Every config of one kind goes to that kind's runner in one call (``registry``), so a kind
can batch them (one ensemble per compatible group); results come back in input order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from .registry import get_kind, kind_of

__all__ = ["run", "run_many"]


def run(config) -> pd.DataFrame:
    """Run one experiment; one row per (strategy, seed). See the config class for details."""
    return run_many([config])[0]


def run_many(configs: Sequence) -> list[pd.DataFrame]:
    """Run several experiments (batched per kind where the kind supports it), in input order."""
    if isinstance(configs, (str, bytes)) or not isinstance(configs, Iterable):
        raise TypeError(f"configs must be a sequence of experiment configs, got {type(configs).__name__}")
    configs = list(configs)
    by_kind: dict[str, list[int]] = {}
    for i, cfg in enumerate(configs):
        kind = kind_of(cfg)
        if kind.runner is None:
            raise ValueError(f"no runner registered for experiment kind {kind.name!r}")
        by_kind.setdefault(kind.name, []).append(i)
    out: list[pd.DataFrame | None] = [None] * len(configs)
    for name, idx in by_kind.items():
        frames = get_kind(name).runner([configs[i] for i in idx])
        if len(frames) != len(idx):
            raise RuntimeError(f"runner for {name!r} returned {len(frames)} results for {len(idx)} configs")
        for i, frame in zip(idx, frames):
            out[i] = frame
    return out  # type: ignore[return-value]
