"""Input validation shared by the closed forms, the simulator and the CLI.

Every public function validates once here and hands clean Python ints to private code.
Rules (docs/THEORY.md): ``alpha`` is an integer >= 2 dividing ``n = n_clauses * clause_size``
and ``clause_size <= n / alpha`` (a child must be able to hold a clause) for the balanced
models (subset, partition, two_four); the literal model needs only ``alpha >= 2``; counts are >= 1;
``0 < delta < 1``. Violations raise ``ValueError`` naming the parameter and the rule; values
of a wrong type (strings, None, bools) raise ``TypeError``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

LAYOUTS = ("contiguous", "shuffled")
PROB_METHODS = ("exact", "union_bound", "paper")
COLLISION_METHODS = ("exact", "paper")


def _integral(name: str, value, rule: str) -> int:
    """``int(value)`` for an integer; ``TypeError`` for bools and non-numbers, ``ValueError``
    (saying ``rule``) for other reals."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got bool {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")


def check_int(name: str, value, *, minimum: int | None = None) -> int:
    """Return ``value`` as a Python int; integral floats and non-integers are rejected.

    Floats are refused even when integral (``2.0``): the closed forms are exact functions of
    integers, and a float that happens to be integral usually hides a unit mistake.
    """
    out = _integral(name, value, "an integer")
    if minimum is not None and out < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {out}")
    return out


def check_choice(name: str, value, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices`` (strings), else raise."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {list(choices)}, got {value!r}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def check_delta(delta) -> float:
    """``0 < delta < 1`` (a failure probability)."""
    if isinstance(delta, (bool, np.bool_)) or not isinstance(delta, numbers.Real):
        raise TypeError(f"delta must be a real number in (0, 1), got {delta!r}")
    out = float(delta)
    if not (0.0 < out < 1.0):  # also rejects NaN
        raise ValueError(f"delta must satisfy 0 < delta < 1, got {delta!r}")
    return out


@dataclass(frozen=True)
class Config:
    """A validated (n_clauses, clause_size, alpha) triple and its derived sizes."""

    n_clauses: int
    clause_size: int
    alpha: int

    @property
    def n(self) -> int:
        """Number of literals n = C*k."""
        return self.n_clauses * self.clause_size

    @property
    def d(self) -> int:
        """Child fan-in d = n / alpha."""
        return self.n // self.alpha


def check_config(n_clauses, clause_size, alpha, *, balanced: bool = True) -> Config:
    """Validate the DNF / expansion sizes (see module docstring).

    ``balanced=False`` (the literal model, whose children have Binomial(n, 1/alpha) fan-in)
    drops the two balance rules: any integer alpha >= 2 is accepted and clauses may be
    larger than n/alpha.
    """
    c = check_int("n_clauses", n_clauses, minimum=1)
    k = check_int("clause_size", clause_size, minimum=1)
    n = c * k
    rule = f"an integer >= 2 dividing n = {n}" if balanced else "an integer >= 2"
    a = _integral("alpha", alpha, rule)
    if a < 2:
        raise ValueError(f"alpha must be {rule}, got {a}")
    if balanced and n % a != 0:
        raise ValueError(f"alpha must be {rule}, got {a} (a balanced split needs equal children; "
                         f"model='literal' accepts any alpha >= 2)")
    if balanced and k > n // a:
        raise ValueError(
            f"clause_size must be <= n / alpha = {n // a} (the child fan-in), got {k} "
            f"(model='literal' has no such limit)"
        )
    return Config(c, k, a)


def check_n_parents(n_parents) -> tuple[object, bool]:
    """Validate ``n_parents`` (an int >= 1, or an array-like of them).

    Returns ``(values, is_scalar)`` where ``values`` is a tuple of Python ints.
    """
    if isinstance(n_parents, (bool, np.bool_)):
        raise TypeError(f"n_parents must be an integer or an array of integers, got {n_parents!r}")
    if isinstance(n_parents, numbers.Integral):
        return (check_int("n_parents", n_parents, minimum=1),), True
    if isinstance(n_parents, (str, bytes)) or n_parents is None:
        raise TypeError(f"n_parents must be an integer or an array of integers, got {n_parents!r}")
    if isinstance(n_parents, numbers.Real):
        raise ValueError(f"n_parents must be an integer >= 1, got {n_parents!r}")
    if isinstance(n_parents, (list, tuple)) and any(isinstance(v, (bool, np.bool_)) for v in n_parents):
        # np.asarray would turn True into 1 silently
        raise TypeError(f"n_parents must hold integers, not bools, got {n_parents!r}")
    try:
        arr = np.asarray(n_parents)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"n_parents must be an integer or an array of integers: {exc}") from None
    if arr.ndim != 1:
        raise ValueError(f"n_parents must be a scalar or a 1-d array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("n_parents must not be empty")
    if arr.dtype == object:
        vals = tuple(check_int("n_parents", v, minimum=1) for v in arr.tolist())
    elif np.issubdtype(arr.dtype, np.integer):
        vals = tuple(int(v) for v in arr.tolist())
        if min(vals) < 1:
            raise ValueError(f"n_parents must be integers >= 1, got minimum {min(vals)}")
    elif np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.bool_):
        raise ValueError(f"n_parents must be integers >= 1, got dtype {arr.dtype}")
    else:
        raise TypeError(f"n_parents must be integers, got dtype {arr.dtype}")
    return vals, False


def check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def log_int(x: int) -> float:
    """Natural log of a positive Python int of any size."""
    return math.log(x)
