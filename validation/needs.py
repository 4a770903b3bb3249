"""Which experiment configs each claim needs, and running the missing ones.

A claim names requirements (``REQUIREMENTS``); ``configs(requirement, profile, dataset)``
returns their experiment configs. The configs of the paper's figures and tables come from
``fpe_empirical.profiles`` (the one place that defines the "quick" and "paper" profiles for
``paper_figures`` and ``validation`` alike), so ``python -m paper_figures --profile quick``
followed by ``python -m validation --profile quick`` trains nothing twice: both read and
fill the same result store. The only configs validation adds itself are the
``"dnf-coverage"`` measurements (``fpe_empirical.coverage``), derived one to one from the
profile's DNF configs.

``ensure(configs, store)`` runs what the store lacks (``profiles.ensure`` when it exists,
else ``fpe_empirical.sweep.run_sweep``) and returns how many runs it made.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["REQUIREMENTS", "configs", "ensure", "coverage_configs", "using_profiles"]

#: requirement -> (what it is, figure/table target in fpe_empirical.profiles)
REQUIREMENTS: dict[str, tuple[str, str]] = {
    "dnf.case_study": ("Section 3.1 case study: 8 clauses, 8 hidden, alpha 2, 5 seeds", "case_study"),
    "dnf.fig3a": ("Figure 3a: 8 clauses, hidden 4..16", "fig3a"),
    "dnf.fig3b": ("Figure 3b: 8 hidden, 3..32 clauses", "fig3b"),
    "dnf.fig3c": ("Figure 3c: clauses x hidden grid", "fig3c"),
    "dnf.coverage": ("coverage/collisions of the case-study and Figure 3a/3b networks as built (dnf-coverage)", ""),
    "vision.fig5": ("Figure 5: accuracy vs hidden width, dense / random / Gram", "fig5"),
    "vision.fig6a": ("Figure 6a: dense width ladder vs random split", "fig6a"),
    "vision.fig6b": ("Figure 6b: split timing", "fig6b"),
    "vision.fig6cd": ("Figure 6c/d: expansion factors 2 and 4", "fig6cd"),
    "vision.table_a3": ("Table A3: deep MLPs, alternating expansion", "tableA3"),
    "vision.table_a4": ("Table A4: 5-layer MLP, hidden 6..16", "tableA4"),
    "vision.table_a5": ("Table A5: 2:4 vs random split", "tableA5"),
    "vision.dynamic": ("A.7 dynamic rewiring vs one-shot random split", "dynamic"),
}

PROFILES = ("quick", "paper")
#: coverage replicates (split seeds per pre-trained network) per profile
COVERAGE_REPLICATES = {"quick": 40, "paper": 200}


def _profiles_module():
    try:
        return importlib.import_module("fpe_empirical.profiles")
    except ModuleNotFoundError as exc:
        if exc.name != "fpe_empirical.profiles":
            raise
        return None


def using_profiles() -> bool:
    """Whether ``fpe_empirical.profiles`` is present (else the fallback tables below are used)."""
    return _profiles_module() is not None


# --------------------------------------------------------------------------- fallback
# Used only while fpe_empirical.profiles does not exist: the registered grids of
# fpe_empirical.grids / embedding_grids with a per-profile DNF schedule.
_DNF_QUICK = dict(pretrain_epochs=200, split_epochs=200, n_samples=4000)
_DNF_QUICK_CLAUSES = (3, 8, 15, 32)
_DNF_QUICK_HIDDEN = (4, 8, 16)


def _fallback_dnf(target: str, profile: str) -> list:
    from fpe_empirical.dnf_experiment import DNFExperiment
    from fpe_empirical.grids import DNF_HIDDEN, DNF_N_CLAUSES, DNF_SEEDS

    fields: dict[str, Any] = dict(_DNF_QUICK) if profile == "quick" else {}
    clauses = _DNF_QUICK_CLAUSES if profile == "quick" else DNF_N_CLAUSES
    hidden = _DNF_QUICK_HIDDEN if profile == "quick" else DNF_HIDDEN
    grid = {"case_study": ((8,), (8,)), "fig3a": ((8,), hidden), "fig3b": (clauses, (8,)), "fig3c": (clauses, hidden)}[target]
    return [DNFExperiment(n_clauses=c, hidden=h, seed=s, **fields) for c in grid[0] for h in grid[1] for s in DNF_SEEDS]


def _fallback_vision(target: str, profile: str, dataset: str) -> list:
    from fpe_empirical.embedding_grids import build_grid

    name = {"tableA3": "table_a3", "tableA4": "table_a4", "tableA5": "table_a5"}.get(target, target)
    return build_grid(name, dataset, profile)


# --------------------------------------------------------------------------- public


def configs(requirement: str, profile: str, dataset: str | None = None) -> list:
    """Experiment configs of ``requirement`` under ``profile`` (``dataset``: "digits" or an
    embedding file, for vision requirements)."""
    if requirement not in REQUIREMENTS:
        raise ValueError(f"requirement must be one of {sorted(REQUIREMENTS)}, got {requirement!r}")
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {list(PROFILES)}, got {profile!r}")
    if requirement == "dnf.coverage":
        return coverage_configs(profile)
    target = REQUIREMENTS[requirement][1]
    vision = requirement.startswith("vision.")
    if vision and dataset is None:
        raise ValueError(f"requirement {requirement!r} needs a dataset ('digits' or an embedding file)")
    prof = _profiles_module()
    if prof is not None:
        return list(prof.configs(target, profile, dataset=dataset) if vision else prof.configs(target, profile))
    return _fallback_vision(target, profile, dataset) if vision else _fallback_dnf(target, profile)


def coverage_configs(profile: str) -> list:
    """``CoverageExperiment``s of the case-study and Figure 3a/3b DNF configs (same data,
    init and phase 1; random split; ``COVERAGE_REPLICATES[profile]`` split seeds each)."""
    from fpe_empirical.config import config_key
    from fpe_empirical.coverage import CoverageExperiment

    seen, out = set(), []
    for req in ("dnf.case_study", "dnf.fig3a", "dnf.fig3b"):
        for cfg in configs(req, profile):
            cov = CoverageExperiment.from_dnf(cfg, replicates=COVERAGE_REPLICATES[profile])
            key = config_key(cov)
            if key not in seen:
                seen.add(key)
                out.append(cov)
    return out


def ensure(cfgs: list, store, *, progress: bool | None = None) -> int:
    """Run the configs whose results ``store`` lacks; return how many were run.

    Raises ``RuntimeError`` when some run failed (the sweep records it in the store)."""
    from fpe_empirical.store import ResultStore

    if not isinstance(store, ResultStore):
        store = ResultStore(store)
    missing = store.missing(cfgs)
    if not missing:
        return 0
    prof = _profiles_module()
    if prof is not None and hasattr(prof, "ensure"):
        prof.ensure(missing, store)
    else:
        from fpe_empirical.sweep import run_sweep

        report = run_sweep(missing, store, progress=progress)
        if not report.ok:
            raise RuntimeError(f"{len(report.failed)} run(s) failed; see {store.root}/.failures/")
    still = store.missing(cfgs)
    if still:
        raise RuntimeError(f"{len(still)} run(s) still missing from {store.root} after running them")
    return len(missing)
