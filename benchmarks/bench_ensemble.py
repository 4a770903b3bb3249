"""Batched ensemble vs one-by-one training, and masked vs dense training steps.

    .venv/bin/python benchmarks/bench_ensemble.py [--members 64] [--epochs 2] [--repeats 5]

Measured side by side in one process, round-robin, median of ``--repeats``:

1. throughput: ``--members`` tiny DNF models (8 clauses x 4 literals, 8,000 training
   samples, batch 500, Adam + L1 + weight decay) trained one by one with ``train.train``
   vs all at once with ``ensemble.train_ensemble``, for (a) dense 32-8-1 models (the
   PERFORMANCE.md setting) and (b) a sweep-like mix: half dense 32-8-1, half random-split
   32-16-1 with masks. Goal: >= 10x.
2. masked vs dense step of the same shapes (32-16-1): a random-split ``MLP`` (mask
   multiplied in forward, ``apply_masks_`` after every step) vs a plain ``nn.Linear``
   network with no masks, one model at a time; and the same inside an ensemble (masked
   members vs all-dense members, whose stack skips masking). Goal: <= 1.2x.

Correctness is checked before anything is timed (ensemble losses equal the loop's).

Threads: the ensemble trains every stack with one torch thread (``ensemble.py``: with more,
a member's result would depend on its stack's size); ``--threads`` sets the threads of the
one-by-one baseline (torch's default: all cores).

``--stack-sizes`` instead prints the time per model-step of 64 members cut into stacks of
4..64 (why ``ensemble.STACK_CACHE_BYTES`` cuts stacks).
"""

from __future__ import annotations

import os

# as the sweep CLI does: idle OpenMP threads sleep instead of spinning (must precede torch);
# run with OMP_WAIT_POLICY=ACTIVE to measure torch's default
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from fpe_empirical.dnf import make_dnf_dataset
from fpe_empirical.ensemble import train_ensemble
from fpe_empirical.expand import fpe_expand
from fpe_empirical.models import MLP
from fpe_empirical.train import TrainSettings, train


def _models(members: int, *, mixed: bool) -> list[MLP]:
    out = []
    for i in range(members):
        torch.manual_seed(i)
        m = MLP(32, 8, 1)
        if mixed and i % 2:
            m = fpe_expand(m, 2, strategy="random", seed=i)
        out.append(m)
    return out


def _dense_train(model: nn.Sequential, X, y, s: TrainSettings, seed: int) -> None:
    """``train.train`` without masks: plain nn.Linear layers, no apply_masks_."""
    opt = torch.optim.Adam(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    gen = torch.Generator().manual_seed(seed)
    n = X.shape[0]
    first = model[0]
    for _ in range(s.epochs):
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, s.batch_size):
            idx = perm[start : start + s.batch_size]
            loss = F.binary_cross_entropy_with_logits(model(X[idx]).squeeze(-1), y[idx].float())
            loss = loss + s.l1 * first.weight.abs().sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def stack_sizes(repeats: int) -> None:
    """Per model-step time of 64 members cut into stacks of 4..64 (the cache effect behind
    ``ensemble.STACK_CACHE_BYTES``); results are identical for any cut."""
    from fpe_empirical.ensemble import _train_stack

    s = TrainSettings(epochs=2, batch_size=500, lr=1e-3, weight_decay=1e-4, l1=1e-4)
    M = 64
    print("| member shape | " + " | ".join(f"stacks of {k}" for k in (4, 8, 16, 32, 64)) + " | one by one |")
    print("|---|---|---|---|---|---|---|")
    for n_clauses, hidden in ((8, 8), (32, 32)):
        ds = make_dnf_dataset(n_clauses, 4, n_samples=10_000, seed=0)
        X, y = ds.X_train, ds.y_train
        models = []
        for i in range(M):
            torch.manual_seed(i)
            models.append(MLP(X.shape[1], hidden, 1))
        res: dict = {}
        for _ in range(repeats):
            for size in (4, 8, 16, 32, 64):
                ms = copy.deepcopy(models)
                start = time.perf_counter()
                for a in range(0, M, size):
                    _train_stack(ms[a : a + size], [(X, y)] * size, [s] * size, list(range(a, a + size)), progress=False)
                res.setdefault(size, []).append(time.perf_counter() - start)
            ms = copy.deepcopy(models[:8])
            start = time.perf_counter()
            for i, m in enumerate(ms):
                train(m, X, y, s, seed=i)
            res.setdefault("loop", []).append((time.perf_counter() - start) * M / 8)
        steps = M * s.epochs * -(-X.shape[0] // s.batch_size)
        cells = [f"{1e6 * statistics.median(v) / steps:.0f} us" for v in res.values()]
        print(f"| {X.shape[1]}-{hidden}-1 | " + " | ".join(cells) + " |")


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _wall_cpu(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): CPU time is far less disturbed than
    wall time when other jobs share the cores (with 1 torch thread it is the work itself)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--members", type=int, default=64)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="torch threads of the one-by-one baseline (default: torch's)")
    p.add_argument("--stack-sizes", action="store_true", help="time per model-step by stack size instead")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.stack_sizes:
        stack_sizes(args.repeats)
        return
    M = args.members
    datasets = [make_dnf_dataset(8, 4, n_samples=10_000, seed=k) for k in range(4)]
    data = [(datasets[i % 4].X_train, datasets[i % 4].y_train) for i in range(M)]
    s = TrainSettings(epochs=args.epochs, batch_size=500, lr=1e-3, weight_decay=1e-4, l1=1e-4)
    base = _models(M, mixed=True)
    dense8 = _models(M, mixed=False)
    n = data[0][0].shape[0]
    steps = M * args.epochs * -(-n // s.batch_size)

    # correctness first: one epoch, ensemble vs loop
    a, b = copy.deepcopy(base), copy.deepcopy(base)
    s1 = s.replace(epochs=1)
    ref = [train(m, X, y, s1, seed=i)[1].epoch_loss[0] for i, (m, (X, y)) in enumerate(zip(a, data))]
    got = [h.epoch_loss[0] for h in train_ensemble(b, data, s1, list(range(M)))]
    worst = max(abs(x - y) for x, y in zip(ref, got))
    assert worst < 1e-4, f"ensemble disagrees with the loop: max loss difference {worst}"

    # 2. masked vs dense shapes 32-16-1
    split = [m for m in base if m.hidden == [16]]
    ones = []
    for i in range(len(split)):
        torch.manual_seed(1000 + i)
        ones.append(MLP(32, 16, 1))  # all-ones masks: the stack skips masking

    def plain(i):
        torch.manual_seed(1000 + i)
        return nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 1))

    X0, y0 = data[0]
    single_n = 8
    keys = ("loop8", "ensemble8", "loop", "ensemble", "single_masked", "single_dense", "ens_masked", "ens_dense")
    timings: dict[str, list[tuple[float, float]]] = {k: [] for k in keys}
    load_before = os.getloadavg()
    for _ in range(args.repeats):
        models = copy.deepcopy(dense8)
        timings["loop8"].append(_wall_cpu(lambda: [train(m, X, y, s, seed=i) for i, (m, (X, y)) in enumerate(zip(models, data))]))
        models = copy.deepcopy(dense8)
        timings["ensemble8"].append(_wall_cpu(lambda: train_ensemble(models, data, s, list(range(M)))))
        models = copy.deepcopy(base)
        timings["loop"].append(_wall_cpu(lambda: [train(m, X, y, s, seed=i) for i, (m, (X, y)) in enumerate(zip(models, data))]))
        models = copy.deepcopy(base)
        timings["ensemble"].append(_wall_cpu(lambda: train_ensemble(models, data, s, list(range(M)))))
        ms = copy.deepcopy(split[:single_n])
        timings["single_masked"].append(_wall_cpu(lambda: [train(m, X0, y0, s, seed=i) for i, m in enumerate(ms)]))
        ds = [plain(i) for i in range(single_n)]
        timings["single_dense"].append(_wall_cpu(lambda: [_dense_train(m, X0, y0, s, i) for i, m in enumerate(ds)]))
        ms = copy.deepcopy(split)
        timings["ens_masked"].append(_wall_cpu(lambda: train_ensemble(ms, [(X0, y0)] * len(ms), s, list(range(len(ms))))))
        ds = copy.deepcopy(ones)
        timings["ens_dense"].append(_wall_cpu(lambda: train_ensemble(ds, [(X0, y0)] * len(ds), s, list(range(len(ds))))))
    load_after = os.getloadavg()
    med = {k: statistics.median(w for w, _ in v) for k, v in timings.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in timings.items()}
    single_steps = single_n * args.epochs * -(-n // s.batch_size)
    ens_steps = len(split) * args.epochs * -(-n // s.batch_size)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}; "
          f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print(f"correctness: max |epoch loss difference| ensemble vs loop = {worst:.2e}")
    print(f"{M} members, {args.epochs} epochs, {n} samples, batch {s.batch_size}; median of {args.repeats}")
    print()
    print("| measurement | wall s | us per model-step | ratio (wall) | CPU s | ratio (CPU) |")
    print("|---|---|---|---|---|---|")

    def row(label, key, base_key, per, faster):
        if key == base_key:
            ratio_w = ratio_c = "1.00"
        elif faster:
            ratio_w = f"**{med[base_key] / med[key]:.1f}x faster**"
            ratio_c = f"{cpu[base_key] / cpu[key]:.1f}x faster"
        else:
            ratio_w = f"**{med[key] / med[base_key]:.2f}x**"
            ratio_c = f"{cpu[key] / cpu[base_key]:.2f}x"
        print(f"| {label} | {med[key]:.3f} | {1e6 * med[key] / per:.0f} | {ratio_w} | {cpu[key]:.3f} | {ratio_c} |")

    row(f"{M} dense 32-8-1 one by one (train.train)", "loop8", "loop8", steps, True)
    row(f"{M} dense 32-8-1 as one ensemble", "ensemble8", "loop8", steps, True)
    row(f"{M} mixed (32-8-1 dense, 32-16-1 split) one by one", "loop", "loop", steps, True)
    row(f"{M} mixed as one ensemble", "ensemble", "loop", steps, True)
    row("single dense 32-16-1 (nn.Linear), 8 models", "single_dense", "single_dense", single_steps, False)
    row("single masked 32-16-1 (MaskedLinear + apply_masks_)", "single_masked", "single_dense", single_steps, False)
    row(f"ensemble x{len(split)} dense 32-16-1", "ens_dense", "ens_dense", ens_steps, False)
    row(f"ensemble x{len(split)} masked 32-16-1", "ens_masked", "ens_dense", ens_steps, False)


if __name__ == "__main__":
    main()
