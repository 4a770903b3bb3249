"""What the DNF claim modules share: the FPE strategies and the relative-improvement helpers."""

from __future__ import annotations

import pandas as pd

from ...ledger import NotRun
from ...stats import per_unit_slopes

__all__ = ["FPE", "ri_table", "plateau_slopes"]

#: the split strategies compared with the dense model
FPE = ("clause", "random")


def ri_table(frame: pd.DataFrame, by: str) -> list[dict]:
    """Mean, sd and count of the relative improvement per ``by`` value and FPE strategy."""
    g = frame[frame.strategy.isin(FPE)].groupby([by, "strategy"])["relative_improvement"].agg(["mean", "std", "count"])
    return g.reset_index().to_dict("records")


def plateau_slopes(g: pd.DataFrame):
    """Per-seed slopes of relative improvement on the clause count below (<= 16) and above (>= 15)
    16 clauses, as ``(below, above)`` arrays paired by seed; NotRun unless >= 2 seeds have both."""
    lo = per_unit_slopes(g[g.n_clauses <= 16], "seed", "n_clauses", "relative_improvement")
    hi = per_unit_slopes(g[g.n_clauses >= 15], "seed", "n_clauses", "relative_improvement")
    if lo.size < 2 or lo.size != hi.size:
        raise NotRun("needs >= 2 seeds with clause counts on both sides of 16")
    return lo, hi
