"""Section 3.1, the case study (8 clauses x 4 literals, 8 hidden, alpha 2): each model's absolute
test accuracy (at the paper's schedule only) and the ordering clause > random > dense."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...ledger import NOT_RUN, Outcome, all_of, greater, within
from ...stats import mean_ci, paired_diff
from .common import case_study_claim

PAPER_CASE = {"dense": 0.787, "clause": 0.994, "random": 0.887}
#: tolerance of the absolute case-study rows (percentage points), fixed in advance
ABS_TOL = 0.05
PAPER_SCHEDULE = (1000, 1000)


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


def _case_absolute(strategy: str):
    def evaluate(ctx, f) -> Outcome:
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
    case_study_claim(f"case-study.{_s}-accuracy", "3.1",
                     f"Case study (8 clauses x 4 literals, 8 hidden, alpha 2): the {_label} reaches "
                     f"{_pct(PAPER_CASE[_s])} test accuracy.",
                     _pct(PAPER_CASE[_s]), _ABS_RULE)(_case_absolute(_s))


@case_study_claim("case-study.ordering", "3.1",
                  "Case study: clause split > random split > dense in test accuracy.",
                  "99.4% > 88.7% > 78.7%",
                  "Reproduced iff both paired differences over seeds (clause - random, random - dense) have 95% t "
                  "intervals above 0.")
def case_ordering(ctx, f) -> Outcome:
    w = _wide(f, "test_accuracy")
    d1 = paired_diff(w["clause"], w["random"])
    d2 = paired_diff(w["random"], w["dense"])
    out = all_of({"clause-random": greater(d1, what="clause - random"), "random-dense": greater(d2, what="random - dense")})
    m = w.mean()
    return out.with_(our_value=f"{_pct(m['clause'])} / {_pct(m['random'])} / {_pct(m['dense'])}",
                     spread=f"clause-random {d1.fmt(100, 1)} pts; random-dense {d2.fmt(100, 1)} pts (95% CI, n={d1.n})",
                     details={"per_seed": w.reset_index().to_dict("records")})
