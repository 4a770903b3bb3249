"""DNF training throughput, end to end, against a plain PyTorch loop and sgemm peak, in ONE run.

    .venv/bin/python benchmarks/bench_throughput.py [--grid benchmarks/grids/slice24.json] [--workers 2]
    .venv/bin/python benchmarks/bench_throughput.py --estimate [--epochs 3]

``--estimate``: the ``dnf-paper`` grid's training at 40,000 samples from CPU time on one
thread: per clause count one family (phase 1: the 4 dense widths; phase 2: dense control,
clause and random split of each, 12 models), ``--epochs`` epochs each, scaled to 5 seeds x
1000 epochs; beside it the plain loop's steps per CPU-second in the same process.

1. ``python -m fpe_empirical.sweep GRID --store <fresh> --workers N`` as a subprocess: wall
   time (process start, data, training, metrics, storing: everything), and the grid's
   model-steps (``sum over configs of ceil(n_train / batch) x (pretrain_epochs + split_epochs
   x len(strategies))``) per second.
2. The plain loop, in a 1-thread subprocess, before and after the sweep:
   ``nn.Sequential(Linear(60, 16), ReLU, Linear(16, 1))`` + ``Adam``, BCE, batch 500, random
   batches of a resident tensor: steps per second (median of the two).
3. ``torch.mm`` of 2048 x 2048 float32 with the sweep's total thread count (= cores used):
   the machine's sgemm peak in FLOP/s.

Printed: model-steps/s, the ratio to the plain loop (model-steps/s over plain steps/s), and
the achieved FLOP/s over sgemm FLOP/s, where the useful arithmetic of one model-step of a
width-``h`` model on ``K`` inputs and a batch of ``b`` is ``4 b K h + 8 b h`` (forward first
layer 2bKh, first-layer weight gradient 2bKh; the second layer and ReLU 8bh; no input
gradient is needed). The 1-minute load average is sampled during the sweep. On a shared
machine wall-clock rates depend on what else runs; CPU-time rates (the sweep's CPU seconds,
all its processes, from ``getrusage``; the plain loop's and sgemm's ``process_time``) do
much less, so both are printed: "per core" ratios use CPU time, and N free cores multiply
them by N when the workers scale.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_GRID = ROOT / "benchmarks" / "grids" / "slice24.json"

PLAIN = r"""
import os, sys, time, torch
torch.set_num_threads(1)
torch.manual_seed(0)
X = torch.rand(20000, 60); y = (torch.rand(20000) < 0.5).float()
net = torch.nn.Sequential(torch.nn.Linear(60, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
loss_fn = torch.nn.BCEWithLogitsLoss()
def steps(n):
    for _ in range(n):
        idx = torch.randint(0, 20000, (500,))
        opt.zero_grad(); loss = loss_fn(net(X[idx]).squeeze(1), y[idx]); loss.backward(); opt.step()
steps(50)
n = int(sys.argv[1]); t = time.perf_counter(); c = time.process_time(); steps(n)
print(n / (time.perf_counter() - t), n / (time.process_time() - c))
"""

SGEMM = r"""
import sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
a = torch.rand(2048, 2048); b = torch.rand(2048, 2048); c = torch.mm(a, b)
best, cpu = 1e9, 1e9
for _ in range(7):
    t = time.perf_counter(); p = time.process_time(); torch.mm(a, b, out=c)
    best = min(best, time.perf_counter() - t); cpu = min(cpu, time.process_time() - p)
print(2 * 2048 ** 3 / best, 2 * 2048 ** 3 / cpu)
"""


class _Load:
    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(5.0)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()


def _python(code: str, *args: str) -> tuple[float, float]:
    """(per wall second, per CPU second) the snippet prints."""
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True)
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def grid_work(grid: str) -> tuple[int, float]:
    """(model-steps, useful FLOPs) of the grid (module docstring)."""
    sys.path.insert(0, str(ROOT))
    from fpe_empirical.sweeps.grids import grid_configs

    steps, flops = 0, 0.0
    for c in grid_configs(grid):
        n_test = round(c.test_fraction * c.n_samples)
        n_train = c.n_samples - n_test
        per_epoch = math.ceil(n_train / c.batch_size)
        K = c.n_literals
        widths = [c.hidden] * 1  # phase 1: the dense model
        phase1 = per_epoch * c.pretrain_epochs
        steps += phase1
        flops += phase1 * (4 * n_train / per_epoch * K * c.hidden + 8 * n_train / per_epoch * c.hidden)
        for s in c.strategies:
            h = c.hidden if s == "dense" else c.hidden * c.alpha
            widths.append(h)
            phase2 = per_epoch * c.split_epochs
            steps += phase2
            flops += phase2 * (4 * n_train / per_epoch * K * h + 8 * n_train / per_epoch * h)
    return steps, flops


def estimate(epochs: int) -> int:
    """The ``--estimate`` mode (module docstring)."""
    import copy

    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(ROOT))
    from fpe_empirical.data.dnf import make_dnf_dataset
    from fpe_empirical.nn.expand import fpe_expand
    from fpe_empirical.nn.models import MLP
    from fpe_empirical.training.settings import TrainSettings
    from fpe_empirical.training.wide import _Family

    s = TrainSettings(epochs=epochs, batch_size=500, lr=1e-3, weight_decay=1e-4, l1=1e-4)
    total, steps = 0.0, 0
    for C in (3, 6, 8, 10, 15, 20, 25, 32):
        ds = make_dnf_dataset(n_clauses=C, clause_size=4, n_samples=40000, seed=1)
        X, y = ds.X_train, ds.y_train
        torch.manual_seed(0)
        p1 = [MLP(4 * C, h, 1) for h in (4, 8, 12, 16)]
        groups = [[copy.deepcopy(b) for b in p1]]
        groups.append([m for b in p1 for m in (copy.deepcopy(b), fpe_expand(b, 2, strategy="random", seed=1),
                                               fpe_expand(b, 2, strategy="clause", groups=[list(c) for c in ds.clauses],
                                                          seed=2))])
        per = []
        for ms in groups:
            _Family(copy.deepcopy(ms), X, y, s.replace(epochs=1)).train(1)  # compile / warm up
            fam = _Family(copy.deepcopy(ms), X, y, s)
            t = time.process_time()
            fam.train(1)
            per.append((time.process_time() - t) / epochs)
        total += 5 * 1000 * sum(per)
        steps += 5 * 1000 * 64 * 16
        print(f"n_clauses {C:2d}: phase 1 {per[0] * 1e3:.1f} ms/epoch, phase 2 {per[1] * 1e3:.1f} ms/epoch (CPU)", flush=True)
    plain = _python(PLAIN, "3000")
    rate = steps / total
    print(f"dnf-paper training at 40,000 samples: {total / 60:.1f} CPU-minutes on one thread, {rate:,.0f} model-steps "
          f"per CPU-second; plain loop {plain[1]:,.0f} steps per CPU-second: {rate / plain[1]:.1f}x per core; "
          f"2 free cores: {total / 120:.1f} min of training")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", default=str(DEFAULT_GRID), help="grid name or file (default: the 24-run slice)")
    p.add_argument("--workers", type=int, default=2, help="Dask workers of the sweep (0: in-process)")
    p.add_argument("--plain-steps", type=int, default=3000)
    p.add_argument("--estimate", action="store_true", help="estimate the dnf-paper grid's training from CPU time")
    p.add_argument("--epochs", type=int, default=3, help="epochs per phase of --estimate")
    args = p.parse_args(argv)
    if args.estimate:
        return estimate(args.epochs)
    model_steps, flops = grid_work(args.grid)
    threads = max(args.workers, 1) if args.workers else (os.cpu_count() or 1)
    plain = [_python(PLAIN, str(args.plain_steps))]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "fpe_empirical.sweep", args.grid, "--store", str(Path(tmp) / "store"), "--no-progress"]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        with _Load() as load:
            t = time.perf_counter()
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            wall = time.perf_counter() - t
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        if r.returncode != 0:
            print(r.stdout, r.stderr, file=sys.stderr)
            return 1
    plain.append(_python(PLAIN, str(args.plain_steps)))
    sgemm = _python(SGEMM, str(threads))
    plain_rate = statistics.median(p[0] for p in plain)
    plain_cpu = statistics.median(p[1] for p in plain)
    rate, rate_cpu = model_steps / wall, model_steps / cpu
    print(f"command: {' '.join(cmd[1:])}")
    print(f"grid: {args.grid}: {model_steps:,} model-steps, {flops / 1e12:.2f} TFLOP useful arithmetic")
    print(f"sweep wall time: {wall:.1f} s, CPU time {cpu:.1f} s (all processes) "
          f"({r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ''})")
    print(f"load average during the sweep: {min(load.samples):.1f}-{max(load.samples):.1f} on {os.cpu_count()} cores")
    print(f"wall clock: {rate:,.0f} model-steps/s; plain one-thread loop {plain_rate:,.0f} steps/s "
          f"(before {plain[0][0]:,.0f}, after {plain[1][0]:,.0f}); ratio {rate / plain_rate:.1f}x")
    print(f"CPU time (robust on a shared machine): {rate_cpu:,.0f} model-steps per CPU-second; plain loop "
          f"{plain_cpu:,.0f} steps per CPU-second; ratio per core {rate_cpu / plain_cpu:.1f}x, "
          f"on {threads} free cores {threads * rate_cpu / plain_cpu:.1f}x")
    print(f"achieved: {flops / wall / 1e9:.1f} GFLOP/s wall, {flops / cpu / 1e9:.1f} GFLOP per CPU-second; torch.mm 2048^2 "
          f"on {threads} thread(s): {sgemm[0] / 1e9:.1f} GFLOP/s wall, {sgemm[1] / 1e9:.1f} GFLOP per CPU-second; "
          f"fraction of sgemm peak: {flops / wall / sgemm[0]:.2f} (wall), {flops / cpu / sgemm[1]:.2f} (CPU time)")
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "model_steps": model_steps, "model_steps_per_s": rate,
                      "model_steps_per_cpu_s": rate_cpu, "plain_steps_per_s": plain_rate, "plain_steps_per_cpu_s": plain_cpu,
                      "ratio_plain": rate / plain_rate, "ratio_plain_per_core_cpu": rate_cpu / plain_cpu,
                      "gflops": flops / wall / 1e9, "sgemm_gflops": sgemm[0] / 1e9,
                      "fraction_sgemm": flops / wall / sgemm[0], "fraction_sgemm_cpu": flops / cpu / sgemm[1]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
