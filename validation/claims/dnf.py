"""Claims of Sections 3.1-3.2 on the Boolean DNF task, and theory vs the trained networks.

Units of replication: a seed (one data set, one initialisation, one dense pre-training, the
strategies compared on it: a paired design). Orderings use paired differences over seeds
with Student t intervals (95%); trends use one least-squares slope per seed and a t interval
over seeds; "most configurations" counts configurations by their mean over seeds;
correlations use Fisher z (Pearson) or a bootstrap over configurations (Spearman).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..ledger import NOT_RUN, NotRun, Outcome, all_of, claim, correlated, fraction_at_least, greater, less, within
from ..stats import mean_ci, paired_diff, pearson_ci, per_unit_slopes, slope_ci, spearman_ci

PAPER_CASE = {"dense": 0.787, "clause": 0.994, "random": 0.887}
#: tolerance of the absolute case-study rows (percentage points), fixed in advance
ABS_TOL = 0.05
PAPER_SCHEDULE = (1000, 1000)
FPE = ("clause", "random")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _wide(frame: pd.DataFrame, value: str, index=("n_clauses", "hidden", "seed")) -> pd.DataFrame:
    """One row per (config, seed), one column per strategy."""
    return frame.pivot_table(index=list(index), columns="strategy", values=value, aggfunc="first")


def _schedule(frame: pd.DataFrame) -> tuple[int, int]:
    pre = sorted(set(frame["pretrain_epochs"]))
    post = sorted(set(frame["split_epochs"]))
    return (int(pre[0]) if len(pre) == 1 else -1, int(post[0]) if len(post) == 1 else -1)


def _mean_sd(values) -> str:
    v = np.asarray(values, dtype=float)
    sd = v.std(ddof=1) if v.size > 1 else float("nan")
    return f"{100 * v.mean():.1f}% +- {100 * sd:.1f} (sd, n={v.size})"


# --------------------------------------------------------------------------- 3.1 case study

def _case_absolute(strategy: str):
    def evaluate(ctx) -> Outcome:
        f = ctx.frame("dnf.case_study")
        acc = f.loc[f.strategy == strategy, "test_accuracy"].to_numpy(float)
        ci = mean_ci(acc)
        sched = _schedule(f)
        shown = dict(our_value=_pct(ci.value), spread=f"95% CI {ci.fmt(100, 1, '%')}; {_mean_sd(acc)}",
                     details={"per_seed": f.loc[f.strategy == strategy, ["seed", "test_accuracy"]].to_dict("records"),
                              "schedule_epochs": list(sched)})
        if sched != PAPER_SCHEDULE:
            return Outcome(NOT_RUN, reason=f"this profile trains {sched[0]} + {sched[1]} epochs; absolute accuracies are "
                                           f"only compared at the paper's 1000 + 1000 (--profile paper)", **shown)
        return within(ci.value, PAPER_CASE[strategy], ABS_TOL, what="mean test accuracy").with_(**shown)

    return evaluate


_ABS_RULE = ("Absolute value: reproduced iff our mean test accuracy over the 5 seeds is within 5 points of the "
             "paper's, at the paper's schedule (1000 + 1000 epochs; other schedules: not run). The paper leaves "
             "the learning rate, regularisation strengths, data ranges and size unstated, so this row depends "
             "on our documented defaults; the ordering is judged separately (case-study.ordering).")

for _s, _label in (("dense", "dense 8-neuron model"), ("clause", "clause-split model"), ("random", "random-split model")):
    claim(f"case-study.{_s}-accuracy", "3.1",
          f"Case study (8 clauses x 4 literals, 8 hidden, alpha 2): the {_label} reaches "
          f"{_pct(PAPER_CASE[_s])} test accuracy.",
          _pct(PAPER_CASE[_s]), _ABS_RULE, needs=("dnf.case_study",), data="dnf")(_case_absolute(_s))


@claim("case-study.ordering", "3.1",
       "Case study: clause split > random split > dense in test accuracy.",
       "99.4% > 88.7% > 78.7%",
       "Reproduced iff both paired differences over seeds (clause - random, random - dense) have 95% t "
       "intervals above 0.",
       needs=("dnf.case_study",), data="dnf")
def case_ordering(ctx) -> Outcome:
    w = _wide(ctx.frame("dnf.case_study"), "test_accuracy")
    d1 = paired_diff(w["clause"], w["random"])
    d2 = paired_diff(w["random"], w["dense"])
    out = all_of({"clause-random": greater(d1, what="clause - random"), "random-dense": greater(d2, what="random - dense")})
    m = w.mean()
    return out.with_(our_value=f"{_pct(m['clause'])} / {_pct(m['random'])} / {_pct(m['dense'])}",
                     spread=f"clause-random {d1.fmt(100, 1)} pts; random-dense {d2.fmt(100, 1)} pts (95% CI, n={d1.n})",
                     details={"per_seed": w.reset_index().to_dict("records")})


# --------------------------------------------------------------------------- 3.2 sweeps

def _ri_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame.strategy.isin(FPE)].copy()


def _slope_rule(frame: pd.DataFrame, x: str, sign: int, *, transform=None, where=None) -> tuple[Outcome, dict]:
    parts, info = {}, {}
    for s in FPE:
        g = frame[frame.strategy == s].copy()
        if where is not None:
            g = g[where(g)]
        g["_x"] = transform(g[x]) if transform else g[x]
        slopes = per_unit_slopes(g, "seed", "_x", "relative_improvement")
        if slopes.size < 2:
            raise NotRun(f"fewer than 2 seeds with >= 2 distinct {x} values")
        ci = mean_ci(slopes)
        parts[s] = greater(ci, what=f"{s} slope") if sign > 0 else less(ci, what=f"{s} slope")
        info[s] = ci
    return all_of(parts), info


def _ri_table(frame: pd.DataFrame, by: str) -> list[dict]:
    g = frame[frame.strategy.isin(FPE)].groupby([by, "strategy"])["relative_improvement"].agg(["mean", "std", "count"])
    return g.reset_index().to_dict("records")


@claim("sweep.neurons-gains-shrink", "3.2 (Fig. 3a)",
       "With 8 clauses, the relative improvement of FPE shrinks as the number of neurons grows "
       "(diminishing returns), for clause and random split.",
       "decreasing RI vs neurons (Fig. 3a)",
       "Reproduced iff, for clause and for random split, the per-seed least-squares slope of relative "
       "improvement on log2(hidden) has a 95% t interval (over seeds) below 0.",
       needs=("dnf.fig3a",), data="dnf")
def neurons_shrink(ctx) -> Outcome:
    f = ctx.frame("dnf.fig3a")
    out, info = _slope_rule(f, "hidden", -1, transform=np.log2)
    return out.with_(our_value="; ".join(f"{s}: {info[s].value * 100:+.2f} pts per doubling" for s in FPE),
                     spread="; ".join(f"{s} {info[s].fmt(100, 2)}" for s in FPE) + f" (95% CI, n={info['random'].n} seeds)",
                     details={"relative_improvement": _ri_table(f, "hidden")})


@claim("sweep.clauses-gains-rise", "3.2 (Fig. 3b)",
       "With 8 neurons, the gains of FPE rise as clauses are added (up to about 16 clauses), for clause and "
       "random split.",
       "increasing RI vs clauses up to ~16 (Fig. 3b)",
       "Reproduced iff, for clause and for random split, the per-seed slope of relative improvement on the "
       "clause count over clause counts <= 16 has a 95% t interval (over seeds) above 0.",
       needs=("dnf.fig3b",), data="dnf")
def clauses_rise(ctx) -> Outcome:
    f = ctx.frame("dnf.fig3b")
    out, info = _slope_rule(f, "n_clauses", +1, where=lambda g: g["n_clauses"] <= 16)
    return out.with_(our_value="; ".join(f"{s}: {info[s].value * 100:+.2f} pts per clause" for s in FPE),
                     spread="; ".join(f"{s} {info[s].fmt(100, 2)}" for s in FPE) + " (95% CI over seeds)",
                     details={"relative_improvement": _ri_table(f, "n_clauses")})


@claim("sweep.clauses-plateau", "3.2 (Fig. 3b, 3c)",
       "Beyond roughly 16 clauses the benefit of splitting plateaus or declines.",
       "plateau/decline of RI beyond ~16 clauses",
       "Reproduced iff, for clause and for random split, the per-seed slope of relative improvement on the "
       "clause count is smaller for clause counts >= 15 than for clause counts <= 16: the paired "
       "difference (slope above - slope below) has a 95% t interval (over seeds) below 0.",
       needs=("dnf.fig3b",), data="dnf")
def clauses_plateau(ctx) -> Outcome:
    f = ctx.frame("dnf.fig3b")
    parts, text = {}, []
    for s in FPE:
        g = f[f.strategy == s]
        lo = per_unit_slopes(g[g.n_clauses <= 16], "seed", "n_clauses", "relative_improvement")
        hi = per_unit_slopes(g[g.n_clauses >= 15], "seed", "n_clauses", "relative_improvement")
        if lo.size < 2 or lo.size != hi.size:
            raise NotRun("needs >= 2 seeds with clause counts on both sides of 16")
        ci = paired_diff(hi, lo)
        parts[s] = less(ci, what=f"{s} slope change")
        text.append((s, ci, float(hi.mean())))
    return all_of(parts).with_(
        our_value="; ".join(f"{s}: slope above 16 {100 * h:+.2f} pts/clause, change {100 * c.value:+.2f}" for s, c, h in text),
        spread="; ".join(f"{s} change {c.fmt(100, 2)}" for s, c, _ in text) + " (95% CI over seeds)",
        details={"relative_improvement": _ri_table(f, "n_clauses")})


@claim("sweep.ordering-most-configs", "3.2 (Fig. 3c)",
       "Across clause and neuron counts, clause split >= random split > dense in most configurations.",
       "clause >= random > dense in most configurations",
       "Reproduced iff, over the configurations of the clauses x neurons grid (mean test accuracy over "
       "seeds), clause >= random holds in more than half and random > dense holds in more than half.",
       needs=("dnf.fig3c",), data="dnf")
def ordering_most(ctx) -> Outcome:
    f = ctx.frame("dnf.fig3c")
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


# --------------------------------------------------------------------------- 3.2 interference

def _interference(ctx) -> pd.DataFrame:
    """fig3a + fig3b configs (Figure 4), one row per (config, seed, FPE strategy) with fold changes."""
    f = pd.concat([ctx.frame("dnf.fig3a"), ctx.frame("dnf.fig3b")]).drop_duplicates(["key", "strategy"])
    base = f[f.strategy == "dense"].set_index("key")
    g = f[f.strategy.isin(FPE)].copy()
    g["fc_dense"] = base.loc[g["key"], "feature_capacity"].to_numpy()
    g["cos_dense"] = base.loc[g["key"], "mean_cosine"].to_numpy()
    g["fc_fold"] = g["feature_capacity"] / g["fc_dense"]
    g["cos_fold"] = g["mean_cosine"] / g["cos_dense"]
    g["cos_diff"] = g["mean_cosine"] - g["cos_dense"]
    g["from"] = np.where(g["n_clauses"].eq(8) & ~g["hidden"].eq(8), "fig3a", "fig3b")
    g.loc[g["n_clauses"].eq(8) & g["hidden"].eq(8), "from"] = "both"
    return g


@claim("interference.capacity-up", "3.2 (Fig. 4a)",
       "FPE increases feature capacity over the dense model (clause and random split).",
       "FC fold change > 1 (Fig. 4a, Table A1)",
       "Reproduced iff, for clause and for random split, the mean over configurations (Figure 3a and 3b "
       "configurations, each averaged over seeds) of log(FC_FPE / FC_dense) has a 95% t interval above 0.",
       needs=("dnf.fig3a", "dnf.fig3b"), data="dnf")
def capacity_up(ctx) -> Outcome:
    g = _interference(ctx)
    parts, text, tab = {}, [], []
    for s in FPE:
        per = g[g.strategy == s].assign(l=lambda d: np.log(d["fc_fold"])).groupby(["n_clauses", "hidden"])["l"].mean()
        ci = mean_ci(per.to_numpy())
        parts[s] = greater(ci, what=f"{s} mean log fold change")
        text.append(f"{s} x{math.exp(ci.value):.2f} (95% CI x{math.exp(ci.low):.2f}-x{math.exp(ci.high):.2f})")
        tab.append({"strategy": s, "configs": int(per.size), "configs_up": int((per > 0).sum())})
    return all_of(parts).with_(our_value="; ".join(text),
                               spread="; ".join(f"{t['strategy']}: up in {t['configs_up']}/{t['configs']} configs" for t in tab),
                               details={"per_config": g.groupby(["n_clauses", "hidden", "strategy"])["fc_fold"].mean().round(3).reset_index().to_dict("records")})


@claim("interference.cosine-down", "3.2 (Fig. 4b)",
       "FPE lowers the mean cosine similarity of first-layer neuron weight vectors (better orthogonality), "
       "\"for all but one setting\".",
       "lower cosine similarity than dense (Fig. 4b, Table A2)",
       "Reproduced iff, for clause and for random split, the mean over configurations (each averaged over "
       "seeds) of cos_FPE - cos_dense has a 95% t interval below 0.",
       needs=("dnf.fig3a", "dnf.fig3b"), data="dnf")
def cosine_down(ctx) -> Outcome:
    g = _interference(ctx)
    parts, text, spread = {}, [], []
    for s in FPE:
        per = g[g.strategy == s].groupby(["n_clauses", "hidden"])["cos_diff"].mean()
        ci = mean_ci(per.to_numpy())
        parts[s] = less(ci, what=f"{s} cosine difference")
        text.append(f"{s} {ci.fmt(1, 3)}")
        spread.append(f"{s}: lower in {int((per < 0).sum())}/{per.size} configs")
    return all_of(parts).with_(our_value="; ".join(text), spread="; ".join(spread),
                               details={"per_config": g.groupby(["n_clauses", "hidden", "strategy"])[["cos_dense", "mean_cosine"]].mean().round(4).reset_index().to_dict("records")})


def _regression(ctx, x: str, sign: int) -> Outcome:
    g = _interference(ctx)
    g = g[g["from"].isin(("fig3a", "both"))]  # varying neurons at 8 clauses (Figure 4c)
    r = pearson_ci(g[x], g["relative_improvement"])
    sl = slope_ci(g[x], g["relative_improvement"])
    out = correlated(r, sign, what=f"Pearson r (RI vs {x})")
    return out.with_(our_value=f"r = {r.value:.3f}, slope = {sl.value:.3f} RI per unit {x}",
                     spread=f"r {r.fmt(1, 3)} (Fisher z), slope {sl.fmt(1, 3)} (OLS t); n = {r.n} runs "
                            f"(clause and random, all seeds)",
                     decision={**out.decision, "slope": sl.as_dict()},
                     details={"points": g[["hidden", "seed", "strategy", x, "relative_improvement"]].round(4).to_dict("records")})


@claim("interference.ri-vs-capacity", "3.2 (Fig. 4c)",
       "Relative improvement correlates positively with the feature-capacity fold change (varying neurons, "
       "8 clauses).",
       "strong positive correlation (r not given in the extracted text)",
       "Reproduced iff Pearson r between relative improvement and FC fold change over all FPE runs of Figure 3a "
       "(clause and random, every seed) has a 95% Fisher-z interval above 0; slope reported with its t interval.",
       needs=("dnf.fig3a", "dnf.fig3b"), data="dnf")
def ri_vs_capacity(ctx) -> Outcome:
    return _regression(ctx, "fc_fold", +1)


@claim("interference.ri-vs-cosine", "3.2 (Fig. 4c)",
       "Relative improvement correlates negatively with the change in mean cosine similarity (varying neurons, "
       "8 clauses).",
       "strong negative correlation (r not given in the extracted text)",
       "Reproduced iff Pearson r between relative improvement and the cosine change cos_FPE - cos_dense over all "
       "FPE runs of Figure 3a has a 95% Fisher-z interval below 0; slope reported with its t interval. (The "
       "difference, not the paper's fold change: the dense mean cosine is near 0 and often negative, where a "
       "ratio is meaningless.)",
       needs=("dnf.fig3a", "dnf.fig3b"), data="dnf")
def ri_vs_cosine(ctx) -> Outcome:
    out = _regression(ctx, "cos_diff", -1)
    g = _interference(ctx)
    out.details["dense_cosine_negative"] = f"{int((g['cos_dense'] < 0).sum())}/{len(g)} runs"
    return out


# --------------------------------------------------------------------------- theory vs trained networks

FAMILY = 0.001  # family-wise false-alarm probability of the agreement rows (Bonferroni)


def _coverage_rows(ctx, stage: str) -> tuple[pd.DataFrame, int]:
    from fpe_empirical.coverage import coverage_table

    f = ctx.frame("dnf.coverage")
    f = f[f.stage == stage]
    groups = f.groupby(["n_clauses", "clause_size", "hidden", "alpha", "strategy"]).ngroups
    level = 1 - FAMILY / (3 * groups)
    return coverage_table(f, level=level), groups


_COV_COLS = ["n_clauses", "hidden", "replicates", "seeds", "covered_fraction_mean", "covered_fraction_theory",
             "covered_fraction_agrees", "p_all_covered_mean", "p_all_covered_theory", "p_all_covered_agrees",
             "collisions_mean", "collisions_theory", "collisions_agrees", "pruned_w1_mean"]


@claim("networks.partition-before-pruning", "A.5 vs networks",
       "The random split as built (hidden layer 1 of trained DNF networks, before re-sparsification) follows "
       "the partition model: measured clause coverage, P(all covered) and collisions equal the closed forms.",
       "(closed forms; the paper's analysis assumes this)",
       f"Reproduced iff every closed form lies inside its Bonferroni-corrected interval (family false-alarm "
       f"probability {FAMILY}) over all replicate splits of the case-study and Figure 3a/3b networks. Intervals "
       f"follow fpe_theory's Monte Carlo rules: Clopper-Pearson for P(all covered); for the covered fraction "
       f"Student t with >= 100 events, else exact Clopper-Pearson on the rotating-clause indicator; for "
       f"collisions Student t with >= 100 events, else the exact Poisson (Garwood) interval.",
       needs=("dnf.coverage",), data="dnf")
def partition_pre(ctx) -> Outcome:
    t, groups = _coverage_rows(ctx, "pre_prune")
    return _agreement(t, groups)


def _agreement(t: pd.DataFrame, groups: int) -> Outcome:
    flags = t[["covered_fraction_agrees", "p_all_covered_agrees", "collisions_agrees"]].to_numpy()
    bad = int((~flags).sum())
    case = t[(t.n_clauses == 8) & (t.hidden == 8)]
    c = case.iloc[0] if len(case) else t.iloc[0]
    out = fraction_at_least(flags.size - bad, flags.size, 1.0, what="closed forms inside their intervals")
    return out.with_(
        our_value=f"{flags.size - bad}/{flags.size} closed forms inside; case study: covered "
                  f"{c['covered_fraction_mean']:.3f} vs {c['covered_fraction_theory']:.3f}, collisions "
                  f"{c['collisions_mean']:.3f} vs {c['collisions_theory']:.3f}, P(all) {c['p_all_covered_mean']:.3f} "
                  f"vs {c['p_all_covered_theory']:.4f}",
        spread=f"{groups} configurations x {int(t['replicates'].iloc[0])} networks ({int(t['seeds'].iloc[0])} seeds x "
               f"{int(t['replicates'].iloc[0]) // max(int(t['seeds'].iloc[0]), 1)} split seeds); mean drift of the covered "
               f"fraction {t['covered_fraction_drift'].mean():+.4f}, of collisions {t['collisions_drift'].mean():+.4f}",
        details={"table": t[[c for c in _COV_COLS if c in t]].round(5).to_dict("records")})


@claim("networks.after-pruning", "A.5 vs networks",
       "The A.5 closed forms (which ignore re-sparsification) still describe the networks as actually built, "
       "after the smallest-magnitude weights of W1' and W2' are pruned back to the dense non-zero count.",
       "(implicit in 2.5 / A.5: the analysis is applied to the trained FPE networks)",
       f"Reproduced iff every closed form lies inside its Bonferroni-corrected interval (family false-alarm "
       f"probability {FAMILY}) over the post-pruning masks of the same replicate splits (intervals as in "
       f"networks.partition-before-pruning, with the conservative bracket instead of the rotating clause: "
       f"after pruning clauses are not exchangeable); the drift (measured - closed form) is the finding "
       f"either way.",
       needs=("dnf.coverage",), data="dnf")
def after_pruning(ctx) -> Outcome:
    t, groups = _coverage_rows(ctx, "post_prune")
    out = _agreement(t, groups)
    pre, _ = _coverage_rows(ctx, "pre_prune")
    m = t.merge(pre, on=["n_clauses", "hidden"], suffixes=("", "_pre"))
    m["lost_coverage"] = m["covered_fraction_mean_pre"] - m["covered_fraction_mean"]
    m["lost_collisions"] = m["collisions_mean_pre"] - m["collisions_mean"]
    out.details["pruning_effect"] = m[["n_clauses", "hidden", "pruned_w1_mean", "lost_coverage", "lost_collisions"]].round(5).to_dict("records")
    built = _case_study_as_built(ctx)
    if built:
        out.details["case_study_networks_as_trained"] = built
        same = sum(r["same_coverage_as_replicate_0"] for r in built)
        out.spread = (f"the {len(built)} trained case-study random-split networks cover "
                      f"{np.mean([r['covered'] for r in built]):.2f}/8 clauses with {np.mean([r['collisions'] for r in built]):.2f} "
                      f"collisions on average ({same}/{len(built)} coverage identical to the coverage run's replicate 0); "
                      + out.spread)
    out.spread = (f"pruning removes {m['lost_coverage'].mean():.4f} of covered fraction and "
                  f"{m['lost_collisions'].mean():.4f} collisions per network on average; " + out.spread)
    return out


def _case_study_as_built(ctx) -> list[dict]:
    """Coverage of the very case-study networks whose accuracies are reported (saved beside the store
    by ``profiles.case_study_models``), next to replicate 0 (the same split seed) of the coverage runs."""
    from fpe_empirical.coverage import measure_coverage

    from ..needs import saved_case_study

    saved = saved_case_study(ctx.profile, ctx.store)
    if not saved:
        return []
    cov = ctx.frame("dnf.coverage")
    cov = cov[(cov.stage == "post_prune") & (cov.replicate == 0) & (cov.n_clauses == 8) & (cov.hidden == 8)]
    rows = []
    for seed, res in sorted(saved.items()):
        if "random" not in res.models:
            continue
        c = measure_coverage(res.models["random"], [list(x) for x in res.dataset.clauses])
        r0 = cov[cov.seed == seed]
        rows.append({"seed": seed, "covered": c.n_covered, "collisions": c.collisions, "pattern": c.pattern(),
                     "same_coverage_as_replicate_0": bool(len(r0) and r0["pattern"].iloc[0] == c.pattern()
                                                      and int(r0["collisions"].iloc[0]) == c.collisions)})
    return rows


def _benefit_table(ctx) -> pd.DataFrame:
    from fpe_empirical.coverage import theory_values

    f = ctx.frame("dnf.fig3c")
    m = f[f.strategy.isin(FPE)].groupby(["n_clauses", "clause_size", "hidden", "alpha", "strategy"])["relative_improvement"].mean()
    m = m.unstack("strategy").reset_index()
    rows = []
    for _, r in m.iterrows():
        c, k, h, a = int(r.n_clauses), int(r.clause_size), int(r.hidden), int(r.alpha)
        th = theory_values(c, k, a, h)
        rows.append({"n_clauses": c, "hidden": h, "polysemantic_load": c / h,
                     "dense_collisions": th["dense_collisions"], "fpe_collisions": th["expected_collisions"],
                     "collision_reduction": th["dense_collisions"] - th["expected_collisions"],
                     "p_clause_covered": th["p_clause_covered"],
                     "ri_random": float(r["random"]), "ri_clause": float(r["clause"])})
    return pd.DataFrame(rows)


def _benefit(ctx, x: str) -> Outcome:
    t = _benefit_table(ctx)
    rho = spearman_ci(t[x], t["ri_random"])
    rho_c = spearman_ci(t[x], t["ri_clause"])
    out = correlated(rho, +1, what=f"Spearman rho ({x} vs random-split RI)")
    return out.with_(our_value=f"rho = {rho.value:.3f} (random split); {rho_c.value:.3f} (clause split)",
                     spread=f"random {rho.fmt(1, 3)}; clause {rho_c.fmt(1, 3)} (95% bootstrap over {rho.n} configurations)",
                     decision={**out.decision, "clause_split": rho_c.as_dict()},
                     details={"per_config": t.round(5).to_dict("records")})


@claim("networks.benefit-vs-collision-reduction", "3.2 / A.5 vs networks",
       "The benefit of FPE grows with interference: across the DNF grid, configurations where the random split "
       "removes more expected collisions (E_dense - E_FPE, exact closed form) gain more.",
       "\"the benefits of FPE grow with increasing interference\"",
       "Reproduced iff Spearman rho between the predicted collision reduction and the mean relative improvement "
       "of the random split (one point per configuration of the clauses x neurons grid) has a 95% bootstrap "
       "interval above 0.",
       needs=("dnf.fig3c",), data="dnf")
def benefit_vs_collisions(ctx) -> Outcome:
    return _benefit(ctx, "collision_reduction")


@claim("networks.benefit-vs-polysemantic-load", "3.2 / abstract",
       "When polysemantic load (clauses per dense neuron, C / N) is high, the accuracy improvements of FPE "
       "are the largest.",
       "\"when polysemantic load is high, accuracy improvements are the largest\"",
       "Reproduced iff Spearman rho between C / N and the mean relative improvement of the random split "
       "(one point per configuration of the clauses x neurons grid) has a 95% bootstrap interval above 0.",
       needs=("dnf.fig3c",), data="dnf")
def benefit_vs_load(ctx) -> Outcome:
    return _benefit(ctx, "polysemantic_load")
