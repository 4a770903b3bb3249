"""Appendix A.7, Tables A3-A5: deep MLPs with alternating FPE (A3), the 5-layer MLP on
ImageNet-1k (A4), 2:4 structured masks (A5)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...ledger import NOT_RUN, Outcome, all_of, equivalent, greater, less, matches_gain
from ...stats import mean_ci, paired_diff, per_unit_slopes
from .common import COMPARABLE_MARGIN, acc_table, figure_claim, paper_verdict, pooled, pts, vision_claim, wide

#: the claims of each table: its runs (Table A4: the digits stand-in and ImageNet-1k)
_a3 = figure_claim(("vision.table_a3",))
_a4 = figure_claim(("vision.table_a4",), ("digits", "imagenet1k"))
_a5 = figure_claim(("vision.table_a5",))

PAPER_A3 = {5: {4: 0.28, 8: 0.026, 12: 0.004, 16: 0.002},
            7: {4: 0.34, 8: 0.11, 12: 0.011, 16: 0.008},
            9: {4: 1.04, 8: 0.087, 12: 0.020, 16: 0.014}}


def _a3_ri(f: pd.DataFrame) -> pd.DataFrame:
    g = f[f.strategy == "random"].copy()
    g["layers"] = g["depth"] + 1  # paper counts linear layers incl. the head
    return g


@_a3("tableA3.deep-gains-narrow", "A.7 (Table A3)",
     "Deep (5/7/9-layer) MLPs with alternating FPE improve over dense, especially when narrow.",
     "RI > 0, largest at hidden 4 (Table A3)",
     "Reproduced iff for every depth: (a) at hidden 4 the paired difference (random split - dense) has a "
     "95% t interval above 0, and (b) the per-seed slope of relative improvement on log2(hidden) has a "
     "95% t interval below 0.")
def a3_pattern(ctx, f) -> Outcome:
    parts, text = {}, []
    for depth, g in f.groupby("depth"):
        L = int(depth) + 1
        w = wide(g)
        h0 = sorted(w.index.get_level_values("hidden").unique())[0]
        x = w.xs(h0, level="hidden")
        ci = paired_diff(x["random"], x["dense"])
        parts[f"{L}-layer gain@{h0}"] = greater(ci, what=f"{L}-layer gain at hidden {h0}")
        r = _a3_ri(g).assign(lw=lambda d: np.log2(d["hidden"]))
        sl = mean_ci(per_unit_slopes(r, "seed", "lw", "relative_improvement"))
        parts[f"{L}-layer slope"] = less(sl, what=f"{L}-layer RI slope")
        text.append(f"{L}L: h{h0} {pts(ci)}")
    ri = _a3_ri(f).groupby(["layers", "hidden"])["relative_improvement"].mean().unstack("hidden") * 100
    table = "; ".join(f"{int(L)}L " + ", ".join(f"h{int(h)} {v:.1f}%" for h, v in row.items()) for L, row in ri.iterrows())
    return all_of(parts).with_(our_value="; ".join(text), spread="mean RI by layers x hidden: " + table,
                               details={"ri_pct": ri.round(2).reset_index().to_dict("records"), "accuracy_pct": acc_table(f, ("depth", "hidden"))})


#: Table A3 cells compared (fixed from the paper): the widths where the paper's gain is large
#: enough to resolve (>= 2.6% RI: hidden 4 and 8 at every depth); the others are shown
A3_COMPARED = ((5, 4), (5, 8), (7, 4), (7, 8), (9, 4), (9, 8))


@_a3("tableA3.values", "A.7 (Table A3)",
     "Table A3's relative improvements on CIFAR-100 CLIP embeddings (5/7/9 layers x hidden 4/8/12/16).",
     "5L 28/2.6/0.4/0.2%; 7L 34/11/1.1/0.8%; 9L 104/8.7/2.0/1.4%",
     "Gain rule per cell, at the cells fixed from the paper where its gain is >= 2.6% (hidden 4 and 8 at "
     "5, 7, 9 layers): reproduced iff in each the relative improvement (per seed, 95% t interval over "
     "seeds) has a lower end above 0 and a mean within half the paper's value of it; at the paper "
     "profile's schedule. The other six cells are shown.",
     datasets=("clip",), prepare=_a3_ri)
def a3_values(ctx, f) -> Outcome:
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
    return paper_verdict(ctx, "Table A3 values", parts, shown,
                         f"no runs at {missing} in this profile" if missing else "")


# --------------------------------------------------------------------------- A.7 Table A4

PAPER_A4 = {6: (0.130, 0.139), 8: (0.238, 0.251), 10: (0.306, 0.319), 12: (0.381, 0.388), 14: (0.429, 0.436), 16: (0.469, 0.470)}


@_a4("tableA4.consistent-gains", "A.7 (Table A4)",
     "A 5-layer MLP with FPE consistently improves over the dense baseline (hidden 6..16), with gains "
     "shrinking as width grows.",
     "RI 6.2% -> 0.1% (hidden 6 -> 16, ImageNet-1k)",
     "Reproduced iff (a) the per-seed mean over widths of (random split - dense) has a 95% t interval above "
     "0, and (b) the per-seed slope of relative improvement on hidden has a 95% t interval below 0.")
def a4_pattern(ctx, f) -> Outcome:
    ci = pooled(wide(f), "random", "dense")
    r = f[f.strategy == "random"]
    sl = mean_ci(per_unit_slopes(r, "seed", "hidden", "relative_improvement"))
    ri = r.groupby("hidden")["relative_improvement"].mean()
    return all_of({"gain": greater(ci, what="random - dense"), "shrinks": less(sl, what="RI slope")}).with_(
        our_value=f"random - dense {pts(ci)} pooled; RI " + ", ".join(f"h{int(h)} {100 * v:.1f}%" for h, v in ri.items()),
        spread=f"RI slope {sl.fmt(100, 2)} pts per neuron (95% CI over seeds)",
        details={"accuracy_pct": acc_table(f)})


#: Table A4 RI (FPE over dense); compared at the widths fixed from the paper where its gain is >= 4%
PAPER_A4_RI = {6: 0.062, 8: 0.056, 10: 0.043, 12: 0.020, 14: 0.017, 16: 0.001}
A4_COMPARED = (6, 8, 10)


@_a4("tableA4.values", "A.7 (Table A4)",
     "Table A4's ImageNet-1k gains of the 5-layer FPE MLP over dense (RI 6.2/5.6/4.3/2.0/1.7/0.1% at "
     "hidden 6..16).",
     "RI 6.2/5.6/4.3/2.0/1.7/0.1% (dense 13.0..46.9%, FPE 13.9..47.0%)",
     "Gain rule at the widths fixed from the paper where its gain is >= 4% (hidden 6, 8, 10): reproduced "
     "iff at each the relative improvement of FPE over dense (per seed, 95% t interval over seeds) has a "
     "lower end above 0 and a mean within half the paper's value of it; at the paper profile's "
     "schedule. Accuracies and the other widths are shown.",
     datasets=("imagenet1k",))
def a4_values(ctx, f) -> Outcome:
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
    return paper_verdict(ctx, "Table A4 values", parts, shown,
                         f"no runs at hidden {missing} in this profile" if missing else "")


# --------------------------------------------------------------------------- A.7 Table A5


@_a5("tableA5.two-four-comparable", "A.7 (Table A5)",
     "FPE with 2:4 structured masks is highly competitive with unstructured random FPE.",
     "61.67% vs 61.92% (2:4 vs random)",
     f"Equivalence: reproduced iff the per-seed mean over widths of (2:4 - random) test accuracy has a 95% t "
     f"interval inside (-{100 * COMPARABLE_MARGIN:g}, +{100 * COMPARABLE_MARGIN:g}) points.")
def a5_comparable(ctx, f) -> Outcome:
    ci = pooled(wide(f), "two_four", "random")
    return equivalent(ci, COMPARABLE_MARGIN, what="2:4 - random").with_(
        our_value=f"2:4 - random {pts(ci)} pooled over widths", spread=f"95% CI over {ci.n} seeds",
        details={"accuracy_pct": acc_table(f)})


@_a5("tableA5.both-beat-dense", "A.7 (Table A5)",
     "Both 2:4 and random FPE improve over the dense model.",
     "RI 14.42% (2:4), 14.89% (random) over 53.89% dense",
     "Reproduced iff the per-seed mean over widths of (split - dense) has a 95% t interval above 0 for 2:4 "
     "and for random split.")
def a5_beat_dense(ctx, f) -> Outcome:
    a, b = (pooled(wide(f), s, "dense") for s in ("two_four", "random"))
    return all_of({"two_four": greater(a, what="2:4 - dense"), "random": greater(b, what="random - dense")}).with_(
        our_value=f"2:4 - dense {pts(a)}; random - dense {pts(b)}", spread=f"95% CI over {a.n} seeds, pooled over widths",
        details={"accuracy_pct": acc_table(f)})


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
def a5_values(ctx, f) -> Outcome:
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
                 spread="95% t intervals over seeds", details={"accuracy_pct": acc_table(f)})
    return paper_verdict(ctx, "Table A5 values", parts, shown)
