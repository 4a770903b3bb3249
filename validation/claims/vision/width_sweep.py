"""Section 3.3, Figure 5: FPE against the dense model across hidden widths, per data set."""

from __future__ import annotations

import numpy as np

from ...ledger import Outcome, all_of, equivalent, greater, less, matches_gain
from ...stats import mean_ci, per_unit_slopes
from .common import (COMPARABLE_MARGIN, FIG5_DATASETS, acc_table, figure_claim, pooled, pts, vision_claim, wide, width_diffs,
                     widths_of)

#: Figure 5's claims: its runs, on every Figure 5 data set
_fig5 = figure_claim(("vision.fig5",), FIG5_DATASETS)


@_fig5("vision.fpe-beats-dense-small", "3.3 (Fig. 5)",
       "Random and Gram split FPE beat the dense model at small hidden widths.",
       "FPE > dense at small widths (Fig. 5)",
       "Reproduced iff at each of the two smallest widths of the Figure 5 grid, the paired difference "
       "(split - dense) over seeds has a 95% t interval above 0, for random and for Gram split.")
def fpe_beats_dense(ctx, f) -> Outcome:
    w = wide(f)
    smallest = widths_of(w)[:2]
    diffs = {s: width_diffs(w, s, "dense", smallest) for s in ("random", "gram")}
    parts, text = {}, []
    for h in smallest:
        for s in ("random", "gram"):
            ci = diffs[s][h]
            parts[f"{s}@{h}"] = greater(ci, what=f"{s} - dense at hidden {h}")
            text.append(f"h{h} {s} {pts(ci)}")
    return all_of(parts).with_(our_value="; ".join(text[:2]) + " ...", spread="; ".join(text) + " (95% CI over seeds)",
                               details={"accuracy_pct": acc_table(f)})


@_fig5("vision.random-comparable-to-gram", "3.3 (Fig. 5)",
       "Gram-matrix (feature-based) splitting performs only comparably to random splitting.",
       "random ~ Gram split (Fig. 5)",
       f"Equivalence: reproduced iff the per-seed mean over widths of (random - Gram) test accuracy has a "
       f"95% t interval inside (-{100 * COMPARABLE_MARGIN:g}, +{100 * COMPARABLE_MARGIN:g}) points.")
def random_vs_gram(ctx, f) -> Outcome:
    w = wide(f)
    ci = pooled(w, "random", "gram")
    per = {int(h): float(100 * (w.xs(h, level="hidden")["random"] - w.xs(h, level="hidden")["gram"]).mean())
           for h in widths_of(w)}
    return equivalent(ci, COMPARABLE_MARGIN, what="random - Gram").with_(
        our_value=f"random - Gram {pts(ci)} pooled over widths",
        spread="per width (pts): " + ", ".join(f"h{h} {v:+.1f}" for h, v in per.items()),
        details={"accuracy_pct": acc_table(f)})


@_fig5("vision.gains-shrink-with-width", "3.3 / 3.4 (Fig. 5, 6d)",
       "The relative improvement of FPE is most pronounced with few neurons and shrinks as the network widens.",
       "RI decreasing with width",
       "Reproduced iff the per-seed slope of the random split's relative improvement on log2(hidden) "
       "(Figure 5 grid) has a 95% t interval below 0.")
def gains_shrink(ctx, f) -> Outcome:
    g = f[f.strategy == "random"].assign(lw=lambda d: np.log2(d["hidden"]))
    ci = mean_ci(per_unit_slopes(g, "seed", "lw", "relative_improvement"))
    ri = g.groupby("hidden")["relative_improvement"].mean()
    return less(ci, what="slope").with_(
        our_value=f"{100 * ci.value:+.2f} RI points per doubling of width",
        spread=f"95% CI {ci.fmt(100, 2)}; mean RI " + ", ".join(f"h{int(h)} {100 * v:.1f}%" for h, v in ri.items()),
        details={"accuracy_pct": acc_table(f)})


@_fig5("vision.feature-split-beats-dense", "3.3 (Fig. 5)",
       "Feature-based (Gram) splitting consistently outperforms the dense baseline across hidden sizes.",
       "Gram split > dense at every width (Fig. 5)",
       "Reproduced iff at every width of the Figure 5 grid the paired difference (Gram split - dense) over "
       "seeds has a 95% t interval above 0.")
def feature_beats_dense(ctx, f) -> Outcome:
    parts, text = {}, []
    for h, ci in width_diffs(wide(f), "gram", "dense").items():
        parts[f"gram@{h}"] = greater(ci, what=f"Gram - dense at hidden {h}")
        text.append(f"h{h} {pts(ci)}")
    n_ok = sum(p.verdict == "reproduced" for p in parts.values())
    return all_of(parts).with_(our_value=f"Gram > dense at {n_ok}/{len(parts)} widths",
                               spread="Gram - dense: " + "; ".join(text) + " (95% CI over seeds)",
                               details={"accuracy_pct": acc_table(f)})


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
def doubles_dense(ctx, f) -> Outcome:
    h0 = int(min(f["hidden"]))
    ri = f[(f.strategy == "gram") & (f.hidden == h0)]["relative_improvement"].to_numpy(float)
    rr = f[(f.strategy == "random") & (f.hidden == h0)]["relative_improvement"].to_numpy(float)
    ci = mean_ci(ri)
    return matches_gain(ci, PAPER_DOUBLE_RI, PAPER_DOUBLE_RI / 2, what=f"Gram RI at hidden {h0}").with_(
        our_value=f"hidden {h0}: Gram RI {100 * ci.value:.0f}% [{100 * ci.low:.0f}, {100 * ci.high:.0f}]; random RI "
                  f"{100 * rr.mean():.0f}%",
        spread=f"95% t interval over {ci.n} seeds",
        details={"accuracy_pct": acc_table(f[f.hidden == h0])})
