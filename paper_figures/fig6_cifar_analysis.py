"""Figure 6: analysis of random-split FPE on one vision data set (CIFAR-100 in the paper).

(a) Test accuracy vs hidden width: dense at many widths (line, band ± one std) and the
random split at its base widths (points ± std), each annotated with the dense parameter
count needed to match it (``fpe_empirical.embedding_grids.dense_match_table``: the dense
accuracy curve made monotone and interpolated in non-zero parameters; "x" = that count
over the split model's). (b) Split timing: the same total epochs, split early or late
(random split solid, dense control dashed). (c) Mean |cosine similarity| of first-layer
neuron weight vectors, dense vs expansion factors 2 and 4. (d) Test accuracy for the same.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from fpe_empirical.profiles import dataset_label

from .common import Figure, mean_std, pyplot, seeds_text, style

FIGURE = Figure("fig6", "Vision analysis: dense parameters to match, split timing, cosine, expansion factor",
                ("fig6a", "fig6b", "fig6cd"))
ALPHA_COLORS = {2: "tab:orange", 4: "tab:red", 8: "tab:brown"}


def _log2_axis(ax, xs):
    ax.set_xscale("log", base=2)
    xs = sorted(set(int(x) for x in xs))
    if len(xs) > 10:  # a fine ladder: label powers of two only
        xs = [x for x in xs if x & (x - 1) == 0]
    ax.set_xticks(xs, [str(v) for v in xs])
    ax.minorticks_off()


def _panel_a(ax, frame, rows):
    from fpe_empirical.embedding_grids import dense_match_table

    dense = mean_std(frame[frame.strategy == "dense"], "test_accuracy", ["hidden"])
    split = mean_std(frame[frame.strategy == "random"], "test_accuracy", ["hidden"])
    ax.plot(dense["hidden"], 100 * dense["mean"], color="black", lw=1.8, marker=".", label="dense (every width)")
    ax.fill_between(dense["hidden"], 100 * (dense["mean"] - dense["std"]), 100 * (dense["mean"] + dense["std"]),
                    color="black", alpha=0.12, lw=0)
    kw = style("random")
    ax.errorbar(split["hidden"], 100 * split["mean"], yerr=100 * split["std"], fmt=kw["marker"], color=kw["color"],
                ms=7, capsize=3, label="random split, alpha 2 (mean ± std)")
    match = dense_match_table(frame, "random")
    for i, r in enumerate(match.itertuples()):
        text = (f"= dense with {r.param_ratio:.2f}x params\n(width ≈ {int(r.dense_hidden_needed)})"
                if np.isfinite(r.param_ratio) else "above every dense width")
        # alternate below / above the point: neighbouring widths' boxes would overlap
        ax.annotate(text, (r.hidden, 100 * r.split_accuracy), xytext=(12, -34) if i % 2 == 0 else (-30, 24),
                    textcoords="offset points",
                    fontsize=8, color="#a04000", arrowprops=dict(arrowstyle="-", color="tab:orange", lw=0.8),
                    bbox=dict(boxstyle="round,pad=0.25", fc="white", ec="tab:orange", lw=0.6, alpha=0.9))
    rows += [{"panel": "a", "strategy": "dense", "alpha": np.nan, "hidden": int(r.hidden), "x": np.nan,
              "mean": float(r.mean), "std": float(r.std), "n": int(r.count)} for r in dense.itertuples()]
    rows += [{"panel": "a", "strategy": "random", "alpha": 2, "hidden": int(r.hidden), "x": np.nan, "mean": float(r.mean),
              "std": float(r.std), "n": int(r.count)} for r in split.itertuples()]
    rows += [{"panel": "a_match", "strategy": "random", "alpha": 2, "hidden": int(r.hidden), "x": float(r.param_ratio),
              "mean": float(r.split_accuracy), "std": np.nan, "n": np.nan, "nonzero": float(r.nonzero),
              "dense_nonzero_needed": float(r.dense_nonzero_needed), "dense_hidden_needed": float(r.dense_hidden_needed)}
             for r in match.itertuples()]
    _log2_axis(ax, frame["hidden"])
    ax.set_xlabel("hidden neurons (dense width; split: width before the split)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("(a) dense parameters needed to match the random split")
    ax.legend(loc="lower right")


def _panel_b(ax, frame, rows):
    total = int((frame["pretrain_epochs"] + frame["split_epochs"]).iloc[0])
    widths = sorted(frame["hidden"].unique())
    cmap = pyplot().get_cmap("viridis")
    for i, h in enumerate(widths):
        color = cmap(i / max(1, len(widths) - 1) * 0.85)
        for s, ls, marker in (("random", "-", "^"), ("dense", "--", "s")):
            g = frame[(frame.hidden == h) & (frame.strategy == s)]
            st = mean_std(g, "test_accuracy", ["pretrain_epochs"])
            ax.errorbar(st["pretrain_epochs"], 100 * st["mean"], yerr=100 * st["std"], color=color, ls=ls,
                        marker=marker, ms=5, capsize=3, lw=1.6, label=f"hidden {h}, {'random split' if s == 'random' else 'dense'}")
            rows += [{"panel": "b", "strategy": s, "alpha": 2, "hidden": int(h), "x": int(r.pretrain_epochs),
                      "mean": float(r.mean), "std": float(r.std), "n": int(r.count)} for r in st.itertuples()]
    ax.set_xlabel(f"epoch of the split (of {total} in total; dense control: same total epochs)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("(b) split timing: early vs late")
    ax.legend(fontsize=7, ncol=2, loc="best", framealpha=0.9)


def _panel_cd(ax_c, ax_d, frame, rows):
    alphas = sorted(int(a) for a in frame["alpha"].unique())
    dense = frame[(frame.strategy == "dense") & (frame.alpha == alphas[0])]
    series = [("dense", None, dense)] + [("random", a, frame[(frame.strategy == "random") & (frame.alpha == a)])
                                         for a in alphas]
    for s, a, g in series:
        color = "black" if a is None else ALPHA_COLORS.get(a, "tab:gray")
        label = "dense" if a is None else f"random split, alpha {a}"
        marker = "s" if a is None else "^"
        for ax, value, scale, panel in ((ax_c, "mean_abs_cosine", 1, "c"), (ax_d, "test_accuracy", 100, "d")):
            st = mean_std(g, value, ["hidden"])
            ax.errorbar(st["hidden"], scale * st["mean"], yerr=scale * st["std"], color=color, marker=marker, ms=5,
                        capsize=3, lw=1.8, label=label)
            rows += [{"panel": panel, "strategy": s, "alpha": a if a is not None else np.nan, "hidden": int(r.hidden),
                      "x": np.nan, "mean": float(r.mean), "std": float(r.std), "n": int(r.count)} for r in st.itertuples()]
    for ax in (ax_c, ax_d):
        _log2_axis(ax, frame["hidden"])
        ax.set_xlabel("hidden neurons before the split")
        ax.legend()
    ax_c.set_ylabel("mean |cosine similarity| of neuron weights")
    ax_c.set_title("(c) interference: cosine similarity of first-layer neurons")
    ax_d.set_ylabel("test accuracy (%)")
    ax_d.set_title("(d) expansion factors 2 and 4")


def make(ctx) -> list:
    ds = ctx.datasets["fig6a"][0]
    fa, fb, fcd = ctx.frame("fig6a", ds), ctx.frame("fig6b", ds), ctx.frame("fig6cd", ds)
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(14, 10.5))
    rows: list[dict] = []
    _panel_a(axes[0, 0], fa, rows)
    _panel_b(axes[0, 1], fb, rows)
    _panel_cd(axes[1, 0], axes[1, 1], fcd, rows)
    title = f"fig6: random-split FPE on {dataset_label(ds)}"
    if ds == "digits":
        title = "fig6: random-split FPE [offline: digits stand-in for CIFAR-100 CLIP embeddings]"
    fig.suptitle(title)
    fig.tight_layout()
    seeds = set(fa["seed"]) | set(fb["seed"]) | set(fcd["seed"])
    cfg = ctx.configs("fig6a", ds)[0]
    caption = ctx.footer(
        FIGURE,
        data=f"{dataset_label(ds)}; {cfg.pretrain_epochs} + {cfg.split_epochs} epochs (b: same total, split moved)",
        trials=f"{seeds_text(seeds)} per point; bars and band ± 1 std",
    )
    return ctx.save_figure(FIGURE, fig, pd.DataFrame(rows), caption)


if __name__ == "__main__":
    from .standalone import script_main

    sys.exit(script_main(__name__))
