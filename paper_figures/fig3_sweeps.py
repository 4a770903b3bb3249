"""Figure 3: relative improvement over the dense control vs neurons, vs clauses, and both.

Relative improvement ``RI = (acc_split - acc_dense) / acc_dense`` per trial (paired: the
split and its dense control share the pre-trained network, split seed and data order),
from the stored DNF runs. (a) 8 clauses, every hidden width; (b) 8 hidden neurons, every
clause count; (c) heatmaps over clauses x hidden for the clause and the random split.
Points: mean over trials; bars: ± one sample standard deviation; dots: single trials.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from .common import Figure, mean_std, pyplot, seeds_text, style

FIGURE = Figure("fig3", "Relative improvement vs neurons, vs clauses, and the clause x neuron grid",
                ("fig3a", "fig3b", "fig3c"))
SPLITS = ("clause", "random")


def _sweep(ax, frame, x, xlabel, title, rows, panel):
    for s in SPLITS:
        g = frame[frame.strategy == s]
        st = mean_std(g, "relative_improvement", [x])
        kw = style(s)
        ax.errorbar(st[x], 100 * st["mean"], yerr=100 * st["std"], color=kw["color"], marker=kw["marker"], ms=6,
                    capsize=3, lw=1.8, label=f"{kw['label']} (mean ± std)")
        jitter = {"clause": -0.06, "random": 0.06}[s]
        ax.scatter(g[x] * (1 + jitter), 100 * g["relative_improvement"], color=kw["color"], s=10, alpha=0.35, lw=0)
        rows += [{"panel": panel, "strategy": s, x: int(r[x]), "mean": float(r["mean"]), "std": float(r["std"]),
                  "n": int(r["count"])} for _, r in st.iterrows()]
    ax.axhline(0, color="black", ls="--", lw=1.2, label="dense control (RI = 0)")
    ax.set_xscale("log", base=2)
    xs = sorted(frame[x].unique())
    ax.set_xticks(xs, [str(v) for v in xs])
    ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("relative improvement over dense (%)")
    ax.set_title(title)
    ax.legend()


def make(ctx) -> list:
    fa, fb, fc = ctx.frame("fig3a"), ctx.frame("fig3b"), ctx.frame("fig3c")
    cfg = ctx.configs("fig3c")[0]
    plt = pyplot()
    fig = plt.figure(figsize=(13, 10))
    gs = fig.add_gridspec(2, 2, height_ratios=[1, 1.05])
    rows: list[dict] = []
    _sweep(fig.add_subplot(gs[0, 0]), fa, "hidden", "hidden neurons (dense width before the split)",
           f"(a) {int(fa.n_clauses.iloc[0])} clauses: RI vs neurons", rows, "a")
    _sweep(fig.add_subplot(gs[0, 1]), fb, "n_clauses", "clauses (4 literals each)",
           f"(b) {int(fb.hidden.iloc[0])} hidden neurons: RI vs clauses", rows, "b")
    grids = {}
    for s in SPLITS:
        st = mean_std(fc[fc.strategy == s], "relative_improvement", ["n_clauses", "hidden"])
        grids[s] = st
        rows += [{"panel": "c", "strategy": s, "n_clauses": int(r["n_clauses"]), "hidden": int(r["hidden"]),
                  "mean": float(r["mean"]), "std": float(r["std"]), "n": int(r["count"])} for _, r in st.iterrows()]
    vmax = max(float(np.abs(g["mean"]).max()) for g in grids.values()) * 100 or 1.0
    for j, s in enumerate(SPLITS):
        ax = fig.add_subplot(gs[1, j])
        mat = grids[s].pivot(index="n_clauses", columns="hidden", values="mean") * 100
        sd = grids[s].pivot(index="n_clauses", columns="hidden", values="std") * 100
        im = ax.imshow(mat.to_numpy(), cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto", origin="lower")
        ax.grid(False)
        ax.set_xticks(range(mat.shape[1]), [str(c) for c in mat.columns])
        ax.set_yticks(range(mat.shape[0]), [str(r) for r in mat.index])
        ax.set_xlabel("hidden neurons")
        ax.set_ylabel("clauses")
        ax.set_title(f"(c) {style(s)['label']}: mean RI (%) ± std")
        for (i, jj), v in np.ndenumerate(mat.to_numpy()):
            dv = sd.to_numpy()[i, jj]
            ax.text(jj, i, f"{v:.1f}\n±{dv:.1f}", ha="center", va="center", fontsize=7.5,
                    color="white" if abs(v) > 0.6 * vmax else "black")
        cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
        cb.set_label("relative improvement (%)")
    fig.suptitle("fig3: relative improvement of FPE over the dense control (same non-zero parameter count)")
    fig.tight_layout()
    seeds = fc["seed"].unique()
    caption = ctx.footer(
        FIGURE,
        data=f"DNF (clause size {cfg.clause_size}, alpha {cfg.alpha}, {cfg.n_samples} samples), "
             f"{cfg.pretrain_epochs} + {cfg.split_epochs} epochs",
        trials=f"{seeds_text(seeds)} per point",
    )
    return ctx.save_figure(FIGURE, fig, pd.DataFrame(rows), caption)


if __name__ == "__main__":
    from .standalone import script_main

    sys.exit(script_main(__name__))
