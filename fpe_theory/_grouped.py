"""Grouped split (``n_partitions`` G, issue 16): what changes in the closed forms.

N parents are dealt into G groups (sizes ``m_g``, differing by at most one: N = qG + r gives r
groups of q + 1 and G - r of q); all parents of a group share one random partition (partition
model: a uniform balanced partition; literal model: each input to an independent uniform
child), groups draw independently.

- Coverage: parents of one group cover exactly the same clauses, so every coverage quantity
  (P(clause covered), P(all covered), expected covered clauses, the smallest count for
  coverage) is the ungrouped one with N replaced by G: coverage depends on G, not on N.
- Collisions X = sum_p X_p (X_p: pairs of clauses inside one child of parent p). Each parent
  is marginally an ungrouped parent, so E[X] = N·alpha·C(C,2)·q2 is unchanged; but
  X = sum_g m_g·Y_g with Y_g i.i.d. (one parent's collisions), so
  Var X = (sum_g m_g^2)·Var Y >= N·Var Y (the ungrouped variance; equality iff G = N).
- One parent: Y = sum_a C(H_a, 2), H_a clauses inside child a. Expanding Y^2 over ordered
  pairs of clause pairs (P, Q) (C2 = C(C,2); |P u Q| = 2: C2 pairs, 3: 2·C2·(C-2),
  4: C2·C(C-2,2)):
  E[Y^2] = alpha·(C2·q2 + 2·C2·(C-2)·q3 + C2·C(C-2,2)·q4) + alpha(alpha-1)·C2·C(C-2,2)·s22,
  q_j = P(one child holds j given clauses) (partition d↓jk/n↓jk; literal alpha^-jk) and
  s22 = P(two given clauses in child a and two others in child b != a) (partition
  d↓2k·d↓2k/n↓4k; literal alpha^-4k); a clause pair split across two children is impossible.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction

import numpy as np

from ._validate import Config

__all__ = ["GROUPED_MODELS", "check_partitions", "sum_squared_group_sizes", "parent_collision_moments"]

GROUPED_MODELS = ("partition", "literal")


def check_partitions(n_partitions, parents: tuple, scalar: bool, model: str) -> tuple[tuple, bool]:
    """Validate ``n_partitions`` (None, an int or a 1-d array) against ``n_parents`` values
    ``parents``; returns ``(G values, one per broadcast entry; None entries when None), scalar)``
    and the broadcast ``parents``. ``ValueError`` naming the rule otherwise."""
    if n_partitions is None:
        return (None,) * len(parents), parents, scalar
    if model not in GROUPED_MODELS:
        raise ValueError(f"n_partitions needs model in {list(GROUPED_MODELS)}, got model={model!r}")
    if isinstance(n_partitions, (bool, np.bool_)) or isinstance(n_partitions, (str, bytes)):
        raise TypeError(f"n_partitions must be an integer or a 1-d array of integers, got {n_partitions!r}")
    if isinstance(n_partitions, numbers.Integral):
        gs, g_scalar = (int(n_partitions),), True
    else:
        arr = np.asarray(n_partitions)
        if arr.ndim != 1 or arr.size == 0 or not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == object):
            raise ValueError(f"n_partitions must be an integer or a non-empty 1-d array of integers, got {n_partitions!r}")
        gs, g_scalar = tuple(int(v) for v in arr.tolist()), False
    if len(gs) != len(parents) and 1 not in (len(gs), len(parents)):
        raise ValueError(f"n_partitions must have one entry per n_parents entry ({len(parents)}), got {len(gs)}")
    size = max(len(gs), len(parents))
    gs = gs * size if len(gs) == 1 else gs
    parents = parents * size if len(parents) == 1 else parents
    for g, n in zip(gs, parents):
        if g < 1 or g > n:
            raise ValueError(f"n_partitions must be integers in [1, n_parents] (1 <= G <= N), got G = {g} for N = {n}")
    return gs, parents, scalar and g_scalar


def sum_squared_group_sizes(n_parents: int, n_partitions: int) -> int:
    """sum_g m_g^2 for N parents dealt as evenly as possible into G groups."""
    q, r = divmod(n_parents, n_partitions)
    return r * (q + 1) ** 2 + (n_partitions - r) * q * q


def _q(model, cfg: Config, j: int) -> Fraction:
    if j * cfg.clause_size > cfg.n:
        return Fraction(0)
    return Fraction(model.child_cover(cfg, j))


def _s22(model, cfg: Config) -> Fraction:
    k, n = cfg.clause_size, cfg.n
    if model.name == "literal":
        return Fraction(1, cfg.alpha ** (4 * k))
    if 4 * k > n or 2 * k > cfg.d:
        return Fraction(0)
    return Fraction(math.perm(cfg.d, 2 * k) ** 2, math.perm(n, 4 * k))


def parent_collision_moments(model, cfg: Config) -> tuple[Fraction, Fraction]:
    """(E[Y], Var[Y]) of one parent's collisions, exact (module docstring)."""
    c, a = cfg.n_clauses, cfg.alpha
    c2 = math.comb(c, 2)
    if c2 == 0:
        return Fraction(0), Fraction(0)
    mean = a * c2 * _q(model, cfg, 2)
    three = 2 * c2 * (c - 2)
    four = c2 * math.comb(c - 2, 2)
    second = a * (c2 * _q(model, cfg, 2) + three * _q(model, cfg, 3) + four * _q(model, cfg, 4))
    second += a * (a - 1) * four * _s22(model, cfg)
    return mean, second - mean * mean
