"""Theory: collision ratio E[FPE collisions] / E[dense collisions] vs clause count C.

Exact ``alpha * q2`` (``fpe_theory.collision_ratio``, q2 = d↓2k / n↓2k), the paper's
``alpha^(1-2k)``, and the Monte Carlo ratio from the store (``TheorySimulation`` runs:
mean collisions of the simulated split over the dense count ``N * C(C, 2)``, 99.9%
interval). Right: how far the paper's approximation is from the exact value.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from .common import Figure, pyplot

FIGURE = Figure("theory_collisions", "Collision ratio, exact vs the paper's approximation vs Monte Carlo",
                ("theory_collisions",))
COLORS = {2: "tab:blue", 4: "tab:red", 8: "tab:green"}


def make(ctx) -> list:
    from fpe_theory import closed_forms as cf

    frame = ctx.frame("theory_collisions")
    runs = frame.drop_duplicates("key")
    k = int(runs["clause_size"].iloc[0])
    trials = int(runs["trials"].iloc[0])
    seed = int(runs["seed"].iloc[0])
    plt = pyplot()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.6))
    rows = []
    c_max = int(runs["n_clauses"].max())
    for a in sorted(int(x) for x in runs["alpha"].unique()):
        color = COLORS.get(a, "tab:gray")
        cs = [c for c in range(2, max(c_max, 64) + 1) if (c * k) % a == 0 and k <= c * k // a]
        exact = np.array([cf.collision_ratio(c, k, a) for c in cs])
        paper = float(cf.collision_ratio(cs[-1], k, a, method="paper"))
        ax.plot(cs, exact, color=color, lw=2, label=f"exact alpha·q2, alpha = {a}")
        ax.axhline(paper, color=color, lw=1.3, ls="--", label=f"paper alpha^(1-2k) = {paper:.3g}, alpha = {a}")
        ax2.plot(cs, exact / paper, color=color, lw=2, label=f"alpha = {a}")
        rows += [{"alpha": a, "n_clauses": c, "curve": "exact", "value": float(v), "low": np.nan, "high": np.nan}
                 for c, v in zip(cs, exact)]
        rows += [{"alpha": a, "n_clauses": c, "curve": "paper", "value": paper, "low": np.nan, "high": np.nan} for c in cs]
        rows += [{"alpha": a, "n_clauses": c, "curve": "exact_over_paper", "value": float(v / paper), "low": np.nan,
                  "high": np.nan} for c, v in zip(cs, exact)]
        sim = runs[runs.alpha == a].sort_values("n_clauses")
        xs, ys, lo, hi, ub = [], [], [], [], []
        for r in sim.itertuples():
            c, n_par = int(r.n_clauses), int(r.sim_n_parents)
            dense = cf.dense_collisions(c, n_par)
            if dense <= 0:
                continue
            rows.append({"alpha": a, "n_clauses": c, "curve": f"simulation (N={n_par})", "value": r.mean_collisions / dense,
                         "low": r.mean_collisions_low / dense, "high": r.mean_collisions_high / dense})
            if r.mean_collisions > 0:
                xs.append(c)
                ys.append(r.mean_collisions / dense)
                lo.append((r.mean_collisions - r.mean_collisions_low) / dense)
                hi.append((r.mean_collisions_high - r.mean_collisions) / dense)
            elif r.mean_collisions_high > 0:
                ub.append((c, r.mean_collisions_high / dense))
        if xs:
            ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o", ms=5, color=color, mec="black", capsize=3,
                        label=f"Monte Carlo (99.9% CI), alpha = {a}")
        if ub:
            ax.plot([u[0] for u in ub], [u[1] for u in ub], "v", ms=6, color=color, mec="black", alpha=0.7,
                    label=f"Monte Carlo upper bound (no collision seen), alpha = {a}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_ylim(bottom=1e-7)
    ax.text(0.98, 0.02, "exact ratio = 0 where 2k > n/alpha\n(no child holds two clauses)", transform=ax.transAxes,
            fontsize=8, color="0.3", va="bottom", ha="right")
    ax.set_xlabel("clauses C (k = %d literals each)" % k)
    ax.set_ylabel("E[collisions, FPE] / E[collisions, dense]")
    ax.set_title("Collision ratio after random FPE")
    ax.grid(True, which="both", alpha=0.25)
    ax2.set_xscale("log", base=2)
    for a_ in (ax, ax2):
        ticks = [2 ** i for i in range(1, 7)]
        a_.set_xticks(ticks, [str(t) for t in ticks])
    ax2.axhline(1.0, color="0.4", lw=1)
    ax2.set_ylim(0, 1.05)
    ax2.set_xlabel("clauses C (k = %d literals each)" % k)
    ax2.set_ylabel("exact ratio / paper's alpha^(1-2k)")
    ax2.set_title("The paper's approximation overstates collisions at small C")
    ax2.legend(loc="lower right")
    fig.tight_layout()
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, frameon=False)
    n_par = int(runs["sim_n_parents"].iloc[0])
    caption = ctx.footer(FIGURE, data=f"Monte Carlo of the split masks (fpe_theory.simulate, N = {n_par} parents) + closed forms",
                         trials=f"{trials} Monte Carlo trials per point (seed {seed})")
    return ctx.save_figure(FIGURE, fig, pd.DataFrame(rows), caption)


if __name__ == "__main__":
    from .common import script_main

    sys.exit(script_main(__name__))
