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

from ..ledger import (
    CONSISTENCY,
    FINDING,
    NOT_RUN,
    NotRun,
    Outcome,
    all_of,
    claim,
    correlated,
    equivalent,
    fraction_at_least,
    greater,
    less,
    within,
)
from ..stats import cluster_bootstrap_corr, mean_ci, paired_diff, per_unit_slopes, slope_ci, spearman_ci

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
    """Correlation of RI with ``x`` over per-(configuration, strategy) means (seeds averaged first),
    with a bootstrap that resamples whole configurations (its clause and random points share data
    and pre-training): seeds of one configuration are not independent units."""
    g = _interference(ctx)
    m = g.groupby(["n_clauses", "hidden", "strategy"])[[x, "relative_improvement"]].mean().reset_index()
    m["config"] = m["n_clauses"].astype(str) + "x" + m["hidden"].astype(str)
    if m["config"].nunique() < 3:
        raise NotRun("needs >= 3 configurations of Figures 3a/3b")
    r = cluster_bootstrap_corr(m[x], m["relative_improvement"], m["config"], method="pearson")
    sl = slope_ci(m[x], m["relative_improvement"])
    out = correlated(r, sign, what=f"Pearson r (RI vs {x}, configuration means)")
    return out.with_(our_value=f"r = {r.value:.3f}, slope = {sl.value:.3f} RI per unit {x} (configuration means)",
                     spread=f"r {r.fmt(1, 3)} (bootstrap over {r.n} configurations x 2 strategies); slope "
                            f"{sl.fmt(1, 3)} (OLS t, descriptive)",
                     decision={**out.decision, "slope": sl.as_dict()},
                     details={"points": m[["n_clauses", "hidden", "strategy", x, "relative_improvement"]].round(4)
                              .to_dict("records")})


_CORR_RULE = ("over the Figure 3a and 3b configurations (varying neurons at 8 clauses, varying clauses at 8 "
              "neurons; one point per configuration and FPE strategy, each the mean over seeds) has a 95% "
              "bootstrap interval (resampling configurations, 10,000 resamples, seed 0) ")


@claim("interference.ri-vs-capacity", "3.2 (Fig. 4c)",
       "Relative improvement correlates positively with the feature-capacity fold change.",
       "strong positive correlation (r not given in the extracted text)",
       "Reproduced iff Pearson r between relative improvement and the FC fold change " + _CORR_RULE +
       "above 0; the OLS slope is reported beside it.",
       needs=("dnf.fig3a", "dnf.fig3b"), data="dnf")
def ri_vs_capacity(ctx) -> Outcome:
    return _regression(ctx, "fc_fold", +1)


@claim("interference.ri-vs-cosine", "3.2 (Fig. 4c)",
       "Relative improvement correlates negatively with the change in mean cosine similarity.",
       "strong negative correlation (r not given in the extracted text)",
       "Reproduced iff Pearson r between relative improvement and the cosine change cos_FPE - cos_dense " + _CORR_RULE +
       "below 0; the OLS slope is reported beside it. (The difference, not the paper's fold change: the dense "
       "mean cosine is near 0 and often negative, where a ratio is meaningless.)",
       needs=("dnf.fig3a", "dnf.fig3b"), data="dnf")
def ri_vs_cosine(ctx) -> Outcome:
    out = _regression(ctx, "cos_diff", -1)
    g = _interference(ctx)
    out.details["dense_cosine_negative"] = f"{int((g['cos_dense'] < 0).sum())}/{len(g)} runs"
    return out


@claim("interference.random-like-clause", "3.2 (Fig. 4)",
       "Across both interference metrics (feature capacity, mean cosine similarity), random splitting performs "
       "similarly to clause splitting.",
       "random ~ clause split on FC and cosine (Fig. 4)",
       "Equivalence over configurations (Figure 3a and 3b, each the mean over seeds of the paired per-seed "
       "difference): reproduced iff the 95% t interval of log(FC_random / FC_clause) lies inside +-m_FC and that "
       "of cos_random - cos_clause inside +-m_cos, where each margin is half the mean FPE effect on that metric "
       "(|mean log(FC_FPE / FC_dense)| / 2, |mean (cos_FPE - cos_dense)| / 2, both splits): random and clause "
       "differ by less than half of what either does to the dense model.",
       needs=("dnf.fig3a", "dnf.fig3b"), data="dnf")
def random_like_clause(ctx) -> Outcome:
    g = _interference(ctx).assign(log_fc=lambda d: np.log(d["feature_capacity"]), log_fc_fold=lambda d: np.log(d["fc_fold"]))
    idx = ["n_clauses", "hidden", "seed"]
    parts, text, rows = {}, [], []
    for metric, eff_col, label in (("log_fc", "log_fc_fold", "log FC"), ("mean_cosine", "cos_diff", "cosine")):
        w = g.pivot_table(index=idx, columns="strategy", values=metric, aggfunc="first")
        per = (w["random"] - w["clause"]).groupby(level=["n_clauses", "hidden"]).mean()
        effect = float(g.groupby(["n_clauses", "hidden"])[eff_col].mean().mean())
        margin = abs(effect) / 2
        ci = mean_ci(per.to_numpy())
        parts[label] = equivalent(ci, margin, what=f"random - clause ({label})")
        text.append(f"{label}: random - clause {ci.fmt(1, 3)} vs margin +-{margin:.3f} (FPE effect {effect:+.3f})")
        rows += [{"metric": label, "n_clauses": int(c), "hidden": int(h), "random_minus_clause": float(v)}
                 for (c, h), v in per.items()]
    return all_of(parts).with_(our_value="; ".join(text),
                               spread=f"95% t intervals over {g.groupby(['n_clauses', 'hidden']).ngroups} configurations",
                               details={"per_config": rows})


@claim("interference.capacity-gains-few-neurons", "3.2 (Fig. 3a, 4a)",
       "The feature-capacity gain of FPE is largest with few neurons (more superposition), shrinking as neurons "
       "are added (8 clauses).",
       "capacity gains largest at few neurons",
       "Reproduced iff, for clause and for random split, the per-seed least-squares slope of log(FC_FPE / "
       "FC_dense) on log2(hidden) over the Figure 3a widths has a 95% t interval (over seeds) below 0.",
       needs=("dnf.fig3a", "dnf.fig3b"), data="dnf")
def capacity_few_neurons(ctx) -> Outcome:
    g = _interference(ctx)
    g = g[g["from"].isin(("fig3a", "both"))].assign(lw=lambda d: np.log2(d["hidden"]), lf=lambda d: np.log(d["fc_fold"]))
    parts, text = {}, []
    for s in FPE:
        slopes = per_unit_slopes(g[g.strategy == s], "seed", "lw", "lf")
        if slopes.size < 2:
            raise NotRun("fewer than 2 seeds with >= 2 hidden widths")
        ci = mean_ci(slopes)
        parts[s] = less(ci, what=f"{s} slope of log FC fold")
        text.append(f"{s} {ci.fmt(1, 3)} log-fold per doubling")
    fold = g.groupby(["hidden", "strategy"])["fc_fold"].mean().unstack("strategy")
    return all_of(parts).with_(
        our_value="FC fold by width: " + "; ".join(f"h{int(h)} " + ", ".join(f"{s} x{r[s]:.2f}" for s in FPE)
                                                 for h, r in fold.iterrows()),
        spread="; ".join(text) + " (95% CI over seeds)")


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


@claim("networks.partition-before-pruning", "A.5 vs networks (toolkit check)",
       "The random split as built (hidden layer 1 of trained DNF networks, before re-sparsification) follows "
       "the partition model: measured clause coverage, P(all covered) and collisions equal the closed forms.",
       "(closed forms; the paper's analysis assumes this)",
       f"Reproduced iff every closed form lies inside its Bonferroni-corrected interval (family false-alarm "
       f"probability {FAMILY}) over all replicate splits of the case-study and Figure 3a/3b networks. Intervals "
       f"follow fpe_theory's Monte Carlo rules: Clopper-Pearson for P(all covered); for the covered fraction "
       f"Student t with >= 100 events, else exact Clopper-Pearson on the rotating-clause indicator; for "
       f"collisions Student t with >= 100 events, else the exact Poisson (Garwood) interval.",
       needs=("dnf.coverage",), data="dnf", category=CONSISTENCY)
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


@claim("networks.after-pruning", "A.5 vs networks (beyond the paper)",
       "The A.5 closed forms (which ignore re-sparsification) still describe the networks as actually built, "
       "after the smallest-magnitude weights of W1' and W2' are pruned back to the dense non-zero count.",
       "(implicit in 2.5 / A.5: the analysis is applied to the trained FPE networks)",
       f"Reproduced iff every closed form lies inside its Bonferroni-corrected interval (family false-alarm "
       f"probability {FAMILY}) over the post-pruning masks of the same replicate splits (intervals as in "
       f"networks.partition-before-pruning, with the conservative bracket instead of the rotating clause: "
       f"after pruning clauses are not exchangeable); the drift (measured - closed form) is the finding "
       f"either way.",
       needs=("dnf.coverage",), data="dnf", category=FINDING)
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
                     "log_collision_reduction": _log_reduction(th["dense_collisions"], th["expected_collisions"]),
                     "p_clause_covered": th["p_clause_covered"],
                     "ri_random": float(r["random"]), "ri_clause": float(r["clause"])})
    return pd.DataFrame(rows)


def _log_reduction(dense: float, fpe: float) -> float:
    """log(E_dense / E_FPE); infinite where the split cannot collide (2k > n / alpha)."""
    return math.inf if fpe <= 0 else math.log(dense / fpe)


def _benefit(ctx, x: str) -> Outcome:
    t = _benefit_table(ctx)
    if np.isinf(t[x]).any():  # no collision possible: the largest reduction; only ranks enter Spearman's rho
        finite = t.loc[np.isfinite(t[x]), x]
        t[x] = t[x].replace(np.inf, (finite.max() if len(finite) else 0.0) + 1.0)
    rho = spearman_ci(t[x], t["ri_random"])
    rho_c = spearman_ci(t[x], t["ri_clause"])
    out = correlated(rho, +1, what=f"Spearman rho ({x} vs random-split RI)")
    return out.with_(our_value=f"rho = {rho.value:.3f} (random split); {rho_c.value:.3f} (clause split)",
                     spread=f"random {rho.fmt(1, 3)}; clause {rho_c.fmt(1, 3)} (95% bootstrap over {rho.n} configurations)",
                     decision={**out.decision, "clause_split": rho_c.as_dict()},
                     details={"per_config": t.round(5).to_dict("records")})


@claim("networks.benefit-vs-collision-reduction", "3.2 / A.5 vs networks",
       "The benefit of FPE grows with interference: across the DNF grid, configurations where the random split "
       "removes a larger share of the expected collisions (log(E_dense / E_FPE), exact closed forms of the "
       "balanced split) gain more.",
       "\"the benefits of FPE grow with increasing interference\"",
       "Reproduced iff Spearman rho between log(E_dense / E_FPE) and the mean relative improvement of the random "
       "split (one point per configuration of the clauses x neurons grid, each the mean over seeds) has a 95% "
       "bootstrap interval (resampling configurations) above 0. A relative measure: E_dense - E_FPE grows with "
       "N C(C,2) whatever the split does. Where no collision is possible (2k > n/alpha) the reduction is "
       "complete and ranks above every other.",
       needs=("dnf.fig3c",), data="dnf",
       note="With k and alpha fixed, log(E_dense / E_FPE) = -log(alpha q2) depends on the clause count only "
            "(falling as C grows, towards (2k - 1) log alpha); under the paper's literal model it is that constant "
            "everywhere, so across the grid this row asks whether RI falls with C.")
def benefit_vs_collisions(ctx) -> Outcome:
    return _benefit(ctx, "log_collision_reduction")


@claim("networks.benefit-vs-polysemantic-load", "3.2 / abstract",
       "When polysemantic load (clauses per dense neuron, C / N) is high, the accuracy improvements of FPE "
       "are the largest.",
       "\"when polysemantic load is high, accuracy improvements are the largest\"",
       "Reproduced iff Spearman rho between C / N and the mean relative improvement of the random split "
       "(one point per configuration of the clauses x neurons grid) has a 95% bootstrap interval above 0.",
       needs=("dnf.fig3c",), data="dnf")
def benefit_vs_load(ctx) -> Outcome:
    return _benefit(ctx, "polysemantic_load")


# --------------------------------------------------------------------------- claims the ledger lacked


#: Figure 3c: the widths whose gains the paper says plateau ("models with 8, 12, and 16 neurons")
PLATEAU_WIDTHS = (8, 12, 16)


@claim("sweep.fig3c-plateau", "3.2 (Fig. 3c)",
       "In the clauses x neurons grid, the gains of FPE plateau at high clause counts for models with 8, 12 and "
       "16 neurons.",
       "plateau in RI for 8, 12, 16 neurons (Fig. 3c)",
       "Reproduced iff, for clause and for random split, the per-seed change of slope of relative improvement on "
       "the clause count (slope over clause counts >= 15 minus slope over clause counts <= 16), averaged over "
       "the grid's widths among 8, 12, 16, has a 95% t interval (over seeds) below 0.",
       needs=("dnf.fig3c",), data="dnf")
def fig3c_plateau(ctx) -> Outcome:
    f = ctx.frame("dnf.fig3c")
    widths = [h for h in PLATEAU_WIDTHS if h in set(f["hidden"])]
    if not widths:
        raise NotRun(f"the Figure 3c grid has none of the widths {PLATEAU_WIDTHS}")
    parts, text, rows = {}, [], []
    for s in FPE:
        changes = []
        for h in widths:
            g = f[(f.strategy == s) & (f.hidden == h)]
            lo = per_unit_slopes(g[g.n_clauses <= 16], "seed", "n_clauses", "relative_improvement")
            hi = per_unit_slopes(g[g.n_clauses >= 15], "seed", "n_clauses", "relative_improvement")
            if lo.size < 2 or lo.size != hi.size:
                raise NotRun("needs >= 2 seeds with clause counts on both sides of 16")
            changes.append(hi - lo)
            rows.append({"strategy": s, "hidden": h, "slope_below_16": float(lo.mean()), "slope_above_15": float(hi.mean())})
        ci = mean_ci(np.mean(changes, axis=0))
        parts[s] = less(ci, what=f"{s} slope change")
        text.append(f"{s} {ci.fmt(100, 2)} pts/clause")
    return all_of(parts).with_(
        our_value=f"change of slope (above - below 16 clauses), widths {widths}: " + "; ".join(text),
        spread="95% t intervals over seeds", details={"slopes": rows, "relative_improvement": _ri_table(f, "n_clauses")})


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


@claim("case-study.block-diagonality", "3.1 (Fig. 2, A1)",
       "After the clause split the first-layer Gram matrix W1^T W1 is more strongly block-diagonal (clause "
       "blocks) than the dense model's; the random split's shows weaker block structure.",
       "\"more strongly block-diagonal\" (Fig. 2; no number given)",
       "Reproduced iff the share of off-diagonal |W1^T W1| mass inside the clause blocks is larger for the clause "
       "split than for the dense model: the paired per-seed difference over the case-study networks has a 95% t "
       "interval above 0. The random split's share and the share a structureless matrix has (block pairs / all "
       "pairs) are shown beside it.",
       needs=("dnf.case_study",), data="dnf")
def block_diagonality(ctx) -> Outcome:
    from ..needs import saved_case_study

    ctx.frame("dnf.case_study")  # NotRun when the case study is missing from the store
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
