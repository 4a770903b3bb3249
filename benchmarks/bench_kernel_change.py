"""Benchmark: the Monte Carlo kernels of this tree vs those of an earlier commit, side by side.

A kernel change (a new model's branch, new registers) must not slow the existing models.
This loads ``fpe_theory/_kernels.py`` as of ``--old`` (``git show``) into a temporary module
next to the current one and times ``simulate_batch`` of both on the same inputs, round-robin,
median of ``--repeats`` (>= 5), on 1 thread (the kernels' own cost, least distorted by other
processes), as wall time and as this process's CPU time (less sensitive to other processes
on a shared machine). Results of both must be identical (asserted: the streams of existing models do
not change).

    .venv/bin/python benchmarks/bench_kernel_change.py --old f2db320
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CASES = [("partition", 32, 4, 2, 64, False), ("partition", 8, 4, 2, 8, False), ("partition", 32, 4, 4, 64, False),
         ("subset", 32, 4, 2, 64, False), ("two_four", 32, 4, 2, 64, False), ("partition", 32, 4, 2, 64, True)]
OLD_NAMES = {"subset": "independent"}  # the old kernels' name of the model


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _run(K, code, c, k, a, n_par, shuffled, trials):
    n = c * k
    labs = np.empty(((trials + K.CHUNK - 1) // K.CHUNK, K.padded(n)), dtype=K.label_dtype(a))
    out = (np.empty(trials, np.int32), np.empty(trials, np.int64), np.empty(trials, np.int32), np.empty(trials, np.int8))
    K.simulate_batch(c, k, a, n_par, code, shuffled, K.use_words(k, shuffled, a), np.uint64(1), 0, trials, labs, *out)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--old", default="f2db320", help="git commit of the old kernels (default f2db320)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--trials", type=int, default=20000)
    args = p.parse_args(argv)
    if args.repeats < 5:
        p.error("--repeats must be >= 5")
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{args.old}:fpe_theory/_kernels.py"],
                         capture_output=True, text=True, check=True).stdout
    tmp = Path(tempfile.mkdtemp(prefix="old_kernels_"))
    (tmp / "old_kernels.py").write_text(src)
    old = _load(tmp / "old_kernels.py", "old_kernels")
    from fpe_theory import _kernels as new

    numba.set_num_threads(1)
    load0 = os.getloadavg()
    rows = []
    for model, c, k, a, n_par, shuffled in CASES:
        codes = (old.MODEL_CODES[OLD_NAMES.get(model, model)], new.MODEL_CODES[model])
        res = [_run(K, code, c, k, a, n_par, shuffled, 256) for K, code in zip((old, new), codes)]  # compile
        assert all(np.array_equal(x, y) for x, y in zip(*res)), f"{model}: the stream changed"
        times, cpu = ([], []), ([], [])
        for _ in range(args.repeats):
            for i, (K, code) in enumerate(zip((old, new), codes)):
                t0, c0 = time.perf_counter(), time.process_time()
                _run(K, code, c, k, a, n_par, shuffled, args.trials)
                times[i].append((time.perf_counter() - t0) / args.trials)
                cpu[i].append((time.process_time() - c0) / args.trials)
        t_old, t_new = (statistics.median(t) for t in times)
        c_old, c_new = (statistics.median(t) for t in cpu)
        m_old, m_new = (min(t) for t in cpu)
        rows.append((f"{model} C={c} k={k} a={a} N={n_par}" + (" shuffled" if shuffled else ""), t_old, t_new,
                     c_old, c_new, m_old, m_new))
    load1 = os.getloadavg()
    print(f"old kernels: {args.old}; 1 numba thread; median of {args.repeats} round-robin repeats of "
          f"{args.trials} trials; load average before {load0[0]:.2f}, after {load1[0]:.2f}")
    print(f"  {'config':<40} {'old us/trial':>12} {'new us/trial':>12} {'new / old':>9} | {'CPU new / old':>13} "
          f"{'min CPU new / old':>17}")
    for name, t_old, t_new, c_old, c_new, m_old, m_new in rows:
        print(f"  {name:<40} {t_old * 1e6:12.2f} {t_new * 1e6:12.2f} {t_new / t_old:9.3f} | {c_new / c_old:13.3f} "
              f"{m_new / m_old:17.3f}")
    print("  (min: the least disturbed of the repeats, the most robust figure on a shared machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
