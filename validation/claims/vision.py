"""Claims of Sections 3.3-3.4 and A.7 on vision classifiers.

Each claim is registered once per data set: ``@digits`` (scikit-learn's 8x8 digits as raw
pixels, offline: the stand-in, so its verdict is about the stand-in, not about CIFAR-100),
``@clip`` (CLIP embeddings of CIFAR-100 given with ``--embeddings``; not run without them)
and, for Table A4, ``@imagenet1k`` (``--imagenet1k``). Rows with the paper's absolute
numbers exist only for the real data, and compare only at the paper profile's schedule.

Units: a seed (paired design: all strategies of one seed share the pre-trained model).
"Pooled over widths" means each seed's mean over the grid's widths, then a t interval over
seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..ledger import NOT_RUN, Outcome, all_of, claim, equivalent, greater, less, matches_gain
from ..stats import mean_ci, paired_diff, per_unit_slopes

DATA_OF = {"digits": "vision", "clip": "embeddings", "imagenet1k": "imagenet1k", "fashionmnist": "fashionmnist",
           "imagenet100": "imagenet100"}
#: Figure 5's single-hidden-layer data sets: the offline stand-in, and the paper's FashionMNIST (raw
#: pixels), CIFAR-100 and ImageNet-100 (CLIP embeddings), each run only when its file is given
FIG5_DATASETS = ("digits", "fashionmnist", "clip", "imagenet100")
#: equivalence margin for "comparable" (percentage points of test accuracy), fixed in advance
COMPARABLE_MARGIN = 0.02


def vision_claim(base_id: str, section: str, statement: str, paper_value, rule: str, *, needs: tuple[str, ...],
                 datasets=("digits", "clip"), note: str = ""):
    """Register ``fn(ctx, dataset)`` as one claim per data set (ids ``base_id@dataset``)."""

    def wrap(fn):
        for ds in datasets:
            extra = (" Offline stand-in: scikit-learn digits (8x8 pixels, 10 classes), not CIFAR-100; the verdict "
                     "is about the stand-in." if ds == "digits" else "")
            claim(f"{base_id}@{ds}", section, statement, paper_value, rule, needs=needs, data=DATA_OF[ds],
                  note=(note + extra).strip())(lambda ctx, ds=ds: fn(ctx, ds))
        return fn

    return wrap


def _wide(f: pd.DataFrame, value: str = "test_accuracy", index=("hidden", "seed")) -> pd.DataFrame:
    return f.pivot_table(index=list(index), columns="strategy", values=value, aggfunc="first")


def _pooled(w: pd.DataFrame, a: str, b: str):
    """Per seed: mean over widths of (a - b); returns the paired t interval over seeds."""
    d = (w[a] - w[b]).groupby(level="seed").mean()
    return mean_ci(d.to_numpy())


def _pts(ci, digits: int = 1) -> str:
    return f"{100 * ci.value:+.{digits}f} pts [{100 * ci.low:+.{digits}f}, {100 * ci.high:+.{digits}f}]"


def _acc_table(f: pd.DataFrame, by=("hidden",)) -> list[dict]:
    t = f.groupby([*by, "strategy"])["test_accuracy"].agg(["mean", "std", "count"]).reset_index()
    t["mean"] *= 100
    t["std"] *= 100
    return t.round(2).to_dict("records")


def _not_paper_profile(ctx, what: str, shown: dict) -> Outcome | None:
    """A "not run" outcome (numbers still shown) unless this is the paper profile."""
    if ctx.profile != "paper":
        return Outcome(NOT_RUN, reason=f"{what}: absolute numbers are only compared at the paper profile's schedule "
                                       f"(--profile paper); the numbers shown are the {ctx.profile} profile's", **shown)
    return None


# --------------------------------------------------------------------------- 3.3 Figure 5


@vision_claim("vision.fpe-beats-dense-small", "3.3 (Fig. 5)",
              "Random and Gram split FPE beat the dense model at small hidden widths.",
              "FPE > dense at small widths (Fig. 5)",
              "Reproduced iff at each of the two smallest widths of the Figure 5 grid, the paired difference "
              "(split - dense) over seeds has a 95% t interval above 0, for random and for Gram split.",
              needs=("vision.fig5",), datasets=FIG5_DATASETS)
def fpe_beats_dense(ctx, ds) -> Outcome:
    f = ctx.frame("vision.fig5", ds)
    w = _wide(f)
    widths = sorted(w.index.get_level_values("hidden").unique())[:2]
    parts, text = {}, []
    for h in widths:
        x = w.xs(h, level="hidden")
        for s in ("random", "gram"):
            ci = paired_diff(x[s], x["dense"])
            parts[f"{s}@{h}"] = greater(ci, what=f"{s} - dense at hidden {h}")
            text.append(f"h{h} {s} {_pts(ci)}")
    return all_of(parts).with_(our_value="; ".join(text[:2]) + " ...", spread="; ".join(text) + " (95% CI over seeds)",
                               details={"accuracy_pct": _acc_table(f)})


@vision_claim("vision.random-comparable-to-gram", "3.3 (Fig. 5)",
              "Gram-matrix (feature-based) splitting performs only comparably to random splitting.",
              "random ~ Gram split (Fig. 5)",
              f"Equivalence: reproduced iff the per-seed mean over widths of (random - Gram) test accuracy has a "
              f"95% t interval inside (-{100 * COMPARABLE_MARGIN:g}, +{100 * COMPARABLE_MARGIN:g}) points.",
              needs=("vision.fig5",), datasets=FIG5_DATASETS)
def random_vs_gram(ctx, ds) -> Outcome:
    f = ctx.frame("vision.fig5", ds)
    w = _wide(f)
    ci = _pooled(w, "random", "gram")
    per = {int(h): float(100 * (w.xs(h, level="hidden")["random"] - w.xs(h, level="hidden")["gram"]).mean())
           for h in sorted(w.index.get_level_values("hidden").unique())}
    return equivalent(ci, COMPARABLE_MARGIN, what="random - Gram").with_(
        our_value=f"random - Gram {_pts(ci)} pooled over widths",
        spread="per width (pts): " + ", ".join(f"h{h} {v:+.1f}" for h, v in per.items()),
        details={"accuracy_pct": _acc_table(f)})


@vision_claim("vision.gains-shrink-with-width", "3.3 / 3.4 (Fig. 5, 6d)",
              "The relative improvement of FPE is most pronounced with few neurons and shrinks as the network widens.",
              "RI decreasing with width",
              "Reproduced iff the per-seed slope of the random split's relative improvement on log2(hidden) "
              "(Figure 5 grid) has a 95% t interval below 0.",
              needs=("vision.fig5",), datasets=FIG5_DATASETS)
def gains_shrink(ctx, ds) -> Outcome:
    f = ctx.frame("vision.fig5", ds)
    g = f[f.strategy == "random"].assign(lw=lambda d: np.log2(d["hidden"]))
    ci = mean_ci(per_unit_slopes(g, "seed", "lw", "relative_improvement"))
    ri = g.groupby("hidden")["relative_improvement"].mean()
    return less(ci, what="slope").with_(
        our_value=f"{100 * ci.value:+.2f} RI points per doubling of width",
        spread=f"95% CI {ci.fmt(100, 2)}; mean RI " + ", ".join(f"h{int(h)} {100 * v:.1f}%" for h, v in ri.items()),
        details={"accuracy_pct": _acc_table(f)})


@vision_claim("vision.feature-split-beats-dense", "3.3 (Fig. 5)",
              "Feature-based (Gram) splitting consistently outperforms the dense baseline across hidden sizes.",
              "Gram split > dense at every width (Fig. 5)",
              "Reproduced iff at every width of the Figure 5 grid the paired difference (Gram split - dense) over "
              "seeds has a 95% t interval above 0.",
              needs=("vision.fig5",), datasets=FIG5_DATASETS)
def feature_beats_dense(ctx, ds) -> Outcome:
    f = ctx.frame("vision.fig5", ds)
    w = _wide(f)
    parts, text = {}, []
    for h in sorted(w.index.get_level_values("hidden").unique()):
        x = w.xs(h, level="hidden")
        ci = paired_diff(x["gram"], x["dense"])
        parts[f"gram@{h}"] = greater(ci, what=f"Gram - dense at hidden {h}")
        text.append(f"h{h} {_pts(ci)}")
    n_ok = sum(p.verdict == "reproduced" for p in parts.values())
    return all_of(parts).with_(our_value=f"Gram > dense at {n_ok}/{len(parts)} widths",
                               spread="Gram - dense: " + "; ".join(text) + " (95% CI over seeds)",
                               details={"accuracy_pct": _acc_table(f)})


#: Figure 5b (CIFAR-100): "we can double dense performance" at the smallest widths: RI 100%,
#: compared with half the effect as tolerance
PAPER_DOUBLE_RI = 1.0


@vision_claim("vision.doubles-dense-smallest", "3.3 (Fig. 5b)",
              "At the smallest widths FPE roughly doubles dense performance (feature-based split, Figure 5b).",
              "RI ~ 100% at the smallest width",
              "Gain rule at the smallest width of the Figure 5 grid (fixed in advance): reproduced iff the Gram "
              "split's relative improvement over dense (per seed, then a 95% t interval over seeds) has a lower end "
              "above 0 and a mean within 50 RI points of 100%.",
              needs=("vision.fig5",), datasets=("digits", "clip"))
def doubles_dense(ctx, ds) -> Outcome:
    f = ctx.frame("vision.fig5", ds)
    h0 = int(min(f["hidden"]))
    ri = f[(f.strategy == "gram") & (f.hidden == h0)]["relative_improvement"].to_numpy(float)
    rr = f[(f.strategy == "random") & (f.hidden == h0)]["relative_improvement"].to_numpy(float)
    ci = mean_ci(ri)
    return matches_gain(ci, PAPER_DOUBLE_RI, PAPER_DOUBLE_RI / 2, what=f"Gram RI at hidden {h0}").with_(
        our_value=f"hidden {h0}: Gram RI {100 * ci.value:.0f}% [{100 * ci.low:.0f}, {100 * ci.high:.0f}]; random RI "
                  f"{100 * rr.mean():.0f}%",
        spread=f"95% t interval over {ci.n} seeds",
        details={"accuracy_pct": _acc_table(f[f.hidden == h0])})


# --------------------------------------------------------------------------- 3.4 Figure 6


@vision_claim("vision.dense-match-1.2x", "3.4 (Fig. 6a)",
              "The random-split model matches the accuracy of a dense model with over 1.2x its parameters "
              "(32 neurons on CIFAR-100), and the trend persists across the width sweep.",
              ">= 1.2x parameters (hidden 32)",
              "Reproduced iff at every base width of the Figure 6a grid the dense non-zero count needed to match "
              "the random split's mean accuracy (dense_match_table: monotone interpolation over the dense width "
              "ladder) is >= 1.2x the split model's; a split model no dense width of the ladder reaches counts as "
              "passing (its ratio exceeds the ladder's).",
              needs=("vision.fig6a",))
def dense_match(ctx, ds) -> Outcome:
    from fpe_empirical.embedding_grids import dense_match_table

    f = ctx.frame("vision.fig6a", ds)
    t = dense_match_table(f)
    ok = [(not np.isfinite(r)) or r >= 1.2 for r in t["param_ratio"]]
    out = Outcome("reproduced" if all(ok) else "not reproduced",
                  decision={"ratios": {int(h): (None if not np.isfinite(r) else float(r)) for h, r in zip(t["hidden"], t["param_ratio"])},
                            "threshold": 1.2, "rule": "ratio >= 1.2 (or beyond the ladder) at every base width"},
                  reason=f"{sum(ok)}/{len(ok)} widths at >= 1.2x")
    return out.with_(our_value=", ".join(f"h{int(h)}: " + (f"{r:.2f}x" if np.isfinite(r) else "beyond ladder")
                                         for h, r in zip(t["hidden"], t["param_ratio"])),
                     spread="point estimates from means over seeds",
                     details={"table": t.round(4).to_dict("records")})


def _timing(f: pd.DataFrame) -> pd.DataFrame:
    return f.pivot_table(index=["hidden", "seed"], columns=["pretrain_epochs", "strategy"], values="test_accuracy",
                         aggfunc="first")


@vision_claim("vision.early-split-beats-late", "3.4 (Fig. 6b)",
              "Splitting earlier in training gives higher final accuracy than splitting later (same total epochs).",
              "early > late split",
              "Reproduced iff the per-seed mean over widths of (random split after the earliest pre-training - "
              "random split after the latest) has a 95% t interval above 0.",
              needs=("vision.fig6b",))
def early_vs_late(ctx, ds) -> Outcome:
    f = ctx.frame("vision.fig6b", ds)
    t = _timing(f)
    times = sorted(f["pretrain_epochs"].unique())
    d = (t[(times[0], "random")] - t[(times[-1], "random")]).groupby(level="seed").mean()
    ci = mean_ci(d.to_numpy())
    return greater(ci, what="early - late").with_(
        our_value=f"early ({times[0]} ep) - late ({times[-1]} ep): {_pts(ci)}",
        spread=f"95% CI over {ci.n} seeds, pooled over widths",
        details={"accuracy_pct": _acc_table(f, ("pretrain_epochs", "hidden"))})


@vision_claim("vision.late-split-beats-dense", "3.4 (Fig. 6b)",
              "Even the latest split outperforms the dense baseline given the same amount of training.",
              "late split > dense",
              "Reproduced iff the per-seed mean over widths of (random split after the latest pre-training - dense "
              "trained the same total epochs) has a 95% t interval above 0.",
              needs=("vision.fig6b",))
def late_vs_dense(ctx, ds) -> Outcome:
    f = ctx.frame("vision.fig6b", ds)
    t = _timing(f)
    late = sorted(f["pretrain_epochs"].unique())[-1]
    d = (t[(late, "random")] - t[(late, "dense")]).groupby(level="seed").mean()
    ci = mean_ci(d.to_numpy())
    return greater(ci, what="late split - dense").with_(
        our_value=f"late split ({late} ep) - dense: {_pts(ci)}", spread=f"95% CI over {ci.n} seeds, pooled over widths",
        details={"accuracy_pct": _acc_table(f, ("pretrain_epochs", "hidden"))})


@vision_claim("vision.cosine-lower", "3.4 (Fig. 6c)",
              "Random-split FPE with alpha 2 and alpha 4 has lower mean cosine similarity between first-layer "
              "neurons than the dense baseline, across the range of widths.",
              "lower cosine similarity, alpha 2 and 4",
              "Reproduced iff for alpha 2 and alpha 4 at every width of the Figure 6c grid, the paired difference "
              "(split - dense) in mean cosine similarity has a 95% t interval below 0.",
              needs=("vision.fig6cd",))
def cosine_lower(ctx, ds) -> Outcome:
    f = ctx.frame("vision.fig6cd", ds)
    parts, rows = {}, []
    for a, g in f.groupby("alpha"):
        w = _wide(g, "mean_cosine")
        for h in sorted(w.index.get_level_values("hidden").unique()):
            x = w.xs(h, level="hidden")
            ci = paired_diff(x["random"], x["dense"])
            parts[f"alpha{a}@{h}"] = less(ci, what=f"alpha {a} hidden {h}")
            rows.append({"alpha": int(a), "hidden": int(h), "dense": float(x["dense"].mean()), "random": float(x["random"].mean()),
                         "diff_low": ci.low, "diff_high": ci.high})
    out = all_of(parts)
    n_ok = sum(p.verdict == "reproduced" for p in parts.values())
    # the paper's metric is the signed mean cosine; where the dense value is near 0 or negative,
    # "lower" is not "more orthogonal", so the mean |cos| is reported beside it (not in the rule)
    n_abs = 0
    for a, g in f.groupby("alpha"):
        w = _wide(g, "mean_abs_cosine")
        for h in sorted(w.index.get_level_values("hidden").unique()):
            x = w.xs(h, level="hidden")
            ci = paired_diff(x["random"], x["dense"])
            n_abs += ci.high < 0
            next(r for r in rows if r["alpha"] == a and r["hidden"] == h).update(
                abs_dense=float(x["dense"].mean()), abs_random=float(x["random"].mean()))
    return out.with_(our_value=f"signed cosine lower at {n_ok}/{len(parts)} (alpha, width) cells "
                               f"(mean |cos| lower at {n_abs}/{len(parts)})",
                     spread="mean cosine dense -> split: " + ", ".join(
                         f"a{r['alpha']} h{r['hidden']} {r['dense']:.3f}->{r['random']:.3f}" for r in rows[:6]),
                     details={"cells": rows})


@vision_claim("vision.expansion-factors", "3.4 (Fig. 6d)",
              "All expansion factors (alpha 2, 4) give gains when the base model is small; the differences "
              "between them diminish as width increases.",
              "gains for alpha 2 and 4 at small width; |alpha4 - alpha2| shrinks",
              "Reproduced iff (a) at the smallest width, (split - dense) has a 95% t interval above 0 for alpha 2 and "
              "for alpha 4, and (b) the per-seed slope of |acc(alpha 4) - acc(alpha 2)| on log2(hidden) has a 95% t "
              "interval below 0.",
              needs=("vision.fig6cd",))
def expansion_factors(ctx, ds) -> Outcome:
    f = ctx.frame("vision.fig6cd", ds)
    t = f.pivot_table(index=["hidden", "seed"], columns=["alpha", "strategy"], values="test_accuracy", aggfunc="first")
    h0 = sorted(t.index.get_level_values("hidden").unique())[0]
    x = t.xs(h0, level="hidden")
    parts = {}
    for a in (2, 4):
        ci = paired_diff(x[(a, "random")], x[(a, "dense")])
        parts[f"alpha{a}-gain@{h0}"] = greater(ci, what=f"alpha {a} gain at hidden {h0}")
    gap = (t[(4, "random")] - t[(2, "random")]).abs().rename("gap").reset_index()
    gap["lw"] = np.log2(gap["hidden"])
    sl = mean_ci(per_unit_slopes(gap, "seed", "lw", "gap"))
    parts["gap-shrinks"] = less(sl, what="slope of |alpha4 - alpha2|")
    g = gap.groupby("hidden")["gap"].mean()
    return all_of(parts).with_(
        our_value="|alpha4 - alpha2| by width: " + ", ".join(f"h{int(h)} {100 * v:.1f} pts" for h, v in g.items()),
        spread=f"slope {sl.fmt(100, 2)} pts per doubling (95% CI over seeds)",
        details={"accuracy_pct": _acc_table(f, ("alpha", "hidden"))})


# --------------------------------------------------------------------------- A.7 Table A3


PAPER_A3 = {5: {4: 0.28, 8: 0.026, 12: 0.004, 16: 0.002},
            7: {4: 0.34, 8: 0.11, 12: 0.011, 16: 0.008},
            9: {4: 1.04, 8: 0.087, 12: 0.020, 16: 0.014}}


def _a3_ri(f: pd.DataFrame) -> pd.DataFrame:
    g = f[f.strategy == "random"].copy()
    g["layers"] = g["depth"] + 1  # paper counts linear layers incl. the head
    return g


@vision_claim("tableA3.deep-gains-narrow", "A.7 (Table A3)",
              "Deep (5/7/9-layer) MLPs with alternating FPE improve over dense, especially when narrow.",
              "RI > 0, largest at hidden 4 (Table A3)",
              "Reproduced iff for every depth: (a) at hidden 4 the paired difference (random split - dense) has a "
              "95% t interval above 0, and (b) the per-seed slope of relative improvement on log2(hidden) has a "
              "95% t interval below 0.",
              needs=("vision.table_a3",))
def a3_pattern(ctx, ds) -> Outcome:
    f = ctx.frame("vision.table_a3", ds)
    parts, text = {}, []
    for depth, g in f.groupby("depth"):
        L = int(depth) + 1
        w = _wide(g)
        h0 = sorted(w.index.get_level_values("hidden").unique())[0]
        x = w.xs(h0, level="hidden")
        ci = paired_diff(x["random"], x["dense"])
        parts[f"{L}-layer gain@{h0}"] = greater(ci, what=f"{L}-layer gain at hidden {h0}")
        r = _a3_ri(g).assign(lw=lambda d: np.log2(d["hidden"]))
        sl = mean_ci(per_unit_slopes(r, "seed", "lw", "relative_improvement"))
        parts[f"{L}-layer slope"] = less(sl, what=f"{L}-layer RI slope")
        text.append(f"{L}L: h{h0} {_pts(ci)}")
    ri = _a3_ri(f).groupby(["layers", "hidden"])["relative_improvement"].mean().unstack("hidden") * 100
    table = "; ".join(f"{int(L)}L " + ", ".join(f"h{int(h)} {v:.1f}%" for h, v in row.items()) for L, row in ri.iterrows())
    return all_of(parts).with_(our_value="; ".join(text), spread="mean RI by layers x hidden: " + table,
                               details={"ri_pct": ri.round(2).reset_index().to_dict("records"), "accuracy_pct": _acc_table(f, ("depth", "hidden"))})


#: Table A3 cells compared (fixed from the paper): the widths where the paper's gain is large
#: enough to resolve (>= 2.6% RI: hidden 4 and 8 at every depth); the others are shown
A3_COMPARED = ((5, 4), (5, 8), (7, 4), (7, 8), (9, 4), (9, 8))


@vision_claim("tableA3.values", "A.7 (Table A3)",
              "Table A3's relative improvements on CIFAR-100 CLIP embeddings (5/7/9 layers x hidden 4/8/12/16).",
              "5L 28/2.6/0.4/0.2%; 7L 34/11/1.1/0.8%; 9L 104/8.7/2.0/1.4%",
              "Gain rule per cell, at the cells fixed from the paper where its gain is >= 2.6% (hidden 4 and 8 at "
              "5, 7, 9 layers): reproduced iff in each the relative improvement (per seed, 95% t interval over "
              "seeds) has a lower end above 0 and a mean within half the paper's value of it; at the paper "
              "profile's schedule. The other six cells are shown.",
              needs=("vision.table_a3",), datasets=("clip",))
def a3_values(ctx, ds) -> Outcome:
    f = _a3_ri(ctx.frame("vision.table_a3", ds))
    parts, cells = {}, []
    for L, row in PAPER_A3.items():
        for h, p in row.items():
            v = f[(f.layers == L) & (f.hidden == h)]["relative_improvement"].to_numpy(float)
            ci = mean_ci(v) if v.size else None
            cells.append({"layers": L, "hidden": h, "paper": p, "ours": None if ci is None else ci.value,
                          "low": None if ci is None else ci.low, "high": None if ci is None else ci.high,
                          "compared": (L, h) in A3_COMPARED})
            if (L, h) in A3_COMPARED and ci is not None:
                parts[f"{L}L h{h}"] = matches_gain(ci, p, p / 2, what=f"RI {L}L h{h}")
    k = sum(p.verdict == "reproduced" for p in parts.values())
    shown = dict(our_value=", ".join(f"{c['layers']}L h{c['hidden']} {100 * c['ours']:.1f}%" for c in cells
                                     if c["ours"] is not None),
                 spread=f"{k}/{len(parts)} compared cells match (gain rule)", details={"cells": cells})
    missing = [f"{L}L h{h}" for L, h in A3_COMPARED if f"{L}L h{h}" not in parts]
    if missing:
        return Outcome(NOT_RUN, reason=f"no runs at {missing} in this profile", **shown)
    skip = _not_paper_profile(ctx, "Table A3 values", shown)
    if skip is not None:
        return skip
    return all_of(parts).with_(**shown)


# --------------------------------------------------------------------------- A.7 Table A4

PAPER_A4 = {6: (0.130, 0.139), 8: (0.238, 0.251), 10: (0.306, 0.319), 12: (0.381, 0.388), 14: (0.429, 0.436), 16: (0.469, 0.470)}


@vision_claim("tableA4.consistent-gains", "A.7 (Table A4)",
              "A 5-layer MLP with FPE consistently improves over the dense baseline (hidden 6..16), with gains "
              "shrinking as width grows.",
              "RI 6.2% -> 0.1% (hidden 6 -> 16, ImageNet-1k)",
              "Reproduced iff (a) the per-seed mean over widths of (random split - dense) has a 95% t interval above "
              "0, and (b) the per-seed slope of relative improvement on hidden has a 95% t interval below 0.",
              needs=("vision.table_a4",), datasets=("digits", "imagenet1k"))
def a4_pattern(ctx, ds) -> Outcome:
    f = ctx.frame("vision.table_a4", ds)
    w = _wide(f)
    ci = _pooled(w, "random", "dense")
    r = f[f.strategy == "random"]
    sl = mean_ci(per_unit_slopes(r, "seed", "hidden", "relative_improvement"))
    ri = r.groupby("hidden")["relative_improvement"].mean()
    return all_of({"gain": greater(ci, what="random - dense"), "shrinks": less(sl, what="RI slope")}).with_(
        our_value=f"random - dense {_pts(ci)} pooled; RI " + ", ".join(f"h{int(h)} {100 * v:.1f}%" for h, v in ri.items()),
        spread=f"RI slope {sl.fmt(100, 2)} pts per neuron (95% CI over seeds)",
        details={"accuracy_pct": _acc_table(f)})


#: Table A4 RI (FPE over dense); compared at the widths fixed from the paper where its gain is >= 4%
PAPER_A4_RI = {6: 0.062, 8: 0.056, 10: 0.043, 12: 0.020, 14: 0.017, 16: 0.001}
A4_COMPARED = (6, 8, 10)


@vision_claim("tableA4.values", "A.7 (Table A4)",
              "Table A4's ImageNet-1k gains of the 5-layer FPE MLP over dense (RI 6.2/5.6/4.3/2.0/1.7/0.1% at "
              "hidden 6..16).",
              "RI 6.2/5.6/4.3/2.0/1.7/0.1% (dense 13.0..46.9%, FPE 13.9..47.0%)",
              "Gain rule at the widths fixed from the paper where its gain is >= 4% (hidden 6, 8, 10): reproduced "
              "iff at each the relative improvement of FPE over dense (per seed, 95% t interval over seeds) has a "
              "lower end above 0 and a mean within half the paper's value of it; at the paper profile's "
              "schedule. Accuracies and the other widths are shown.",
              needs=("vision.table_a4",), datasets=("imagenet1k",))
def a4_values(ctx, ds) -> Outcome:
    f = ctx.frame("vision.table_a4", ds)
    m = f.groupby(["hidden", "strategy"])["test_accuracy"].mean().unstack("strategy")
    parts, cells = {}, []
    for h, p in PAPER_A4_RI.items():
        v = f[(f.strategy == "random") & (f.hidden == h)]["relative_improvement"].to_numpy(float)
        ci = mean_ci(v) if v.size else None
        pd_, pf = PAPER_A4[h]
        cells.append({"hidden": h, "paper_ri": p, "ri": None if ci is None else ci.value,
                      "ri_low": None if ci is None else ci.low, "ri_high": None if ci is None else ci.high,
                      "paper_dense": pd_, "dense": float(m.loc[h, "dense"]) if h in m.index else None,
                      "paper_fpe": pf, "fpe": float(m.loc[h, "random"]) if h in m.index else None,
                      "compared": h in A4_COMPARED})
        if h in A4_COMPARED and ci is not None:
            parts[f"h{h}"] = matches_gain(ci, p, p / 2, what=f"RI at hidden {h}")
    k = sum(p.verdict == "reproduced" for p in parts.values())
    shown = dict(our_value=", ".join(f"h{c['hidden']} RI {100 * c['ri']:.1f}%" for c in cells if c["ri"] is not None),
                 spread=f"{k}/{len(parts)} compared widths match (gain rule)", details={"cells": cells})
    missing = [h for h in A4_COMPARED if f"h{h}" not in parts]
    if missing:
        return Outcome(NOT_RUN, reason=f"no runs at hidden {missing} in this profile", **shown)
    skip = _not_paper_profile(ctx, "Table A4 values", shown)
    if skip is not None:
        return skip
    return all_of(parts).with_(**shown)


# --------------------------------------------------------------------------- A.7 Table A5


@vision_claim("tableA5.two-four-comparable", "A.7 (Table A5)",
              "FPE with 2:4 structured masks is highly competitive with unstructured random FPE.",
              "61.67% vs 61.92% (2:4 vs random)",
              f"Equivalence: reproduced iff the per-seed mean over widths of (2:4 - random) test accuracy has a 95% t "
              f"interval inside (-{100 * COMPARABLE_MARGIN:g}, +{100 * COMPARABLE_MARGIN:g}) points.",
              needs=("vision.table_a5",))
def a5_comparable(ctx, ds) -> Outcome:
    f = ctx.frame("vision.table_a5", ds)
    w = _wide(f)
    ci = _pooled(w, "two_four", "random")
    return equivalent(ci, COMPARABLE_MARGIN, what="2:4 - random").with_(
        our_value=f"2:4 - random {_pts(ci)} pooled over widths", spread=f"95% CI over {ci.n} seeds",
        details={"accuracy_pct": _acc_table(f)})


@vision_claim("tableA5.both-beat-dense", "A.7 (Table A5)",
              "Both 2:4 and random FPE improve over the dense model.",
              "RI 14.42% (2:4), 14.89% (random) over 53.89% dense",
              "Reproduced iff the per-seed mean over widths of (split - dense) has a 95% t interval above 0 for 2:4 "
              "and for random split.",
              needs=("vision.table_a5",))
def a5_beat_dense(ctx, ds) -> Outcome:
    f = ctx.frame("vision.table_a5", ds)
    w = _wide(f)
    a, b = _pooled(w, "two_four", "dense"), _pooled(w, "random", "dense")
    return all_of({"two_four": greater(a, what="2:4 - dense"), "random": greater(b, what="random - dense")}).with_(
        our_value=f"2:4 - dense {_pts(a)}; random - dense {_pts(b)}", spread=f"95% CI over {a.n} seeds, pooled over widths",
        details={"accuracy_pct": _acc_table(f)})


#: Table A5's width, fixed a priori: the paper does not state it; hidden 8 is the width where the
#: paper's other one-layer CIFAR-100 result (A.7 rewiring: RI 14% at 8 neurons) has Table A5's gain
A5_WIDTH = 8
PAPER_A5 = {"dense": 0.5389, "two_four": 0.1442, "random": 0.1489}


@vision_claim("tableA5.values", "A.7 (Table A5)",
              "Table A5 on CIFAR-100: dense 53.89%, 2:4 FPE 61.67% (RI 14.42%), random FPE 61.92% (RI 14.89%).",
              "RI 14.42% (2:4), 14.89% (random); dense 53.89%",
              f"The paper does not state the width; fixed in advance at hidden {A5_WIDTH} (where A.7's rewiring "
              f"result on the same data reports RI 14% at 8 neurons). Gain rule: reproduced iff for 2:4 and for "
              f"random the relative improvement over dense (per seed, 95% t interval over seeds) has a lower end "
              f"above 0 and a mean within half the paper's value of it, at the paper profile's schedule. The dense "
              f"accuracy is shown, not judged.",
              needs=("vision.table_a5",), datasets=("clip",))
def a5_values(ctx, ds) -> Outcome:
    f = ctx.frame("vision.table_a5", ds)
    g = f[f.hidden == A5_WIDTH]
    if g.empty:
        return Outcome(NOT_RUN, reason=f"no Table A5 runs at hidden {A5_WIDTH}")
    parts, text = {}, []
    for s in ("two_four", "random"):
        ci = mean_ci(g[g.strategy == s]["relative_improvement"].to_numpy(float))
        parts[s] = matches_gain(ci, PAPER_A5[s], PAPER_A5[s] / 2, what=f"{s} RI")
        text.append(f"{s} RI {100 * ci.value:.1f}% [{100 * ci.low:.1f}, {100 * ci.high:.1f}]")
    dense = float(g[g.strategy == "dense"]["test_accuracy"].mean())
    shown = dict(our_value=f"hidden {A5_WIDTH}: " + "; ".join(text) + f"; dense {100 * dense:.2f}%",
                 spread="95% t intervals over seeds", details={"accuracy_pct": _acc_table(f)})
    skip = _not_paper_profile(ctx, "Table A5 values", shown)
    if skip is not None:
        return skip
    return all_of(parts).with_(**shown)


# --------------------------------------------------------------------------- A.7 dynamic rewiring

PAPER_REWIRE = {4: 0.045, 8: 0.019, 16: 0.005}


def _rewire_frame(f: pd.DataFrame) -> pd.DataFrame:
    """One row per (hidden, seed): one-shot random, dense, and the rewired model; with several rewiring
    hyper-parameters, the pair with the best mean *train* accuracy per width (no test-set selection)."""
    one = f[f.strategy.isin(("dense", "random"))].pivot_table(index=["hidden", "seed"], columns="strategy",
                                                                values="test_accuracy", aggfunc="first")
    rw = f[f.strategy == "random+rewire"]
    hp = [c for c in ("rewire_every", "rewire_fraction") if c in rw.columns]
    chosen = []
    for h, g in rw.groupby("hidden"):
        best = g.groupby(hp)["train_accuracy"].mean().idxmax() if hp else None
        sel = g if best is None else g[(g[hp] == pd.Series(best if isinstance(best, tuple) else (best,), index=hp)).all(axis=1)]
        chosen.append(sel)
    rw = pd.concat(chosen)
    one["rewire"] = rw.set_index(["hidden", "seed"])["test_accuracy"]
    return one.dropna()


@vision_claim("rewiring.gains", "A.7",
              "Dynamic rewiring after the FPE split improves on one-shot random FPE, most for narrow models.",
              "+4.5 / +1.9 / +0.5 points at 4 / 8 / 16 neurons",
              "Reproduced iff (a) at the smallest width (rewired - one-shot random) has a paired 95% t interval above "
              "0, and (b) that gain is larger at the smallest width than at the largest (paired per seed, 95% t "
              "interval of the difference above 0).",
              needs=("vision.dynamic",))
def rewiring_gains(ctx, ds) -> Outcome:
    t = _rewire_frame(ctx.frame("vision.dynamic", ds))
    gain = (t["rewire"] - t["random"]).rename("gain")
    hs = sorted(gain.index.get_level_values("hidden").unique())
    g0, g1 = gain.xs(hs[0], level="hidden"), gain.xs(hs[-1], level="hidden")
    a = mean_ci(g0.to_numpy())
    common = g0.index.intersection(g1.index)
    b = paired_diff(g0.loc[common], g1.loc[common])
    per = gain.groupby(level="hidden").mean()
    return all_of({"gain-small": greater(a, what=f"gain at hidden {hs[0]}"),
                   "shrinks": greater(b, what=f"gain h{hs[0]} - gain h{hs[-1]}")}).with_(
        our_value="rewired - one-shot: " + ", ".join(f"h{int(h)} {100 * v:+.1f} pts" for h, v in per.items()),
        spread=f"h{hs[0]} {_pts(a)}; shrink {_pts(b)} (95% CI over seeds)",
        details={"per_seed": t.reset_index().round(4).to_dict("records")})


#: the rewired model's relative improvement over dense (A.7: "53%, 14%, and 3.0%")
PAPER_REWIRE_RI = {4: 0.53, 8: 0.14, 16: 0.030}


@vision_claim("rewiring.values", "A.7",
              "Dynamic rewiring gains on CIFAR-100 CLIP embeddings: +4.5, +1.9, +0.5 points over one-shot random FPE "
              "at 4, 8, 16 neurons (ten trials, tuned rewiring).",
              "+4.5 / +1.9 / +0.5 points",
              "Gain rule at each of hidden 4, 8, 16: reproduced iff the paired gain (rewired - one-shot random, per "
              "seed; 95% t interval over seeds) has a lower end above 0 and a mean within half the paper's gain of "
              "it, at the paper profile (rewiring hyper-parameters chosen per width by mean train accuracy).",
              needs=("vision.dynamic",), datasets=("clip",))
def rewiring_values(ctx, ds) -> Outcome:
    t = _rewire_frame(ctx.frame("vision.dynamic", ds))
    gain = t["rewire"] - t["random"]
    return _rewire_rule(ctx, gain, PAPER_REWIRE, "gain", "rewiring gains", scale_unit=("pts", 1))


@vision_claim("rewiring.relative-improvements", "A.7",
              "Dynamic rewiring's relative improvements over the respective dense models on CIFAR-100 CLIP "
              "embeddings: 53%, 14% and 3.0% at 4, 8, 16 neurons.",
              "RI 53% / 14% / 3.0%",
              "Gain rule at each of hidden 4, 8, 16: reproduced iff the rewired model's relative improvement over "
              "dense (per seed; 95% t interval over seeds) has a lower end above 0 and a mean within half the "
              "paper's value of it, at the paper profile.",
              needs=("vision.dynamic",), datasets=("clip",))
def rewiring_ri(ctx, ds) -> Outcome:
    t = _rewire_frame(ctx.frame("vision.dynamic", ds))
    ri = t["rewire"] / t["dense"] - 1
    return _rewire_rule(ctx, ri, PAPER_REWIRE_RI, "RI", "rewiring relative improvements", scale_unit=("%", 0))


def _rewire_rule(ctx, per_seed: pd.Series, paper: dict, what: str, label: str, *, scale_unit) -> Outcome:
    unit, digits = scale_unit
    parts, cells, missing = {}, [], []
    for h, p in paper.items():
        if h not in set(per_seed.index.get_level_values("hidden")):
            missing.append(h)
            continue
        ci = mean_ci(per_seed.xs(h, level="hidden").to_numpy(float))
        parts[f"h{h}"] = matches_gain(ci, p, p / 2, what=f"{what} at hidden {h}")
        cells.append({"hidden": h, "paper": p, "ours": ci.value, "low": ci.low, "high": ci.high})
    k = sum(p.verdict == "reproduced" for p in parts.values())
    shown = dict(our_value=", ".join(f"h{c['hidden']} {100 * c['ours']:+.{max(digits, 1)}f} {unit} "
                                     f"[{100 * c['low']:+.1f}, {100 * c['high']:+.1f}]" for c in cells),
                 spread=f"{k}/{len(cells)} widths match (gain rule)", details={"cells": cells})
    if missing:
        return Outcome(NOT_RUN, reason=f"no rewiring runs at hidden {missing} in this profile", **shown)
    skip = _not_paper_profile(ctx, label, shown)
    if skip is not None:
        return skip
    return all_of(parts).with_(**shown)
