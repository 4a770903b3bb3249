"""Argument checks shared by every package: wrong type -> ``TypeError``, bad value ->
``ValueError`` naming the parameter and the rule (e.g. ``alpha must be an integer >= 2,
got 1``). Each returns the value in canonical form (a Python ``int``, ``float``, ...)."""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["check_int", "check_float", "check_fraction", "check_bool", "check_choice", "check_path", "is_int"]


def is_int(value: Any) -> bool:
    """``value`` is an integer (Python or NumPy) and not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and type(value).__name__ != "bool_"


def _bound(n: int) -> str:
    k = n.bit_length() - 1
    return f"2**{k}" if n > 0 and k >= 16 and n == 1 << k else str(n)


def check_int(name: str, value: Any, minimum: int | None = None, *, below: int | None = None) -> int:
    """``value`` as a Python ``int``; ``TypeError`` unless an integer (bools and floats are
    refused), ``ValueError`` unless ``minimum <= value`` (and ``value < below``)."""
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if below is not None and (value >= below or (minimum is not None and value < minimum)):
        raise ValueError(f"{name} must be an integer in [{minimum}, {_bound(below)}), got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return value


def check_float(name: str, value: Any, *, positive: bool = False, upper: float | None = None) -> float:
    """``value`` as a finite ``float >= 0`` (``> 0`` when ``positive``; ``<= upper`` when
    given); ints are accepted, bools and other types are a ``TypeError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    out = float(value)
    if not math.isfinite(out) or out < 0 or (positive and out == 0) or (upper is not None and out > upper):
        rule = ("> 0" if positive else ">= 0") + (f" and <= {upper}" if upper is not None else "")
        raise ValueError(f"{name} must be a finite float {rule}, got {value}")
    return out


def check_fraction(name: str, value: Any) -> float:
    """``value`` as a float in ``[0, 1]`` (NaN refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    out = float(value)
    if not 0.0 <= out <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value}")
    return out


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is a bool (NumPy's included), else ``TypeError``."""
    if not isinstance(value, bool) and type(value).__name__ != "bool_":
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` if it is one of the strings ``choices``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, one of {list(choices)}, got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def check_path(name: str, value: Any) -> Path:
    """``value`` (a ``str`` or ``os.PathLike``) as a ``Path``."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(value).__name__}")
    return Path(value)
