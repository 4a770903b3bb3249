"""The Dask backend of ``run_sweep``: a local cluster, a scheduler address or a given client.

Chunks are submitted most expensive first (Dask priorities), each with ``retries`` retries on
the cluster (which also covers a worker that died); a chunk that still fails is split into
single runs, and a single run that fails is reported to the sweep's sink, never dropped.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from ..experiments.registry import config_cost
from .chunks import available_cores, execute_chunk

__all__ = ["dask_client", "run_dask"]


def run_dask(chunks: list[list[Any]], sink: Any, retries: int, threads: int | None, client: Any) -> None:
    """Run ``chunks`` on ``client``; ``sink.done`` / ``sink.fail`` record each outcome."""
    from dask.distributed import as_completed

    def submit(chunk: list[Any]):
        # chunk retries happen on the cluster; single runs get the same budget again
        priority = int(min(sum(config_cost(c) for c in chunk), 2**62))  # big chunks first
        return client.submit(execute_chunk, chunk, threads, "dask", retries=retries, pure=False, priority=priority)

    owner = {}
    futures = []
    for chunk in chunks:
        fut = submit(chunk)
        owner[fut.key] = chunk
        futures.append(fut)
    queue = as_completed(futures)
    for fut in queue:
        chunk = owner.pop(fut.key)
        try:
            results = fut.result()
        except Exception as exc:  # noqa: BLE001 - reported below, never lost
            if len(chunk) > 1:
                for cfg in chunk:
                    single = submit([cfg])
                    owner[single.key] = [cfg]
                    queue.add(single)
            else:
                sink.fail(chunk[0], exc, 1 + retries)
            continue
        finally:
            fut.release()
        sink.done(chunk, results, 1)


@contextlib.contextmanager
def dask_client(workers: int | None, scheduler: str | None, client: Any) -> Iterator[tuple[Any, int | None]]:
    """(client, torch threads per task) for a local cluster, an address or a given client."""
    if client is not None:
        yield client, None
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ValueError("the Dask backend needs `pip install fpe-toolkit[dask]` (dask[distributed])") from None
    if scheduler is not None:
        with Client(scheduler, timeout="30s") as c:
            yield c, None
        return
    cores = available_cores()
    threads = max(1, cores // workers)
    if workers > cores:
        print(f"sweep: {workers} workers on {cores} cores oversubscribe the CPU", file=sys.stderr)
    with LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        # None still serves the dashboard on :8787 and warns when that port is taken (a
        # second sweep, a notebook's cluster); ":0" takes any free port, silently
        dashboard_address=":0",
        silence_logs=40,  # logging.ERROR
    ) as cluster, Client(cluster) as c:
        yield c, threads
