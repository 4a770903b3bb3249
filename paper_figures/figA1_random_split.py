"""Figure A1: as Figure 2, with the random-split network instead of the clause split."""

from __future__ import annotations

import sys

from .common import Figure
from .fig2_case_study import draw

FIGURE = Figure("figA1", "Case study: Gram matrices and weights, dense vs random split", ("case_study",), models=True)


def make(ctx) -> list:
    return draw(ctx, FIGURE, "random")


if __name__ == "__main__":
    from .standalone import script_main

    sys.exit(script_main(__name__))
