"""The DNF training stage of ``make run``'s quick profile, timed (wall and CPU seconds).

    .venv/bin/python benchmarks/bench_quick_dnf.py [--workers N] [--store DIR]

Trains what ``paper_figures --profile quick`` and ``validation --profile quick`` need from
DNF networks (the case-study, Figure 3a/3b/3c/4 grids and the coverage runs of the quick
profile: the paper's schedule, 1000 + 1000 epochs on 40,000 samples, 3 seeds) into a fresh
store, the same sweep ``make run`` runs, and prints wall time, CPU time and the load.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def quick_dnf_configs() -> list:
    """Every DNF / DNF-coverage config the quick profile's figures and claims need."""
    from fpe_empirical.sweeps.targets import DNF_TARGETS, configs, dedupe
    from validation.needs import coverage_configs

    out = []
    for target in DNF_TARGETS:
        out += list(configs(target, "quick"))
    return dedupe(out) + coverage_configs("quick")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=None, help="Dask workers (default: in-process, as make run)")
    p.add_argument("--store", help="store directory (default: a fresh temporary one)")
    args = p.parse_args(argv)
    from fpe_empirical.sweeps.sweep import run_sweep

    cfgs = quick_dnf_configs()
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store or str(Path(tmp) / "store")
        load0 = os.getloadavg()[0]
        t, c = time.perf_counter(), time.process_time()
        report = run_sweep(cfgs, store, workers=args.workers, progress=False)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        child = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu += child.ru_utime + child.ru_stime
    print(f"quick-profile DNF stage: {len(cfgs)} configs ({report.summary()})")
    print(f"wall {wall:.1f} s, CPU {cpu:.1f} s; load average {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end "
          f"on {os.cpu_count()} cores")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
