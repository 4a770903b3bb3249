"""The paper's DNF grid on this machine: wall time, loop vs ensemble, resume after SIGKILL.

    .venv/bin/python benchmarks/bench_grid.py full  [--grid dnf-paper] [--workers N] [--store DIR]
    .venv/bin/python benchmarks/bench_grid.py ratio [--grid dnf-paper] [--epochs 10] [--repeats 3]
    .venv/bin/python benchmarks/bench_grid.py kill  [--grid dnf-fig3b] [--kill-after 12]

``full``  runs ``python -m fpe_empirical.sweep GRID`` into a fresh store as a subprocess and
          reports its wall time (the issue's goal: the 160-run paper grid, 1000 + 1000
          epochs, under 30 minutes on 2 cores), the machine's load average sampled during
          the run, and mean test accuracy per strategy.
``ratio`` trains every config of the grid at a shortened schedule (``--epochs`` per phase)
          with ``train_many``'s ``loop`` backend (the reference: one model at a time) and its
          ``auto`` backend (batched ensembles), chunk by chunk as the sweep cuts them,
          round-robin, median of ``--repeats``; also at 0 epochs, so the per-epoch cost
          (which is what the paper schedule multiplies by 1000) is separated from the fixed
          cost (data, splitting, metrics). Prints the ratio and the paper-schedule estimate.
``kill``  starts the sweep, SIGKILLs it once ``--kill-after`` results are stored, restarts it,
          and reports what was stored at the kill, what the restart re-ran, and checks that
          every run is stored exactly once with a valid checksum.
"""

from __future__ import annotations

import os

# as the sweep CLI does: idle OpenMP threads sleep instead of spinning (must precede torch);
# run with OMP_WAIT_POLICY=ACTIVE to measure torch's default
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import dataclasses
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class _LoadSampler:
    """Samples the 1-minute load average every few seconds while a run is going."""

    def __init__(self, every: float = 5.0) -> None:
        self.every, self.samples = every, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(self.every)

    def __enter__(self) -> "_LoadSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        s = self.samples or [float("nan")]
        return f"load average during the run: mean {statistics.mean(s):.2f}, max {max(s):.2f} ({len(s)} samples)"


def _sweep_cmd(grid: str, store: Path, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "fpe_empirical.sweep", grid, "--store", str(store), *extra]


def _fresh_store(path: str | None, tag: str) -> Path:
    if path is None:
        return Path(tempfile.mkdtemp(prefix=f"fpe-bench-{tag}-"))
    store = Path(path)
    if store.exists() and any(store.glob("*.json")):
        raise SystemExit(f"--store {store} already holds results; give an empty or new directory")
    store.mkdir(parents=True, exist_ok=True)
    return store


def cmd_full(args) -> None:
    store = _fresh_store(args.store, "full")
    extra = ["--progress"] if args.progress else ["--no-progress"]
    if args.workers:
        extra += ["--workers", str(args.workers)]
    if args.chunk_size:
        extra += ["--chunk-size", str(args.chunk_size)]
    cmd = _sweep_cmd(args.grid, store, extra)
    print("command:", " ".join(cmd[1:]).replace(sys.executable, "python"))
    print(f"cores: {os.cpu_count()}; load average before: {os.getloadavg()[0]:.2f}")
    with _LoadSampler() as load:
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, text=True, stdout=subprocess.PIPE)
        wall = time.perf_counter() - start
    print(proc.stdout.strip())
    print(f"wall time: {wall:.1f} s ({wall / 60:.1f} min); exit code {proc.returncode}")
    print(load.summary())
    from fpe_empirical.store import load_results

    df = load_results(store)
    print(f"stored rows: {len(df)} ({df['key'].nunique()} runs)")
    summary = df.groupby("strategy")["test_accuracy"].agg(["mean", "std", "count"])
    print(summary.to_string(float_format=lambda x: f"{x:.4f}"))
    case = df[(df.n_clauses == 8) & (df.hidden == 8)]
    if len(case):
        print("8 clauses x 8 hidden (case study):")
        print(case.groupby("strategy")["test_accuracy"].agg(["mean", "std", "count"]).to_string(float_format=lambda x: f"{x:.4f}"))
    if args.store is None and not args.keep:
        shutil.rmtree(store)
    else:
        print(f"store kept at {store}")


def cmd_ratio(args) -> None:
    import torch

    from fpe_empirical.dnf_experiment import train_dnf_many
    from fpe_empirical.grids import grid_configs
    from fpe_empirical.sweep import DEFAULT_CHUNK_SIZE, plan_chunks

    if args.threads:
        torch.set_num_threads(args.threads)
    configs = grid_configs(args.grid)
    chunks = plan_chunks(configs, args.chunk_size or DEFAULT_CHUNK_SIZE)
    per_phase_epochs = configs[0].pretrain_epochs
    times = {(b, e): [] for b in ("loop", "auto") for e in (0, args.epochs)}
    print(f"{len(configs)} configs in {len(chunks)} chunks; torch threads {torch.get_num_threads()}; "
          f"load average before {os.getloadavg()[0]:.2f}")
    warm = [dataclasses.replace(chunks[-1][0], pretrain_epochs=1, split_epochs=1)]
    for backend in ("loop", "auto"):  # imports, first-call costs
        train_dnf_many(warm, backend=backend)
    with _LoadSampler() as load:
        for _ in range(args.repeats):
            for epochs in (0, args.epochs):
                for backend in ("loop", "auto"):
                    total = 0.0
                    for chunk in chunks:
                        short = [dataclasses.replace(c, pretrain_epochs=epochs, split_epochs=epochs) for c in chunk]
                        start = time.perf_counter()
                        train_dnf_many(short, backend=backend)
                        total += time.perf_counter() - start
                    times[(backend, epochs)].append(total)
                    print(f"  {backend:5s} {epochs:4d}+{epochs} epochs: {total:7.1f} s", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(load.summary())
    print()
    print(f"| backend | fixed (0 epochs) s | {args.epochs}+{args.epochs} epochs s | per epoch-pair s | "
          f"estimate at {per_phase_epochs}+{per_phase_epochs} s |")
    print("|---|---|---|---|---|")
    slope = {}
    for backend in ("loop", "auto"):
        fixed, run = med[(backend, 0)], med[(backend, args.epochs)]
        slope[backend] = (run - fixed) / args.epochs
        est = fixed + slope[backend] * per_phase_epochs
        print(f"| {backend} | {fixed:.1f} | {run:.1f} | {slope[backend]:.3f} | {est:.0f} ({est / 60:.1f} min) |")
    print(f"\nper-epoch speedup of batched ensembles over the loop: {slope['loop'] / slope['auto']:.1f}x "
          f"(total at {args.epochs}+{args.epochs} epochs: {med[('loop', args.epochs)] / med[('auto', args.epochs)]:.1f}x)")


def cmd_kill(args) -> None:
    from fpe_empirical.grids import grid_configs
    from fpe_empirical.store import ResultStore, load_results

    store_dir = _fresh_store(args.store, "kill")
    n_runs = len(grid_configs(args.grid))
    extra = ["--no-progress"] + (["--chunk-size", str(args.chunk_size)] if args.chunk_size else [])
    cmd = _sweep_cmd(args.grid, store_dir, extra)
    print("command:", " ".join(cmd[1:]).replace(sys.executable, "python"), f"({n_runs} runs)")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None and len(list(store_dir.glob("*.json"))) < args.kill_after:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_after = time.perf_counter() - start
    store = ResultStore(store_dir)
    ok, corrupt = store.scan()
    temps = store.temp_files()
    before = {k: store.path(k).read_bytes() for k in ok}
    print(f"SIGKILL after {killed_after:.1f} s: {len(ok)} results stored, {len(corrupt)} corrupt, "
          f"{len(temps)} temp file(s) left by the killed writer")
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    resumed = time.perf_counter() - start
    print(f"restart: {done.stdout.strip()} (exit {done.returncode}, {resumed:.1f} s)")
    ok2, corrupt2 = store.scan()
    unchanged = all(store.path(k).read_bytes() == raw for k, raw in before.items())
    df = load_results(store_dir)
    per_run = df.groupby("key").size()
    print(f"after restart: {len(ok2)}/{n_runs} results, {len(corrupt2)} corrupt, "
          f"{len(store.temp_files())} temp files; results stored before the kill byte-identical: {unchanged}; "
          f"rows per run: {sorted(per_run.unique().tolist())}; re-ran {len(ok2) - len(ok)} runs "
          f"(= {n_runs} - {len(ok)} stored at the kill)")
    if args.store is None:
        shutil.rmtree(store_dir)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode", required=True)
    f = sub.add_parser("full")
    f.add_argument("--grid", default="dnf-paper")
    f.add_argument("--store")
    f.add_argument("--workers", type=int)
    f.add_argument("--chunk-size", type=int)
    f.add_argument("--progress", action="store_true")
    f.add_argument("--keep", action="store_true", help="keep the temporary store")
    r = sub.add_parser("ratio")
    r.add_argument("--grid", default="dnf-paper")
    r.add_argument("--epochs", type=int, default=10)
    r.add_argument("--repeats", type=int, default=3)
    r.add_argument("--chunk-size", type=int)
    r.add_argument("--threads", type=int)
    k = sub.add_parser("kill")
    k.add_argument("--grid", default="dnf-fig3b")
    k.add_argument("--kill-after", type=int, default=12)
    k.add_argument("--store")
    k.add_argument("--chunk-size", type=int)
    args = p.parse_args()
    {"full": cmd_full, "ratio": cmd_ratio, "kill": cmd_kill}[args.mode](args)


if __name__ == "__main__":
    main()
