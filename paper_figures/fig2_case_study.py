"""Figure 2: Gram matrices and first-layer weights of the dense and clause-split case-study networks.

The case study (Section 3.1): 8 clauses of 4 literals, 8 hidden neurons, alpha 2. Top: the
feature Gram matrix ``G = W1^T W1`` (``fpe_empirical.metrics.gram_matrix``); bottom: the
first layer's effective weights ``W1`` (neurons x literals). Vertical (and, on the Gram
matrix, horizontal) lines delimit clauses; on split networks, horizontal lines on ``W1``
group the children of one parent (``parent_index``). Networks: the saved case-study models
(``fpe_empirical.profiles.case_study_models``), seed 0.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from .common import Figure, STRATEGY_STYLE, pct, pyplot, seeds_text

FIGURE = Figure("fig2", "Case study: Gram matrices and weights, dense vs clause split", ("case_study",), models=True)
SHOW_SEED = 0


def _panel(ax, matrix, title, *, clause_size, n_literals, rows_are="literals", parents=None, cbar_label=""):
    vmax = float(np.abs(matrix).max()) or 1.0
    im = ax.imshow(matrix, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto" if rows_are == "neurons" else "equal",
                   interpolation="nearest")
    ax.grid(False)
    for b in range(clause_size, n_literals, clause_size):
        ax.axvline(b - 0.5, color="black", lw=0.8)
        if rows_are == "literals":
            ax.axhline(b - 0.5, color="black", lw=0.8)
    if parents is not None:
        edges = np.flatnonzero(np.diff(parents)) + 1
        for e in edges:
            ax.axhline(e - 0.5, color="0.15", lw=1.4, ls="--")
    ax.set_title(title)
    ax.set_xlabel("input literal (grouped by clause)")
    ax.set_ylabel("input literal" if rows_are == "literals" else "hidden neuron")
    ticks = np.arange(clause_size / 2 - 0.5, n_literals, clause_size)
    ax.set_xticks(ticks, [f"c{i}" for i in range(len(ticks))], fontsize=7)
    if rows_are == "literals":
        ax.set_yticks(ticks, [f"c{i}" for i in range(len(ticks))], fontsize=7)
    else:
        n = matrix.shape[0]
        step = max(1, n // 8)
        ax.set_yticks(range(0, n, step))
    cb = ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
    cb.set_label(cbar_label, fontsize=8)
    cb.ax.tick_params(labelsize=7)
    return im


def draw(ctx, fig_spec: Figure, split: str) -> list:
    """Dense vs ``split`` case-study networks (shared by Figures 2 and A1)."""
    from fpe_empirical.metrics import first_layer_weight, gram_matrix

    results = ctx.case_study()
    res = results[SHOW_SEED] if SHOW_SEED in results else results[min(results)]
    cfg = res.config
    k, n = cfg.clause_size, cfg.n_literals
    models = {"dense": res.models["dense"], split: res.models[split]}
    acc = {s: float(res.frame.loc[res.frame.strategy == s, "test_accuracy"].iloc[0]) for s in models}
    all_rows = pd.concat([r.frame for r in results.values()], ignore_index=True)
    plt = pyplot()
    fig = plt.figure(figsize=(11, 9.2))
    gs = fig.add_gridspec(2, 2, height_ratios=[1.0, 0.62])
    rows = []
    for j, (s, model) in enumerate(models.items()):
        label = STRATEGY_STYLE[s][2]
        G = gram_matrix(model)
        W = first_layer_weight(model)
        parents = model.layers[0].parent_index.cpu().numpy()
        order = np.argsort(parents, kind="stable")
        W, parents = W[order], parents[order]
        _panel(fig.add_subplot(gs[0, j]), G, f"{label}: Gram matrix W1ᵀW1 (test acc. {pct(acc[s])})", clause_size=k,
               n_literals=n, rows_are="literals", cbar_label="G[i, j]")
        _panel(fig.add_subplot(gs[1, j]), W,
               f"{label}: first-layer weights W1 ({W.shape[0]} neurons)" + ("; dashed: sibling groups" if s != "dense" else ""),
               clause_size=k, n_literals=n, rows_are="neurons", parents=parents if s != "dense" else None,
               cbar_label="weight")
        ii, jj = np.indices(G.shape)
        rows += [{"panel": f"gram_{s}", "row": int(a), "col": int(b), "value": float(v), "parent": np.nan}
                 for a, b, v in zip(ii.ravel(), jj.ravel(), G.ravel())]
        ii, jj = np.indices(W.shape)
        rows += [{"panel": f"w1_{s}", "row": int(a), "col": int(b), "value": float(v), "parent": int(parents[a])}
                 for a, b, v in zip(ii.ravel(), jj.ravel(), W.ravel())]
    summary = "; ".join(
        f"{STRATEGY_STYLE[s][2]} {pct(g.mean(), g.std(ddof=1) if len(g) > 1 else None)}"
        for s, g in ((s, all_rows.loc[all_rows.strategy == s, "test_accuracy"]) for s in ("dense", "clause", "random"))
        if len(g)
    )
    fig.suptitle(f"{fig_spec.name}: case study, {cfg.n_clauses} clauses x {k} literals, {cfg.hidden} hidden neurons, "
                 f"alpha {cfg.alpha} (seed {res.config.seed}); lines: clause boundaries")
    fig.tight_layout()
    caption = ctx.footer(
        fig_spec,
        data=f"DNF ({cfg.n_clauses} clauses x {k} literals, {cfg.n_samples} samples), "
             f"{cfg.pretrain_epochs} + {cfg.split_epochs} epochs",
        trials=f"panels: seed {res.config.seed}; test accuracy over {seeds_text(results)} (mean ± std): {summary}",
        extra=f"networks: {ctx.store.root}/models/",
    )
    return ctx.save_figure(fig_spec, fig, pd.DataFrame(rows), caption)


def make(ctx) -> list:
    return draw(ctx, FIGURE, "clause")


if __name__ == "__main__":
    from .standalone import script_main

    sys.exit(script_main(__name__))
