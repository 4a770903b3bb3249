"""Theory: P(all clauses covered) vs parents N under the three random models.

Curves from ``fpe_theory.coverage_curves`` (exact values for the literal model, the
paper's, under which its formulas are exact; the subset model; and the partition model,
what random-split FPE does; their union bounds; the paper's ``1 - C exp(-N alpha^(1-k))``),
Monte Carlo of the split from the store (``TheorySimulation`` runs: the first m parents of
every trial give the curve at m, with 99.9% Clopper-Pearson intervals). Vertical lines: the
paper's sizing rule ``N >= alpha^(k-1) ln(C/delta)`` and the exact smallest N per model,
for delta = 0.01. This script only draws.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from .common import MODEL_STYLE, Figure, monte_carlo_text, pyplot

FIGURE = Figure("theory_coverage", "Clause coverage after random FPE vs parents N", ("theory_coverage",))
DELTA = 0.01


def _largest_runs(sims: pd.DataFrame, by: list) -> pd.DataFrame:
    """Rows of the run with the most parents in each group (the CLI passes several per group)."""
    if sims.empty:
        return sims
    top = sims.groupby(by)["sim_n_parents"].transform("max")
    return sims[sims["sim_n_parents"] == top]


def draw(sims: pd.DataFrame, *, delta: float = DELTA, title: str | None = None):
    """The figure and its plotted numbers from simulation rows (``simulation_frame`` format,
    one panel per (alpha, n_clauses)); closed forms from ``fpe_theory.coverage_curves``."""
    from fpe_theory import coverage_curves

    sims = _largest_runs(sims, ["model", "alpha", "n_clauses"])
    models = [m for m in MODEL_STYLE if m in set(sims["model"]) and m != "two_four"]
    panels = sorted({(int(a), int(c)) for a, c in zip(sims["alpha"], sims["n_clauses"])})
    alphas = sorted({a for a, _ in panels})
    clauses = sorted({c for _, c in panels})
    k = int(sims["clause_size"].iloc[0])
    plt = pyplot()
    fig, axes = plt.subplots(len(alphas), len(clauses), figsize=(5.4 * len(clauses), 4.0 * len(alphas) + 1.0),
                             squeeze=False)
    tables = []
    for i, a in enumerate(alphas):
        for j, c in enumerate(clauses):
            ax = axes[i][j]
            grp = sims[(sims.alpha == a) & (sims.n_clauses == c)]
            if grp.empty:
                ax.set_visible(False)
                continue
            n_max = int(grp["n_parents"].max())
            ns = np.unique(np.geomspace(1, n_max, 160).astype(np.int64))
            cur = coverage_curves(c, k, a, ns, models=tuple(models), delta=delta)
            tables.append(cur.assign(low=np.nan, high=np.nan))

            def curve(quantity, model):
                sel = cur[(cur.quantity == quantity) & (cur.model == model)]
                return sel["n_parents"].to_numpy(), sel["value"].to_numpy()

            for model in models:
                color, label = MODEL_STYLE[model]
                ax.plot(*curve("exact", model), color=color, lw=2, label=f"exact, {label}")
                ax.plot(*curve("union_bound", model), color=color, lw=1.1, ls=":", label=f"union bound, {model}")
                sim = grp[grp.model == model].sort_values("n_parents")
                if not sim.empty:
                    # every parent count is simulated; mark ~12 of them so the exact curve stays visible
                    pick = np.unique(np.geomspace(1, len(sim), 12).astype(int)) - 1
                    s = sim.iloc[pick]
                    ax.fill_between(sim["n_parents"], sim["p_all_low"], sim["p_all_high"], color=color, alpha=0.15, lw=0)
                    ax.errorbar(s["n_parents"], s["p_all_covered"],
                                yerr=[s["p_all_covered"] - s["p_all_low"], s["p_all_high"] - s["p_all_covered"]],
                                fmt="o", ms=3.5, mfc="white", mec=color, ecolor=color, capsize=2, lw=1,
                                label=f"Monte Carlo, {model} (99.9% CI)")
                    tables.append(pd.DataFrame({
                        "quantity": "simulation", "model": model, "n_clauses": c, "clause_size": k, "alpha": a,
                        "n_parents": sim["n_parents"].to_numpy(), "value": sim["p_all_covered"].to_numpy(),
                        "low": sim["p_all_low"].to_numpy(), "high": sim["p_all_high"].to_numpy()}))
            x, y = curve("paper", "paper")
            ax.plot(x, np.clip(y, 0, None), color="0.35", lw=1.4, ls="--", label="paper: 1 - C exp(-N alpha^(1-k))")
            ax.set_xscale("log", base=2)
            # start where coverage becomes visible (below, every curve is ~0)
            first = min(int(curve("exact", m)[0][np.argmax(curve("exact", m)[1] > 2e-3)]) for m in models)
            lo_x, hi_x = max(1.0, first / 2.5), n_max * 1.15
            ax.set_xlim(lo_x, hi_x)
            ticks = [2 ** e for e in range(0, 14) if lo_x <= 2 ** e <= hi_x]
            ax.set_xticks(ticks, [str(t) for t in ticks])
            (n_rule,), _ = curve("min_parents_paper_rule", "paper")
            lines = [(n_rule, "0.35", "paper's rule N >= alpha^(k-1) ln(C/delta)", 0.03)]
            for t, model in enumerate(models):
                (n_ex,), _ = curve("min_parents_exact", model)
                lines.append((n_ex, MODEL_STYLE[model][0], f"exact smallest N, {model}", 0.10 + 0.07 * t))
            for n_line, color, label, y_text in lines:
                if lo_x <= n_line <= hi_x:  # sizing lines beyond the simulated range are in the CSV only
                    ax.axvline(n_line, color=color, lw=1, ls="-.", label=label)
                    ax.text(n_line, y_text, f" {n_line}", color=color, fontsize=8, ha="left", clip_on=True)
            ax.set_ylim(-0.03, 1.03)
            ax.set_title(f"C = {c} clauses of k = {k} literals, alpha = {a}")
            ax.set_xlabel("parents N (dense hidden neurons)")
            ax.set_ylabel("P(all clauses covered)")
    handles, labels = [], []
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.suptitle(title or "Clause coverage after the random FPE split, three random models: closed forms vs "
                          f"Monte Carlo (delta = {delta} for the sizing lines)")
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, frameon=False)
    data = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return fig, data


def make(ctx) -> list:
    frame = ctx.frame("theory_coverage")
    fig, data = draw(frame)
    caption = ctx.footer(FIGURE, data="Monte Carlo of the split masks (fpe_theory.simulate) + closed forms "
                                      "(fpe_theory.coverage_curves); literal = the model of the paper's A.5 formulas",
                         trials=monte_carlo_text(frame, "curve"))
    return ctx.save_figure(FIGURE, fig, data, caption)


if __name__ == "__main__":
    from .standalone import script_main

    sys.exit(script_main(__name__))
