"""Targets: which experiment configs every figure, table and claim needs, per profile.

``configs(target, profile, *, dataset=None)`` is the one function ``paper_figures`` and
``validation`` both call (through ``profiles``), so nothing trains twice. Every number that
depends on the profile comes from the catalogue (``sweeps.catalogue``); the structure of each
target (which axes, which strategies) is here and in the vision grid builders.

| target | configs | used by |
|---|---|---|
| ``case_study`` | DNF 8 clauses x 8 hidden, alpha 2, dense/clause/random | Fig. 2, A1, Section 3.1 |
| ``fig3a`` | DNF 8 clauses x every hidden width | Fig. 3a, 4 (neurons) |
| ``fig3b`` | DNF every clause count x 8 hidden | Fig. 3b, 4 (clauses), Tables A1/A2 |
| ``fig3c`` | DNF every clause count x every hidden width | Fig. 3c heatmaps |
| ``fig4`` | union of ``fig3a`` and ``fig3b`` | Fig. 4 |
| ``fig5`` ... ``dynamic`` | ``vision_grids`` builders (vision) | Fig. 5, 6, Tables A3-A5, rewiring |
| ``theory_coverage`` | ``TheorySimulation`` runs, coverage vs parents | theory figure |
| ``theory_collisions`` | ``TheorySimulation`` runs, collisions vs clauses | theory figure |
| ``theory_model_gap`` | ``TheorySimulation`` runs at the paper's sizing rule, vs n | theory figure |

Vision targets take ``dataset``: ``"digits"`` (scikit-learn's 8x8 digits as raw pixels, the
offline stand-in) or an embedding file (``.npz`` / ``.safetensors``).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..experiments.dnf import DNFExperiment
from ..experiments.theory_sim import TheorySimulation
from ..results.keys import unique_configs
from .catalogue import ALL_PROFILES, PROFILES, QUICK, check_profile, get_profile
from .vision_grids import build_grid

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
    "COLLISION_PARENTS",
    "THEORY_MODELS",
    "MODEL_GAP_CLAUSE_SIZE",
    "MODEL_GAP_ALPHA",
    "MODEL_GAP_DELTA",
    "configs",
    "experiment_sets",
    "resolve_datasets",
    "case_study_config",
    "case_study_seeds",
    "coverage_parents",
    "dataset_label",
    "dedupe",
]

@dataclass(frozen=True)
class Target:
    """A named set of experiment configs: what it reproduces, and its domain
    (``"dnf"``, ``"vision"`` or ``"theory"``)."""

    description: str
    domain: str


DNF_TARGETS = ("case_study", "fig3a", "fig3b", "fig3c", "fig4")
VISION_TARGETS = ("fig5", "fig6a", "fig6b", "fig6cd", "tableA3", "tableA4", "tableA5", "dynamic")
THEORY_TARGETS = ("theory_coverage", "theory_collisions", "theory_model_gap")

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
    "theory_model_gap": Target("literal vs balanced models at the paper's sizing rule, vs n: Monte Carlo", "theory"),
}

# --------------------------------------------------------------------------- DNF

#: the quick profile's DNF schedule and axes (the catalogue's, under their older names)
QUICK_DNF: dict[str, Any] = dict(QUICK.dnf.schedule)
QUICK_N_CLAUSES = QUICK.dnf.n_clauses
QUICK_HIDDEN = QUICK.dnf.hidden


def _dnf_configs(target: str, profile: str) -> list:
    dnf = get_profile(profile).dnf
    axes = {
        "case_study": ((8,), (8,)),
        "fig3a": ((8,), dnf.hidden),
        "fig3b": (dnf.n_clauses, (8,)),
        "fig3c": (dnf.n_clauses, dnf.hidden),
    }
    if target == "fig4":
        return dedupe(_dnf_configs("fig3a", profile) + _dnf_configs("fig3b", profile))
    cs, hs = axes[target]
    return [DNFExperiment(n_clauses=c, hidden=h, seed=s, **dnf.schedule) for c in cs for h in hs for s in dnf.seeds]


def case_study_config(profile: str, seed: int = 0):
    """The case-study ``DNFExperiment`` of ``profile`` for ``seed`` (8 clauses, 8 hidden)."""
    return DNFExperiment(n_clauses=8, hidden=8, seed=seed, **get_profile(profile).dnf.schedule)


def case_study_seeds(profile: str) -> tuple[int, ...]:
    """The seeds of ``profile``'s case study (its DNF seeds)."""
    return tuple(get_profile(profile).dnf.seeds)


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


def _vision_configs(target: str, profile: str, dataset: str) -> list:
    name = _VISION_BUILDER[target]
    shrink = get_profile(profile).vision.shrink
    if shrink is None:
        return list(build_grid(name, dataset, profile))
    # another profile's grid: its smallest widths and a few seeds, the schedule scaled down
    base_profile, rule = shrink
    base = build_grid(name, dataset, base_profile)
    widths = sorted({c.hidden for c in base})[: rule.n_widths]
    out = []
    for c in base:
        if c.seed not in rule.seeds or c.hidden not in widths:
            continue
        total = c.pretrain_epochs + c.split_epochs
        pre = max(1, round(c.pretrain_epochs * rule.total_epochs / total))
        out.append(dataclasses.replace(c, pretrain_epochs=pre, split_epochs=rule.total_epochs - pre,
                                       rewire_every=rule.rewire_every))
    return dedupe(out)


def dataset_label(dataset: str) -> str:
    """How figures name a vision data set: the offline stand-in or the embedding file's name."""
    if dataset == "digits":
        return "digits (offline stand-in for CLIP embeddings: scikit-learn 8x8 digits as raw pixels)"
    if Path(dataset).parent.name == "minilm-docstrings":  # python -m fpe_empirical.text_embed
        return "MiniLM docstring embeddings (all-MiniLM-L6-v2, docstrings labelled by module)"
    return f"embeddings {Path(dataset).name}"


# --------------------------------------------------------------------------- theory

#: parents of the collision runs (the ratio does not depend on it; more parents, more events)
COLLISION_PARENTS = get_profile("paper").theory.collision_parents
#: the models every theory figure shows (fpe_theory.models), in drawing order
THEORY_MODELS = ("literal", "subset", "partition")
#: model-gap figure: clause size, alpha and delta of the paper's sizing rule
MODEL_GAP_CLAUSE_SIZE = 4
MODEL_GAP_ALPHA = 2
MODEL_GAP_DELTA = 0.05


def coverage_parents(n_clauses: int, clause_size: int, alpha: int) -> int:
    """Parents simulated for a coverage panel: 1.3x the union-bound size for 99% coverage
    (the largest over the models: subset, then partition; literal needs fewer), at least 16."""
    from fpe_theory import min_parents_for_coverage

    need = max(
        min_parents_for_coverage(n_clauses, clause_size, alpha, 0.01, model=m, method="union_bound")
        for m in THEORY_MODELS
    )
    return max(16, int(math.ceil(1.3 * need)))


def _valid_for(model: str, n_clauses: int, clause_size: int, alpha: int) -> bool:
    """Whether ``model`` accepts these sizes (balanced models: alpha divides n, d >= k)."""
    from fpe_theory import get_model

    try:
        get_model(model).check_config(n_clauses, clause_size, alpha)
    except ValueError:
        return False
    return True


def _theory_configs(target: str, profile: str) -> list:
    from fpe_theory import min_parents_for_coverage

    theory = get_profile(profile).theory
    k = 4
    if target == "theory_coverage":
        return [
            TheorySimulation(n_clauses=c, clause_size=k, alpha=a, n_parents=coverage_parents(c, k, a), model=m,
                             trials=theory.trials, seed=0)
            for c, a in theory.coverage_panels
            for m in THEORY_MODELS
        ]
    out = []
    if target == "theory_model_gap":
        k, a, delta = MODEL_GAP_CLAUSE_SIZE, MODEL_GAP_ALPHA, MODEL_GAP_DELTA
        for m in THEORY_MODELS:
            for c in theory.model_gap_clauses:
                if _valid_for(m, c, k, a):
                    rule = min_parents_for_coverage(c, k, a, delta, method="paper")
                    out.append(TheorySimulation(n_clauses=c, clause_size=k, alpha=a, n_parents=rule, model=m,
                                                trials=theory.trials, seed=0))
        return out
    # collisions: partition first (its configs and keys predate the other models)
    for m in ("partition", "subset", "literal"):
        for a in (2, 4):
            for c in theory.collision_clauses:
                if _valid_for(m, c, k, a):
                    out.append(TheorySimulation(n_clauses=c, clause_size=k, alpha=a, n_parents=theory.collision_parents,
                                                model=m, trials=theory.trials, seed=0))
    return out


# --------------------------------------------------------------------------- public


#: the older name of ``results.keys.unique_configs``
dedupe = unique_configs


def configs(target: str, profile: str, *, dataset: str | None = None) -> list:
    """Experiment configs of ``target`` (``TARGETS``) under ``profile``.

    Vision targets run on ``dataset`` (``"digits"`` when None, or an embedding file path);
    DNF and theory targets take no dataset (``ValueError`` if one is given).
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {sorted(TARGETS)}, got {target!r}")
    check_profile(profile)
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
    check_profile(profile)
    datasets = resolve_datasets(embeddings, imagenet1k=imagenet1k)
    names = list(TARGETS) if targets is None else list(targets)
    out = {}
    for t in names:
        if t not in TARGETS:
            raise ValueError(f"targets must be drawn from {sorted(TARGETS)}, got {t!r}")
        if t in datasets:
            out[t] = dedupe(c for ds in datasets[t] for c in configs(t, profile, dataset=ds))
        else:
            out[t] = configs(t, profile)
    return out
