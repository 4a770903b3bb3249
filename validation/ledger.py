"""The ledger: each claim of the paper as a small declarative object with a fixed decision rule.

A ``Claim`` names the paper's statement and value(s), the data it needs (``needs``: named
requirements resolved to experiment configs by ``validation.needs``), the rule that turns our
numbers into a verdict (written before anything runs), and an ``evaluate(ctx)`` function that
computes our numbers from the result store or the closed forms and applies that rule.

Verdicts: ``"reproduced"``, ``"not reproduced"``, ``"not run"`` (with the reason, e.g. the
CLIP embedding file it needs is absent). Rule helpers (``greater``, ``within``,
``equivalent``, ``correlated``, ``all_of``, ...) return an ``Outcome`` whose ``decision``
holds exactly the numbers the rule compared, so the report shows why each verdict follows.

This module is the registry only: it imports no claim. ``validation.claims`` registers the
claims by importing it; ``validation.catalogue.get_claims`` loads and selects them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from .stats import CI

__all__ = [
    "VERDICTS",
    "CATEGORIES",
    "PAPER_CLAIM",
    "FINDING",
    "CONSISTENCY",
    "VERDICT_LABELS",
    "verdict_label",
    "count_by_category",
    "summary_line",
    "REPRODUCED",
    "NOT_REPRODUCED",
    "NOT_RUN",
    "Claim",
    "Outcome",
    "NotRun",
    "LEDGER",
    "claim",
    "greater",
    "less",
    "within",
    "matches_gain",
    "equivalent",
    "correlated",
    "fraction_at_least",
    "all_of",
    "both",
]

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
NOT_RUN = "not run"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, NOT_RUN)

# What a claim is, counted apart in the report: only "paper claim" rows can count as
# reproductions; a "finding" is a result beyond the paper (the paper never claims it), a
# "consistency check" is the toolkit checking itself (closed form = Monte Carlo, ...).
PAPER_CLAIM = "paper claim"
FINDING = "finding"
CONSISTENCY = "consistency check"
CATEGORIES = (PAPER_CLAIM, FINDING, CONSISTENCY)

#: how each category names the three verdicts in counts and tables: only a paper claim can be
#: "reproduced"; a finding is "confirmed" (our statement beyond the paper holds by its rule), a
#: consistency check "passed" (the toolkit agrees with itself)
VERDICT_LABELS = {
    PAPER_CLAIM: {REPRODUCED: "reproduced", NOT_REPRODUCED: "not reproduced", NOT_RUN: "not run"},
    FINDING: {REPRODUCED: "confirmed", NOT_REPRODUCED: "not confirmed", NOT_RUN: "not run"},
    CONSISTENCY: {REPRODUCED: "passed", NOT_REPRODUCED: "failed", NOT_RUN: "not run"},
}


def verdict_label(category: str, verdict: str) -> str:
    """The word the report uses for ``verdict`` in ``category`` (``VERDICT_LABELS``)."""
    if category not in VERDICT_LABELS:
        raise ValueError(f"category must be one of {list(CATEGORIES)}, got {category!r}")
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {list(VERDICTS)}, got {verdict!r}")
    return VERDICT_LABELS[category][verdict]


def count_by_category(pairs) -> dict[str, dict[str, int]]:
    """``{category: {label: n}}`` over ``(category, verdict)`` pairs, every label present (0 when
    none), categories in ``CATEGORIES`` order; the labels are ``VERDICT_LABELS``' (so a finding
    or a consistency check is never counted as a reproduction)."""
    out = {c: {lab: 0 for lab in VERDICT_LABELS[c].values()} for c in CATEGORIES}
    for cat, verdict in pairs:
        label = verdict_label(cat, verdict)  # ValueError for an unknown category or verdict
        out[cat][label] += 1
    return out


def summary_line(counts: dict[str, dict[str, int]]) -> str:
    """One line of counts, apart by category (the CLI's and the README's)."""
    p, f, k = counts[PAPER_CLAIM], counts[FINDING], counts[CONSISTENCY]
    return (f"paper claims: {p['reproduced']} reproduced, {p['not reproduced']} not reproduced, "
            f"{p['not run']} not run; findings: {f['confirmed']} confirmed, {f['not confirmed']} not confirmed, "
            f"{f['not run']} not run; consistency checks: {k['passed']} passed, {k['failed']} failed, "
            f"{k['not run']} not run")


#: what a claim's numbers come from (``Claim.data``); the last four need a data file on the command line
DATA_KINDS = ("theory", "dnf", "vision", "embeddings", "imagenet1k", "fashionmnist", "imagenet100")


class NotRun(Exception):
    """Raised by ``evaluate`` when a claim cannot be evaluated (missing data); the message is the reason."""


@dataclass(frozen=True)
class Claim:
    """One claim of the paper (see the module docstring).

    ``data``: what the numbers come from: ``"theory"`` (closed forms, Monte Carlo),
    ``"dnf"`` (trained DNF networks), ``"vision"`` (the digits stand-in offline, CLIP
    embeddings with ``--embeddings``), ``"embeddings"`` (only meaningful on the real CLIP
    data: not run without ``--embeddings``), ``"imagenet1k"`` (only with ``--imagenet1k``).
    ``needs``: requirement names (``validation.needs.REQUIREMENTS``).
    """

    id: str
    section: str
    statement: str
    paper_value: Any
    rule: str
    evaluate: Callable[["Any"], "Outcome"]
    needs: tuple[str, ...] = ()
    data: str = "theory"
    note: str = ""
    category: str = PAPER_CLAIM


@dataclass
class Outcome:
    """What a claim's evaluation produced.

    ``our_value`` and ``spread`` are short strings for the table (numbers with units);
    ``decision`` the numbers the rule compared; ``details`` any further numbers (tables as
    lists of dicts); ``verdict`` one of ``VERDICTS``; ``reason`` one sentence saying why.
    """

    verdict: str
    our_value: Any = None
    spread: Any = None
    decision: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    data_label: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {list(VERDICTS)}, got {self.verdict!r}")

    def with_(self, **changes) -> "Outcome":
        for k, v in changes.items():
            if k == "details":
                self.details.update(v)
            else:
                setattr(self, k, v)
        return self


LEDGER: dict[str, Claim] = {}


def claim(id: str, section: str, statement: str, paper_value: Any, rule: str, *, needs: tuple[str, ...] = (),
          data: str = "theory", note: str = "", category: str = PAPER_CLAIM) -> Callable:
    """Decorator registering ``fn(ctx) -> Outcome`` as the evaluation of a new ``Claim``.

    ``category``: one of ``CATEGORIES`` (default: a claim the paper makes).
    """
    if category not in CATEGORIES:
        raise ValueError(f"category must be one of {list(CATEGORIES)}, got {category!r}")
    if data not in DATA_KINDS:
        raise ValueError(f"data must be one of {'/'.join(DATA_KINDS)}, got {data!r}")

    def wrap(fn: Callable) -> Callable:
        if id in LEDGER:
            raise ValueError(f"claim id {id!r} is already registered")
        LEDGER[id] = Claim(id, section, statement, paper_value, rule, fn, tuple(needs), data, note, category)
        return fn

    return wrap


# --------------------------------------------------------------------------- rules


def _v(ok: bool) -> str:
    return REPRODUCED if ok else NOT_REPRODUCED


def greater(ci: CI, threshold: float = 0.0, *, what: str = "difference") -> Outcome:
    """Reproduced iff the interval's lower end exceeds ``threshold`` (a positive effect)."""
    ok = ci.low > threshold
    reason = (f"{what} CI lower end {ci.low:.4g} > {threshold:g}" if ok else
              f"{what} CI lower end {ci.low:.4g} <= {threshold:g}"
              + (" (the interval lies below: reversed)" if ci.high < threshold else " (inconclusive)"))
    return Outcome(_v(ok), decision={"ci": ci.as_dict(), "threshold": threshold, "rule": "low > threshold"}, reason=reason)


def less(ci: CI, threshold: float = 0.0, *, what: str = "difference") -> Outcome:
    """Reproduced iff the interval's upper end is below ``threshold`` (a negative effect)."""
    ok = ci.high < threshold
    reason = (f"{what} CI upper end {ci.high:.4g} < {threshold:g}" if ok else
              f"{what} CI upper end {ci.high:.4g} >= {threshold:g}"
              + (" (the interval lies above: reversed)" if ci.low > threshold else " (inconclusive)"))
    return Outcome(_v(ok), decision={"ci": ci.as_dict(), "threshold": threshold, "rule": "high < threshold"}, reason=reason)


def within(value: float, target: float, tol: float, *, what: str = "value") -> Outcome:
    """Reproduced iff ``|value - target| <= tol``."""
    gap = value - target
    ok = bool(abs(gap) <= tol)
    reason = f"|{what} - paper| = {abs(gap):.4g} {'<=' if ok else '>'} {tol:g}"
    return Outcome(_v(ok), decision={"value": value, "paper": target, "gap": gap, "tolerance": tol,
                                     "rule": "|value - paper| <= tolerance"}, reason=reason)


def matches_gain(ci: CI, paper: float, tol: float, *, what: str = "gain") -> Outcome:
    """Reproduced iff the gain exists (the interval's lower end exceeds 0) and its estimate is within
    ``tol`` of the paper's (``|value - paper| <= tol``). With ``tol < paper`` a zero gain never
    passes: the tolerance is smaller than the effect."""
    gap = ci.value - paper
    exists, close = ci.low > 0, bool(abs(gap) <= tol)
    ok = exists and close
    reason = (f"{what} CI lower end {ci.low:.4g} {'>' if exists else '<='} 0; |{what} - paper| = {abs(gap):.4g} "
              f"{'<=' if close else '>'} {tol:g}")
    return Outcome(_v(ok), decision={"ci": ci.as_dict(), "paper": paper, "tolerance": tol,
                                     "rule": "low > 0 and |value - paper| <= tolerance"}, reason=reason)


def equivalent(ci: CI, margin: float, *, what: str = "difference") -> Outcome:
    """Reproduced iff the whole interval lies inside ``(-margin, margin)`` (equivalence)."""
    ok = -margin < ci.low and ci.high < margin
    reason = (f"{what} CI [{ci.low:.4g}, {ci.high:.4g}] {'inside' if ok else 'not inside'} "
              f"(-{margin:g}, {margin:g})")
    return Outcome(_v(ok), decision={"ci": ci.as_dict(), "margin": margin, "rule": "-margin < low and high < margin"},
                   reason=reason)


def correlated(ci: CI, sign: int, *, what: str = "correlation") -> Outcome:
    """Reproduced iff the correlation's interval excludes 0 on the side of ``sign`` (+1 / -1)."""
    if sign not in (1, -1):
        raise ValueError(f"sign must be +1 or -1, got {sign}")
    if math.isnan(ci.value):
        return Outcome(NOT_REPRODUCED, decision={"ci": ci.as_dict(), "sign": sign}, reason=f"{what} undefined (a constant variable)")
    out = greater(ci, 0.0, what=what) if sign > 0 else less(ci, 0.0, what=what)
    out.decision["sign"] = sign
    return out


def fraction_at_least(k: int, n: int, threshold: float, *, strict: bool = False, what: str = "configurations") -> Outcome:
    """Reproduced iff ``k / n >= threshold`` (``strict``: ``>``; "in most configurations" is
    ``threshold=0.5, strict=True``)."""
    frac = k / n if n else float("nan")
    ok = n > 0 and (frac > threshold if strict else frac >= threshold)
    op = ">" if strict else ">="
    reason = f"{k}/{n} {what} = {frac:.3f}, {'' if ok else 'not '}{op} {threshold:g}"
    return Outcome(_v(ok), decision={"k": k, "n": n, "fraction": frac, "threshold": threshold,
                                     "rule": f"k / n {op} threshold"}, reason=reason)


def all_of(parts: dict[str, Outcome]) -> Outcome:
    """Reproduced iff every part is (parts that were not run make the whole not run)."""
    if any(p.verdict == NOT_RUN for p in parts.values()):
        missing = [k for k, p in parts.items() if p.verdict == NOT_RUN]
        return Outcome(NOT_RUN, reason=f"parts not run: {missing}")
    ok = all(p.verdict == REPRODUCED for p in parts.values())
    failed = [k for k, p in parts.items() if p.verdict != REPRODUCED]
    return Outcome(_v(ok), decision={k: {"verdict": p.verdict, **p.decision} for k, p in parts.items()},
                   reason="every part holds" if ok else "fails: " + "; ".join(f"{k}: {parts[k].reason}" for k in failed))


def both(a: Outcome, b: Outcome, names: tuple[str, str] = ("a", "b")) -> Outcome:
    return all_of({names[0]: a, names[1]: b})
