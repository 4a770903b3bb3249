"""CLI error conventions: moved to ``fpe_common.cli`` (shared by every package); this
module re-exports them so existing imports keep working."""

from __future__ import annotations

from fpe_common.cli import CLIError, OneLineArgumentParser, run_main

__all__ = ["CLIError", "OneLineArgumentParser", "run_main"]
