"""Confidence intervals for Monte Carlo estimates, from sufficient statistics.

An ``Estimate`` keeps what it needs to recompute its interval at any level (the CLI's
Bonferroni-corrected verdict uses much higher levels than the displayed 99.9%).

Intervals (``method``):
- ``clopper-pearson``: exact binomial interval (a proportion of independent trials);
- ``t``: Student t on the per-trial values (sample variance), used when there are enough
  events (>= ``MIN_EVENTS`` on each side and >= 100 trials) for the normal approximation;
- ``clopper-pearson(clause 0)``: for the covered fraction with few events: the indicator
  "clause 0 covered" of each trial is exactly Bernoulli(p) when clauses are exchangeable;
- ``bracket``: covered fraction with few events and non-exchangeable clauses (two_four,
  contiguous): P(M >= 1)/C <= E[M]/C <= P(M >= 1) for M missed clauses, with
  Clopper–Pearson on P(M >= 1) (and the same for covered clauses);
- ``garwood``: exact Poisson interval on a total count with few events (collisions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

LEVEL = 0.999
MIN_EVENTS = 100


def clopper_pearson(successes: int, n: int, level: float) -> tuple[float, float]:
    """Exact two-sided binomial interval."""
    a = 1.0 - level
    lo = 0.0 if successes == 0 else float(stats.beta.ppf(a / 2, successes, n - successes + 1))
    hi = 1.0 if successes == n else float(stats.beta.ppf(1 - a / 2, successes + 1, n - successes))
    return lo, hi


def garwood(total: int, level: float) -> tuple[float, float]:
    """Exact two-sided Poisson interval for the mean of a Poisson count ``total``."""
    a = 1.0 - level
    lo = 0.0 if total == 0 else float(stats.chi2.ppf(a / 2, 2 * total) / 2)
    hi = float(stats.chi2.ppf(1 - a / 2, 2 * total + 2) / 2)
    return lo, hi


def t_interval(mean: float, var: float, n: int, level: float) -> tuple[float, float]:
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * math.sqrt(max(var, 0.0) / n)
    return mean - half, mean + half


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate with its interval at ``level`` (default 99.9%).

    ``interval(level)`` recomputes the interval at another level from the stored
    sufficient statistics (trials, sum, sum of squares and the exact-fallback counts).
    """

    value: float
    low: float
    high: float
    level: float
    method: str
    kind: str  # "proportion" | "fraction" | "count"
    trials: int
    total: float  # sum of per-trial values
    total_sq: float  # sum of squared per-trial values
    aux: tuple = ()  # kind-specific exact-fallback counts

    def interval(self, level: float) -> tuple[float, float]:
        """(low, high) at ``level``; same construction as the stored one."""
        return _interval(self.kind, self.trials, self.total, self.total_sq, self.aux, level)[:2]

    def contains(self, x: float, level: float | None = None) -> bool:
        lo, hi = (self.low, self.high) if level is None else self.interval(level)
        # a hair of slack for float rounding of exact values at an interval end
        return lo - 1e-12 * abs(lo) <= x <= hi + 1e-12 * abs(hi)

    def to_dict(self) -> dict:
        return {
            "value": self.value, "low": self.low, "high": self.high, "level": self.level,
            "method": self.method, "kind": self.kind, "trials": self.trials,
            "total": self.total, "total_sq": self.total_sq, "aux": list(self.aux),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Estimate":
        return make_estimate(d["kind"], int(d["trials"]), d["total"], d["total_sq"],
                             tuple(d["aux"]), float(d["level"]))


def make_estimate(kind: str, trials: int, total: float, total_sq: float, aux: tuple,
                  level: float = LEVEL) -> Estimate:
    lo, hi, method, value = _interval(kind, trials, total, total_sq, aux, level)
    return Estimate(value, lo, hi, level, method, kind, trials, total, total_sq, tuple(aux))


def _interval(kind, n, total, total_sq, aux, level):
    if isinstance(level, bool) or not isinstance(level, (int, float)):
        raise TypeError(f"level must be a float in (0, 1), got {level!r}")
    if not (0.0 < level < 1.0):
        raise ValueError(f"level must satisfy 0 < level < 1, got {level!r}")
    mean = total / n
    var = (total_sq - n * mean * mean) / (n - 1) if n > 1 else 0.0
    if kind == "proportion":  # aux: ()
        lo, hi = clopper_pearson(int(total), n, level)
        return lo, hi, "clopper-pearson", mean
    if kind == "fraction":
        # per-trial value = covered fraction; aux = (n_clauses, trials with a miss,
        # trials with a cover, clause-0 covered count or -1 when clauses are not exchangeable)
        n_clauses, some_miss, some_cover, c0 = aux
        missed_total = (1.0 - mean) * n * n_clauses
        covered_total = mean * n * n_clauses
        if n >= 100 and var > 0 and min(missed_total, covered_total) >= MIN_EVENTS:
            lo, hi = t_interval(mean, var, n, level)
            return max(lo, 0.0), min(hi, 1.0), "t", mean
        if c0 >= 0:
            lo, hi = clopper_pearson(int(c0), n, level)
            return lo, hi, "clopper-pearson(clause 0)", mean
        # P(M>=1)/C <= 1 - p <= P(M>=1); P(K>=1)/C <= p <= P(K>=1) (K covered clauses)
        a_lo, a_hi = clopper_pearson(int(some_miss), n, 1 - (1 - level) / 2)
        b_lo, b_hi = clopper_pearson(int(some_cover), n, 1 - (1 - level) / 2)
        lo = max(1.0 - a_hi, b_lo / n_clauses, 0.0)
        hi = min(1.0 - a_lo / n_clauses, b_hi, 1.0)
        return lo, hi, "bracket", mean
    if kind == "count":
        if n >= 100 and var > 0 and total >= MIN_EVENTS:
            lo, hi = t_interval(mean, var, n, level)
            return max(lo, 0.0), hi, "t", mean
        lo, hi = garwood(int(round(total)), level)
        return lo / n, hi / n, "garwood", mean
    if kind == "lumped_count":
        # a grouped split's collisions X = sum_g m_g Y_g come in lumps of m_g in [m_lo, m_hi]:
        # S = sum_g Y_g (the events) lies in [X/m_hi, X/m_lo] and E[X] = scale·E[S] (scale = N/G)
        m_lo, m_hi, scale = aux
        if n >= 100 and var > 0 and total / m_hi >= MIN_EVENTS:
            lo, hi = t_interval(mean, var, n, level)
            return max(lo, 0.0), hi, "t", mean
        lo = garwood(int(math.floor(total / m_hi + 1e-9)), level)[0]
        hi = garwood(int(math.ceil(total / m_lo - 1e-9)), level)[1]
        return lo * scale / n, hi * scale / n, "garwood(lumps)", mean
    raise ValueError(f"unknown estimate kind {kind!r}")
