"""Dynamic rewiring (A.7): one-shot random FPE vs FPE with a dynamic mask, vs dense.

Per hidden width: test accuracies (mean ± sample std over trials), the gain of rewiring over
one-shot random FPE in accuracy points (paired per trial), and the rewired model's relative
improvement over dense; the paper's numbers (CIFAR-100, ten trials, best hyper-parameters)
beside them. With several rewiring hyper-parameter pairs in the profile (paper profile), the
pair with the best mean *train* accuracy per width is used (no selection on the test set).
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd


from .common import Figure, markdown_table, pct
from .paper_values import REWIRING

FIGURE = Figure("table_rewiring", "Dynamic rewiring vs one-shot random FPE", ("dynamic",), kind="table")
HP = ("rewire_every", "rewire_fraction")


def select_rewiring(frame: pd.DataFrame) -> pd.DataFrame:
    """Rewired rows of the hyper-parameter pair with the best mean train accuracy per width."""
    rw = frame[frame.strategy == "random+rewire"]
    hp = [c for c in HP if c in rw.columns]
    parts = []
    for _, g in rw.groupby("hidden"):
        if hp and g[hp].drop_duplicates().shape[0] > 1:
            best = g.groupby(hp)["train_accuracy"].mean().idxmax()
            best = best if isinstance(best, tuple) else (best,)
            g = g[(g[hp] == pd.Series(best, index=hp)).all(axis=1)]
        parts.append(g)
    return pd.concat(parts, ignore_index=True) if parts else rw


def _ms(x: pd.Series) -> tuple[float, float]:
    return float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else float("nan")


def make(ctx) -> list:
    ds = ctx.datasets["dynamic"][0]
    frame = ctx.frame("dynamic", ds)
    one = frame[frame.strategy.isin(("dense", "random"))].pivot_table(
        index=["hidden", "seed"], columns="strategy", values="test_accuracy", aggfunc="first")
    chosen = select_rewiring(frame)
    one["rewire"] = chosen.set_index(["hidden", "seed"])["test_accuracy"]
    one = one.dropna()
    rows, numbers = [], []
    for h, g in one.groupby(level="hidden"):
        h = int(h)
        dm, dsd = _ms(g["dense"])
        om, osd = _ms(g["random"])
        rm, rsd = _ms(g["rewire"])
        gm, gsd = _ms(g["rewire"] - g["random"])
        rim, risd = _ms((g["rewire"] - g["dense"]) / g["dense"])
        sel = chosen[chosen.hidden == h]
        hp = ", ".join(f"{c} {sel[c].iloc[0]:g}" for c in HP if c in sel.columns) if len(sel) else ""
        paper = REWIRING.get(h)
        rows.append({"Hidden": h, "Dense": pct(dm, dsd), "One-shot random FPE": pct(om, osd), "Rewired FPE": pct(rm, rsd),
                     "Gain (points)": f"{100 * gm:+.1f} ± {100 * gsd:.1f}" if np.isfinite(gsd) else f"{100 * gm:+.1f}",
                     "Rewired RI vs dense": pct(rim, risd),
                     "paper: gain / RI": f"{100 * paper[0]:+.1f} / {100 * paper[1]:.0f}%" if paper else "n/a",
                     "hyper-parameters": hp})
        numbers.append({"hidden": h, "dense_mean": dm, "dense_std": dsd, "one_shot_mean": om, "one_shot_std": osd,
                        "rewired_mean": rm, "rewired_std": rsd, "gain_mean": gm, "gain_std": gsd, "rewired_ri_mean": rim,
                        "rewired_ri_std": risd, "n": len(g), "paper_gain": paper[0] if paper else None,
                        "paper_ri": paper[1] if paper else None, **{c: sel[c].iloc[0] for c in HP if c in sel.columns and len(sel)}})
    caption = ctx.embedding_footer(FIGURE, "dynamic", ds, frame["seed"])
    return ctx.save_table(FIGURE, pd.DataFrame(numbers), markdown_table(pd.DataFrame(rows)), caption)


if __name__ == "__main__":
    from .standalone import script_main

    sys.exit(script_main(__name__))
