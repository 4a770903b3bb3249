"""Statements the paper makes through its DNF figures alone, with no number in the text: the
plateau of the gains in the clauses x neurons grid (Figure 3c) and the block-diagonal Gram
matrix of the clause split (Figure 2, A1). Registered after the networks rows, their place
in the ledger."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...ledger import NotRun, Outcome, all_of, greater, less
from ...stats import mean_ci, paired_diff
from .common import FPE, case_study_claim, fig3c_claim, plateau_slopes, ri_table


#: Figure 3c: the widths whose gains the paper says plateau ("models with 8, 12, and 16 neurons")
PLATEAU_WIDTHS = (8, 12, 16)


@fig3c_claim("sweep.fig3c-plateau", "3.2 (Fig. 3c)",
             "In the clauses x neurons grid, the gains of FPE plateau at high clause counts for models with 8, 12 and "
             "16 neurons.",
             "plateau in RI for 8, 12, 16 neurons (Fig. 3c)",
             "Reproduced iff, for clause and for random split, the per-seed change of slope of relative improvement on "
             "the clause count (slope over clause counts >= 15 minus slope over clause counts <= 16), averaged over "
             "the grid's widths among 8, 12, 16, has a 95% t interval (over seeds) below 0.")
def fig3c_plateau(ctx, f) -> Outcome:
    widths = [h for h in PLATEAU_WIDTHS if h in set(f["hidden"])]
    if not widths:
        raise NotRun(f"the Figure 3c grid has none of the widths {PLATEAU_WIDTHS}")
    parts, text, rows = {}, [], []
    for s in FPE:
        changes = []
        for h in widths:
            lo, hi = plateau_slopes(f[(f.strategy == s) & (f.hidden == h)])
            changes.append(hi - lo)
            rows.append({"strategy": s, "hidden": h, "slope_below_16": float(lo.mean()), "slope_above_15": float(hi.mean())})
        ci = mean_ci(np.mean(changes, axis=0))
        parts[s] = less(ci, what=f"{s} slope change")
        text.append(f"{s} {ci.fmt(100, 2)} pts/clause")
    return all_of(parts).with_(
        our_value=f"change of slope (above - below 16 clauses), widths {widths}: " + "; ".join(text),
        spread="95% t intervals over seeds", details={"slopes": rows, "relative_improvement": ri_table(f, "n_clauses")})


def _block_share(model, clauses) -> float:
    """Share of the off-diagonal |W1^T W1| mass (over the clause literals) inside clause blocks."""
    from fpe_empirical.metrics import gram_matrix

    lits = [int(i) for c in clauses for i in c]
    G = np.abs(gram_matrix(model)[np.ix_(lits, lits)])
    block = np.zeros_like(G, dtype=bool)
    pos = 0
    for c in clauses:
        block[pos:pos + len(c), pos:pos + len(c)] = True
        pos += len(c)
    off = ~np.eye(len(lits), dtype=bool)
    return float(G[block & off].sum() / G[off].sum())


@case_study_claim("case-study.block-diagonality", "3.1 (Fig. 2, A1)",
                  "After the clause split the first-layer Gram matrix W1^T W1 is more strongly block-diagonal (clause "
                  "blocks) than the dense model's; the random split's shows weaker block structure.",
                  "\"more strongly block-diagonal\" (Fig. 2; no number given)",
                  "Reproduced iff the share of off-diagonal |W1^T W1| mass inside the clause blocks is larger for the clause "
                  "split than for the dense model: the paired per-seed difference over the case-study networks has a 95% t "
                  "interval above 0. The random split's share and the share a structureless matrix has (block pairs / all "
                  "pairs) are shown beside it.")
def block_diagonality(ctx, f) -> Outcome:
    from ...needs import saved_case_study

    saved = saved_case_study(ctx.profile, ctx.store)
    if len(saved) < 2:
        raise NotRun("needs the saved case-study networks (>= 2 seeds) beside the store: run without --no-run "
                     "or python -m paper_figures --only fig2")
    rows = []
    for seed, res in sorted(saved.items()):
        clauses = [list(c) for c in res.dataset.clauses]
        rows.append({"seed": seed, **{s: _block_share(res.models[s], clauses) for s in ("dense", "clause", "random")
                                      if s in res.models}})
    t = pd.DataFrame(rows)
    sizes = [len(c) for c in next(iter(saved.values())).dataset.clauses]
    n_lits = sum(sizes)
    chance = sum(k * (k - 1) for k in sizes) / (n_lits * (n_lits - 1))  # block pairs / all off-diagonal pairs
    ci = paired_diff(t["clause"], t["dense"])
    out = greater(ci, what="clause - dense block share")
    return out.with_(
        our_value=f"block share of |W1^T W1|: dense {100 * t['dense'].mean():.1f}%, clause {100 * t['clause'].mean():.1f}%"
                  + (f", random {100 * t['random'].mean():.1f}%" if "random" in t else "")
                  + f" (structureless {100 * chance:.1f}%)",
        spread=f"clause - dense {ci.fmt(100, 1)} pts (95% CI over {ci.n} seeds)",
        details={"per_seed": t.round(4).to_dict("records"), "chance_share": chance})
