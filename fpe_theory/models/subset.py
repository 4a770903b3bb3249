"""The subset model: alpha·N independent sparse neurons, each a uniform random d-subset of the
n inputs (d = n/alpha). Balanced fan-in, but siblings overlap: a reference model only.

A unit is one sparse neuron: p_u = p = d↓k / n↓k and r_i = d↓(ik) / n↓(ik) (0 when ik > d).
Formerly called ``"independent"`` (still accepted, with a ``DeprecationWarning``).
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath

from .._logspace import log_falling_ratio
from .._validate import Config
from .base import BalancedModel, register


@register
class Subset(BalancedModel):
    name = "subset"
    summary = "alpha*N independent uniform d-subsets of the inputs (siblings overlap; a reference model)"
    sim_code = 0
    # a uniform d-subset is negatively associated (Joag-Dev & Proschan 1983), so coverage of
    # disjoint clauses is too, across independent units: P(all) <= P(one clause)^C
    negatively_associated = True

    def units_per_parent(self, alpha: int) -> int:
        return alpha

    def unit_cover(self, cfg: Config) -> Fraction:
        return self.child_cover(cfg, 1)

    def log_unit_cover(self, cfg: Config) -> float:
        return log_falling_ratio(cfg.d, cfg.n, cfg.clause_size)

    def max_cover(self, cfg: Config) -> int:
        return cfg.d // cfg.clause_size

    def cover_numerators(self, cfg: Config, imax: int) -> list:
        d, k = cfg.d, cfg.clause_size
        return [math.perm(d, i * k) if i * k <= d else 0 for i in range(imax + 1)]

    def cover_mp(self, cfg: Config, imax: int, prec: int):
        r = self._child_cover_mp(cfg, imax, prec)
        return r, (2 * (imax + 1) * cfg.clause_size + 4) * mpmath.mpf(2) ** (-prec)
