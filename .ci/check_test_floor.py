#!/usr/bin/env python3
"""The floor on the number of tests CI runs (used by ``.ci/run``; standard library only).

``tests/conftest.py`` writes a summary of the run to ``$FPE_TEST_SUMMARY`` (JSON: ``ran`` =
passed + failed + xfailed + xpassed, skipped tests not counted). This check fails when
``ran`` is more than ``--tolerance`` (10%) below the recorded floor in ``.ci/test-floor``, so
a module that stops importing, a blanket ``importorskip`` or a marker expression gone wrong
cannot silently drop tests while CI stays green. Adding tests never trips it.

    python .ci/check_test_floor.py SUMMARY.json            # check
    python .ci/check_test_floor.py SUMMARY.json --record   # write the count just run as the floor
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

FLOOR_FILE = Path(__file__).resolve().parent / "test-floor"


def read_floor(path: Path) -> int:
    """The first non-comment line of ``path``: a non-negative integer."""
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            value = int(line)
            if value < 0:
                raise ValueError(f"the floor in {path} must be >= 0, got {value}")
            return value
    raise ValueError(f"{path} holds no floor (a line with the number of tests)")


def write_floor(path: Path, ran: int) -> None:
    """Replace the number in ``path`` by ``ran``, keeping its comment lines."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    comments = [line for line in lines if line.strip().startswith("#")]
    path.write_text("\n".join(comments + [str(ran)]) + "\n", encoding="utf-8")


def check(ran: int, floor: int, tolerance: float) -> tuple[bool, int]:
    """(ok, minimum): ok iff ``ran >= minimum = ceil(floor * (1 - tolerance))``."""
    minimum = math.ceil(floor * (1 - tolerance))
    return ran >= minimum, minimum


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("summary", help="the JSON file tests/conftest.py wrote ($FPE_TEST_SUMMARY)")
    p.add_argument("--floor-file", type=Path, default=FLOOR_FILE)
    p.add_argument("--tolerance", type=float, default=0.10, help="allowed drop below the floor (default 0.10)")
    p.add_argument("--record", action="store_true", help="write the count just run as the new floor")
    args = p.parse_args(argv)
    if not 0 <= args.tolerance < 1:
        print(f"check_test_floor: --tolerance must be in [0, 1), got {args.tolerance}", file=sys.stderr)
        return 2
    try:
        doc = json.loads(Path(args.summary).read_text(encoding="utf-8"))
        ran = int(doc["ran"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"check_test_floor: no usable test summary in {args.summary} ({exc}); did pytest run "
              f"with tests/conftest.py?", file=sys.stderr)
        return 1
    if args.record:
        write_floor(args.floor_file, ran)
        print(f"check_test_floor: recorded floor {ran} in {args.floor_file}")
        return 0
    try:
        floor = read_floor(args.floor_file)
    except (OSError, ValueError) as exc:
        print(f"check_test_floor: {exc}", file=sys.stderr)
        return 1
    ok, minimum = check(ran, floor, args.tolerance)
    if not ok:
        print(f"check_test_floor: only {ran} tests ran, fewer than {minimum} (the floor {floor} in "
              f"{args.floor_file} less {args.tolerance:.0%}); if tests were removed on purpose, "
              f"record the new count with `.ci/run --record-floor`", file=sys.stderr)
        return 1
    print(f"check_test_floor: {ran} tests ran (floor {floor}, minimum {minimum})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
