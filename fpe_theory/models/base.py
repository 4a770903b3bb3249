"""The theory-model interface and its registry.

A random model of the split says what one *unit* is (a parent, or an independent sparse
neuron) and how it covers clauses. Everything the closed forms and the exact evaluator need
is a handful of exact quantities (docs/THEORY.md):

- ``units_per_parent``: U = N·units_per_parent i.i.d. units;
- ``unit_cover`` p_u: one unit covers a given clause;
- ``child_cover(j)``: one child holds j given clauses (j = 1: p, j = 2: q2);
- ``cover_scaled`` / ``cover_mp``: r_i, one unit covers i given clauses (exact / high
  precision), for the inclusion–exclusion of P(all clauses covered);
- ``sim_code``: the Monte Carlo kernel's model (``fpe_theory._kernels``).

A new model is one subclass in one file of this package, decorated with ``@register``;
the public functions (``fpe_theory.prob_all_covered`` ...) find it by its ``name``.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from fractions import Fraction
from typing import ClassVar

import mpmath

from .._logspace import log_falling_ratio
from .._validate import Config, check_config

__all__ = ["TheoryModel", "BalancedModel", "register", "get_model", "model_names", "DEPRECATED_ALIASES"]

#: name -> model instance, in registration order
_REGISTRY: dict = {}
#: deprecated name -> current name
DEPRECATED_ALIASES = {"independent": "subset"}


def register(cls):
    """Class decorator: make ``cls`` (a ``TheoryModel`` subclass) available by ``cls.name``."""
    if not cls.name or cls.name in _REGISTRY or cls.name in DEPRECATED_ALIASES:
        raise ValueError(f"theory model name {cls.name!r} is empty or taken")
    _REGISTRY[cls.name] = cls()
    return cls


def model_names(capability: str | None = None) -> tuple:
    """Registered model names (those with ``capability`` True, e.g. ``"has_all_covered"``)."""
    return tuple(n for n, m in _REGISTRY.items() if capability is None or getattr(m, capability))


def _caller_stacklevel() -> int:
    """stacklevel for ``warnings.warn`` from the first frame outside fpe_theory (the user's call)."""
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(pkg):
        frame = frame.f_back
        level += 1
    return level


def get_model(name, *, capability: str | None = None) -> "TheoryModel":
    """The registered model called ``name`` (a string); ``capability`` restricts the choice.

    ``"independent"`` is a deprecated alias of ``"subset"`` (``DeprecationWarning``).
    ``TypeError`` for a non-string, ``ValueError`` naming the choices for an unknown name.
    """
    choices = model_names(capability)
    if isinstance(name, TheoryModel):
        name = name.name
    if not isinstance(name, str):
        raise TypeError(f"model must be a string, one of {list(choices)}, got {name!r}")
    if name in DEPRECATED_ALIASES:
        new = DEPRECATED_ALIASES[name]
        warnings.warn(
            f"model={name!r} is deprecated: it names the {new!r} model (alpha*N independent uniform "
            f"d-subsets), which is not the paper's model; use model={new!r} (or model='literal' for the "
            f"paper's A.5 model)", DeprecationWarning, stacklevel=_caller_stacklevel())
        name = new
    if name not in choices:
        raise ValueError(f"model must be one of {list(choices)}, got {name!r}")
    return _REGISTRY[name]


class TheoryModel:
    """One random model of the FPE split (subclass it and ``@register`` it).

    Class attributes: ``name``; ``summary`` (one line); ``balanced`` (children hold exactly
    d = n/alpha inputs: alpha must divide n and k <= d); ``sim_code`` (kernel model code);
    capabilities ``has_all_covered`` (exact P(all covered), union bound, minimal parents),
    ``has_child_cover`` (p and q2 exist for every clause); ``clauses_independent`` (one
    unit covers different clauses independently, so P(all) = P(one clause)^C),
    ``negatively_associated`` (P(all) <= P(one clause)^C, used by the fallback bounds) and
    ``layout_dependent`` (coverage depends on where literals sit: ``layout`` matters).
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    balanced: ClassVar[bool] = True
    sim_code: ClassVar[int] = -1
    has_all_covered: ClassVar[bool] = True
    has_child_cover: ClassVar[bool] = True
    clauses_independent: ClassVar[bool] = False
    negatively_associated: ClassVar[bool] = False
    layout_dependent: ClassVar[bool] = False

    def __repr__(self) -> str:
        return f"<theory model {self.name!r}>"

    # -- sizes
    def check_config(self, n_clauses, clause_size, alpha) -> Config:
        """Validated (C, k, alpha) for this model (``ValueError`` naming the parameter)."""
        return check_config(n_clauses, clause_size, alpha, balanced=self.balanced)

    def units_per_parent(self, alpha: int) -> int:
        """i.i.d. units per parent (U = N·units_per_parent)."""
        return 1

    # -- one child, one unit
    def log_child_cover(self, cfg: Config, j: int) -> float:
        """log P(one child holds j given clauses)."""
        raise NotImplementedError

    def child_cover_float(self, cfg: Config, j: int) -> float:
        """P(one child holds j given clauses) as a double."""
        lv = self.log_child_cover(cfg, j)
        return math.exp(lv) if lv > -math.inf else 0.0

    def log_collision_ratio(self, cfg: Config) -> float:
        """log(E_FPE / E_dense) = log(alpha·q2) (linearity over the alpha children)."""
        return math.log(cfg.alpha) + self.log_child_cover(cfg, 2)

    def collision_ratio_float(self, cfg: Config) -> float:
        """alpha·q2 as a double."""
        lv = self.log_collision_ratio(cfg)
        return math.exp(lv) if lv > -math.inf else 0.0

    def unit_cover(self, cfg: Config) -> Fraction:
        """p_u = P(one unit covers a given clause), exact."""
        raise NotImplementedError

    def log_unit_cover(self, cfg: Config) -> float:
        """log p_u in floating point."""
        raise NotImplementedError

    # -- r_i for the inclusion–exclusion
    def max_cover(self, cfg: Config) -> int:
        """Largest i with r_i > 0 (clauses one unit can cover at once)."""
        raise NotImplementedError

    def cover_scaled(self, cfg: Config, imax: int) -> tuple:
        """``(a, D)`` with r_i = a[i] / D exactly for i = 0..imax (a common denominator)."""
        raise NotImplementedError

    def scaled_bits(self, cfg: Config, imax: int) -> float:
        """About log2 D of ``cover_scaled`` (the rational path's cost model)."""
        raise NotImplementedError

    def cover_fraction(self, cfg: Config, i: int) -> Fraction:
        """r_i as an exact fraction."""
        if i > self.max_cover(cfg):
            return Fraction(0)
        a, d = self.cover_scaled(cfg, i)
        return Fraction(a[i], d)

    def cover_mp(self, cfg: Config, imax: int, prec: int):
        """r_i (i = 0..imax) as mpf at ``prec`` bits, and a bound on their relative error."""
        raise NotImplementedError

    def rational_extra_cost(self, cfg: Config, imax: int) -> float:
        """Extra bits processed by ``cover_scaled`` (cost model)."""
        return 0.0

    def mp_extra_ops(self, cfg: Config, i_needed: int) -> float:
        """Extra mpmath operations of ``cover_mp`` (cost model)."""
        return 0.0

    # -- hooks for models outside the i.i.d.-units scheme (two_four)
    def clause_covered_exact(self, cfg: Config, parents: tuple, layout: str, complement: bool):
        """Exact P(a clause covered) (or missed) per N, when the generic 1 - (1 - p_u)^U does
        not apply; None means it does."""
        return None

    def collisions_per_parent(self, cfg: Config, layout: str):
        """E[collisions of one parent] as a Fraction when alpha·C(C,2)·q2 does not apply; None
        means it does."""
        return None

    def check_simulation(self, cfg: Config) -> None:
        """Extra size rules of the Monte Carlo (``ValueError``)."""


class BalancedModel(TheoryModel):
    """Children of exactly d = n/alpha inputs: a child holds j given clauses with
    probability d↓(jk) / n↓(jk) (a uniform d-subset, sampling without replacement)."""

    balanced = True

    def log_child_cover(self, cfg: Config, j: int) -> float:
        return log_falling_ratio(cfg.d, cfg.n, j * cfg.clause_size)

    def child_cover(self, cfg: Config, j: int) -> Fraction:
        """d↓(jk) / n↓(jk), exact."""
        m = j * cfg.clause_size
        return Fraction(math.perm(cfg.d, m), math.perm(cfg.n, m)) if m <= cfg.d else Fraction(0)

    def cover_numerators(self, cfg: Config, imax: int) -> list:
        """T_i (i = 0..imax) with r_i = T_i / n↓(ik), exact integers."""
        raise NotImplementedError

    def cover_scaled(self, cfg: Config, imax: int) -> tuple:
        n, k = cfg.n, cfg.clause_size
        t = self.cover_numerators(cfg, imax)
        return [t[i] * math.perm(n - i * k, (imax - i) * k) for i in range(imax + 1)], math.perm(n, imax * k)

    def scaled_bits(self, cfg: Config, imax: int) -> float:
        return imax * cfg.clause_size * max(1.0, math.log2(cfg.n))

    def _child_cover_mp(self, cfg: Config, imax: int, prec: int) -> list:
        """d↓(ik)/n↓(ik) for i = 0..imax at ``prec`` bits (relative error <= 2(imax+1)k ulps)."""
        n, k, d = cfg.n, cfg.clause_size, cfg.d
        with mpmath.workprec(prec):
            r = [mpmath.mpf(1)]
            cur = mpmath.mpf(1)
            for i in range(1, imax + 1):
                for l in range((i - 1) * k, i * k):
                    if l >= d:
                        cur = mpmath.mpf(0)
                        break
                    cur = cur * (d - l) / (n - l)
                r.append(cur)
            return r
