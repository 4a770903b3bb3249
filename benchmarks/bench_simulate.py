"""Benchmark: fpe_theory.simulate (Numba) vs the plain NumPy reference, threads, raw RNG.

Measures side by side in one process, round-robin, median of ``--repeats`` (>= 5):
- time per trial of ``simulate`` on 1 and 2 threads;
- time per trial of the NumPy reference (argsort of float64 random keys per parent), and of
  the same with float32 keys (a faster NumPy baseline, for honesty); for the literal model,
  whose reference replays the kernels' own stream bit for bit (slow by design), the NumPy
  baseline is instead ``Generator.integers(0, alpha)`` labels (uint8 / int64) counted the
  same vectorised way;
- the raw xoshiro256** throughput of this machine (64-bit outputs per second, 1 and 2
  threads) and the fraction of it the simulator reaches, counted two ways: bounded draws
  per second (a partition trial needs N·(n-1)) over raw outputs per second, and 64-bit
  outputs actually consumed (4 draws per output for bounds <= 4096) over raw outputs.

    .venv/bin/python benchmarks/bench_simulate.py               # C=32, k=4, alpha=2, N=64
    .venv/bin/python benchmarks/bench_simulate.py --config 8,4,2,8 --model subset
    .venv/bin/python benchmarks/bench_simulate.py --model literal

Other processes distort timings: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numba
import numpy as np

import fpe_theory as ft
from fpe_theory import _kernels as K
from fpe_theory._reference import _count_labels, simulate_reference


def _draws_per_trial(c, k, a, n_par, model, layout):
    """(bounded draws, 64-bit outputs) one trial needs, without rejections: bounds <= 4096
    take 16-bit slices (4 per output), larger ones 32-bit halves (see _kernels)."""
    n = c * k
    d = n // a

    def outputs(bounds):
        big = sum(1 for b in bounds if b > K.SMALL_BOUND)
        return big / 2 + (len(bounds) - big) / 4

    fy = list(range(n, 1, -1))
    per_parent = {"partition": fy, "subset": list(range(n, n - d, -1)) * a,
                  "two_four": [6] * (n // 4), "literal": [a] * n}[model]
    extra = fy if layout == "shuffled" else []
    draws = n_par * len(per_parent) + len(extra)
    return draws, n_par * outputs(per_parent) + outputs(extra)


def _time(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process: all its threads)."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default="32,4,2,64", help="n_clauses,clause_size,alpha,n_parents")
    p.add_argument("--model", default="partition", choices=["partition", "subset", "literal", "two_four"])
    p.add_argument("--layout", default="contiguous", choices=["contiguous", "shuffled"])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--trials", type=int, default=20000, help="trials per numba timing")
    p.add_argument("--numpy-trials", type=int, default=1000, help="trials per NumPy timing")
    p.add_argument("--raw-draws", type=int, default=20_000_000, help="64-bit outputs per raw timing")
    args = p.parse_args(argv)
    if args.repeats < 5:
        p.error("--repeats must be >= 5")
    c, k, a, n_par = (int(x) for x in args.config.split(","))
    threads_max = min(2, numba.config.NUMBA_NUM_THREADS)
    load0 = os.getloadavg()

    def numba_run(threads):
        return lambda: ft.simulate(c, k, a, n_par, trials=args.trials, seed=1, model=args.model,
                                   layout=args.layout, threads=threads)

    def numpy_run(dtype):
        if args.model == "literal":  # i.i.d. labels: NumPy's own generator, not the stream replay
            def literal():
                rng = np.random.default_rng(1)
                lab_dtype = np.uint8 if dtype == np.float32 and a <= 255 else np.int64
                for start in range(0, args.numpy_trials, 256):
                    t = min(256, args.numpy_trials - start)
                    labels = rng.integers(0, a, size=(t, n_par, c * k), dtype=lab_dtype)
                    pos = np.broadcast_to(np.arange(c * k), (t, c * k))
                    _count_labels(labels, pos, c, k, a)
            return literal
        return lambda: simulate_reference(c, k, a, n_par, trials=args.numpy_trials, seed=1,
                                          model=args.model, layout=args.layout, key_dtype=dtype)

    def raw_run(threads):
        def f():
            prev = numba.get_num_threads()
            numba.set_num_threads(threads)
            try:
                K.raw_generator_throughput(64, args.raw_draws // 64, 1)
            finally:
                numba.set_num_threads(prev)
        return f

    # warm-up: compilation and caches
    for f in (numba_run(1), numpy_run(np.float64), raw_run(1)):
        f()
    lit = args.model == "literal"
    cases = {
        "numpy float64 keys": (numpy_run(np.float64), args.numpy_trials),  # literal: int64 labels
        "numpy float32 keys": (numpy_run(np.float32), args.numpy_trials),  # literal: uint8 labels
        "numba 1 thread": (numba_run(1), args.trials),
        f"numba {threads_max} threads": (numba_run(threads_max), args.trials),
    }
    raw_cases = {1: raw_run(1), threads_max: raw_run(threads_max)}
    times = {name: [] for name in cases}
    cpu = {name: [] for name in cases}
    raw = {t: [] for t in raw_cases}
    for _ in range(args.repeats):  # round-robin: every case sees the same load drift
        for name, (fn, n) in cases.items():
            wall, cpu_s = _time(fn)
            times[name].append(wall / n)
            cpu[name].append(cpu_s / n)
        for t, fn in raw_cases.items():
            raw[t].append(args.raw_draws / _time(fn)[0])
    load1 = os.getloadavg()

    med = {name: statistics.median(v) for name, v in times.items()}
    raw_med = {t: statistics.median(v) for t, v in raw.items()}
    draws, outputs = _draws_per_trial(c, k, a, n_par, args.model, args.layout)
    print(f"config: n_clauses={c} clause_size={k} alpha={a} n_parents={n_par} model={args.model} "
          f"layout={args.layout}; {draws} bounded draws = {outputs:.0f} 64-bit outputs per trial")
    print(f"machine: {os.cpu_count()} CPUs, numba {numba.__version__} ({numba.threading_layer()} layer), "
          f"numpy {np.__version__}; load average before {load0[0]:.2f}, after {load1[0]:.2f}")
    print(f"median of {args.repeats} round-robin repeats"
          + ("; literal: the NumPy rows are Generator.integers labels, int64 ('float64 keys') and uint8 "
             "('float32 keys')" if lit else "") + "\n")
    base = med["numpy float64 keys"]
    cmed = {name: statistics.median(v) for name, v in cpu.items()}
    cbase = cmed["numpy float64 keys"]
    print(f"  {'':<22} {'wall':>10}            {'speedup':>7}        | {'CPU time':>9}  {'CPU speedup':>11}")
    for name, v in med.items():
        print(f"  {name:<22} {v * 1e6:10.2f} us/trial   {base / v:7.1f}x        | "
              f"{cmed[name] * 1e6:9.2f} us  {cbase / cmed[name]:10.1f}x")
    print("  (speedups vs the float64 NumPy reference; CPU time = all threads of this process,"
          " insensitive to other processes' load)")
    n1, n2 = med["numba 1 thread"], med[f"numba {threads_max} threads"]
    c1 = statistics.median(cpu["numba 1 thread"])
    c2 = statistics.median(cpu[f"numba {threads_max} threads"])
    print(f"\n  thread scaling numba 1 -> {threads_max} threads: {n1 / n2:.2f}x wall clock "
          f"(CPU time per trial {c1 * 1e6:.2f} -> {c2 * 1e6:.2f} us: parallel work efficiency "
          f"{c1 / c2:.0%}; on an idle machine wall scaling approaches {threads_max} x efficiency)")
    print(f"  speedup vs NumPy float64 on {threads_max} threads: {base / n2:.1f}x wall clock "
          f"(vs NumPy float32: {med['numpy float32 keys'] / n2:.1f}x); from CPU time, "
          f"{cbase / c1:.1f}x per core, so {threads_max} idle cores would give about "
          f"{cbase / c2 * threads_max:.0f}x")
    for t, r in raw_med.items():
        per_trial = n1 if t == 1 else n2
        rate = draws / per_trial  # bounded draws per second
        used = outputs / per_trial  # 64-bit outputs per second the kernel consumes
        print(f"  raw xoshiro256** {t} thread(s): {r / 1e6:6.0f} M outputs/s | simulate: "
              f"{rate / 1e6:5.0f} M draws/s = {rate / r:5.1%} of the raw rate "
              f"(consuming {used / 1e6:4.0f} M outputs/s = {used / r:5.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
