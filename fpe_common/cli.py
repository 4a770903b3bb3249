"""CLI error conventions shared by the toolkit's command-line tools.

Bad input exits with code 2 and exactly one line on stderr, no traceback:
``OneLineArgumentParser`` does it for argparse errors and ``run_main`` for ``ValueError``,
``TypeError`` and ``OSError`` raised by the program (and 130 on Ctrl-C).

    def main(argv=None) -> int:
        return run_main(_main, argv, prog="python -m pkg.tool")
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

__all__ = ["CLIError", "OneLineArgumentParser", "run_main", "one_line"]


class CLIError(Exception):
    """Raise for a user error detected by the CLI itself (exits 2, one line)."""


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage error on one stderr line and exits 2."""

    def error(self, message: str):  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {one_line(message)} (see --help)\n")
        raise SystemExit(2)


def one_line(msg: object) -> str:
    """``msg`` with every run of white space (newlines included) folded to one space."""
    return " ".join(str(msg).split())


def run_main(body: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None,
             *, prog: str, interrupted: str = "interrupted") -> int:
    """Run ``body(argv)``; map user errors to exit code 2 with one stderr line (Ctrl-C: 130,
    with the line ``{prog}: {interrupted}``)."""
    try:
        return int(body(argv) or 0)
    except (CLIError, ValueError, TypeError) as exc:
        sys.stderr.write(f"{prog}: error: {one_line(exc)}\n")
        return 2
    except OSError as exc:
        where = f" {exc.filename!r}" if getattr(exc, "filename", None) else ""
        sys.stderr.write(f"{prog}: error:{where} {one_line(exc.strerror or exc)}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: {interrupted}\n")
        return 130
