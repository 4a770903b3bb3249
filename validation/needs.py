"""Which experiment configs each claim needs, and running the missing ones.

A claim names requirements (``REQUIREMENTS``); ``configs(requirement, profile, dataset)``
returns their experiment configs. The configs of the paper's figures and tables come from
``fpe_empirical.profiles`` (the one place that defines the "quick" and "paper" profiles for
``paper_figures`` and ``validation`` alike), so ``python -m paper_figures --profile quick``
followed by ``python -m validation --profile quick`` trains nothing twice: both read and
fill the same result store. The only configs validation adds itself are the
``"dnf-coverage"`` measurements (``fpe_empirical.coverage``), derived one to one from the
profile's DNF configs.

``ensure(configs, store)`` runs what the store lacks through ``profiles.ensure`` and returns
how many runs it made.
"""

from __future__ import annotations

__all__ = ["REQUIREMENTS", "PROFILES", "ALL_PROFILES", "COVERAGE_REPLICATES", "configs", "ensure", "coverage_configs",
           "case_study_models_first", "saved_case_study"]

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

#: the profiles ("tiny": seconds, meaningless numbers, for tests of the pipeline) and the
#: coverage replicates (split seeds per pre-trained network) of each: the profile catalogue's
from fpe_empirical.sweeps.catalogue import ALL_PROFILES, CATALOGUE, PROFILES  # noqa: E402

COVERAGE_REPLICATES = {name: p.coverage_replicates for name, p in CATALOGUE.items()}


def configs(requirement: str, profile: str, dataset: str | None = None) -> list:
    """Experiment configs of ``requirement`` under ``profile`` (``dataset``: "digits" or an
    embedding file, for vision requirements): ``fpe_empirical.profiles.configs`` of its target."""
    from fpe_empirical import profiles

    if requirement not in REQUIREMENTS:
        raise ValueError(f"requirement must be one of {sorted(REQUIREMENTS)}, got {requirement!r}")
    if profile not in ALL_PROFILES:
        raise ValueError(f"profile must be one of {list(PROFILES)}, got {profile!r}")
    if requirement == "dnf.coverage":
        return coverage_configs(profile)
    target = REQUIREMENTS[requirement][1]
    if requirement.startswith("vision."):
        if dataset is None:
            raise ValueError(f"requirement {requirement!r} needs a dataset ('digits' or an embedding file)")
        return list(profiles.configs(target, profile, dataset=dataset))
    return list(profiles.configs(target, profile))


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
    """Run the configs whose results ``store`` lacks (``fpe_empirical.profiles.ensure``, the
    same batched, resumable sweep paper_figures uses); return how many were run.

    Raises ``RuntimeError`` when some run failed (recorded in ``<store>/.failures/``)."""
    from fpe_empirical import profiles
    from fpe_empirical.store import ResultStore

    if not isinstance(store, ResultStore):
        store = ResultStore(store)
    missing = store.missing(cfgs)
    if not missing:
        return 0
    profiles.ensure(missing, store, progress=progress)
    still = store.missing(cfgs)
    if still:
        raise RuntimeError(f"{len(still)} run(s) still missing from {store.root} after running them")
    return len(missing)


def case_study_models_first(claims, profile: str, store, missing: list, *, progress: bool | None = None) -> int:
    """When the case study's results are missing, train them through
    ``profiles.case_study_models`` (which also saves the trained networks beside the store, as
    paper_figures does for Figures 2/A1) instead of the sweep, so the networks the coverage rows
    compare with are the very ones whose accuracies are reported, and nothing trains twice.
    Returns how many case-study runs it trained (0 when their rows are stored already)."""
    from fpe_empirical import profiles
    from fpe_empirical.config import config_key

    if not any("dnf.case_study" in c.needs or "dnf.coverage" in c.needs for c in claims):
        return 0
    case = {config_key(c) for c in configs("dnf.case_study", profile)}
    todo = [c for c in missing if config_key(c) in case]
    if not todo:
        return 0
    profiles.case_study_models(profile, store, progress=bool(progress))
    return len(todo)


def saved_case_study(profile: str, store) -> dict:
    """``{seed: DNFResult}`` of the case-study networks saved beside ``store`` (by
    ``profiles.case_study_models``); only those present, nothing is trained."""
    from fpe_empirical import profiles
    from fpe_empirical.config import config_key
    from fpe_empirical.dnf_experiment import load_result

    out = {}
    root = profiles.models_dir(store)
    for cfg in configs("dnf.case_study", profile):
        d = root / config_key(cfg)
        if (d / "result.json").is_file() and (d / "models.safetensors").is_file():
            try:
                out[cfg.seed] = load_result(d)
            except (ValueError, KeyError, OSError):  # damaged: profiles.case_study_models retrains it
                continue
    return out
