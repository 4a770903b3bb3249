"""``python -m paper_figures.<script>``: one figure script run on its own.

Kept apart from ``common`` (which every script imports to draw) so that the drawing helpers
never import the command line: ``common`` <- ``__main__`` <- ``standalone``, no cycle.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["script_main"]


def script_main(module_name: str, argv: Sequence[str] | None = None) -> int:
    """Draw the figure of script ``module_name`` from the store (no training):
    ``python -m paper_figures --only <its id> --no-run`` plus the given options."""
    from . import __main__ as cli

    name = cli.figure_of_module(module_name)
    args = list(sys.argv[1:] if argv is None else argv)
    return cli.main(["--only", name, "--no-run", *args])
