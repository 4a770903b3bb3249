"""Hypothesis example budgets relative to the active profile (``tests/conftest.py``).

The profile (``HYPOTHESIS_PROFILE``: ``ci`` 50, ``dev`` 200, ``thorough`` 500 examples)
sets the budget; a test whose examples are much dearer or cheaper than a typical one scales
it instead of fixing a number, so ``dev`` and ``thorough`` really run more::

    @settings(max_examples=examples(0.2))   # builds and trains a model per example
    @settings(max_examples=examples(3))     # a cheap call: three times the profile's budget
"""

from __future__ import annotations

import math

from hypothesis import settings


def examples(factor: float) -> int:
    """``ceil(factor * the active profile's max_examples)``, at least 1."""
    if not factor > 0:
        raise ValueError(f"factor must be > 0, got {factor!r}")
    return max(1, math.ceil(factor * settings.default.max_examples))


def profile_examples() -> int:
    """The active profile's ``max_examples`` (for false-failure bounds that divide by the number of examples)."""
    return int(settings.default.max_examples)
