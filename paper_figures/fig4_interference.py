"""Figure 4: interference metrics of the trained DNF networks, and their link to accuracy.

(a) vs hidden neurons (8 clauses), (b) vs clauses (8 hidden): top, fold change of the total
clause feature capacity (Scherlis et al.; ``fpe_empirical.metrics.feature_capacity`` over
clause features) of each split network over its own dense control (dashed line at 1: the
dense model); bottom, the same for the mean cosine similarity of neuron weight vectors.
(c) relative improvement against each metric over the networks of (a), with least-squares
lines, Pearson r and slope (``fpe_empirical.metrics.linear_fit``).

Cosine similarity: the fold change needs a baseline away from 0. The stored DNF runs carry
the signed mean cosine, which for the dense networks sits near 0 and changes sign between
trials, so the ratio is undefined there; the figure then shows the paired difference
(split - dense). When the runs carry ``mean_abs_cosine`` (mean |cos|), its fold change is
shown, as in the paper.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from .common import Figure, mean_std, paired_change, pyplot, seeds_text, style

FIGURE = Figure("fig4", "Feature capacity and cosine similarity vs dense, and their regression on RI", ("fig3a", "fig3b"))
SPLITS = ("clause", "random")


def cosine_measure(frame: pd.DataFrame) -> tuple[str, str, str]:
    """(column, "fold" or "diff", axis label) used for the cosine panels."""
    if "mean_abs_cosine" in frame.columns and frame["mean_abs_cosine"].notna().all():
        return "mean_abs_cosine", "fold", "mean |cosine| fold change (split / dense)"
    return "mean_cosine", "diff", "Δ mean cosine similarity (split - dense)"


def _metric_panel(ax, changes, x, ylabel, base, rows, panel):
    for s in SPLITS:
        g = changes[changes.strategy == s]
        st = mean_std(g, "change", [x])
        kw = style(s)
        ax.errorbar(st[x], st["mean"], yerr=st["std"], color=kw["color"], marker=kw["marker"], ms=6, capsize=3, lw=1.8,
                    label=f"{kw['label']} (mean ± std)")
        rows += [{"panel": panel, "strategy": s, "x": x, "x_value": int(r[x]), "mean": float(r["mean"]),
                  "std": float(r["std"]), "n": int(r["count"])} for _, r in st.iterrows()]
    ax.axhline(base, color="black", ls="--", lw=1.3, label="dense control")
    ax.set_xscale("log", base=2)
    xs = sorted(changes[x].unique())
    ax.set_xticks(xs, [str(v) for v in xs])
    ax.minorticks_off()
    ax.set_ylabel(ylabel)


def _regression(ax, changes, xlabel, rows, panel):
    from fpe_empirical.metrics import linear_fit

    x_all = changes["change"].to_numpy(np.float64)
    y_all = 100 * changes["relative_improvement"].to_numpy(np.float64)
    for s in SPLITS:
        g = changes[changes.strategy == s]
        kw = style(s)
        ax.scatter(g["change"], 100 * g["relative_improvement"], color=kw["color"], marker=kw["marker"], s=22,
                   alpha=0.6, lw=0, label=f"{kw['label']} runs")
    grid = np.linspace(np.nanmin(x_all), np.nanmax(x_all), 50)
    fits = [("pooled", x_all, y_all, "black", 2.0)]
    fits += [(s, changes.loc[changes.strategy == s, "change"].to_numpy(np.float64),
              100 * changes.loc[changes.strategy == s, "relative_improvement"].to_numpy(np.float64),
              style(s)["color"], 1.2) for s in SPLITS]
    for name, xs, ys, color, lw in fits:
        if len(xs) < 3 or np.ptp(xs) == 0:
            continue
        f = linear_fit(xs, ys)
        ax.plot(grid, f.slope * grid + f.intercept, color=color, lw=lw, ls="-" if name == "pooled" else "--",
                label=f"fit {name}: r = {f.r:.2f}, slope = {f.slope:.3g} %/unit, p = {f.p_value:.2g}")
        rows.append({"panel": panel, "strategy": name, "x": "fit", "x_value": np.nan, "mean": np.nan, "std": np.nan,
                     "n": f.n, "slope": f.slope, "intercept": f.intercept, "r": f.r, "p_value": f.p_value})
    for r in changes.itertuples():
        rows.append({"panel": panel, "strategy": r.strategy, "x": "run", "x_value": float(r.change),
                     "mean": 100 * float(r.relative_improvement), "std": np.nan, "n": 1, "hidden": int(r.hidden),
                     "seed": int(r.seed)})
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("relative improvement over dense (%)")
    ax.legend(fontsize=7.5)


def make(ctx) -> list:
    fa, fb = ctx.frame("fig3a"), ctx.frame("fig3b")
    cos_col, cos_how, cos_label = cosine_measure(pd.concat([fa, fb]))
    cos_base = 1.0 if cos_how == "fold" else 0.0
    plt = pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(16, 9.5))
    rows: list[dict] = []
    for col, (frame, x, xlabel, tag) in enumerate((
        (fa, "hidden", "hidden neurons", f"(a) {int(fa.n_clauses.iloc[0])} clauses, vary neurons"),
        (fb, "n_clauses", "clauses (4 literals each)", f"(b) {int(fb.hidden.iloc[0])} hidden, vary clauses"),
    )):
        fc = paired_change(frame, "feature_capacity", how="fold")
        cs = paired_change(frame, cos_col, how=cos_how)
        _metric_panel(axes[0, col], fc, x, "feature capacity fold change (split / dense)", 1.0, rows, f"{tag[:3]}fc")
        _metric_panel(axes[1, col], cs, x, cos_label, cos_base, rows, f"{tag[:3]}cos")
        axes[0, col].set_title(f"{tag}: feature capacity")
        axes[1, col].set_title(f"{tag}: cosine similarity")
        axes[1, col].set_xlabel(xlabel)
        axes[0, col].legend()
    _regression(axes[0, 2], paired_change(fa, "feature_capacity", how="fold"), "feature capacity fold change",
                rows, "c_fc")
    _regression(axes[1, 2], paired_change(fa, cos_col, how=cos_how), cos_label, rows, "c_cos")
    axes[0, 2].set_title("(c) RI vs feature capacity (runs of (a))")
    axes[1, 2].set_title("(c) RI vs cosine similarity (runs of (a))")
    fig.suptitle("fig4: interference metrics of the split networks against their dense controls, and relative improvement")
    fig.tight_layout()
    cfg = ctx.configs("fig3a")[0]
    note = ("cosine: paired difference of the signed mean cosine (its dense value is near 0 and changes sign, "
            "so a fold change is undefined)" if cos_how == "diff" else "cosine: fold change of mean |cos|")
    caption = ctx.footer(
        FIGURE,
        data=f"DNF (clause size {cfg.clause_size}, alpha {cfg.alpha}, {cfg.n_samples} samples), "
             f"{cfg.pretrain_epochs} + {cfg.split_epochs} epochs",
        trials=f"{seeds_text(fa['seed'])} per point; error bars ± 1 std",
        extra=note,
    )
    return ctx.save_figure(FIGURE, fig, pd.DataFrame(rows), caption)


if __name__ == "__main__":
    from .standalone import script_main

    sys.exit(script_main(__name__))
