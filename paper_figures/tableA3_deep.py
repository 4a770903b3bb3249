"""Table A3: deep MLPs (5, 7, 9 layers, LayerNorm, alternating expansion): relative improvement.

Cells: relative improvement of the random split over its dense control, mean ± sample std
over trials (per-trial paired RI), with the paper's value (CIFAR-100 CLIP embeddings) in
brackets. Layers count the linear layers, head included (``depth`` = layers - 1 hidden).
"""

from __future__ import annotations

import sys

import pandas as pd


from .common import Figure, markdown_table, mean_std, pct
from .paper_values import TABLE_A3_RI

FIGURE = Figure("tableA3", "Table A3: deep MLPs with alternating expansion, relative improvement", ("tableA3",),
                kind="table")


def make(ctx) -> list:
    ds = ctx.datasets["tableA3"][0]
    frame = ctx.frame("tableA3", ds)
    frame = frame.assign(layers=frame["depth"] + 1)
    ri = mean_std(frame[frame.strategy == "random"], "relative_improvement", ["layers", "hidden"])
    acc = mean_std(frame, "test_accuracy", ["layers", "hidden", "strategy"])
    numbers = ri.rename(columns={"mean": "ri_mean", "std": "ri_std", "count": "n"})
    for s in ("dense", "random"):
        a = acc[acc.strategy == s].set_index(["layers", "hidden"])
        numbers[f"{s}_acc_mean"] = [a.loc[(l, h), "mean"] for l, h in zip(numbers.layers, numbers.hidden)]
        numbers[f"{s}_acc_std"] = [a.loc[(l, h), "std"] for l, h in zip(numbers.layers, numbers.hidden)]
    numbers["paper_ri"] = [TABLE_A3_RI.get(int(l), {}).get(int(h)) for l, h in zip(numbers.layers, numbers.hidden)]
    cells = {}
    for r in numbers.itertuples():
        paper = f" (paper {pct(r.paper_ri, digits=1)})" if r.paper_ri is not None else ""
        cells.setdefault(int(r.layers), {})[f"Hidden {int(r.hidden)}"] = pct(r.ri_mean, r.ri_std) + paper
    table = pd.DataFrame.from_dict(cells, orient="index").sort_index()
    table.index.name = "Layers"
    caption = ctx.embedding_footer(FIGURE, "tableA3", ds, frame["seed"])
    return ctx.save_table(FIGURE, numbers, markdown_table(table.reset_index()), caption)


if __name__ == "__main__":
    from .standalone import script_main

    sys.exit(script_main(__name__))
