"""Run a grid of experiments into a result store: only what is missing, resumable, batched.

``python -m fpe_empirical.sweep GRID --store DIR [--workers N | --scheduler ADDRESS]``

- ``GRID`` is a registered grid name (``--list`` shows them: ``smoke``, ``dnf-paper``, the
  figure subsets, ...) or a JSON / TOML / YAML grid file (format: ``sweeps.grids``).
- Configs whose verified result is in the store are skipped; corrupt files are reported,
  moved to ``DIR/.corrupt/`` and recomputed. The rest is cut into chunks of similar
  configs (sorted by their fields, seed last; a kind's training families, e.g. the DNF
  widths of one data set and seed, kept whole) that ``run_many`` trains together; chunks
  run most expensive first; each chunk's results are stored as soon as it finishes, each
  in its own atomically written file. A kill at any moment loses at most the chunks in
  flight. Stored numbers do not depend on the chunking or the number of workers.
- Backends: in-process (default); a local Dask cluster with ``--workers N`` (processes,
  ``cores // N`` torch threads each); an existing Dask scheduler with ``--scheduler
  ADDRESS`` (dask-jobqueue/SLURM, Kubernetes: workers need this package installed;
  ``sweeps.dask_backend``).
- Failures: a failing chunk is split into single runs, each tried up to ``1 + --retries``
  times (on Dask the chunk itself first gets ``--retries`` retries on the cluster, which
  also covers a worker that died). A run that still fails is reported on stderr, in the
  summary and in ``DIR/.failures/<key>.json``, never dropped silently; the exit code is 1
  and rerunning the sweep tries it again.

Exit codes: 0 every run stored, 1 some runs failed, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import math
import os
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from fpe_common.cli import OneLineArgumentParser, one_line

from ..results.keys import config_key, config_to_dict
from ..results.store import ResultStore
from .chunks import DEFAULT_CHUNK_SIZE, available_cores, execute_chunk, plan_chunks
from .grids import grid_configs, list_grids

__all__ = ["run_sweep", "plan_chunks", "execute_chunk", "SweepReport", "main", "DEFAULT_CHUNK_SIZE", "available_cores"]

@dataclasses.dataclass
class SweepReport:
    """What a sweep did: counts, failures (key, config, error), quarantined corrupt files."""

    total: int = 0
    stored_before: int = 0
    ran: int = 0
    failed: list[dict] = dataclasses.field(default_factory=list)
    corrupt: list[str] = dataclasses.field(default_factory=list)
    wall_s: float = 0.0
    backend: str = "in-process"

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        parts = [
            f"{self.total} runs in grid",
            f"{self.stored_before} already stored",
            f"{self.ran} ran",
            f"{len(self.failed)} failed",
        ]
        if self.corrupt:
            parts.append(f"{len(self.corrupt)} corrupt file(s) moved aside and recomputed")
        return ", ".join(parts) + f" ({self.backend}, {self.wall_s:.1f} s)"


@contextlib.contextmanager
def _store_lock(store: ResultStore) -> Iterator[None]:
    """One sweep per store at a time (an advisory lock the OS drops when we die)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fh = open(store.root / ".lock", "a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"store {store.root} is in use by another running sweep") from None
        yield
    finally:
        fh.close()


def _error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


class _Sink:
    """Stores finished runs and keeps the report and the progress bar current."""

    def __init__(self, store: ResultStore, report: SweepReport, bar: Any) -> None:
        self.store, self.report, self.bar = store, report, bar

    def done(self, chunk: list[Any], results: list[tuple[str, Any, dict]], attempts: int) -> None:
        """Store each run of ``chunk``; a result that cannot be stored is a failure of its run."""
        if len(results) != len(chunk):
            for cfg in chunk:
                self.fail(cfg, f"the runner returned {len(results)} results for {len(chunk)} configs", attempts)
            return
        for cfg, (key, frame, prov) in zip(chunk, results):
            if key != config_key(cfg):
                # a worker with other code (another code_version) would file it elsewhere
                self.fail(cfg, f"the worker computed key {key}, not {config_key(cfg)}: is the same "
                               "fpe-toolkit version installed on every worker?", attempts)
                continue
            try:
                self.store.put(cfg, frame, provenance=prov)
            except (TypeError, ValueError) as exc:  # a bad result; OSError (disk) stops the sweep
                self.fail(cfg, exc, attempts)
                continue
            self.report.ran += 1
            self.bar.update(1)

    def fail(self, cfg: Any, exc: BaseException | str, attempts: int) -> None:
        error = exc if isinstance(exc, str) else _error_text(exc)
        key = config_key(cfg)
        self.store.record_failure(cfg, error, attempts=attempts)
        self.report.failed.append({"key": key, "config": config_to_dict(cfg, only_changed=True), "error": error})
        self.bar.update(1)
        self.bar.set_postfix(failed=len(self.report.failed))
        print(f"sweep: run {key} failed after {attempts} attempt(s): {error}", file=sys.stderr)


def _run_in_process(chunks: list[list[Any]], sink: _Sink, retries: int, threads: int | None) -> None:
    pending = list(chunks)
    while pending:
        chunk = pending.pop(0)
        attempts = 1 if len(chunk) > 1 else 1 + retries
        for attempt in range(1, attempts + 1):
            try:
                results = execute_chunk(chunk, threads)
            except Exception as exc:  # noqa: BLE001 - a run's failure is reported, not fatal
                if len(chunk) > 1:
                    # isolate the failing run: retry each config of the chunk on its own
                    pending[:0] = [[cfg] for cfg in chunk]
                    break
                if attempt == attempts:
                    sink.fail(chunk[0], exc, attempts)
                continue
            sink.done(chunk, results, attempt)
            break


def run_sweep(
    configs: Sequence[Any],
    store: ResultStore | str | os.PathLike,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    retries: int = 2,
    threads: int | None = None,
    progress: bool | None = None,
) -> SweepReport:
    """Run every config of ``configs`` whose result ``store`` lacks; store each as it finishes.

    In-process unless ``workers`` (a local Dask cluster of that many 1-thread processes),
    ``scheduler`` (address of a running Dask scheduler) or ``client`` (a Dask client) is
    given. ``threads`` sets torch threads per run (default: all cores in-process,
    ``cores // workers`` on a local cluster, the worker's default elsewhere). Returns a
    ``SweepReport``; failures are in ``report.failed`` and ``store.failures()``.
    """
    start = time.perf_counter()
    if not isinstance(store, ResultStore):
        store = ResultStore(store)
    for name, value in (("retries", retries), ("workers", workers), ("threads", threads)):
        if value is None and name != "retries":
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < (0 if name == "retries" else 1):
            raise ValueError(f"{name} must be an integer >= {0 if name == 'retries' else 1}, got {value}")
    if sum(x is not None for x in (workers, scheduler, client)) > 1:
        raise ValueError("give at most one of workers, scheduler and client")
    by_key: dict[str, Any] = {}
    for cfg in configs:
        by_key.setdefault(config_key(cfg), cfg)
    use_dask = any(x is not None for x in (workers, scheduler, client))
    report = SweepReport(total=len(by_key), backend="dask" if use_dask else "in-process")
    with _store_lock(store):
        store.clean_temp()
        todo = []
        for key, cfg in by_key.items():
            status = store.status(key)
            if status == "ok":
                report.stored_before += 1
                continue
            if status == "corrupt":
                moved = store.quarantine(key)
                report.corrupt.append(str(moved))
                print(f"sweep: corrupt result {key} moved to {moved}; recomputing", file=sys.stderr)
            todo.append(cfg)
        if use_dask and workers is not None:
            # about eight chunks per worker: handed out most expensive first, they let the
            # workers finish together
            chunk_size = min(chunk_size, max(1, math.ceil(len(todo) / (8 * workers))))
        chunks = plan_chunks(todo, chunk_size) if todo else []
        from tqdm.auto import tqdm

        show = sys.stderr.isatty() if progress is None else progress
        with tqdm(total=len(todo), desc="sweep", unit="run", disable=not show, dynamic_ncols=True) as bar:
            sink = _Sink(store, report, bar)
            if not chunks:
                pass
            elif use_dask:
                from .dask_backend import dask_client, run_dask

                with dask_client(workers, scheduler, client) as (c, local_threads):
                    run_dask(chunks, sink, retries, threads if threads is not None else local_threads, c)
            else:
                _run_in_process(chunks, sink, retries, threads)
    report.wall_s = time.perf_counter() - start
    return report


def _parser() -> OneLineArgumentParser:
    p = OneLineArgumentParser(
        prog="python -m fpe_empirical.sweep",
        description="Run the missing runs of a grid into a result store (resumable; batched ensembles).",
    )
    p.add_argument("grid", nargs="?", help="a registered grid name (see --list) or a .json/.toml/.yaml grid file")
    p.add_argument("--store", help="result store directory (created if absent)")
    backend = p.add_mutually_exclusive_group()
    backend.add_argument("--workers", type=int, help="run on a local Dask cluster of N worker processes")
    backend.add_argument("--scheduler", help="run on an existing Dask cluster (scheduler address)")
    p.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, help="configs trained together per task (default %(default)s)")
    p.add_argument("--retries", type=int, default=2, help="retries of a failing task (default %(default)s)")
    p.add_argument("--threads", type=int, help="torch threads per run (default: cores, or cores // workers)")
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import MODULE first (registers extra experiment kinds or grids); repeatable")
    p.add_argument("--list", action="store_true", help="list the registered grids and exit")
    p.add_argument("--dry-run", action="store_true", help="say what would run, run nothing")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None, help="always show the progress bar")
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="never show the progress bar")
    return p


def _passive_openmp() -> None:
    """Let idle OpenMP threads sleep instead of spin (before torch loads its OpenMP runtime).

    With the default active wait, 2-thread torch on a 2-core machine that anything else
    also uses collapses (measured: the smoke grid 62 s instead of 3 s); passive waiting
    costs little when the machine is idle. An explicit ``OMP_WAIT_POLICY`` is kept.
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit code."""
    _passive_openmp()
    args = _parser().parse_args(argv)
    try:
        for module in args.imports:
            try:
                importlib.import_module(module)
            except (ImportError, ValueError, TypeError) as exc:  # also '' and relative names
                raise ValueError(f"--import {module!r}: {exc}") from None
        if args.list:
            for grid in list_grids():
                print(f"{grid.name:16s} {grid.description}")
            return 0
        if not args.grid:
            raise ValueError("GRID is required (a grid name or file; --list shows the names)")
        if not args.store:
            raise ValueError("--store DIR is required")
        if args.workers is not None and args.workers < 1:
            raise ValueError(f"--workers must be an integer >= 1, got {args.workers}")
        configs = grid_configs(args.grid)
        if args.dry_run:
            store = ResultStore(args.store, create=False) if Path(args.store).is_dir() else None
            todo = store.missing(configs) if store is not None else list(configs)
            chunks = plan_chunks(todo, args.chunk_size) if todo else []
            print(f"{args.grid}: {len(configs)} runs, {len(configs) - len(todo)} stored, "
                  f"{len(todo)} to run in {len(chunks)} chunk(s)")
            return 0
        report = run_sweep(
            configs,
            args.store,
            workers=args.workers,
            scheduler=args.scheduler,
            chunk_size=args.chunk_size,
            retries=args.retries,
            threads=args.threads,
            progress=args.progress,
        )
    except (ValueError, TypeError, OSError) as exc:
        print(f"sweep: error: {one_line(exc)}", file=sys.stderr)  # one line (YAML errors span several)
        return 2
    except KeyboardInterrupt:
        print("sweep: interrupted; finished runs are stored, rerun the same command to resume", file=sys.stderr)
        return 130
    print(f"{args.grid}: {report.summary()}; store {args.store}")
    for fail in report.failed:
        print(f"  FAILED {fail['key']} {fail['config']}: {fail['error']}", file=sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
