"""Throughput cost of batch-composition invariance: this tree's ensemble vs an older commit's.

    .venv/bin/python benchmarks/bench_invariance_cost.py [--baseline 082e213] [--repeats 5] [--threads 1 2]

The baseline commit's ``fpe_empirical`` (default: the last commit before the invariance
fix, whose stacks padded members to shared widths, used all torch threads and re-masked
after every step) is extracted with ``git archive`` into a temporary directory; each timing
runs in a fresh subprocess with either package first on ``sys.path``, alternating old and
new (round-robin), median of ``--repeats``. Workloads, all trained with
``train.train_many(backend="auto")``:

- ``dense64``: 64 dense 32-8-1 DNF models (8 clauses x 4 literals, 8,000 samples, batch 500),
  2 epochs;
- ``chunk``: one sweep chunk of the paper grid (20 configs: 8 clauses, hidden 4/8/12/16,
  5 seeds; dense/clause/random) through ``dnf_experiment.train_dnf_many`` at 20 + 20 epochs,
  the phase-2 stacks mixing widths 4..32 (the old code padded them into shared stacks).

``--threads`` sets torch's thread count in the child (the new code trains stacks with one
thread whatever it is). Prints seconds and new/old ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import os, sys, time
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, sys.argv[1])
import torch
torch.set_num_threads(int(sys.argv[3]))
import fpe_empirical
assert fpe_empirical.__file__.startswith(sys.argv[1]), fpe_empirical.__file__
work = sys.argv[2]
if work == "dense64":
    from fpe_empirical.dnf import make_dnf_dataset
    from fpe_empirical.models import MLP
    from fpe_empirical.train import TrainSettings, train_many
    ds = make_dnf_dataset(8, 4, n_samples=10_000, seed=0)
    models = []
    for i in range(64):
        torch.manual_seed(i)
        models.append(MLP(32, 8, 1))
    s = TrainSettings(epochs=2, batch_size=500, lr=1e-3, weight_decay=1e-4, l1=1e-4)
    data = [(ds.X_train, ds.y_train)] * 64
    train_many(models[:2], data[:2], s.replace(epochs=1), [0, 1], backend="auto")  # warm-up
    start = time.perf_counter()
    train_many(models, data, s, list(range(64)), backend="auto")
else:
    from fpe_empirical.dnf_experiment import DNFExperiment, train_dnf_many
    chunk = [DNFExperiment(n_clauses=8, hidden=h, seed=s, pretrain_epochs=20, split_epochs=20)
             for h in (4, 8, 12, 16) for s in range(5)]
    train_dnf_many([DNFExperiment(n_clauses=3, hidden=4, pretrain_epochs=1, split_epochs=1)], backend="auto")
    start = time.perf_counter()
    train_dnf_many(chunk, backend="auto")
print(time.perf_counter() - start)
"""


def _extract(commit: str, into: Path) -> Path:
    archive = subprocess.run(["git", "archive", commit, "fpe_empirical"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", default="082e213", help="git commit of the baseline (default %(default)s)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--work", nargs="+", default=["dense64", "chunk"], choices=["dense64", "chunk"])
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="fpe-baseline-") as tmp:
        old = str(_extract(args.baseline, Path(tmp)))
        new = str(ROOT)
        print(f"baseline {args.baseline} vs working tree; load average before {os.getloadavg()[0]:.2f}")
        times: dict[tuple, list[float]] = {}
        for _ in range(args.repeats):
            for work in args.work:
                for threads in args.threads:
                    for tag, path in (("old", old), ("new", new)):
                        out = subprocess.run([sys.executable, "-c", CHILD, path, work, str(threads)],
                                             cwd=tmp, check=True, capture_output=True, text=True).stdout
                        times.setdefault((work, threads, tag), []).append(float(out.split()[-1]))
        print(f"load average after {os.getloadavg()[0]:.2f}; median of {args.repeats}, seconds\n")
        print("| workload | torch threads | old s | new s | new / old |")
        print("|---|---|---|---|---|")
        for work in args.work:
            for threads in args.threads:
                o = statistics.median(times[(work, threads, "old")])
                n = statistics.median(times[(work, threads, "new")])
                print(f"| {work} | {threads} | {o:.2f} | {n:.2f} | {n / o:.2f} |")


if __name__ == "__main__":
    main()
