"""Theory: collision ratio E[FPE collisions] / E[dense collisions] vs clause count C.

Curves from ``fpe_theory.collision_curves``: exact ``alpha * q2`` (q2 = d↓2k / n↓2k) for the
balanced models (subset and partition alike) and ``alpha^(1-2k)``, exact for the literal
model and the paper's approximation; Monte Carlo ratios from the store (``TheorySimulation``
runs of each model: mean collisions over the dense count ``N * C(C, 2)``, 99.9% interval).
Right: each model's ratio over the paper's value. This script only draws.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from .common import MODEL_STYLE, Figure, pyplot

FIGURE = Figure("theory_collisions", "Collision ratio under the three models, exact vs the paper's approximation "
                "vs Monte Carlo", ("theory_collisions",))
COLORS = {2: "tab:blue", 3: "tab:purple", 4: "tab:red", 8: "tab:green"}
MARKERS = {"literal": "^", "subset": "s", "partition": "o", "two_four": "v"}


def draw(runs: pd.DataFrame, *, title: str | None = None):
    """The figure and its plotted numbers from one simulation row per run (columns of
    ``simulation_frame``; the run with the most parents per (model, alpha, C) is used)."""
    from fpe_theory import collision_curves, dense_collisions

    if not runs.empty:
        top = runs.groupby(["model", "alpha", "n_clauses"])["sim_n_parents"].transform("max")
        runs = runs[runs["sim_n_parents"] == top].drop_duplicates(["model", "alpha", "n_clauses"])
    k = int(runs["clause_size"].iloc[0])
    models = [m for m in MODEL_STYLE if m in set(runs["model"]) and m != "two_four"]
    plt = pyplot()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12.5, 4.8))
    tables = []
    c_max = int(runs["n_clauses"].max())
    for a in sorted(int(x) for x in runs["alpha"].unique()):
        color = COLORS.get(a, "tab:gray")
        cur = collision_curves(k, a, range(2, max(c_max, 64) + 1), models=tuple(models) or ("partition",))
        tables.append(cur.assign(low=np.nan, high=np.nan))
        paper = float(cur[cur.quantity == "paper"]["value"].iloc[0])
        balanced = [m for m in models if m != "literal"]
        if balanced:  # subset and partition share alpha·q2
            sel = cur[(cur.quantity == "exact") & (cur.model == balanced[0])]
            ax.plot(sel["n_clauses"], sel["value"], color=color, lw=2,
                    label=f"exact alpha·q2, {' = '.join(balanced)}, alpha = {a}")
            rel = cur[(cur.quantity == "exact_over_paper") & (cur.model == balanced[0])]
            ax2.plot(rel["n_clauses"], rel["value"], color=color, lw=2, label=f"{' = '.join(balanced)}, alpha = {a}")
        ax.axhline(paper, color=color, lw=1.3, ls="--",
                   label=f"alpha^(1-2k) = {paper:.3g}: literal (exact) = paper, alpha = {a}")
        ax2.axhline(1.0, color="0.4", lw=1)
        for model in models:
            sim = runs[(runs.alpha == a) & (runs.model == model)].sort_values("n_clauses")
            xs, ys, lo, hi, ub = [], [], [], [], []
            for r in sim.itertuples():
                c, n_par = int(r.n_clauses), int(r.sim_n_parents)
                dense = dense_collisions(c, n_par)
                if dense <= 0:
                    continue
                tables.append(pd.DataFrame([{"quantity": "simulation", "model": model, "clause_size": k, "alpha": a,
                                             "n_clauses": c, "value": r.mean_collisions / dense,
                                             "low": r.mean_collisions_low / dense, "high": r.mean_collisions_high / dense,
                                             "sim_n_parents": n_par}]))
                if r.mean_collisions > 0:
                    xs.append(c)
                    ys.append(r.mean_collisions / dense)
                    lo.append((r.mean_collisions - r.mean_collisions_low) / dense)
                    hi.append((r.mean_collisions_high - r.mean_collisions) / dense)
                elif r.mean_collisions_high > 0:
                    ub.append((c, r.mean_collisions_high / dense))
            mk = MARKERS.get(model, "x")
            if xs:
                ax.errorbar(xs, ys, yerr=[lo, hi], fmt=mk, ms=5, color=color, mec="black", capsize=3,
                            label=f"Monte Carlo {model} (99.9% CI), alpha = {a}")
                ax2.errorbar(xs, np.array(ys) / paper, yerr=[np.array(lo) / paper, np.array(hi) / paper], fmt=mk,
                             ms=4, color=color, mec="black", capsize=2, lw=1)
            if ub:
                ax.plot([u[0] for u in ub], [u[1] for u in ub], "v", ms=6, color=color, mec="black", alpha=0.6,
                        label=f"Monte Carlo {model} upper bound (no collision seen), alpha = {a}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_ylim(bottom=1e-7)
    ax.text(0.98, 0.02, "balanced ratio = 0 where 2k > n/alpha\n(no child holds two clauses)", transform=ax.transAxes,
            fontsize=8, color="0.3", va="bottom", ha="right")
    ax.set_xlabel("clauses C (k = %d literals each)" % k)
    ax.set_ylabel("E[collisions, FPE] / E[collisions, dense]")
    ax.set_title("Collision ratio after random FPE (markers: o partition, s subset, ^ literal)")
    ax.grid(True, which="both", alpha=0.25)
    ax2.set_xscale("log", base=2)
    for a_ in (ax, ax2):
        ticks = [2 ** i for i in range(1, 7)]
        a_.set_xticks(ticks, [str(t) for t in ticks])
    ax2.set_ylim(0, 1.15)
    ax2.set_xlabel("clauses C (k = %d literals each)" % k)
    ax2.set_ylabel("ratio / alpha^(1-2k)")
    ax2.set_title("Balanced splits collide less than the literal model at small C")
    ax2.legend(loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, frameon=False)
    data = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return fig, data


def make(ctx) -> list:
    frame = ctx.frame("theory_collisions")
    runs = frame.drop_duplicates("key")
    trials, seed = int(runs["trials"].iloc[0]), int(runs["seed"].iloc[0])
    fig, data = draw(runs)
    n_par = int(runs["sim_n_parents"].iloc[0])
    caption = ctx.footer(FIGURE, data=f"Monte Carlo of the split masks (fpe_theory.simulate, N = {n_par} parents) + "
                                      "closed forms (fpe_theory.collision_curves)",
                         trials=f"{trials} Monte Carlo trials per point (seed {seed})")
    return ctx.save_figure(FIGURE, fig, data, caption)


if __name__ == "__main__":
    from .standalone import script_main

    sys.exit(script_main(__name__))
