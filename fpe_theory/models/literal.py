"""The literal model: the one under which the paper's A.5 formulas are exact.

Each of the n input weights of a parent goes to one of its alpha children independently and
uniformly, so children have Binomial(n, 1/alpha) fan-in (not exactly n/alpha). A child holds
j given clauses (jk literals) with probability alpha^(-jk) exactly; a parent has some child
covering a clause with probability p_u = alpha·alpha^(-k) = alpha^(1-k) (the alpha events are
disjoint), and clauses are covered independently of each other (disjoint literals). Hence

    P(all covered) = (1 - (1 - alpha^(1-k))^N)^C,   collision ratio = alpha^(1-2k),

and the union bound C·(1 - alpha^(1-k))^N <= C·exp(-N·alpha^(1-k)) gives the paper's sizing
rule N >= alpha^(k-1)·ln(C/delta) as a sufficient condition. No balance rule: any integer
alpha >= 2 and any clause size are valid.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath

from .._logspace import inv_power_float
from .._validate import Config
from .base import TheoryModel, register


@register
class Literal(TheoryModel):
    name = "literal"
    summary = "each input weight goes to one of the alpha children independently (the paper's A.5 model)"
    balanced = False
    sim_code = 3
    clauses_independent = True

    def log_child_cover(self, cfg: Config, j: int) -> float:
        # the same expression as the paper's approximation: identical doubles
        return -j * cfg.clause_size * math.log(cfg.alpha)

    def child_cover_float(self, cfg: Config, j: int) -> float:
        return inv_power_float(cfg.alpha, j * cfg.clause_size)  # correctly rounded

    def child_cover(self, cfg: Config, j: int) -> Fraction:
        """alpha^(-jk), exact."""
        return Fraction(1, cfg.alpha ** (j * cfg.clause_size))

    def log_collision_ratio(self, cfg: Config) -> float:
        return (1 - 2 * cfg.clause_size) * math.log(cfg.alpha)  # as the paper's: identical doubles

    def collision_ratio_float(self, cfg: Config) -> float:
        return inv_power_float(cfg.alpha, 2 * cfg.clause_size - 1)  # alpha^(1-2k), correctly rounded

    def unit_cover(self, cfg: Config) -> Fraction:
        return Fraction(1, cfg.alpha ** (cfg.clause_size - 1))

    def log_unit_cover(self, cfg: Config) -> float:
        return (1 - cfg.clause_size) * math.log(cfg.alpha)

    def max_cover(self, cfg: Config) -> int:
        return cfg.n_clauses  # one child can receive every literal

    def cover_scaled(self, cfg: Config, imax: int) -> tuple:
        # r_i = p_u^i (clauses independent): common denominator A^imax, A = alpha^(k-1)
        a = cfg.alpha ** (cfg.clause_size - 1)
        return [a ** (imax - i) for i in range(imax + 1)], a ** imax

    def scaled_bits(self, cfg: Config, imax: int) -> float:
        return max(1.0, imax * (cfg.clause_size - 1) * math.log2(cfg.alpha))

    def cover_mp(self, cfg: Config, imax: int, prec: int):
        a = cfg.alpha ** (cfg.clause_size - 1)
        with mpmath.workprec(prec):
            # 1 / a^i: the integer is rounded once, the quotient once
            return [mpmath.mpf(1) / mpmath.mpf(a ** i) for i in range(imax + 1)], 3 * mpmath.mpf(2) ** (-prec)
