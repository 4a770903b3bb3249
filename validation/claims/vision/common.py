"""What the vision claim modules share: one claim per data set (``vision_claim``), the paired
per-seed tables and intervals, and the paper-profile gate of the rows with absolute numbers."""

from __future__ import annotations

from functools import partial

import pandas as pd

from ...ledger import NOT_RUN, Outcome, all_of, claim
from ...stats import mean_ci, paired_diff

__all__ = ["DATA_OF", "FIG5_DATASETS", "COMPARABLE_MARGIN", "vision_claim", "figure_claim", "wide", "widths_of",
           "width_diffs", "pooled", "pts", "acc_table", "paper_verdict"]

DATA_OF = {"digits": "vision", "clip": "embeddings", "imagenet1k": "imagenet1k", "fashionmnist": "fashionmnist",
           "imagenet100": "imagenet100"}
#: Figure 5's single-hidden-layer data sets: the offline stand-in, and the paper's FashionMNIST (raw
#: pixels), CIFAR-100 and ImageNet-100 (CLIP embeddings), each run only when its file is given
FIG5_DATASETS = ("digits", "fashionmnist", "clip", "imagenet100")
#: equivalence margin for "comparable" (percentage points of test accuracy), fixed in advance
COMPARABLE_MARGIN = 0.02


def vision_claim(base_id: str, section: str, statement: str, paper_value, rule: str, *, needs: tuple[str, ...],
                 datasets=("digits", "clip"), note: str = "", prepare=None):
    """Register ``fn(ctx, frame)`` as one claim per data set (ids ``base_id@dataset``); ``frame`` is the
    result rows of the first need on that data set (``ctx.frame(needs[0], dataset)``), passed through
    ``prepare`` when given."""
    prepare = prepare or (lambda f: f)

    def wrap(fn):
        for ds in datasets:
            extra = (" Offline stand-in: scikit-learn digits (8x8 pixels, 10 classes), not CIFAR-100; the verdict "
                     "is about the stand-in." if ds == "digits" else "")
            claim(f"{base_id}@{ds}", section, statement, paper_value, rule, needs=needs, data=DATA_OF[ds],
                  note=(note + extra).strip())(lambda ctx, ds=ds: fn(ctx, prepare(ctx.frame(needs[0], ds))))
        return fn

    return wrap


def figure_claim(needs: tuple[str, ...], datasets=("digits", "clip"), prepare=None):
    """``vision_claim`` for the claims of one figure or table, their ``needs``, ``datasets`` and ``prepare``
    named once: ``figure_claim(...)(base_id, section, statement, paper_value, rule)`` (keywords override)."""
    return partial(vision_claim, needs=needs, datasets=datasets, prepare=prepare)


def wide(f: pd.DataFrame, value: str = "test_accuracy", index=("hidden", "seed")) -> pd.DataFrame:
    """One row per (width, seed), one column per strategy."""
    return f.pivot_table(index=list(index), columns="strategy", values=value, aggfunc="first")


def pooled(w: pd.DataFrame, a: str, b: str):
    """Per seed: mean over widths of (a - b); returns the paired t interval over seeds."""
    d = (w[a] - w[b]).groupby(level="seed").mean()
    return mean_ci(d.to_numpy())


def widths_of(w: pd.DataFrame) -> list:
    """The hidden widths of a table indexed by (hidden, seed), ascending."""
    return sorted(w.index.get_level_values("hidden").unique())


def width_diffs(w: pd.DataFrame, a: str, b: str, widths=None) -> dict:
    """``{hidden: paired_diff(a, b) over seeds}`` at each of ``widths`` (default: every width of ``w``)."""
    return {h: paired_diff(w.xs(h, level="hidden")[a], w.xs(h, level="hidden")[b])
            for h in (widths_of(w) if widths is None else widths)}


def pts(ci, digits: int = 1) -> str:
    """An interval in percentage points: ``+v pts [low, high]``."""
    return f"{100 * ci.value:+.{digits}f} pts [{100 * ci.low:+.{digits}f}, {100 * ci.high:+.{digits}f}]"


def acc_table(f: pd.DataFrame, by=("hidden",)) -> list[dict]:
    """Mean, sd (percent) and count of the test accuracy per ``by`` and strategy."""
    t = f.groupby([*by, "strategy"])["test_accuracy"].agg(["mean", "std", "count"]).reset_index()
    t["mean"] *= 100
    t["std"] *= 100
    return t.round(2).to_dict("records")


def paper_verdict(ctx, what: str, parts: dict, shown: dict, missing: str = "") -> Outcome:
    """The verdict of a row with the paper's absolute numbers, its numbers ``shown`` either way: "not run"
    with the reason ``missing`` when given, or unless this is the paper profile; else ``all_of(parts)``."""
    if missing:
        return Outcome(NOT_RUN, reason=missing, **shown)
    if ctx.profile != "paper":
        return Outcome(NOT_RUN, reason=f"{what}: absolute numbers are only compared at the paper profile's schedule "
                                       f"(--profile paper); the numbers shown are the {ctx.profile} profile's", **shown)
    return all_of(parts).with_(**shown)
