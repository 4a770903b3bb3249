"""Table A5: 2:4 structured split vs unstructured random split (alpha 2) vs dense.

One row per hidden width: test accuracies (mean ± sample std over trials) and each split's
relative improvement over its dense control (paired per trial); the paper's single row
(CIFAR-100 CLIP embeddings, width not stated) below.
"""

from __future__ import annotations

import sys

import pandas as pd


from .common import Figure, markdown_table, mean_std, pct
from .paper_values import TABLE_A5

FIGURE = Figure("tableA5", "Table A5: 2:4 split vs random split", ("tableA5",), kind="table")


def make(ctx) -> list:
    ds = ctx.datasets["tableA5"][0]
    frame = ctx.frame("tableA5", ds)
    acc = mean_std(frame, "test_accuracy", ["hidden", "strategy"]).set_index(["hidden", "strategy"])
    ri = mean_std(frame[frame.strategy != "dense"], "relative_improvement", ["hidden", "strategy"]).set_index(
        ["hidden", "strategy"])
    rows, numbers = [], []
    for h in sorted(int(x) for x in frame["hidden"].unique()):
        a = {s: acc.loc[(h, s)] for s in ("dense", "two_four", "random")}
        r = {s: ri.loc[(h, s)] for s in ("two_four", "random")}
        rows.append({"Hidden": h, "Dense accuracy": pct(a["dense"]["mean"], a["dense"]["std"]),
                     "2:4 FPE accuracy": pct(a["two_four"]["mean"], a["two_four"]["std"]),
                     "Random FPE accuracy": pct(a["random"]["mean"], a["random"]["std"]),
                     "2:4 FPE RI": pct(r["two_four"]["mean"], r["two_four"]["std"]),
                     "Random FPE RI": pct(r["random"]["mean"], r["random"]["std"])})
        numbers.append({"hidden": h, **{f"{s}_acc_mean": a[s]["mean"] for s in a}, **{f"{s}_acc_std": a[s]["std"] for s in a},
                        **{f"{s}_ri_mean": r[s]["mean"] for s in r}, **{f"{s}_ri_std": r[s]["std"] for s in r},
                        "n": int(a["dense"]["count"])})
    p = TABLE_A5
    rows.append({"Hidden": "paper (width not stated)", "Dense accuracy": pct(p["dense"], digits=2),
                 "2:4 FPE accuracy": pct(p["two_four"], digits=2), "Random FPE accuracy": pct(p["random"], digits=2),
                 "2:4 FPE RI": pct(p["two_four_ri"], digits=2), "Random FPE RI": pct(p["random_ri"], digits=2)})
    caption = ctx.embedding_footer(FIGURE, "tableA5", ds, frame["seed"])
    return ctx.save_table(FIGURE, pd.DataFrame(numbers), markdown_table(pd.DataFrame(rows)), caption)


if __name__ == "__main__":
    from .standalone import script_main

    sys.exit(script_main(__name__))
