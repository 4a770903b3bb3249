"""Table A4: a 5-layer MLP (4 hidden layers, LayerNorm, alternating expansion), hidden 6..16.

Rows: dense accuracy, FPE (random split) accuracy, FPE relative improvement (paired per
trial), as mean ± sample std over trials, each followed by the paper's row (ImageNet-1k
CLIP embeddings; run ours on them with ``--imagenet1k PATH``).
"""

from __future__ import annotations

import sys

import pandas as pd


from .common import Figure, markdown_table, mean_std, pct
from .paper_values import TABLE_A4

FIGURE = Figure("tableA4", "Table A4: 5-layer MLP, dense vs FPE by hidden width", ("tableA4",), kind="table")


def make(ctx) -> list:
    ds = ctx.datasets["tableA4"][0]
    frame = ctx.frame("tableA4", ds)
    acc = mean_std(frame, "test_accuracy", ["hidden", "strategy"])
    ri = mean_std(frame[frame.strategy == "random"], "relative_improvement", ["hidden"])
    widths = sorted(int(h) for h in frame["hidden"].unique())
    numbers = []
    rows = {"Dense accuracy": {}, "FPE accuracy": {}, "FPE RI": {}, "paper: dense": {}, "paper: FPE": {}, "paper: FPE RI": {}}
    for h in widths:
        d = acc[(acc.hidden == h) & (acc.strategy == "dense")].iloc[0]
        f = acc[(acc.hidden == h) & (acc.strategy == "random")].iloc[0]
        r = ri[ri.hidden == h].iloc[0]
        paper = TABLE_A4.get(h)
        col = f"Hidden {h}"
        rows["Dense accuracy"][col] = pct(d["mean"], d["std"])
        rows["FPE accuracy"][col] = pct(f["mean"], f["std"])
        rows["FPE RI"][col] = pct(r["mean"], r["std"])
        for i, name in enumerate(("paper: dense", "paper: FPE", "paper: FPE RI")):
            rows[name][col] = pct(paper[i]) if paper else "n/a"
        numbers.append({"hidden": h, "dense_acc_mean": d["mean"], "dense_acc_std": d["std"], "fpe_acc_mean": f["mean"],
                        "fpe_acc_std": f["std"], "fpe_ri_mean": r["mean"], "fpe_ri_std": r["std"], "n": int(r["count"]),
                        "paper_dense_acc": paper[0] if paper else None, "paper_fpe_acc": paper[1] if paper else None,
                        "paper_fpe_ri": paper[2] if paper else None})
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "Model"
    caption = ctx.embedding_footer(FIGURE, "tableA4", ds, frame["seed"], paper_data="ImageNet-1k CLIP embeddings")
    return ctx.save_table(FIGURE, pd.DataFrame(numbers), markdown_table(table.reset_index()), caption)


if __name__ == "__main__":
    from .standalone import script_main

    sys.exit(script_main(__name__))
