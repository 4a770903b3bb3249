"""Clause coverage and collisions measured on actual networks, next to fpe_theory's closed forms.

Definitions and the measuring functions (``support``, ``measure_coverage``,
``split_support``): ``nn.coverage``.

What is measured and against what:

- ``split_support(model, alpha, ...)``: the child masks of hidden layer 1 that
  ``fpe_expand`` draws *before* re-sparsification (the same generator, the same draw order,
  ``layers="first"``). For a parent with full support and ``strategy="random"`` these are
  exactly the ``"partition"`` model of fpe_theory, so measured frequencies must agree with
  ``prob_clause_covered`` / ``prob_all_covered`` / ``expected_collisions`` statistically.
- ``fpe_expand``'s output: the same masks after pruning the smallest-magnitude weights of
  ``W1'`` and ``W2'`` (a subset of the above); the closed forms ignore pruning, so the
  difference is the *drift* pruning causes.
- ``compare_with_theory``: means over independent replicates with confidence intervals
  (Student t for coverage fraction and collisions, Clopper-Pearson for P(all covered)),
  beside the exact closed forms.

``CoverageExperiment`` (kind ``"dnf-coverage"``) measures this on DNF networks as the DNF
experiment builds them: the same data, initialisation and phase-1 training as
``DNFExperiment`` (``dnf_config()``), then the experiment's own split (replicate 0, split seed
``derive_seed(seed, "split")``) and ``replicates - 1`` more split seeds of the same
pre-trained model. Phase 2 is not run: masks do not change in phase 2, so coverage and
collisions of the final network are those right after the split. One stored row per
(strategy, replicate), plus one ``"dense"`` row.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from fpe_common.checks import check_choice, check_int

from ..nn.coverage import CoverageCounts, measure_coverage, split_support, support, unit_clause_cover  # noqa: F401
from ..nn.expand import fpe_expand
from ..nn.models import MLP, count_nonzero
from ..nn.strategies import get_strategy, strategy_names
from ..training.backends import train_many
from .dnf import DNFExperiment, build_dense, make_dataset
from .pipeline import ROLES, derive_seed
from .registry import experiment_kind

__all__ = [
    "support",
    "unit_clause_cover",
    "CoverageCounts",
    "measure_coverage",
    "split_support",
    "theory_values",
    "MeasuredValue",
    "TheoryComparison",
    "compare_with_theory",
    "CoverageExperiment",
    "replicate_split_seed",
    "run_coverage",
    "coverage_table",
]


# --------------------------------------------------------------------------- theory


def theory_values(n_clauses: int, clause_size: int, alpha: int, n_parents: int) -> dict[str, float]:
    """Closed forms (fpe_theory, exact and the paper's approximations) for one configuration.

    Keys: ``p_clause_covered`` (partition, exact), ``p_clause_covered_independent`` (the subset model, formerly "independent"),
    ``p_clause_covered_paper``, ``p_all_covered`` (partition, exact),
    ``p_all_covered_independent``, ``p_all_covered_paper`` (the paper's lower bound, clipped
    at 0), ``expected_collisions`` (exact), ``expected_collisions_paper``,
    ``dense_collisions``, ``collision_ratio`` (exact) and ``collision_ratio_paper``.
    ``ValueError`` (from fpe_theory) for invalid sizes.
    """
    import fpe_theory as T

    c, k, a, n = n_clauses, clause_size, alpha, n_parents
    out = {
        "p_clause_covered": float(T.prob_clause_covered(c, k, a, n, model="partition")),
        "p_clause_covered_independent": float(T.prob_clause_covered(c, k, a, n, model="subset")),
        "p_clause_covered_paper": float(T.prob_clause_covered(c, k, a, n, method="paper")),
        "p_all_covered": float(T.prob_all_covered(c, k, a, n, model="partition")),
        "p_all_covered_independent": float(T.prob_all_covered(c, k, a, n, model="subset")),
        "p_all_covered_paper": float(T.prob_all_covered(c, k, a, n, method="paper")),
        "expected_collisions": float(T.expected_collisions(c, k, a, n)),
        "expected_collisions_paper": float(T.expected_collisions(c, k, a, n, method="paper")),
        "dense_collisions": float(T.dense_collisions(c, n)),
        # valid sizes have C >= alpha >= 2 (k <= n / alpha), so clause pairs exist
        "collision_ratio": float(T.collision_ratio(c, k, a)),
        "collision_ratio_paper": float(T.collision_ratio(c, k, a, method="paper")),
    }
    return out


@dataclass(frozen=True)
class MeasuredValue:
    """A mean over ``n`` independent replicates with a two-sided interval at ``level``
    (``method``: how it was built, see ``compare_with_theory``), beside the closed form ``theory``."""

    name: str
    mean: float
    low: float
    high: float
    n: int
    level: float
    method: str
    theory: float

    @property
    def agrees(self) -> bool:
        """The closed form lies inside the interval (1e-12 relative slack for rounding)."""
        tol = 1e-12 * max(1.0, abs(self.theory))
        return self.low - tol <= self.theory <= self.high + tol

    @property
    def drift(self) -> float:
        """``mean - theory``."""
        return self.mean - self.theory

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "mean": self.mean, "low": self.low, "high": self.high, "n": self.n,
                "level": self.level, "method": self.method, "theory": self.theory,
                "drift": self.drift, "agrees": self.agrees}


@dataclass(frozen=True)
class TheoryComparison:
    """Measured coverage fraction, P(all covered) and collisions beside their closed forms."""

    covered_fraction: MeasuredValue
    all_covered: MeasuredValue
    collisions: MeasuredValue

    def rows(self) -> list[dict[str, Any]]:
        return [m.as_dict() for m in (self.covered_fraction, self.all_covered, self.collisions)]

    @property
    def agrees(self) -> bool:
        return self.covered_fraction.agrees and self.all_covered.agrees and self.collisions.agrees


def _replicate_arrays(counts, n_clauses: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(covered count, all covered, collisions, clause ``r mod C`` covered) per replicate ``r``."""
    if isinstance(counts, pd.DataFrame):
        need = {"covered", "all_covered", "collisions", "pattern"} - set(counts.columns)
        if need:
            raise ValueError(f"counts frame lacks columns {sorted(need)}")
        pats = counts["pattern"].astype(str).tolist()
        cov = counts["covered"].to_numpy(np.int64)
        allc = counts["all_covered"].to_numpy(bool)
        coll = counts["collisions"].to_numpy(np.int64)
    else:
        counts = list(counts)
        pats = [c.pattern() for c in counts]
        cov = np.array([c.n_covered for c in counts], dtype=np.int64)
        allc = np.array([c.all_covered for c in counts], dtype=bool)
        coll = np.array([c.collisions for c in counts], dtype=np.int64)
    if any(len(p) != n_clauses for p in pats):
        raise ValueError(f"every replicate must have n_clauses = {n_clauses} clauses")
    rot = np.array([p[r % n_clauses] == "1" for r, p in enumerate(pats)], dtype=bool)
    return cov, allc, coll, rot


def compare_with_theory(
    counts: Sequence[CoverageCounts] | pd.DataFrame,
    n_clauses: int,
    clause_size: int,
    alpha: int,
    n_parents: int,
    *,
    level: float = 0.999,
    exchangeable: bool = True,
) -> TheoryComparison:
    """Means over independent networks (``CoverageCounts``, or a frame with columns ``covered``,
    ``all_covered``, ``collisions``, ``pattern``) beside the partition closed forms.

    Intervals (fpe_theory's Monte Carlo rules, ``fpe_theory.Estimate``): Clopper-Pearson for
    P(all covered); for the covered fraction a Student t interval with >= 100 covered and
    missed clause events and >= 100 replicates, else Clopper-Pearson on the indicator
    "clause r mod C covered in replicate r" (exact when clauses are exchangeable, as in the
    partition model before pruning; ``exchangeable=False`` uses the conservative bracket
    instead); for collisions a t interval with >= 100 events, else the exact Poisson
    (Garwood) interval.
    """
    from fpe_theory import Estimate

    def make_estimate(kind: str, trials: int, total: float, total_sq: float, aux: tuple, level: float):
        return Estimate.from_dict({"kind": kind, "trials": trials, "total": total, "total_sq": total_sq,
                                   "aux": list(aux), "level": level})

    if not 0 < level < 1:
        raise ValueError(f"level must satisfy 0 < level < 1, got {level!r}")
    cov, allc, coll, rot = _replicate_arrays(counts, n_clauses)
    r = int(cov.size)
    if r == 0:
        raise ValueError("counts must hold at least one replicate")
    th = theory_values(n_clauses, clause_size, alpha, n_parents)
    frac = cov / n_clauses
    aux = (n_clauses, int((cov < n_clauses).sum()), int((cov > 0).sum()), int(rot.sum()) if exchangeable else -1)
    e = make_estimate("fraction", r, float(frac.sum()), float((frac * frac).sum()), aux, level)
    cf = MeasuredValue("covered_fraction", e.value, e.low, e.high, r, level, e.method, th["p_clause_covered"])
    k = int(allc.sum())
    e = make_estimate("proportion", r, k, k, (), level)
    ac = MeasuredValue("p_all_covered", e.value, e.low, e.high, r, level, e.method, th["p_all_covered"])
    e = make_estimate("count", r, float(coll.sum()), float((coll.astype(float) ** 2).sum()), (), level)
    co = MeasuredValue("collisions", e.value, e.low, e.high, r, level, e.method, th["expected_collisions"])
    return TheoryComparison(cf, ac, co)


# --------------------------------------------------------------------------- the experiment kind


def _dnf_default(name: str):
    """``DNFExperiment``'s default for field ``name`` (the shared fields mirror it exactly)."""
    return _DNF_DEFAULTS[name]


_DNF_DEFAULTS = {f.name: f.default for f in dataclasses.fields(DNFExperiment)}
#: own version of the measurement; the stored key also moves with DNFExperiment's code_version
COVERAGE_VERSION = 1


@experiment_kind("dnf-coverage", 1000 * COVERAGE_VERSION + DNFExperiment.code_version)
@dataclass(frozen=True)
class CoverageExperiment:
    """Coverage and collisions of DNF networks as built: ``DNFExperiment``'s data, init and
    phase 1 (same fields and defaults), then ``replicates`` splits by ``strategy``
    (replicate 0 is the experiment's own split). See the module docstring.

    ``code_version = 1000 * COVERAGE_VERSION + DNFExperiment.code_version``: a change to the
    DNF pipeline that makes its stored results stale makes these stale too."""

    n_clauses: int = _dnf_default("n_clauses")
    clause_size: int = _dnf_default("clause_size")
    hidden: int = _dnf_default("hidden")
    alpha: int = _dnf_default("alpha")
    strategy: str = "random"
    replicates: int = 100
    seed: int = _dnf_default("seed")
    pretrain_epochs: int = _dnf_default("pretrain_epochs")
    batch_size: int = _dnf_default("batch_size")
    lr: float = _dnf_default("lr")
    l1: float = _dnf_default("l1")
    weight_decay: float = _dnf_default("weight_decay")
    n_samples: int = _dnf_default("n_samples")
    test_fraction: float = _dnf_default("test_fraction")
    true_range: tuple[float, float] = _dnf_default("true_range")
    false_range: tuple[float, float] = _dnf_default("false_range")
    active_range: tuple[int, int] | None = _dnf_default("active_range")

    #: DNFExperiment fields copied one to one (the rest: strategies, split_epochs)
    SHARED = ("n_clauses", "clause_size", "hidden", "alpha", "seed", "pretrain_epochs", "batch_size", "lr", "l1",
              "weight_decay", "n_samples", "test_fraction", "true_range", "false_range", "active_range")

    def __post_init__(self) -> None:
        check_choice("strategy", self.strategy, strategy_names())
        object.__setattr__(self, "replicates", check_int("replicates", self.replicates, 1))
        for name in ("true_range", "false_range", "active_range"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        self.dnf_config()  # validates every shared field the way DNFExperiment does

    def dnf_config(self):
        """The ``DNFExperiment`` whose dense phase this measures (``strategies=("dense",
        strategy)``, ``split_epochs`` left at its default: phase 2 does not change masks)."""
        return DNFExperiment(strategies=("dense", self.strategy), **{f: getattr(self, f) for f in self.SHARED})

    @staticmethod
    def run_batch(configs) -> list[pd.DataFrame]:
        """The kind's runner: ``run_coverage``."""
        return run_coverage(configs)

    @classmethod
    def from_dnf(cls, config, *, strategy: str = "random", replicates: int = 100) -> "CoverageExperiment":
        """The coverage measurement of ``config`` (a ``DNFExperiment``): same data, init, phase 1."""
        if not isinstance(config, DNFExperiment):
            raise TypeError(f"config must be a DNFExperiment, got {type(config).__name__}")
        return cls(strategy=strategy, replicates=replicates, **{f: getattr(config, f) for f in cls.SHARED})


def replicate_split_seed(seed: int, replicate: int) -> int:
    """Split seed of replicate ``r``: the DNF experiment's own (``derive_seed(seed, "split")``)
    for ``r = 0``, else the first word of ``SeedSequence([seed, ROLES["split"], r])``."""
    if replicate == 0:
        return derive_seed(seed, "split")
    return int(np.random.SeedSequence([int(seed), ROLES["split"], int(replicate)]).generate_state(1, np.uint32)[0])


def _measure_rows(cfg: CoverageExperiment, dense: MLP, dataset) -> list[dict[str, Any]]:
    clauses = [list(c) for c in dataset.clauses]
    groups = clauses if "groups" in get_strategy(cfg.strategy).options else None
    n_dense = count_nonzero(dense)
    base = {"n_clauses": cfg.n_clauses, "clause_size": cfg.clause_size, "hidden": cfg.hidden, "alpha": cfg.alpha,
            "seed": cfg.seed, "pretrain_test_accuracy": dense.accuracy(dataset.X_test, dataset.y_test)}
    d = measure_coverage(dense, clauses, use="weights")
    rows = [{**base, "strategy": "dense", "replicate": -1, "split_seed": -1, "nonzero": n_dense,
             "neurons": int(sum(dense.hidden)), "train_accuracy": dense.accuracy(dataset.X_train, dataset.y_train),
             "test_accuracy": base["pretrain_test_accuracy"], "stage": "dense",
             "covered": d.n_covered, "all_covered": d.all_covered, "collisions": d.collisions, "pattern": d.pattern(),
             "live_w1": int(support(dense, use="weights").sum()), "pruned_w1": 0, "pruned_w2": 0}]
    w2_live = int((dense.layers[1].masked_weight() != 0).sum())
    for r in range(cfg.replicates):
        s = replicate_split_seed(cfg.seed, r)
        pre = split_support(dense, cfg.alpha, strategy=cfg.strategy, groups=groups, seed=s)
        model = fpe_expand(dense, cfg.alpha, strategy=cfg.strategy, groups=groups, seed=s)
        post = support(model, use="mask")
        if (post & ~pre).any():  # guarded invariant: pruning only removes entries
            raise RuntimeError("split_support disagrees with fpe_expand (a pruned mask is not a subset)")
        w2_after = int((model.layers[1].masked_weight() != 0).sum())
        # accuracy right after the split (no phase 2) only for the experiment's own split:
        # forward passes would dominate the cost of the other replicates
        acc = ((model.accuracy(dataset.X_train, dataset.y_train), model.accuracy(dataset.X_test, dataset.y_test))
               if r == 0 else (float("nan"), float("nan")))
        common = {**base, "strategy": cfg.strategy, "replicate": r, "split_seed": s, "nonzero": count_nonzero(model),
                  "neurons": int(sum(model.hidden)), "train_accuracy": acc[0], "test_accuracy": acc[1],
                  "live_w1": int(pre.sum()), "pruned_w1": int(pre.sum() - post.sum()),
                  "pruned_w2": int(w2_live * cfg.alpha - w2_after)}
        for stage, s_mask in (("pre_prune", pre), ("post_prune", post)):
            c = measure_coverage(s_mask, clauses)
            rows.append({**common, "stage": stage, "covered": c.n_covered, "all_covered": c.all_covered,
                         "collisions": c.collisions, "pattern": c.pattern()})
    return rows


def run_coverage(configs, *, backend: str = "wide") -> list[pd.DataFrame]:
    """Runner of kind ``"dnf-coverage"``: phase 1 of every config in one ``train_many`` call
    (by the DNF experiment's trainer, so the pre-trained networks are the DNF runs' own),
    then every replicate split; one frame per config with one row
    per (stage, replicate): stage ``"dense"`` (the pre-trained model), ``"pre_prune"``
    (``split_support``) and ``"post_prune"`` (``fpe_expand``'s masks).

    ``test_accuracy`` / ``train_accuracy``: right after the split (no phase 2), for replicate 0
    (the experiment's own split) only, NaN for the others."""
    configs = list(configs)
    for c in configs:
        if not isinstance(c, CoverageExperiment):
            raise TypeError(f"configs must be CoverageExperiment instances, got {type(c).__name__}")
    dnf = [c.dnf_config() for c in configs]
    datasets = [make_dataset(c) for c in dnf]
    dense = [build_dense(c) for c in dnf]
    train_many(dense, [(d.X_train, d.y_train) for d in datasets], [c.settings("pretrain") for c in dnf],
               [derive_seed(c.seed, "pretrain_order") for c in dnf], backend=backend)
    return [pd.DataFrame(_measure_rows(c, m, d)) for c, m, d in zip(configs, dense, datasets)]


def coverage_table(frame: pd.DataFrame, *, level: float = 0.999) -> pd.DataFrame:
    """Per (n_clauses, clause_size, hidden, alpha, strategy, stage) of a ``"dnf-coverage"``
    frame (``load_results(..., kind="dnf-coverage")``): measured means with intervals next
    to the partition closed forms (``compare_with_theory`` over all its replicates and seeds)."""
    need = {"n_clauses", "clause_size", "hidden", "alpha", "strategy", "stage", "covered", "all_covered", "collisions"}
    missing = need - set(frame.columns)
    if missing:
        raise ValueError(f"frame lacks columns {sorted(missing)} (a dnf-coverage result frame is needed)")
    rows = []
    keys = ["n_clauses", "clause_size", "hidden", "alpha", "strategy", "stage"]
    for key, g in frame[frame.stage != "dense"].groupby(keys, sort=True):
        c, k, n, a = (int(x) for x in key[:4])  # n_clauses, clause_size, hidden, alpha
        # clauses are exchangeable before pruning (a uniform partition of a full support);
        # pruning depends on the trained weights, so afterwards the conservative bracket is used
        comp = compare_with_theory(g, c, k, a, n, level=level, exchangeable=key[5] == "pre_prune")
        row = dict(zip(keys, key))
        row["replicates"] = len(g)
        row["seeds"] = int(g["seed"].nunique()) if "seed" in g else 1
        for m in (comp.covered_fraction, comp.all_covered, comp.collisions):
            for f in ("mean", "low", "high", "theory", "drift"):
                row[f"{m.name}_{f}"] = getattr(m, f)
            row[f"{m.name}_agrees"] = m.agrees
        if "pruned_w1" in g:
            row["pruned_w1_mean"] = float(g["pruned_w1"].mean())
        rows.append(row)
    return pd.DataFrame(rows)
