"""Figure 5: test accuracy vs hidden width, dense vs random split vs Gram split, per data set.

One column per data set (``--embeddings`` files, or scikit-learn's digits offline: then the
title says so). Top: test accuracy (mean over trials, band ± one std); bottom: relative
improvement of each split over its own dense control (paired per trial).
"""

from __future__ import annotations

import sys

import pandas as pd

from fpe_empirical.profiles import dataset_label

from .common import Figure, mean_std, pyplot, seeds_text, style

FIGURE = Figure("fig5", "Vision: accuracy vs hidden width, dense vs random vs Gram split", ("fig5",))
STRATEGIES = ("dense", "random", "gram")


def _curve(ax, frame, value, strategies, scale, rows, panel, dataset):
    for s in strategies:
        g = frame[frame.strategy == s]
        if g.empty:
            continue
        st = mean_std(g, value, ["hidden"])
        kw = style(s)
        ax.plot(st["hidden"], scale * st["mean"], color=kw["color"], marker=kw["marker"], lw=1.8, ms=5,
                label=kw["label"])
        ax.fill_between(st["hidden"], scale * (st["mean"] - st["std"]), scale * (st["mean"] + st["std"]),
                        color=kw["color"], alpha=0.15, lw=0)
        rows += [{"dataset": dataset, "panel": panel, "strategy": s, "hidden": int(r["hidden"]),
                  "mean": float(r["mean"]), "std": float(r["std"]), "n": int(r["count"])} for _, r in st.iterrows()]
    ax.set_xscale("log", base=2)
    xs = sorted(frame["hidden"].unique())
    ax.set_xticks(xs, [str(v) for v in xs])
    ax.minorticks_off()


def make(ctx) -> list:
    datasets = ctx.datasets["fig5"]
    plt = pyplot()
    fig, axes = plt.subplots(2, len(datasets), figsize=(6.2 * len(datasets) + 0.6, 8.4), squeeze=False)
    rows: list[dict] = []
    seeds, sched = set(), set()
    for j, ds in enumerate(datasets):
        frame = ctx.frame("fig5", ds)
        seeds |= set(frame["seed"])
        sched |= {(int(a), int(b)) for a, b in zip(frame["pretrain_epochs"], frame["split_epochs"])}
        _curve(axes[0, j], frame, "test_accuracy", STRATEGIES, 100, rows, "accuracy", ds)
        axes[0, j].set_ylabel("test accuracy (%)")
        axes[0, j].set_title(dataset_label(ds), fontsize=9.5)
        axes[0, j].legend(title="mean ± std band")
        _curve(axes[1, j], frame[frame.strategy != "dense"], "relative_improvement", STRATEGIES[1:], 100, rows,
               "relative_improvement", ds)
        axes[1, j].axhline(0, color="black", ls="--", lw=1.2, label="dense control")
        axes[1, j].set_ylabel("relative improvement over dense (%)")
        axes[1, j].set_xlabel("hidden neurons before the split (alpha = 2: twice as many after)")
        axes[1, j].legend()
    offline = any(ds == "digits" for ds in datasets)
    fig.suptitle("fig5: FPE on vision classifiers" + (" [offline: digits stand-in, not CLIP embeddings]" if offline else ""))
    fig.tight_layout()
    caption = ctx.footer(
        FIGURE,
        data="; ".join(dataset_label(d) for d in datasets) + "; schedule(s) "
             + ", ".join(f"{a} + {b} epochs" for a, b in sorted(sched)),
        trials=f"{seeds_text(seeds)} per point",
    )
    return ctx.save_figure(FIGURE, fig, pd.DataFrame(rows), caption)


if __name__ == "__main__":
    from .standalone import script_main

    sys.exit(script_main(__name__))
