"""Section 3.2, Figure 4: interference. Feature capacity and mean cosine similarity of FPE vs the
dense model over the Figure 3a and 3b configurations, and how they relate to the gains."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...ledger import NotRun, Outcome, all_of, correlated, equivalent, greater, less
from ...stats import cluster_bootstrap_corr, mean_ci, slope_ci
from .common import FPE, dnf_claim, slope_rule


def _interference(rows: pd.DataFrame) -> pd.DataFrame:
    """fig3a + fig3b configs (Figure 4; ``rows``: both figures' rows, the shared case study twice), one row
    per (config, seed, FPE strategy) with fold changes."""
    f = rows.drop_duplicates(["key", "strategy"])
    base = f[f.strategy == "dense"].set_index("key")
    g = f[f.strategy.isin(FPE)].copy()
    g["fc_dense"] = base.loc[g["key"], "feature_capacity"].to_numpy()
    g["cos_dense"] = base.loc[g["key"], "mean_cosine"].to_numpy()
    g["fc_fold"] = g["feature_capacity"] / g["fc_dense"]
    g["cos_fold"] = g["mean_cosine"] / g["cos_dense"]
    g["cos_diff"] = g["mean_cosine"] - g["cos_dense"]
    g["log_fc_fold"] = np.log(g["fc_fold"])
    g["from"] = np.where(g["n_clauses"].eq(8) & ~g["hidden"].eq(8), "fig3a", "fig3b")
    g.loc[g["n_clauses"].eq(8) & g["hidden"].eq(8), "from"] = "both"
    return g


def _figure4_claim(id: str, section: str, statement: str, paper_value, rule: str):
    """A Figure 4 claim: ``fn(ctx, g)`` with ``g`` the interference table of the Figure 3a and 3b runs."""
    return dnf_claim(id, section, statement, paper_value, rule, needs=("dnf.fig3a", "dnf.fig3b"), prepare=_interference)


def _config_rule(g: pd.DataFrame, col: str, rule, what: str, shown) -> tuple[Outcome, list[str], list[tuple]]:
    """Per FPE strategy: ``rule`` (``greater`` / ``less`` than 0) on the t interval over configurations
    of the per-configuration means (over seeds) of ``col``. Returns ``all_of`` the strategies, one text
    per strategy (``shown(strategy, ci)``) and ``(strategy, configurations on the rule's side, all)``."""
    parts, text, side = {}, [], []
    for s in FPE:
        per = g[g.strategy == s].groupby(["n_clauses", "hidden"])[col].mean()
        ci = mean_ci(per.to_numpy())
        parts[s] = rule(ci, what=f"{s} {what}")
        text.append(shown(s, ci))
        side.append((s, int(((per > 0) if rule is greater else (per < 0)).sum()), int(per.size)))
    return all_of(parts), text, side


def _per_config(g: pd.DataFrame, cols, digits: int) -> list[dict]:
    """Means over seeds of ``cols`` per configuration and strategy, rounded, as records."""
    return g.groupby(["n_clauses", "hidden", "strategy"])[cols].mean().round(digits).reset_index().to_dict("records")


@_figure4_claim("interference.capacity-up", "3.2 (Fig. 4a)",
                "FPE increases feature capacity over the dense model (clause and random split).",
                "FC fold change > 1 (Fig. 4a, Table A1)",
                "Reproduced iff, for clause and for random split, the mean over configurations (Figure 3a and 3b "
                "configurations, each averaged over seeds) of log(FC_FPE / FC_dense) has a 95% t interval above 0.")
def capacity_up(ctx, g) -> Outcome:
    out, text, side = _config_rule(g, "log_fc_fold", greater, "mean log fold change", lambda s, ci: (
        f"{s} x{math.exp(ci.value):.2f} (95% CI x{math.exp(ci.low):.2f}-x{math.exp(ci.high):.2f})"))
    return out.with_(our_value="; ".join(text), spread="; ".join(f"{s}: up in {k}/{n} configs" for s, k, n in side),
                     details={"per_config": _per_config(g, "fc_fold", 3)})


@_figure4_claim("interference.cosine-down", "3.2 (Fig. 4b)",
                "FPE lowers the mean cosine similarity of first-layer neuron weight vectors (better orthogonality), "
                "\"for all but one setting\".",
                "lower cosine similarity than dense (Fig. 4b, Table A2)",
                "Reproduced iff, for clause and for random split, the mean over configurations (each averaged over "
                "seeds) of cos_FPE - cos_dense has a 95% t interval below 0.")
def cosine_down(ctx, g) -> Outcome:
    out, text, side = _config_rule(g, "cos_diff", less, "cosine difference", lambda s, ci: f"{s} {ci.fmt(1, 3)}")
    return out.with_(our_value="; ".join(text), spread="; ".join(f"{s}: lower in {k}/{n} configs" for s, k, n in side),
                     details={"per_config": _per_config(g, ["cos_dense", "mean_cosine"], 4)})


def _regression(g: pd.DataFrame, x: str, sign: int) -> Outcome:
    """Correlation of RI with ``x`` over per-(configuration, strategy) means (seeds averaged first),
    with a bootstrap that resamples whole configurations (its clause and random points share data
    and pre-training): seeds of one configuration are not independent units."""
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


@_figure4_claim("interference.ri-vs-capacity", "3.2 (Fig. 4c)",
                "Relative improvement correlates positively with the feature-capacity fold change.",
                "strong positive correlation (r not given in the extracted text)",
                "Reproduced iff Pearson r between relative improvement and the FC fold change " + _CORR_RULE +
                "above 0; the OLS slope is reported beside it.")
def ri_vs_capacity(ctx, g) -> Outcome:
    return _regression(g, "fc_fold", +1)


@_figure4_claim("interference.ri-vs-cosine", "3.2 (Fig. 4c)",
                "Relative improvement correlates negatively with the change in mean cosine similarity.",
                "strong negative correlation (r not given in the extracted text)",
                "Reproduced iff Pearson r between relative improvement and the cosine change cos_FPE - cos_dense " + _CORR_RULE +
                "below 0; the OLS slope is reported beside it. (The difference, not the paper's fold change: the dense "
                "mean cosine is near 0 and often negative, where a ratio is meaningless.)")
def ri_vs_cosine(ctx, g) -> Outcome:
    out = _regression(g, "cos_diff", -1)
    out.details["dense_cosine_negative"] = f"{int((g['cos_dense'] < 0).sum())}/{len(g)} runs"
    return out


@_figure4_claim("interference.random-like-clause", "3.2 (Fig. 4)",
                "Across both interference metrics (feature capacity, mean cosine similarity), random splitting performs "
                "similarly to clause splitting.",
                "random ~ clause split on FC and cosine (Fig. 4)",
                "Equivalence over configurations (Figure 3a and 3b, each the mean over seeds of the paired per-seed "
                "difference): reproduced iff the 95% t interval of log(FC_random / FC_clause) lies inside +-m_FC and that "
                "of cos_random - cos_clause inside +-m_cos, where each margin is half the mean FPE effect on that metric "
                "(|mean log(FC_FPE / FC_dense)| / 2, |mean (cos_FPE - cos_dense)| / 2, both splits): random and clause "
                "differ by less than half of what either does to the dense model.")
def random_like_clause(ctx, g) -> Outcome:
    g = g.assign(log_fc=lambda d: np.log(d["feature_capacity"]))
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


@_figure4_claim("interference.capacity-gains-few-neurons", "3.2 (Fig. 3a, 4a)",
                "The feature-capacity gain of FPE is largest with few neurons (more superposition), shrinking as neurons "
                "are added (8 clauses).",
                "capacity gains largest at few neurons",
                "Reproduced iff, for clause and for random split, the per-seed least-squares slope of log(FC_FPE / "
                "FC_dense) on log2(hidden) over the Figure 3a widths has a 95% t interval (over seeds) below 0.")
def capacity_few_neurons(ctx, g) -> Outcome:
    g = g[g["from"].isin(("fig3a", "both"))]
    out, info = slope_rule(g, "hidden", -1, y="log_fc_fold", transform=np.log2, what="slope of log FC fold",
                           too_few="fewer than 2 seeds with >= 2 hidden widths")
    text = [f"{s} {info[s].fmt(1, 3)} log-fold per doubling" for s in FPE]
    fold = g.groupby(["hidden", "strategy"])["fc_fold"].mean().unstack("strategy")
    return out.with_(
        our_value="FC fold by width: " + "; ".join(f"h{int(h)} " + ", ".join(f"{s} x{r[s]:.2f}" for s in FPE)
                                                 for h, r in fold.iterrows()),
        spread="; ".join(text) + " (95% CI over seeds)")
