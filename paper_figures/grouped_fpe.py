"""Grouped FPE (issue 16, beyond the paper): accuracy, predicted coverage and inference cost
against the number of partitions G.

Left: test accuracy minus the classic random split's (G = N), paired by (configuration,
seed), mean with its 95% t interval, for the grouped split at G = 1, 2, 4, 8; the dense
control and the structured split (DNF: clause; digits: Gram) as horizontal lines, the
ledger's +-1 point band shaded; DNF slice and the digits stand-in. Middle: the partition
model's P(every clause covered by some child) for each DNF configuration as a function of G
(``fpe_theory.prob_all_covered(..., n_partitions=G)``: coverage depends on G, not on N).
Right: measured latency of the exported network over its dense parent vs G, per alpha and
batch, at 512-1024-100 (the rows of ``benchmarks/bench_sparse.py --n-partitions ... --json
FILE``; the classic split at G = N).

    python -m paper_figures.grouped_fpe --store results/store --bench benchmarks/grouped_cost.json

It only reads the store (the study: ``python -m fpe_empirical.grouped_experiment``) and the
benchmark file; nothing trains here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .common import Figure, MissingResults, pyplot, style

FIGURE = Figure("grouped_fpe", "Grouped FPE: accuracy, predicted coverage and inference cost vs partitions G", ())
GS = (1, 2, 4, 8)
#: the width the cost panel shows (the issue's CLIP width)
COST_NET = "512-1024-100"


def _diff_to_random(frame: pd.DataFrame, index: list[str]) -> pd.DataFrame:
    """Per strategy: mean paired difference in test accuracy to the random split (G = N)
    over (config, seed) units, with its 95% t half-width."""
    from scipy import stats

    wide = frame.pivot_table(index=index, columns="strategy", values="test_accuracy", aggfunc="first")
    rows = []
    for s in wide.columns:
        v = (wide[s] - wide["random"]).dropna().to_numpy(float)
        half = float(stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0
        rows.append({"strategy": s, "mean": float(v.mean()), "half": half, "n": int(v.size)})
    return pd.DataFrame(rows)


def draw(dnf: pd.DataFrame, vision: pd.DataFrame | None, bench: dict | None):
    """The figure and its plotted numbers (module docstring)."""
    import fpe_theory

    plt = pyplot()
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16.5, 4.8))
    tables = []
    xs = list(range(len(GS) + 1))
    labels = [str(g) for g in GS] + ["N (random)"]
    for name, frame, structured, color, index, shift in (
            ("DNF slice", dnf, "clause", "tab:blue", ["n_clauses", "hidden", "seed"], -0.06),
            ("digits", vision, "gram", "tab:green", ["hidden", "seed"], 0.06)):
        if frame is None or frame.empty:
            continue
        acc = _diff_to_random(frame, index).set_index("strategy")
        order = [f"G{g}" for g in GS] + ["random"]
        m = [100 * acc.loc[s, "mean"] for s in order]
        h = [100 * acc.loc[s, "half"] for s in order]
        ax1.errorbar(np.array(xs) + shift, m, yerr=h, color=color, marker="o", capsize=3, lw=1.8,
                     label=f"{name}: grouped (n = {int(acc.loc['random', 'n'])} pairs)")
        for ref, ls in (("dense", ":"), (structured, "--")):
            if ref in acc.index:
                ax1.axhline(100 * acc.loc[ref, "mean"], color=color, ls=ls, lw=1.2,
                            label=f"{name}: {style(ref)['label']}")
        tables.append(acc.reset_index().assign(quantity="test_accuracy_minus_random", data=name))
    ax1.axhspan(-1, 1, color="0.85", alpha=0.5, lw=0, label="within 1 point (ledger rule)")
    ax1.set_xticks(xs, labels)
    ax1.set_xlabel("partitions G (grouped split; N = hidden width)")
    ax1.set_ylabel("test accuracy - random split (points, 95% CI)")
    ax1.set_title("Accuracy at the same non-zero count, paired by seed")
    ax1.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)

    cfgs = dnf[["n_clauses", "clause_size", "alpha", "hidden"]].drop_duplicates().sort_values(["n_clauses", "hidden"])
    for _, c in cfgs.iterrows():
        C, k, a, N = (int(c[x]) for x in ("n_clauses", "clause_size", "alpha", "hidden"))
        try:
            gs = np.arange(1, N + 1)
            p = fpe_theory.prob_all_covered(C, k, a, N, n_partitions=gs)
        except ValueError:  # alpha does not divide n: no balanced closed form
            continue
        ax2.plot(gs, p, marker="o", ms=3, lw=1.4, label=f"C = {C}, N = {N}")
        tables.append(pd.DataFrame({"quantity": "predicted_p_all_covered", "n_clauses": C, "hidden": N,
                                    "n_partitions": gs, "mean": p}))
    ax2.set_xscale("log", base=2)
    ax2.set_yscale("log")
    ax2.set_ylim(1e-30, 2)
    ax2.set_xlabel("partitions G")
    ax2.set_ylabel("P(all clauses covered), partition model")
    ax2.set_title("Predicted coverage depends on G, not N (k = 4, alpha = 2)\n"
                  "(N = 8 and 16 coincide for G <= 8; C = 15 at G = 1: exactly 0)", fontsize=9.5)
    ax2.legend(fontsize=7.5)

    if bench:
        rows = pd.DataFrame(bench["rows"])
        if (rows["net"] == COST_NET).any():  # one width keeps the panel readable; the CSV of the bench has all
            rows = rows[rows["net"] == COST_NET]
        for (net, batch), sel in rows.groupby(["net", "batch"]):
            for _, r in sel.iterrows():
                gs = [g for g in GS if f"G={g}" in r["ratio"]]
                ys = [r["ratio"][f"G={g}"] for g in gs] + [r["ratio"]["fpe"]]
                ax3.plot(list(range(len(gs))) + [len(GS)], ys, marker="o",
                         ls="-" if batch > 1 else "--", label=f"{net}, batch {batch}, alpha {r['alpha']}")
                tables.append(pd.DataFrame({"quantity": "latency_over_parent", "net": net, "batch": batch,
                                            "alpha": r["alpha"], "strategy": [f"G{g}" for g in gs] + ["random"],
                                            "mean": ys}))
        ax3.axhline(1.15, color="0.3", ls=":", lw=1.2, label="goal 1.15x")
        ax3.set_xticks(xs, labels)
    else:
        ax3.text(0.5, 0.5, "no benchmark file", ha="center", transform=ax3.transAxes)
    ax3.set_xlabel("partitions G")
    ax3.set_ylabel("latency / dense parent (to_sparse, 1 thread)")
    ax3.set_title("Inference cost of the exported network")
    if ax3.get_legend_handles_labels()[0]:
        ax3.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    fig.suptitle("Grouped FPE: G shared partitions per split layer (beyond the paper)")
    fig.tight_layout()
    return fig, pd.concat(tables, ignore_index=True)


def _frames(ctx):
    from fpe_empirical.experiments.grouped import stored_study

    out = {kind: stored_study(ctx.store, kind) for kind in ("dnf-grouped", "embedding-grouped")}
    if out["dnf-grouped"] is None:
        raise MissingResults(f"the grouped study is not in {ctx.store.root}: run "
                             f"`python -m fpe_empirical.grouped_experiment --out {ctx.store.root} --scale small`")
    return out


def make(ctx, bench_path: str | None = None) -> list:
    frames = _frames(ctx)
    dnf, scale = frames["dnf-grouped"]
    vision = frames["embedding-grouped"][0] if frames["embedding-grouped"] else None
    bench = json.loads(Path(bench_path).read_text()) if bench_path and Path(bench_path).is_file() else None
    fig, data = draw(dnf, vision, bench)
    sched = f"DNF {int(dnf['pretrain_epochs'].iloc[0])} + {int(dnf['split_epochs'].iloc[0])} epochs"
    caption = ctx.footer(FIGURE, data=f"grouped study ({scale}: {sched}), DNF slice + digits; cost: "
                                      f"{bench_path or 'none'}",
                         trials=f"{dnf['seed'].nunique()} seeds per configuration")
    return ctx.save_figure(FIGURE, fig, data, caption)


def main(argv=None) -> int:
    """``python -m paper_figures.grouped_fpe``: draw the figure from the store (exit 2 on bad input)."""
    from fpe_common.cli import OneLineArgumentParser, run_main

    def _main(argv) -> int:
        from fpe_empirical.results.store import ResultStore

        from .common import Context

        p = OneLineArgumentParser(prog="python -m paper_figures.grouped_fpe", description=__doc__.split("\n\n")[0])
        p.add_argument("--store", default="results/store")
        p.add_argument("--out", default="results/figures")
        p.add_argument("--bench", default="benchmarks/grouped_cost.json", help="bench_sparse.py --n-partitions JSON")
        args = p.parse_args(argv)
        ctx = Context(profile="grouped", store=ResultStore(args.store, create=False), out=Path(args.out),
                      datasets={}, store_label=args.store)
        try:
            paths = make(ctx, args.bench)
        except MissingResults as e:
            print(f"python -m paper_figures.grouped_fpe: {e}", file=sys.stderr)
            return 1
        for path in paths:
            print(f"wrote {path}")
        return 0

    return run_main(_main, argv, prog="python -m paper_figures.grouped_fpe")


if __name__ == "__main__":
    sys.exit(main())
