"""Log-space helpers shared by the closed forms, the exact evaluator and the models.

They live here (not in ``closed_forms``) so that ``_exact`` and the model classes can use
them without importing the public module that imports them.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np


def log_falling_ratio(a: int, b: int, m: int) -> float:
    """log(a↓m / b↓m) for integers 0 <= a <= b, m >= 0; -inf when m > a.

    Each factor (a-i)/(b-i) is a quotient of exactly representable integers (rounded once),
    so the log-sum has absolute error ~m·1e-16; for m > 4096 mpmath's loggamma is used.
    """
    if m > a:
        return -math.inf
    if m == 0:
        return 0.0
    if m <= 4096 and b < 2**53:
        i = np.arange(m, dtype=np.float64)
        return math.fsum(np.log((a - i) / (b - i)).tolist())
    digits = 30 + len(str(b))
    with mpmath.workdps(digits):
        v = (mpmath.loggamma(a + 1) - mpmath.loggamma(a - m + 1)
             - mpmath.loggamma(b + 1) + mpmath.loggamma(b - m + 1))
        return float(v)


def log_neg_log1m(log_x: float) -> float:
    """log(-log(1 - x)) from log x, accurate for tiny x; +inf at x = 1."""
    if log_x >= 0.0:
        return math.inf
    if log_x > math.log(1e-5):
        x = math.exp(log_x)
        return math.log(-math.log1p(-x))
    x = math.exp(log_x)  # may underflow to 0: the series correction then vanishes
    return log_x + math.log1p(x / 2 + x * x / 3)


def inv_power_float(base: int, exponent: int) -> float:
    """base^(-exponent) correctly rounded to a double (0.0 below the subnormal range)."""
    from fractions import Fraction

    if exponent == 0:
        return 1.0
    if exponent * math.log2(base) > 1100:  # below 2^-1100: rounds to 0.0
        return 0.0
    return float(Fraction(1, base ** exponent))


# ----------------------------------------------------------------------------- closed_forms' float helpers
def _hazard_logs(log_pu: float, units: np.ndarray) -> np.ndarray:
    """log A with A = -U·log(1 - p_u): P(clause missed by all U units) = exp(-A)."""
    return np.log(units) + log_neg_log1m(log_pu)


def _miss_cover_from_log_hazard(log_a: np.ndarray, *, complement: bool, log: bool):
    """From log A: P(covered) = -expm1(-A) (or P(missed) = exp(-A) when ``complement``)."""
    with np.errstate(over="ignore"):
        a = np.exp(log_a)  # inf when A is astronomically large: exp(-inf) = 0 is right
    if complement:
        return -a if log else np.exp(-a)
    cov = -np.expm1(-a)
    if not log:
        return cov
    # log(1 - e^-A): log(-expm1(-A)) is accurate for small A, log1p(-e^-A) for large A
    with np.errstate(divide="ignore"):  # both branches are evaluated; A -> 0 gives -inf
        return np.where(a < math.log(2), _safe_log(cov), np.log1p(-np.exp(-a)))


def _safe_log(x: np.ndarray) -> np.ndarray:
    out = np.full(np.shape(x), -np.inf)
    pos = x > 0
    out[pos] = np.log(x[pos])
    return out


def _units(n_parents: tuple, per_parent: int) -> np.ndarray:
    """Units U = N·per_parent as float64 (huge ints are fine: logs are taken of them)."""
    return np.array([float(n) * per_parent for n in n_parents], dtype=np.float64)


def _shape(values, scalar: bool):
    arr = np.asarray(values, dtype=np.float64)
    return float(arr[0]) if scalar else arr
