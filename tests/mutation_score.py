"""Mutation score of the core files on a seeded sample of mutmut's mutants (CONTRIBUTING.md,
"Mutation check"). A full run is hours on 2 cores; a fixed random sample per file gives the
score with a binomial interval in minutes to an hour.

    python tests/mutation_score.py sample > names.txt   # after one `mutmut run` has generated mutants/
    nice -n 10 .venv/bin/mutmut run --max-children 2 $(cat names.txt)
    python tests/mutation_score.py score                # killed / sampled per file, Wilson 95% interval

``--seed`` and ``--sizes`` choose the sample (default: seed 17, 110 / 80 / 80 mutants of
closed_forms.py / expand.py / models.py); ``--exclude-seed 17`` draws a second sample
disjoint from that one (CONTRIBUTING.md's sample 2: ``--seed 18 --sizes 120,60,60
--exclude-seed 17``). Killed: mutmut's exit codes 1 and 3 and its
timeouts; "no tests" and "survived" are not killed. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections import Counter
from pathlib import Path

FILES = {
    "fpe_theory/closed_forms.py": 110,
    "fpe_empirical/nn/expand.py": 80,
    "fpe_empirical/nn/models.py": 80,
}
KILLED = {1, 3, 24, -24, 36, 152, 255}  # mutmut.stats.status_by_exit_code: killed or timeout
STATUS = {None: "not checked", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped"}


def exit_codes(root: Path, path: str) -> dict:
    meta = root / "mutants" / (path + ".meta")
    if not meta.is_file():
        raise SystemExit(f"{meta} is missing: run `mutmut run` once first (it generates the mutants)")
    return json.loads(meta.read_text())["exit_code_by_key"]


def sample(root: Path, seed: int, sizes: list[int], exclude: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """``sizes[i]`` names drawn per file by ``random.Random(seed)`` from the sorted mutant
    names (less those in ``exclude``), the files in ``FILES`` order."""
    rng = random.Random(seed)
    out = {}
    for (path, _), n in zip(FILES.items(), sizes):
        names = sorted(set(exit_codes(root, path)) - set((exclude or {}).get(path, ())))
        out[path] = sorted(rng.sample(names, min(n, len(names))))
    return out


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k/n (95% for z = 1.96)."""
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return c - h, c + h


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python tests/mutation_score.py", description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=("sample", "score"))
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--sizes", default=",".join(str(n) for n in FILES.values()),
                   help="mutants sampled per file, comma-separated (closed_forms, expand, models)")
    p.add_argument("--exclude-seed", type=int, default=None, metavar="SEED",
                   help="draw only names outside the default-size sample of SEED (a second, disjoint sample)")
    p.add_argument("--show", action="store_true", help="score: list the sampled mutants not killed")
    args = p.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]
    if len(sizes) != len(FILES) or min(sizes) < 1:
        p.error(f"--sizes must be {len(FILES)} positive integers, got {args.sizes!r}")
    root = Path.cwd()
    exclude = None if args.exclude_seed is None else sample(root, args.exclude_seed, list(FILES.values()))
    names = sample(root, args.seed, sizes, exclude)
    if args.command == "sample":
        print("\n".join(n for ns in names.values() for n in ns))
        return 0
    for path, ns in names.items():
        codes = exit_codes(root, path)
        status = Counter("killed" if codes.get(n) in KILLED else STATUS.get(codes.get(n), f"exit {codes.get(n)}")
                         for n in ns)
        k, n = status["killed"], len(ns)
        lo, hi = wilson(k, n)
        print(f"{path}: {k}/{n} killed = {100 * k / n:.1f}% (95% interval {100 * lo:.0f}-{100 * hi:.0f}%) {dict(status)}")
        if args.show:
            for name in ns:
                if codes.get(name) not in KILLED:
                    print(f"    {STATUS.get(codes.get(name), codes.get(name))}: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
