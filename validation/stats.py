"""Interval estimates the ledger's decision rules use (all two-sided, level given explicitly).

- ``mean_ci``: Student t interval of a mean over independent units (seeds, configs).
- ``paired_diff``: mean of ``a - b`` over units paired by seed, with its t interval.
- ``slope_ci``: least-squares slope with its t interval (n - 2 degrees of freedom).
- ``pearson_ci``: Pearson r with the Fisher z interval.
- ``spearman_ci``: Spearman rho with a percentile bootstrap interval (units resampled with
  replacement, a fixed seed, so the same inputs give the same interval).
- ``cluster_bootstrap_corr``: a correlation with a bootstrap that resamples whole clusters
  (configurations), for points that are not independent within a cluster.
- ``per_unit_slopes``: one slope per unit (e.g. per seed across widths), for a t interval
  over units (seeds are the independent replicates; widths within one seed are not).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["CI", "mean_ci", "paired_diff", "slope_ci", "pearson_ci", "spearman_ci", "per_unit_slopes",
           "cluster_bootstrap_corr"]

LEVEL = 0.95


@dataclass(frozen=True)
class CI:
    """An estimate with a two-sided interval: ``value`` in ``[low, high]`` at ``level``."""

    value: float
    low: float
    high: float
    n: int
    level: float
    method: str

    def as_dict(self) -> dict:
        return asdict(self)

    def fmt(self, scale: float = 1.0, digits: int = 2, unit: str = "") -> str:
        """``value [low, high]`` scaled (e.g. ``scale=100`` for points)."""
        f = f"{{:.{digits}f}}"
        v, lo, hi = (f.format(x * scale) for x in (self.value, self.low, self.high))
        return f"{v}{unit} [{lo}, {hi}]{unit}"


def _arr(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).ravel()
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite")
    return a


def mean_ci(values, level: float = LEVEL) -> CI:
    """Mean with a Student t interval (infinite when fewer than 2 values, a point when all equal)."""
    from scipy import stats

    v = _arr(values, "values")
    if v.size == 0:
        raise ValueError("values must not be empty")
    m = float(v.mean())
    if v.size < 2:
        return CI(m, -math.inf, math.inf, 1, level, "t")
    sd = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, v.size - 1)) * sd / math.sqrt(v.size)
    return CI(m, m - half, m + half, int(v.size), level, "t")


def paired_diff(a, b, level: float = LEVEL) -> CI:
    """Mean of ``a - b`` (paired arrays, one entry per unit) with its t interval."""
    a, b = _arr(a, "a"), _arr(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must be paired (same length), got {a.size} and {b.size}")
    c = mean_ci(a - b, level)
    return CI(c.value, c.low, c.high, c.n, level, "paired t")


def slope_ci(x, y, level: float = LEVEL) -> CI:
    """Least-squares slope of ``y`` on ``x`` with a t interval (n - 2 df)."""
    from scipy import stats

    x, y = _arr(x, "x"), _arr(y, "y")
    if x.size != y.size or x.size < 3:
        raise ValueError(f"x and y must have equal length >= 3, got {x.size} and {y.size}")
    if np.ptp(x) == 0:
        raise ValueError("x must not be constant")
    res = stats.linregress(x, y)
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 2)) * float(res.stderr)
    return CI(float(res.slope), float(res.slope) - half, float(res.slope) + half, int(x.size), level, "OLS t")


def pearson_ci(x, y, level: float = LEVEL) -> CI:
    """Pearson r with the Fisher z interval ``tanh(atanh(r) -+ z / sqrt(n - 3))``."""
    from scipy import stats

    x, y = _arr(x, "x"), _arr(y, "y")
    if x.size != y.size or x.size < 4:
        raise ValueError(f"x and y must have equal length >= 4, got {x.size} and {y.size}")
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return CI(float("nan"), -1.0, 1.0, int(x.size), level, "Fisher z")
    r = float(np.corrcoef(x, y)[0, 1])
    r = max(min(r, 1.0 - 1e-15), -1.0 + 1e-15)
    z = float(stats.norm.ppf(0.5 + level / 2)) / math.sqrt(x.size - 3)
    return CI(r, math.tanh(math.atanh(r) - z), math.tanh(math.atanh(r) + z), int(x.size), level, "Fisher z")


def spearman_ci(x, y, level: float = LEVEL, *, n_boot: int = 10_000, seed: int = 0) -> CI:
    """Spearman rho with a percentile bootstrap interval over units (fixed ``seed``)."""
    from scipy import stats

    x, y = _arr(x, "x"), _arr(y, "y")
    if x.size != y.size or x.size < 4:
        raise ValueError(f"x and y must have equal length >= 4, got {x.size} and {y.size}")
    if np.ptp(x) == 0 or np.ptp(y) == 0:  # no ranks to correlate
        return CI(float("nan"), -1.0, 1.0, int(x.size), level, "bootstrap")
    rho = float(stats.spearmanr(x, y).statistic)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    rx = stats.rankdata(x[idx], axis=1)
    ry = stats.rankdata(y[idx], axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    ok = den > 0  # a resample with a constant column has no rank correlation
    boots = (rx * ry).sum(axis=1)[ok] / den[ok]
    a = (1 - level) / 2
    lo, hi = (float(np.quantile(boots, q)) for q in (a, 1 - a))
    return CI(rho, lo, hi, int(x.size), level, f"bootstrap ({int(ok.sum())} resamples)")


def per_unit_slopes(frame, unit: str, x: str, y: str) -> np.ndarray:
    """Least-squares slope of ``y`` on ``x`` within each ``unit`` group (units with < 2
    distinct x values are skipped)."""
    out = []
    for _, g in frame.groupby(unit, sort=True):
        xs, ys = g[x].to_numpy(np.float64), g[y].to_numpy(np.float64)
        if np.unique(xs).size < 2:
            continue
        xc = xs - xs.mean()
        out.append(float((xc * (ys - ys.mean())).sum() / (xc * xc).sum()))
    return np.asarray(out)


def cluster_bootstrap_corr(x, y, clusters, level: float = LEVEL, *, method: str = "pearson",
                           n_boot: int = 10_000, seed: int = 0) -> CI:
    """Correlation of ``x`` and ``y`` (Pearson, or Spearman on ranks) with a percentile bootstrap
    interval that resamples whole ``clusters`` with replacement (e.g. configurations: the points of
    one configuration share its data and pre-training, so they are not independent units).

    Resamples with a constant ``x`` or ``y`` are skipped; a fixed ``seed`` gives the same interval
    for the same inputs. Needs >= 3 clusters and >= 4 points.
    """
    from scipy import stats

    if method not in ("pearson", "spearman"):
        raise ValueError(f"method must be 'pearson' or 'spearman', got {method!r}")
    x, y = _arr(x, "x"), _arr(y, "y")
    cl = np.asarray(clusters).ravel()
    if not (x.size == y.size == cl.size) or x.size < 4:
        raise ValueError(f"x, y and clusters must have equal length >= 4, got {x.size}, {y.size}, {cl.size}")
    labels, inv = np.unique(cl, return_inverse=True)
    if labels.size < 3:
        raise ValueError(f"clusters must hold >= 3 distinct units, got {labels.size}")

    def corr(a, b):
        if np.ptp(a) == 0 or np.ptp(b) == 0:
            return float("nan")
        if method == "spearman":
            a, b = stats.rankdata(a), stats.rankdata(b)
        return float(np.corrcoef(a, b)[0, 1])

    r = corr(x, y)
    members = [np.flatnonzero(inv == i) for i in range(labels.size)]
    rng = np.random.default_rng(seed)
    boots = []
    for pick in rng.integers(0, labels.size, size=(n_boot, labels.size)):
        idx = np.concatenate([members[i] for i in pick])
        v = corr(x[idx], y[idx])
        if math.isfinite(v):
            boots.append(v)
    if math.isnan(r) or not boots:
        return CI(float("nan"), -1.0, 1.0, int(labels.size), level, f"cluster bootstrap ({method})")
    a = (1 - level) / 2
    lo, hi = (float(np.quantile(boots, q)) for q in (a, 1 - a))
    return CI(r, lo, hi, int(labels.size), level, f"cluster bootstrap ({method}, {len(boots)} resamples)")
