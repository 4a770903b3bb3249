"""Section 3.2, Figure 3: how the relative improvement (RI) of FPE moves with neurons (3a) and
clauses (3b), and the ordering over the clauses x neurons grid (3c)."""

from __future__ import annotations

import numpy as np

from ...ledger import Outcome, all_of, fraction_at_least, less
from ...stats import paired_diff
from .common import FPE, fig3a_claim, fig3b_claim, fig3c_claim, plateau_slopes, ri_table, slope_rule


@fig3a_claim("sweep.neurons-gains-shrink", "3.2 (Fig. 3a)",
             "With 8 clauses, the relative improvement of FPE shrinks as the number of neurons grows "
             "(diminishing returns), for clause and random split.",
             "decreasing RI vs neurons (Fig. 3a)",
             "Reproduced iff, for clause and for random split, the per-seed least-squares slope of relative "
             "improvement on log2(hidden) has a 95% t interval (over seeds) below 0.")
def neurons_shrink(ctx, f) -> Outcome:
    out, info = slope_rule(f, "hidden", -1, transform=np.log2)
    return out.with_(our_value="; ".join(f"{s}: {info[s].value * 100:+.2f} pts per doubling" for s in FPE),
                     spread="; ".join(f"{s} {info[s].fmt(100, 2)}" for s in FPE) + f" (95% CI, n={info['random'].n} seeds)",
                     details={"relative_improvement": ri_table(f, "hidden")})


@fig3b_claim("sweep.clauses-gains-rise", "3.2 (Fig. 3b)",
             "With 8 neurons, the gains of FPE rise as clauses are added (up to about 16 clauses), for clause and "
             "random split.",
             "increasing RI vs clauses up to ~16 (Fig. 3b)",
             "Reproduced iff, for clause and for random split, the per-seed slope of relative improvement on the "
             "clause count over clause counts <= 16 has a 95% t interval (over seeds) above 0.")
def clauses_rise(ctx, f) -> Outcome:
    out, info = slope_rule(f, "n_clauses", +1, where=lambda g: g["n_clauses"] <= 16)
    return out.with_(our_value="; ".join(f"{s}: {info[s].value * 100:+.2f} pts per clause" for s in FPE),
                     spread="; ".join(f"{s} {info[s].fmt(100, 2)}" for s in FPE) + " (95% CI over seeds)",
                     details={"relative_improvement": ri_table(f, "n_clauses")})


@fig3b_claim("sweep.clauses-plateau", "3.2 (Fig. 3b, 3c)",
             "Beyond roughly 16 clauses the benefit of splitting plateaus or declines.",
             "plateau/decline of RI beyond ~16 clauses",
             "Reproduced iff, for clause and for random split, the per-seed slope of relative improvement on the "
             "clause count is smaller for clause counts >= 15 than for clause counts <= 16: the paired "
             "difference (slope above - slope below) has a 95% t interval (over seeds) below 0.")
def clauses_plateau(ctx, f) -> Outcome:
    parts, text = {}, []
    for s in FPE:
        lo, hi = plateau_slopes(f[f.strategy == s])
        ci = paired_diff(hi, lo)
        parts[s] = less(ci, what=f"{s} slope change")
        text.append((s, ci, float(hi.mean())))
    return all_of(parts).with_(
        our_value="; ".join(f"{s}: slope above 16 {100 * h:+.2f} pts/clause, change {100 * c.value:+.2f}" for s, c, h in text),
        spread="; ".join(f"{s} change {c.fmt(100, 2)}" for s, c, _ in text) + " (95% CI over seeds)",
        details={"relative_improvement": ri_table(f, "n_clauses")})


@fig3c_claim("sweep.ordering-most-configs", "3.2 (Fig. 3c)",
             "Across clause and neuron counts, clause split >= random split > dense in most configurations.",
             "clause >= random > dense in most configurations",
             "Reproduced iff, over the configurations of the clauses x neurons grid (mean test accuracy over "
             "seeds), clause >= random holds in more than half and random > dense holds in more than half.")
def ordering_most(ctx, f) -> Outcome:
    m = f.groupby(["n_clauses", "hidden", "strategy"])["test_accuracy"].mean().unstack("strategy")
    n = len(m)
    k1 = int((m["clause"] >= m["random"]).sum())
    k2 = int((m["random"] > m["dense"]).sum())
    out = all_of({"clause>=random": fraction_at_least(k1, n, 0.5, strict=True, what="configs clause >= random"),
                  "random>dense": fraction_at_least(k2, n, 0.5, strict=True, what="configs random > dense")})
    table = (m * 100).round(2).reset_index().to_dict("records")
    return out.with_(our_value=f"clause >= random in {k1}/{n}; random > dense in {k2}/{n}",
                     spread=f"{int(f['seed'].nunique())} seeds per configuration",
                     details={"mean_test_accuracy_pct": table})
