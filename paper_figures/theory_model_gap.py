"""Theory: the gap between the paper's (literal) model and the balanced splits shrinks with n.

k and alpha fixed (``profiles.MODEL_GAP_*``: k = 4, alpha = 2), the number of inputs
n = C·k grows. Left: one child covers a given clause (p) or two (q2), over the literal
model's alpha^-k and alpha^-2k (sampling without replacement: below 1, tending to 1).
Middle: the collision ratio over alpha^(1-2k), with Monte Carlo. Right: P(all clauses
covered) at the paper's sizing rule N = ceil(alpha^(k-1) ln(C/delta)): at least 1 - delta
under the literal model (the rule is sufficient there), below it for the balanced models at
small n, with Monte Carlo of each model from the store (``TheorySimulation`` runs at that
N). The partition model tends to the literal one; the subset model keeps its own limit
(a parent's alpha independent units miss a clause with probability (1 - alpha^-k)^alpha, not
1 - alpha^(1-k)). Closed forms from ``fpe_theory.model_gap_curves``; this script only draws.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from .common import MODEL_STYLE, Figure, monte_carlo_text, pyplot

FIGURE = Figure("theory_model_gap", "Literal (paper) vs balanced models: the gap shrinks as n grows",
                ("theory_model_gap",))
MARKERS = {"literal": "^", "subset": "s", "partition": "o"}


def draw(sims: pd.DataFrame, *, delta: float, clause_size: int, alpha: int, c_max: int = 1024):
    """The figure and its plotted numbers; ``sims``: rows of runs at the paper's rule N
    (``simulation_frame`` format; only the row at ``n_parents == sim_n_parents`` is used)."""
    from fpe_theory import collision_ratio, dense_collisions, model_gap_curves

    k, a = clause_size, alpha
    at_n = sims[sims["n_parents"] == sims["sim_n_parents"]].drop_duplicates(["model", "n_clauses"])
    models = [m for m in MODEL_STYLE if m in set(at_n["model"]) and m != "two_four"]
    cs = sorted(set(np.unique(np.geomspace(2, c_max, 40).astype(int)).tolist()) | set(at_n["n_clauses"].astype(int)))
    cur = model_gap_curves(k, a, cs, delta=delta, models=tuple(models))
    tables = [cur.assign(low=np.nan, high=np.nan)]
    plt = pyplot()
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16.5, 4.8))

    def curve(quantity, model):
        sel = cur[(cur.quantity == quantity) & (cur.model == model)]
        return sel["n"].to_numpy(), sel["value"].to_numpy()

    # p, q2 and the collision ratio are the same for both balanced models: one line
    balanced = [m for m in models if m != "literal"]
    if balanced:
        color, name = MODEL_STYLE[balanced[-1]][0], " = ".join(balanced)
        ax1.plot(*curve("p_over_literal", balanced[-1]), color=color, lw=2, label=f"p / alpha^-k, {name}")
        ax1.plot(*curve("q2_over_literal", balanced[-1]), color=color, lw=1.4, ls="--", label=f"q2 / alpha^-2k, {name}")
        ax2.plot(*curve("collision_ratio_over_literal", balanced[-1]), color=color, lw=2, label=f"exact, {name}")
    if "literal" in models:
        ax2.plot(*curve("collision_ratio_over_literal", "literal"), color=MODEL_STYLE["literal"][0], lw=2,
                 label="exact, literal (= the paper's alpha^(1-2k))")
    for model in models:
        color, label = MODEL_STYLE[model]
        ax3.plot(*curve("p_all_at_paper_rule", model), color=color, lw=2, label=f"exact, {label}")
    lit_ratio = collision_ratio(2, k, a, model="literal")  # alpha^(1-2k), the same for every C
    for model in models:
        color = MODEL_STYLE[model][0]
        sim = at_n[at_n.model == model].sort_values("n_clauses")
        if sim.empty:
            continue
        n = (sim["n_clauses"] * k).to_numpy()
        p, lo, hi = (sim[c].to_numpy() for c in ("p_all_covered", "p_all_low", "p_all_high"))
        ax3.errorbar(n, p, yerr=[p - lo, hi - p], fmt=MARKERS[model], ms=4.5, mfc="white", mec=color, ecolor=color,
                     capsize=2, lw=1, label=f"Monte Carlo, {model} (99.9% CI)")
        dense = np.array([dense_collisions(int(c), int(np_)) for c, np_ in zip(sim["n_clauses"], sim["sim_n_parents"])])
        cr = sim["mean_collisions"].to_numpy() / dense / lit_ratio
        cr_lo = sim["mean_collisions_low"].to_numpy() / dense / lit_ratio
        cr_hi = sim["mean_collisions_high"].to_numpy() / dense / lit_ratio
        ax2.errorbar(n, cr, yerr=[cr - cr_lo, cr_hi - cr], fmt=MARKERS[model], ms=4.5, mfc="white", mec=color,
                     ecolor=color, capsize=2, lw=1, label=f"Monte Carlo, {model} (99.9% CI)")
        tables.append(pd.DataFrame({"quantity": "simulation_p_all_at_paper_rule", "model": model, "clause_size": k,
                                    "alpha": a, "n_clauses": sim["n_clauses"].to_numpy(), "n": n, "value": p,
                                    "low": lo, "high": hi}))
        tables.append(pd.DataFrame({"quantity": "simulation_collision_ratio_over_literal", "model": model,
                                    "clause_size": k, "alpha": a, "n_clauses": sim["n_clauses"].to_numpy(), "n": n,
                                    "value": cr, "low": cr_lo, "high": cr_hi}))
    ax3.axhline(1 - delta, color="0.35", lw=1.2, ls="--", label=f"1 - delta = {1 - delta:g} (the rule's promise)")
    ticks = [2 ** e for e in range(3, 13, 2) if 2 ** e <= c_max * k]
    for ax in (ax1, ax2, ax3):
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_xlabel(f"inputs n = C·k (k = {k}, alpha = {a})")
    ax1.axhline(1.0, color=MODEL_STYLE["literal"][0], lw=2, label="literal: alpha^-k and alpha^-2k exactly")
    ax1.set_ylim(0, 1.05)
    ax1.set_ylabel("probability / literal model's value")
    ax1.set_title("One child holds a given clause (p) or two (q2)")
    ax1.legend(loc="lower right", fontsize=8)
    ax2.set_ylim(0, 1.15)
    ax2.set_ylabel("collision ratio / alpha^(1-2k)")
    ax2.set_title("Collision ratio over the paper's alpha^(1-2k)")
    ax2.legend(loc="lower right", fontsize=8)
    low = min((float(np.nanmin(curve("p_all_at_paper_rule", m)[1])) for m in models), default=0.0)
    ax3.set_ylim(max(0.0, low - 0.05), 1.01)
    ax3.set_ylabel("P(all clauses covered) at N = rule")
    ax3.set_title(f"At the paper's sizing rule N = ceil(alpha^(k-1) ln(C/{delta:g}))")
    ax3.legend(loc="lower right", fontsize=8)
    fig.suptitle("The paper's formulas are exact for the literal model; the balanced splits approach it as n grows")
    fig.tight_layout()
    return fig, pd.concat(tables, ignore_index=True)


def make(ctx) -> list:
    from fpe_empirical import profiles

    frame = ctx.frame("theory_model_gap")
    fig, data = draw(frame, delta=profiles.MODEL_GAP_DELTA, clause_size=profiles.MODEL_GAP_CLAUSE_SIZE,
                     alpha=profiles.MODEL_GAP_ALPHA)
    caption = ctx.footer(FIGURE, data="Monte Carlo of the split masks at the paper's sizing-rule N (fpe_theory.simulate) "
                                      "+ closed forms (fpe_theory.model_gap_curves)",
                         trials=monte_carlo_text(frame, "point"))
    return ctx.save_figure(FIGURE, fig, data, caption)


if __name__ == "__main__":
    from .standalone import script_main

    sys.exit(script_main(__name__))
