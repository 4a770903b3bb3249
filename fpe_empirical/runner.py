"""``run(config)`` and ``run_many(configs)``: dispatch experiment configs to their kind's runner.

Each experiment module registers one function ``run_kind(configs) -> list[DataFrame]`` with
``@register_runner(kind)``; it receives every config of its kind at once so it can batch
them (one ensemble per compatible group). Modules are imported on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence

import pandas as pd

__all__ = ["run", "run_many", "register_runner"]

# experiment kind -> module whose import registers its runner
_KIND_MODULES = {
    "dnf": "fpe_empirical.dnf_experiment",
    "embedding": "fpe_empirical.embedding_experiment",
    "dnf-coverage": "fpe_empirical.coverage",
}
_RUNNERS: dict[str, Callable[[list], list[pd.DataFrame]]] = {}


def register_runner(kind: str):
    """Decorator: ``fn(configs: list) -> list[DataFrame]`` runs every config of ``kind``."""

    def wrap(fn):
        _RUNNERS[kind] = fn
        return fn

    return wrap


def _runner_for(config) -> Callable[[list], list[pd.DataFrame]]:
    kind = getattr(type(config), "kind", None)
    if kind is None:
        raise TypeError(f"config must be an experiment config (e.g. DNFExperiment), got {type(config).__name__}")
    if kind not in _RUNNERS and kind in _KIND_MODULES:
        importlib.import_module(_KIND_MODULES[kind])
    if kind not in _RUNNERS:
        raise ValueError(f"no runner registered for experiment kind {kind!r}")
    return _RUNNERS[kind]


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
        _runner_for(cfg)
        by_kind.setdefault(type(cfg).kind, []).append(i)
    out: list[pd.DataFrame | None] = [None] * len(configs)
    for kind, idx in by_kind.items():
        frames = _RUNNERS[kind]([configs[i] for i in idx])
        if len(frames) != len(idx):
            raise RuntimeError(f"runner for {kind!r} returned {len(frames)} results for {len(idx)} configs")
        for i, frame in zip(idx, frames):
            out[i] = frame
    return out  # type: ignore[return-value]
