"""Tables A1 and A2: feature capacity (A1) and mean cosine similarity (A2) by literal count.

Rows: number of literals (clauses x 4), 8 hidden neurons (the runs of Figure 3b); columns:
dense, clause split, random split; cells: mean ± sample std over trials
(``fpe_empirical.metrics.metric_table``). The CSV holds the numbers (mean, std, n).
"""

from __future__ import annotations

import sys


from .common import Figure, markdown_table, mean_std, seeds_text

FIGURE = Figure("tableA1A2", "Tables A1/A2: feature capacity and cosine similarity by literal count", ("fig3b",),
                kind="table", outputs=("tableA1", "tableA2"))
COLUMNS = {"dense": "Dense", "clause": "Clause-split", "random": "Random-split"}
TABLES = (("tableA1", "feature_capacity", "Table A1: total clause feature capacity"),
          ("tableA2", "mean_cosine", "Table A2: mean cosine similarity of neuron weight vectors"))


def make(ctx) -> list:
    from fpe_empirical.metrics import metric_table

    from .common import Figure as _F

    frame = ctx.frame("fig3b")
    cfg = ctx.configs("fig3b")[0]
    paths = []
    for table_id, value, title in TABLES:
        spec = _F(table_id, title, FIGURE.targets, kind="table")
        text = metric_table(frame, value, index="n_literals", columns="strategy", digits=3)
        text = text[[c for c in COLUMNS if c in text.columns]].rename(columns=COLUMNS)
        text.index.name = "# Literals"
        numbers = mean_std(frame, value, ["n_literals", "strategy"])
        numbers.insert(0, "metric", value)
        caption = ctx.footer(
            spec,
            data=f"DNF, {int(frame.hidden.iloc[0])} hidden neurons, clause size {cfg.clause_size}, alpha {cfg.alpha}, "
                 f"{cfg.pretrain_epochs} + {cfg.split_epochs} epochs",
            trials=f"mean ± std over {seeds_text(frame['seed'])}",
        )
        paths += ctx.save_table(spec, numbers, markdown_table(text.reset_index()), caption)
    return paths


if __name__ == "__main__":
    from .standalone import script_main

    sys.exit(script_main(__name__))
