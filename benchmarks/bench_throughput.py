"""DNF training throughput, end to end, against a plain PyTorch loop and sgemm peak, in ONE run.

    .venv/bin/python benchmarks/bench_throughput.py [--grid benchmarks/grids/slice24.json] [--workers 2]

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
gradient is needed). The 1-minute load average is sampled during the sweep: on a shared
machine the ratios (measured side by side) mean more than the absolute figures.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import math
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
n = int(sys.argv[1]); t = time.perf_counter(); steps(n); print(n / (time.perf_counter() - t))
"""

SGEMM = r"""
import sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
a = torch.rand(2048, 2048); b = torch.rand(2048, 2048); c = torch.mm(a, b)
best = 1e9
for _ in range(7):
    t = time.perf_counter(); torch.mm(a, b, out=c); best = min(best, time.perf_counter() - t)
print(2 * 2048 ** 3 / best)
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


def _python(code: str, *args: str) -> float:
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", default=str(DEFAULT_GRID), help="grid name or file (default: the 24-run slice)")
    p.add_argument("--workers", type=int, default=2, help="Dask workers of the sweep (0: in-process)")
    p.add_argument("--plain-steps", type=int, default=3000)
    args = p.parse_args(argv)
    model_steps, flops = grid_work(args.grid)
    threads = max(args.workers, 1) if args.workers else (os.cpu_count() or 1)
    plain = [_python(PLAIN, str(args.plain_steps))]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "fpe_empirical.sweep", args.grid, "--store", str(Path(tmp) / "store"), "--no-progress"]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        with _Load() as load:
            t = time.perf_counter()
            r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            wall = time.perf_counter() - t
        if r.returncode != 0:
            print(r.stdout, r.stderr, file=sys.stderr)
            return 1
    plain.append(_python(PLAIN, str(args.plain_steps)))
    sgemm = _python(SGEMM, str(threads))
    plain_rate = statistics.median(plain)
    rate = model_steps / wall
    print(f"command: {' '.join(cmd[1:])}")
    print(f"grid: {args.grid}: {model_steps:,} model-steps, {flops / 1e12:.2f} TFLOP useful arithmetic")
    print(f"sweep wall time: {wall:.1f} s ({r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ''})")
    print(f"load average during the sweep: {min(load.samples):.1f}-{max(load.samples):.1f} on {os.cpu_count()} cores")
    print(f"model-steps/s: {rate:,.0f}")
    print(f"plain one-thread loop: {plain_rate:,.0f} steps/s (before {plain[0]:,.0f}, after {plain[1]:,.0f})")
    print(f"ratio to the plain loop: {rate / plain_rate:.1f}x")
    print(f"achieved: {flops / wall / 1e9:.1f} GFLOP/s; torch.mm 2048^2 on {threads} thread(s): {sgemm / 1e9:.1f} GFLOP/s; "
          f"fraction of sgemm peak: {flops / wall / sgemm:.2f}")
    print(json.dumps({"wall_s": wall, "model_steps": model_steps, "model_steps_per_s": rate, "plain_steps_per_s": plain_rate,
                      "ratio_plain": rate / plain_rate, "gflops": flops / wall / 1e9, "sgemm_gflops": sgemm / 1e9,
                      "fraction_sgemm": flops / wall / sgemm}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
