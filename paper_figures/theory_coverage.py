"""Theory: P(all clauses covered) vs parents N, exact / union bound / paper rule / Monte Carlo.

Closed forms from ``fpe_theory.closed_forms`` (exact inclusion-exclusion for the partition
model, what random-split FPE does, and for the paper's independent model; their union
bounds; the paper's ``1 - C exp(-N alpha^(1-k))``); Monte Carlo of the real split from the
store (``TheorySimulation`` runs: the first m parents of every trial give the curve at m,
with 99.9% Clopper-Pearson intervals). Vertical lines: the paper's sizing rule
``N >= alpha^(k-1) ln(C/delta)`` and the exact smallest N, for delta = 0.01.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from .common import Figure, pyplot

FIGURE = Figure("theory_coverage", "Clause coverage after random FPE vs parents N", ("theory_coverage",))
DELTA = 0.01
MODEL_STYLE = {"partition": ("tab:blue", "partition (what random FPE does)"),
               "independent": ("tab:orange", "independent (paper's A.5 model)")}


def make(ctx) -> list:
    from fpe_theory import closed_forms as cf

    frame = ctx.frame("theory_coverage")
    panels = sorted({(int(a), int(c)) for a, c in zip(frame["alpha"], frame["n_clauses"])})
    alphas = sorted({a for a, _ in panels})
    clauses = sorted({c for _, c in panels})
    k = int(frame["clause_size"].iloc[0])
    trials = int(frame["trials"].iloc[0])
    seed = int(frame["seed"].iloc[0])
    plt = pyplot()
    fig, axes = plt.subplots(len(alphas), len(clauses), figsize=(5.2 * len(clauses), 3.9 * len(alphas) + 1.0),
                             squeeze=False)
    rows = []
    for i, a in enumerate(alphas):
        for j, c in enumerate(clauses):
            ax = axes[i][j]
            grp = frame[(frame.alpha == a) & (frame.n_clauses == c)]
            if grp.empty:
                ax.set_visible(False)
                continue
            n_max = int(grp["n_parents"].max())
            ns = np.unique(np.geomspace(1, n_max, 160).astype(np.int64))
            for model, (color, label) in MODEL_STYLE.items():
                exact = cf.prob_all_covered(c, k, a, ns, model=model)
                union = cf.prob_all_covered(c, k, a, ns, model=model, method="union_bound")
                ax.plot(ns, exact, color=color, lw=2, label=f"exact, {label}")
                ax.plot(ns, union, color=color, lw=1.2, ls=":", label=f"union bound, {model}")
                rows += [{"alpha": a, "n_clauses": c, "curve": f"exact_{model}", "n_parents": int(n), "value": float(v),
                          "low": np.nan, "high": np.nan} for n, v in zip(ns, exact)]
                rows += [{"alpha": a, "n_clauses": c, "curve": f"union_bound_{model}", "n_parents": int(n),
                          "value": float(v), "low": np.nan, "high": np.nan} for n, v in zip(ns, union)]
                sim = grp[grp.model == model].sort_values("n_parents")
                if not sim.empty:
                    # every parent count is simulated; mark ~14 of them so the exact curve stays visible
                    pick = np.unique(np.geomspace(1, len(sim), 14).astype(int)) - 1
                    s = sim.iloc[pick]
                    ax.fill_between(sim["n_parents"], sim["p_all_low"], sim["p_all_high"], color=color, alpha=0.18, lw=0)
                    ax.errorbar(s["n_parents"], s["p_all_covered"],
                                yerr=[s["p_all_covered"] - s["p_all_low"], s["p_all_high"] - s["p_all_covered"]],
                                fmt="o", ms=4, mfc="white", mec=color, ecolor=color, capsize=2, lw=1,
                                label=f"Monte Carlo, {model} (99.9% CI)")
                    rows += [{"alpha": a, "n_clauses": c, "curve": f"simulation_{model}", "n_parents": int(r.n_parents),
                              "value": float(r.p_all_covered), "low": float(r.p_all_low), "high": float(r.p_all_high)}
                             for r in sim.itertuples()]
            paper = cf.prob_all_covered(c, k, a, ns, method="paper")
            ax.plot(ns, np.clip(paper, 0, None), color="0.35", lw=1.4, ls="--", label="paper: 1 - C exp(-N alpha^(1-k))")
            rows += [{"alpha": a, "n_clauses": c, "curve": "paper", "n_parents": int(n), "value": float(v),
                      "low": np.nan, "high": np.nan} for n, v in zip(ns, paper)]
            n_paper = cf.min_parents_for_coverage(c, k, a, DELTA, method="paper")
            n_exact = cf.min_parents_for_coverage(c, k, a, DELTA, model="partition", method="exact")
            ax.axvline(n_paper, color="0.35", lw=1, ls="-.", label=f"paper rule N >= alpha^(k-1) ln(C/delta)")
            ax.axvline(n_exact, color="tab:blue", lw=1, ls="-.", label="exact smallest N (partition)")
            ax.text(n_paper, 0.04, f" {n_paper}", color="0.25", fontsize=8, ha="left")
            ax.text(n_exact, 0.12, f" {n_exact}", color="tab:blue", fontsize=8, ha="left")
            rows += [{"alpha": a, "n_clauses": c, "curve": "min_parents_paper_rule", "n_parents": int(n_paper),
                      "value": 1 - DELTA, "low": np.nan, "high": np.nan},
                     {"alpha": a, "n_clauses": c, "curve": "min_parents_exact_partition", "n_parents": int(n_exact),
                      "value": 1 - DELTA, "low": np.nan, "high": np.nan}]
            ax.set_xscale("log", base=2)
            # start where coverage becomes visible (below, every curve is ~0)
            first = ns[np.argmax(cf.prob_all_covered(c, k, a, ns, model="partition") > 2e-3)]
            lo_x = max(1.0, first / 2.5)
            ax.set_xlim(lo_x, n_max * 1.15)
            ticks = [2 ** i for i in range(0, 12) if lo_x <= 2 ** i <= n_max * 1.15]
            ax.set_xticks(ticks, [str(t) for t in ticks])
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
    fig.suptitle(f"Clause coverage after the random FPE split: closed forms vs Monte Carlo (delta = {DELTA} for the sizing lines)")
    caption = ctx.footer(FIGURE, data="Monte Carlo of the split masks (fpe_theory.simulate) + closed forms",
                         trials=f"{trials} Monte Carlo trials per curve (seed {seed})")
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, frameon=False)
    return ctx.save_figure(FIGURE, fig, pd.DataFrame(rows), caption)


if __name__ == "__main__":
    from .common import script_main

    sys.exit(script_main(__name__))
