"""What the DNF claim modules share: the FPE strategies and the relative-improvement helpers."""

from __future__ import annotations

from functools import partial

import pandas as pd

from ...ledger import PAPER_CLAIM, NotRun, Outcome, all_of, claim, greater, less
from ...stats import mean_ci, per_unit_slopes

__all__ = ["FPE", "dnf_claim", "case_study_claim", "fig3a_claim", "fig3b_claim", "fig3c_claim",
           "coverage_claim", "ri_table", "plateau_slopes", "slope_rule"]

#: the split strategies compared with the dense model
FPE = ("clause", "random")


def dnf_claim(id: str, section: str, statement: str, paper_value, rule: str, *, needs: tuple[str, ...],
              category: str = PAPER_CLAIM, note: str = "", prepare=None):
    """Register ``fn(ctx, frame)`` as a claim on the trained DNF networks (``claim(..., data="dnf")``):
    ``frame`` is the result rows of ``needs`` (``ctx.frame``; concatenated in order when several),
    passed through ``prepare`` when given."""

    def rows(ctx) -> pd.DataFrame:
        frames = [ctx.frame(n) for n in needs]
        return frames[0] if len(frames) == 1 else pd.concat(frames)

    def wrap(fn):
        claim(id, section, statement, paper_value, rule, needs=needs, data="dnf", note=note, category=category)(
            lambda ctx: fn(ctx, prepare(rows(ctx)) if prepare else rows(ctx)))
        return fn

    return wrap


def _runs_claim(need: str):
    return partial(dnf_claim, needs=(need,))


#: ``dnf_claim`` for the claims on one experiment's runs, its need named once
case_study_claim, fig3a_claim, fig3b_claim, fig3c_claim, coverage_claim = (
    _runs_claim(f"dnf.{n}") for n in ("case_study", "fig3a", "fig3b", "fig3c", "coverage"))


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


def slope_rule(frame: pd.DataFrame, x: str, sign: int, *, y: str = "relative_improvement", transform=None, where=None,
               what: str = "slope", too_few: str | None = None) -> tuple[Outcome, dict]:
    """Trend rule per FPE strategy: the per-seed least-squares slopes of ``y`` on ``x`` (``transform``-ed;
    rows kept by ``where``), a t interval over seeds, ``greater`` (``sign`` > 0) or ``less`` than 0;
    ``all_of`` the strategies and ``{strategy: CI}``. NotRun (``too_few``) with fewer than 2 seeds."""
    parts, info = {}, {}
    for s in FPE:
        g = frame[frame.strategy == s].copy()
        if where is not None:
            g = g[where(g)]
        g["_x"] = transform(g[x]) if transform else g[x]
        slopes = per_unit_slopes(g, "seed", "_x", y)
        if slopes.size < 2:
            raise NotRun(too_few or f"fewer than 2 seeds with >= 2 distinct {x} values")
        ci = mean_ci(slopes)
        parts[s] = greater(ci, what=f"{s} {what}") if sign > 0 else less(ci, what=f"{s} {what}")
        info[s] = ci
    return all_of(parts), info
