"""Sweep chunks: which configs train together, and running one chunk wherever it lands.

``plan_chunks`` groups configs by kind, sorts them by their fields (seed last) so similar
configs share a chunk (and a batched ensemble pads little), cuts them into equal chunks and
orders the chunks most expensive first (each kind's registered cost), so parallel workers
finish together. ``execute_chunk`` runs a chunk (``run_many``) in this process or on a Dask
worker and returns each run's key, frame and provenance.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from typing import Any

from ..experiments.registry import config_cost
from ..experiments.runner import run_many
from ..results.keys import config_key, config_to_dict
from ..results.provenance import provenance

__all__ = ["DEFAULT_CHUNK_SIZE", "available_cores", "plan_chunks", "execute_chunk"]

#: configs per chunk: a DNF chunk of 20 configs trains 20 dense models, then 60 split/control
#: models as one stack each (benchmarks/bench_grid.py)
DEFAULT_CHUNK_SIZE = 20


def available_cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _orderable(value: Any) -> tuple:
    """A total order over JSON-like field values (numbers numerically, then strings, lists)."""
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    if isinstance(value, (list, tuple)):
        return (4, tuple(_orderable(v) for v in value))
    return (5, repr(value))


def _sort_key(cfg: Any) -> tuple:
    # similar configs next to each other (so a chunk pads little): every field but the
    # seed, in declaration order, then the seed
    fields = config_to_dict(cfg)
    seed = fields.pop("seed", None)
    return (type(cfg).kind, tuple((k, _orderable(v)) for k, v in fields.items()), _orderable(seed))


def _family(cfg: Any) -> Any:
    """The config's training family (``cfg.family()``, e.g. ``DNFExperiment.family``: configs
    whose models see the same batches train as one wide layer), or None."""
    fam = getattr(cfg, "family", None)
    return fam() if callable(fam) else None


def plan_chunks(configs: Sequence[Any], chunk_size: int) -> list[list[Any]]:
    """Cut ``configs`` into chunks of at most ``chunk_size``, similar configs together.

    Configs are grouped by kind and sorted by their fields (seed last). A kind whose configs
    have a ``family()`` (configs trained together as one wide family) is cut family by
    family: whole families are packed into chunks of at most ``chunk_size`` configs (a
    family larger than that is cut into pieces), so a family is never spread over chunks
    it could share. Other kinds are cut into equal-sized consecutive chunks
    (``ceil(n / ceil(n / chunk_size))`` each). Chunks are returned most expensive first
    (``config_cost``: the kind's registered cost), so parallel workers finish together.
    A run's stored numbers do not depend on the chunking (tests/test_wide.py).
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise TypeError(f"chunk_size must be an int, got {type(chunk_size).__name__}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be an integer >= 1, got {chunk_size}")
    by_kind: dict[str, list[Any]] = {}
    for cfg in configs:
        by_kind.setdefault(type(cfg).kind, []).append(cfg)
    chunks = []
    for kind in sorted(by_kind):
        items = sorted(by_kind[kind], key=_sort_key)
        families: dict[Any, list[Any]] = {}
        for cfg in items:
            fam = _family(cfg)
            families.setdefault(("single", config_key(cfg)) if fam is None else fam, []).append(cfg)
        if len(families) == len(items):  # no families: equal consecutive chunks
            n_chunks = math.ceil(len(items) / chunk_size)
            size = math.ceil(len(items) / n_chunks)
            chunks.extend(items[i : i + size] for i in range(0, len(items), size))
            continue
        current: list[Any] = []
        for members in families.values():
            for i in range(0, len(members), chunk_size):
                piece = members[i : i + chunk_size]
                if current and len(current) + len(piece) > chunk_size:
                    chunks.append(current)
                    current = []
                current = current + piece
        if current:
            chunks.append(current)
    # most expensive first (stable): parallel workers then finish at about the same time
    return sorted(chunks, key=lambda chunk: -sum(config_cost(c) for c in chunk))


def execute_chunk(configs: Sequence[Any], threads: int | None = None, backend: str = "in-process") -> list[tuple[str, Any, dict]]:
    """Run ``configs`` together (``run_many``); return ``(key, frame, provenance)`` each.

    Runs wherever it is called (in this process or on a Dask worker); ``threads`` sets
    torch's thread count there first. Provenance attributes the chunk's wall time evenly.
    """
    import torch

    if threads is not None:
        torch.set_num_threads(int(threads))
    worker = None
    if backend == "dask":
        try:
            from dask.distributed import get_worker

            worker = get_worker().address
        except (ImportError, ValueError):
            worker = None
    start = time.perf_counter()
    frames = run_many(list(configs))
    wall = time.perf_counter() - start
    out = []
    for cfg, frame in zip(configs, frames):
        prov = provenance(
            seed=getattr(cfg, "seed", None),
            duration_s=wall / len(configs),
            batch_runs=len(configs),
            batch_wall_s=wall,
            backend=backend,
            worker=worker,
        )
        out.append((config_key(cfg), frame, prov))
    return out
