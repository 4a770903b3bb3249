"""Profiles: which experiment configs every figure, table and claim needs, and running them.

The one place that defines the ``"quick"`` and ``"paper"`` profiles for ``paper_figures``
and ``validation`` alike: both call ``configs(target, profile)`` and ``ensure(...)`` on the
same result store, so nothing trains twice. Public API (kept stable)::

    PROFILES                                    # ("quick", "paper")
    TARGETS                                     # target name -> Target(description, domain)
    configs(target, profile, *, dataset=None) -> list[config]
    experiment_sets(profile, *, embeddings=None, imagenet1k=None) -> dict[target, list[config]]
    resolve_datasets(embeddings=None, *, imagenet1k=None) -> dict[vision target, tuple[dataset, ...]]
    ensure(configs, store, *, progress=None, workers=None, ...) -> SweepReport
    case_study_models(profile, store, *, seeds=None) -> dict[seed, DNFResult]
    TheorySimulation                            # experiment kind "theory-sim" (Monte Carlo)

Targets (``TARGETS``):

| target | configs | used by |
|---|---|---|
| ``case_study`` | DNF 8 clauses x 8 hidden, alpha 2, dense/clause/random | Fig. 2, A1, Section 3.1 |
| ``fig3a`` | DNF 8 clauses x every hidden width | Fig. 3a, 4 (neurons) |
| ``fig3b`` | DNF every clause count x 8 hidden | Fig. 3b, 4 (clauses), Tables A1/A2 |
| ``fig3c`` | DNF every clause count x every hidden width | Fig. 3c heatmaps |
| ``fig4`` | union of ``fig3a`` and ``fig3b`` | Fig. 4 |
| ``fig5`` ... ``dynamic`` | ``embedding_grids`` builders (vision) | Fig. 5, 6, Tables A3-A5, rewiring |
| ``theory_coverage`` | ``TheorySimulation`` runs, coverage vs parents | theory figure |
| ``theory_collisions`` | ``TheorySimulation`` runs, collisions vs clauses | theory figure |

Profiles:

- ``"paper"``: the paper's schedules and grids. DNF: ``DNFExperiment`` defaults (Adam,
  batch 500, 1000 + 1000 epochs, 40,000 samples), n_clauses {3, 6, 8, 10, 15, 20, 25, 32}
  x hidden {4, 8, 12, 16} x seeds 0-4 (``grids.DNF_*``); vision: ``embedding_grids``'s
  paper profile; theory: 20,000 Monte Carlo trials per point.
- ``"quick"``: minutes on 2 CPU cores, offline data. DNF: ``QUICK_DNF`` schedule, n_clauses
  ``QUICK_N_CLAUSES`` x hidden ``QUICK_HIDDEN`` x 5 seeds; vision: ``embedding_grids``'s
  quick profile on digits (``QUICK_VISION_*`` trims it); theory: 4,000 trials per point.
- ``"tiny"``: seconds, for tests of the pipeline only (2 seeds, a few epochs): its numbers
  mean nothing. Not in ``PROFILES``.

Vision targets take ``dataset``: ``"digits"`` (scikit-learn's 8x8 digits as raw pixels, the
offline stand-in) or an embedding file (``.npz`` / ``.safetensors``).

Case-study models (Figures 2 and A1 plot weights, which the store's tables do not hold) are
kept beside the store in ``<store>/models/<config_key>/`` (``models.safetensors`` + JSON via
``dnf_experiment.save_result``; no pickle), written atomically (a temporary directory
renamed into place), and reused by later runs.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import sys
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import config_key, experiment_config
from .grids import DNF_HIDDEN, DNF_N_CLAUSES, DNF_SEEDS, register_cost
from .runner import register_runner

__all__ = [
    "PROFILES",
    "ALL_PROFILES",
    "TARGETS",
    "Target",
    "DNF_TARGETS",
    "VISION_TARGETS",
    "THEORY_TARGETS",
    "QUICK_DNF",
    "QUICK_N_CLAUSES",
    "QUICK_HIDDEN",
    "configs",
    "experiment_sets",
    "resolve_datasets",
    "ensure",
    "case_study_models",
    "case_study_config",
    "models_dir",
    "TheorySimulation",
    "run_theory",
    "dataset_label",
]

#: the public profiles (``"tiny"`` exists for tests of the pipeline only)
PROFILES = ("quick", "paper")
ALL_PROFILES = ("tiny", "quick", "paper")


@dataclass(frozen=True)
class Target:
    """A named set of experiment configs: what it reproduces, and its domain
    (``"dnf"``, ``"vision"`` or ``"theory"``)."""

    description: str
    domain: str


DNF_TARGETS = ("case_study", "fig3a", "fig3b", "fig3c", "fig4")
VISION_TARGETS = ("fig5", "fig6a", "fig6b", "fig6cd", "tableA3", "tableA4", "tableA5", "dynamic")
THEORY_TARGETS = ("theory_coverage", "theory_collisions")

TARGETS: dict[str, Target] = {
    "case_study": Target("Section 3.1 case study (Figures 2, A1): 8 clauses, 8 hidden, alpha 2", "dnf"),
    "fig3a": Target("Figure 3a: 8 clauses, every hidden width", "dnf"),
    "fig3b": Target("Figure 3b, Tables A1/A2: 8 hidden, every clause count", "dnf"),
    "fig3c": Target("Figure 3c: clause count x hidden width grid", "dnf"),
    "fig4": Target("Figure 4: Figures 3a and 3b together", "dnf"),
    "fig5": Target("Figure 5: accuracy vs hidden width, dense / random / Gram split", "vision"),
    "fig6a": Target("Figure 6a: dense width ladder vs random split", "vision"),
    "fig6b": Target("Figure 6b: split timing, early vs late", "vision"),
    "fig6cd": Target("Figure 6c/d: expansion factors 2 and 4, cosine similarity", "vision"),
    "tableA3": Target("Table A3: deep MLPs (5/7/9 layers), alternating expansion", "vision"),
    "tableA4": Target("Table A4: 5-layer MLP, hidden 6..16 (ImageNet-1k in the paper)", "vision"),
    "tableA5": Target("Table A5: 2:4 vs random split", "vision"),
    "dynamic": Target("A.7: dynamic rewiring vs one-shot random split", "vision"),
    "theory_coverage": Target("P(all clauses covered) vs n_parents: Monte Carlo of the split", "theory"),
    "theory_collisions": Target("collision ratio vs n_clauses: Monte Carlo of the split", "theory"),
}

# --------------------------------------------------------------------------- DNF

#: quick DNF schedule (fields of ``DNFExperiment``)
QUICK_DNF: dict[str, Any] = dict(pretrain_epochs=200, split_epochs=200, n_samples=4000)
QUICK_N_CLAUSES = (3, 8, 15, 32)
QUICK_HIDDEN = (4, 8, 16)
_TINY_DNF: dict[str, Any] = dict(pretrain_epochs=15, split_epochs=15, n_samples=400)
_TINY_N_CLAUSES = (3, 8)
_TINY_HIDDEN = (4, 8)
_TINY_SEEDS = (0, 1)


def _dnf_axes(profile: str) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], dict[str, Any]]:
    """(n_clauses values, hidden values, seeds, extra DNFExperiment fields) of ``profile``."""
    if profile == "paper":
        return DNF_N_CLAUSES, DNF_HIDDEN, DNF_SEEDS, {}
    if profile == "quick":
        return QUICK_N_CLAUSES, QUICK_HIDDEN, DNF_SEEDS, dict(QUICK_DNF)
    return _TINY_N_CLAUSES, _TINY_HIDDEN, _TINY_SEEDS, dict(_TINY_DNF)


def _dnf_configs(target: str, profile: str) -> list:
    from .dnf_experiment import DNFExperiment

    clauses, hidden, seeds, fields = _dnf_axes(profile)
    axes = {
        "case_study": ((8,), (8,)),
        "fig3a": ((8,), hidden),
        "fig3b": (clauses, (8,)),
        "fig3c": (clauses, hidden),
    }
    if target == "fig4":
        return _dedupe(_dnf_configs("fig3a", profile) + _dnf_configs("fig3b", profile))
    cs, hs = axes[target]
    return [DNFExperiment(n_clauses=c, hidden=h, seed=s, **fields) for c in cs for h in hs for s in seeds]


def case_study_config(profile: str, seed: int = 0):
    """The case-study ``DNFExperiment`` of ``profile`` for ``seed`` (8 clauses, 8 hidden)."""
    _check_profile(profile)
    from .dnf_experiment import DNFExperiment

    fields = _dnf_axes(profile)[3]
    return DNFExperiment(n_clauses=8, hidden=8, seed=seed, **fields)


# --------------------------------------------------------------------------- vision

_VISION_BUILDER = {
    "fig5": "fig5",
    "fig6a": "fig6a",
    "fig6b": "fig6b",
    "fig6cd": "fig6cd",
    "tableA3": "table_a3",
    "tableA4": "table_a4",
    "tableA5": "table_a5",
    "dynamic": "dynamic",
}
#: tiny profile: total epochs per vision run (pre + split, scaled from the quick schedule)
_TINY_VISION_EPOCHS = 12


def _vision_configs(target: str, profile: str, dataset: str) -> list:
    from .embedding_grids import build_grid

    name = _VISION_BUILDER[target]
    if profile != "tiny":
        return list(build_grid(name, dataset, profile))
    # tiny: the quick grid's two smallest widths, seeds 0-1, a schedule scaled to a few epochs
    base = build_grid(name, dataset, "quick")
    widths = sorted({c.hidden for c in base})[:2]
    out = []
    for c in base:
        if c.seed not in _TINY_SEEDS or c.hidden not in widths:
            continue
        total = c.pretrain_epochs + c.split_epochs
        pre = max(1, round(c.pretrain_epochs * _TINY_VISION_EPOCHS / total))
        out.append(dataclasses.replace(c, pretrain_epochs=pre, split_epochs=_TINY_VISION_EPOCHS - pre, rewire_every=2))
    return _dedupe(out)


def dataset_label(dataset: str) -> str:
    """How figures name a vision data set: the offline stand-in or the embedding file's name."""
    if dataset == "digits":
        return "digits (offline stand-in for CLIP embeddings: scikit-learn 8x8 digits as raw pixels)"
    return f"embeddings {Path(dataset).name}"


# --------------------------------------------------------------------------- theory


@experiment_config("theory-sim", 1)
@dataclass(frozen=True)
class TheorySimulation:
    """One Monte Carlo run of the random split (``fpe_theory.simulate``), stored like any
    experiment so that the theory figures only read the store.

    The runner returns one row per ``m = 1..n_parents``: ``p_all_covered`` (with its 99.9%
    interval ``p_all_low`` / ``p_all_high``) using the first ``m`` parents of every trial
    (``SimulationResult.p_all_covered_at``), plus, on every row, the full run's
    ``mean_collisions`` / ``p_clause_covered`` estimates and intervals at ``n_parents``.
    """

    n_clauses: int = 8
    clause_size: int = 4
    alpha: int = 2
    n_parents: int = 8
    model: str = "partition"
    layout: str = "contiguous"
    trials: int = 4000
    seed: int = 0

    def __post_init__(self) -> None:
        from fpe_theory._validate import LAYOUTS, SIM_MODELS, check_choice, check_config, check_int

        check_config(self.n_clauses, self.clause_size, self.alpha)
        check_int("n_parents", self.n_parents, minimum=1)
        check_int("trials", self.trials, minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_choice("model", self.model, SIM_MODELS)
        check_choice("layout", self.layout, LAYOUTS)


@register_runner("theory-sim")
def run_theory(configs) -> list[pd.DataFrame]:
    """Runner of kind ``"theory-sim"``: ``fpe_theory.simulate`` per config (numba threads as
    set; results do not depend on them)."""
    from fpe_theory import simulate

    out = []
    for c in configs:
        if not isinstance(c, TheorySimulation):
            raise TypeError(f"configs must be TheorySimulation instances, got {type(c).__name__}")
        res = simulate(c.n_clauses, c.clause_size, c.alpha, c.n_parents, trials=c.trials, seed=c.seed,
                       model=c.model, layout=c.layout)
        curve = res.coverage_curve()
        n = len(curve["n_parents"])
        frame = pd.DataFrame({
            "model": [c.model] * n,
            "layout": [c.layout] * n,
            "n_clauses": [c.n_clauses] * n,
            "clause_size": [c.clause_size] * n,
            "alpha": [c.alpha] * n,
            "seed": [c.seed] * n,
            "trials": [c.trials] * n,
            "n_parents": curve["n_parents"].astype(np.int64),
            "p_all_covered": curve["p"],
            "p_all_low": curve["low"],
            "p_all_high": curve["high"],
        })
        for name in ("p_clause_covered", "mean_collisions"):
            est = getattr(res, name)
            frame[name] = est.value
            frame[f"{name}_low"] = est.low
            frame[f"{name}_high"] = est.high
        frame["sim_n_parents"] = c.n_parents
        out.append(frame)
    return out


@register_cost("theory-sim")
def _theory_cost(cfg: TheorySimulation) -> float:
    # draws per run ~ trials x parents x literals; scaled to sit near a small DNF run
    return cfg.trials * cfg.n_parents * cfg.n_clauses * cfg.clause_size / 50.0


_THEORY_TRIALS = {"tiny": 500, "quick": 4000, "paper": 20000}
#: coverage panels: (n_clauses, alpha); curves run until coverage is nearly certain
_COVERAGE_PANELS = {
    "tiny": ((8, 2),),
    "quick": ((8, 2), (32, 2), (8, 4), (32, 4)),
    "paper": ((8, 2), (32, 2), (8, 4), (32, 4)),
}
_COLLISION_CLAUSES = {
    "tiny": (4, 8),
    "quick": (2, 3, 4, 6, 8, 12, 16, 24, 32),
    "paper": (2, 3, 4, 6, 8, 12, 16, 24, 32),
}
#: parents of the collision runs (the ratio does not depend on it; more parents, more events)
COLLISION_PARENTS = 64


def coverage_parents(n_clauses: int, clause_size: int, alpha: int) -> int:
    """Parents simulated for a coverage panel: 1.3x the union-bound size for 99% coverage
    (partition model; the independent model needs at most about as many), at least 16."""
    from fpe_theory import min_parents_for_coverage

    need = max(
        min_parents_for_coverage(n_clauses, clause_size, alpha, 0.01, model=m, method="union_bound")
        for m in ("partition", "independent")
    )
    return max(16, int(math.ceil(1.3 * need)))


def _theory_configs(target: str, profile: str) -> list:
    trials = _THEORY_TRIALS[profile]
    k = 4
    if target == "theory_coverage":
        return [
            TheorySimulation(n_clauses=c, clause_size=k, alpha=a, n_parents=coverage_parents(c, k, a), model=m,
                             trials=trials, seed=0)
            for c, a in _COVERAGE_PANELS[profile]
            for m in ("partition", "independent")
        ]
    out = []
    for a in (2, 4):
        for c in _COLLISION_CLAUSES[profile]:
            if (c * k) % a or k > c * k // a:
                continue
            out.append(TheorySimulation(n_clauses=c, clause_size=k, alpha=a, n_parents=COLLISION_PARENTS,
                                        model="partition", trials=trials, seed=0))
    return out


# --------------------------------------------------------------------------- public


def _check_profile(profile: str) -> None:
    if profile not in ALL_PROFILES:
        raise ValueError(f"profile must be one of {list(PROFILES)} (or 'tiny' for tests), got {profile!r}")


def _dedupe(cfgs: Iterable) -> list:
    seen, out = set(), []
    for c in cfgs:
        k = config_key(c)
        if k not in seen:
            seen.add(k)
            out.append(c)
    return out


def configs(target: str, profile: str, *, dataset: str | None = None) -> list:
    """Experiment configs of ``target`` (``TARGETS``) under ``profile``.

    Vision targets run on ``dataset`` (``"digits"`` when None, or an embedding file path);
    DNF and theory targets take no dataset (``ValueError`` if one is given).
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {sorted(TARGETS)}, got {target!r}")
    _check_profile(profile)
    domain = TARGETS[target].domain
    if domain != "vision" and dataset is not None:
        raise ValueError(f"dataset applies to vision targets only; {target!r} is a {domain} target")
    if domain == "dnf":
        return _dnf_configs(target, profile)
    if domain == "theory":
        return _theory_configs(target, profile)
    return _vision_configs(target, profile, "digits" if dataset is None else dataset)


def resolve_datasets(embeddings=None, *, imagenet1k: str | os.PathLike | None = None) -> dict[str, tuple[str, ...]]:
    """Data sets per vision target, as a tuple (Figure 5 may show several).

    ``embeddings``: None (digits everywhere); one path (every vision target); a sequence of
    paths (Figure 5 shows all of them, the other targets use the first: CIFAR-100's role in
    the paper); or a mapping ``{target or "default": path or paths}``. ``imagenet1k``, when
    given, is Table A4's data set (the paper's ImageNet-1k classifier).
    """
    def as_tuple(value, where: str) -> tuple[str, ...]:
        if isinstance(value, (str, os.PathLike)):
            return (str(value),)
        if isinstance(value, Sequence) and value and all(isinstance(v, (str, os.PathLike)) for v in value):
            return tuple(str(v) for v in value)
        raise TypeError(f"{where} must be a path or a non-empty sequence of paths, got {value!r}")

    if embeddings is None:
        out = {t: ("digits",) for t in VISION_TARGETS}
    elif isinstance(embeddings, Mapping):
        unknown = set(embeddings) - set(VISION_TARGETS) - {"default"}
        if unknown:
            raise ValueError(f"embeddings keys must be vision targets {list(VISION_TARGETS)} or 'default', got {sorted(unknown)}")
        default = as_tuple(embeddings["default"], "embeddings['default']") if "default" in embeddings else ("digits",)
        out = {t: as_tuple(embeddings[t], f"embeddings[{t!r}]") if t in embeddings else default for t in VISION_TARGETS}
    else:
        paths = as_tuple(embeddings, "embeddings")
        out = {t: (paths if t == "fig5" else paths[:1]) for t in VISION_TARGETS}
    if imagenet1k is not None:
        out["tableA4"] = as_tuple(imagenet1k, "imagenet1k")
    return out


def experiment_sets(profile: str, *, embeddings=None, imagenet1k=None, targets: Sequence[str] | None = None) -> dict[str, list]:
    """``{target: configs}`` for every target (or ``targets``) under ``profile``; vision
    targets on every data set ``resolve_datasets(embeddings, imagenet1k=...)`` gives them."""
    _check_profile(profile)
    datasets = resolve_datasets(embeddings, imagenet1k=imagenet1k)
    names = list(TARGETS) if targets is None else list(targets)
    out = {}
    for t in names:
        if t not in TARGETS:
            raise ValueError(f"targets must be drawn from {sorted(TARGETS)}, got {t!r}")
        if t in datasets:
            out[t] = _dedupe(c for ds in datasets[t] for c in configs(t, profile, dataset=ds))
        else:
            out[t] = configs(t, profile)
    return out


def ensure(
    cfgs: Iterable,
    store,
    *,
    progress: bool | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    chunk_size: int | None = None,
    threads: int | None = None,
):
    """Run the configs whose results ``store`` lacks (``sweep.run_sweep``: batched, resumable,
    each run stored as it finishes); return the ``SweepReport``.

    Raises ``RuntimeError`` when some run failed (the sweep records it in
    ``<store>/.failures/``; rerunning retries it). Configs already stored are never rerun.
    """
    from .store import ResultStore
    from .sweep import DEFAULT_CHUNK_SIZE, run_sweep

    if not isinstance(store, ResultStore):
        store = ResultStore(store)
    cfgs = _dedupe(cfgs)
    report = run_sweep(
        store.missing(cfgs),
        store,
        workers=workers,
        scheduler=scheduler,
        chunk_size=DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size,
        threads=threads,
        progress=progress,
    )
    report.stored_before += len(cfgs) - report.total
    report.total = len(cfgs)
    if not report.ok:
        raise RuntimeError(f"{len(report.failed)} experiment run(s) failed; errors in {store.root}/.failures/")
    return report


# --------------------------------------------------------------------------- case-study models


def models_dir(store) -> Path:
    """``<store>/models``: the saved networks of the case study (one folder per config key)."""
    root = Path(getattr(store, "root", store))
    return root / "models"


def case_study_models(profile: str, store, *, seeds: Sequence[int] | None = None, progress: bool = False) -> dict:
    """``{seed: DNFResult}`` of the case study under ``profile``, with the trained models.

    Loaded from ``<store>/models/<config_key>/`` when saved there; the missing ones are
    trained together (``train_dnf_many``, batched), saved atomically, and their result rows
    put into the store when it lacks them (so the store's row and the saved models then come
    from the same training). A stored row trained earlier in another batch can differ from
    the saved models' in the last digits (float reassociation); figures of the models use the
    models' own rows (``DNFResult.frame``).
    """
    from .dnf_experiment import load_result, save_result, train_dnf_many
    from .store import ResultStore, provenance

    _check_profile(profile)
    if not isinstance(store, ResultStore):
        store = ResultStore(store)
    seeds = tuple(_dnf_axes(profile)[2]) if seeds is None else tuple(seeds)
    cfgs = {s: case_study_config(profile, s) for s in seeds}
    root = models_dir(store)
    out, todo = {}, []
    for s, cfg in cfgs.items():
        d = root / config_key(cfg)
        if (d / "result.json").is_file() and (d / "models.safetensors").is_file():
            try:
                res = load_result(d)
            except (ValueError, KeyError, OSError) as exc:  # damaged: retrain it
                print(f"profiles: saved case-study models {d} unreadable ({exc}); retraining", file=sys.stderr)
            else:
                if config_key(res.config) == config_key(cfg):
                    out[s] = res
                    continue
        todo.append(cfg)
    if todo:
        root.mkdir(parents=True, exist_ok=True)
        for res in train_dnf_many(todo, backend="auto", progress=progress):
            key = config_key(res.config)
            tmp = root / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            save_result(res, tmp)
            final = root / key
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            if store.status(key) != "ok":
                store.put(res.config, res.frame, provenance=provenance(seed=res.config.seed, source="case_study_models"))
            out[res.config.seed] = res
    return {s: out[s] for s in seeds}
