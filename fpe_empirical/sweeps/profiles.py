"""Profiles: which experiment configs every figure, table and claim needs, and running them.

The one place ``paper_figures`` and ``validation`` ask for experiments: both call
``configs(target, profile)`` and ``ensure(...)`` on the same result store, so nothing trains
twice. The numbers of each profile are the catalogue's (``sweeps.catalogue``), the targets'
structure is ``sweeps.targets``'s. Public API (kept stable)::

    PROFILES                                    # ("quick", "paper")
    TARGETS                                     # target name -> Target(description, domain)
    configs(target, profile, *, dataset=None) -> list[config]
    experiment_sets(profile, *, embeddings=None, imagenet1k=None) -> dict[target, list[config]]
    resolve_datasets(embeddings=None, *, imagenet1k=None) -> dict[vision target, tuple[dataset, ...]]
    ensure(configs, store, *, progress=None, workers=None, ...) -> SweepReport
    case_study_models(profile, store, *, seeds=None) -> dict[seed, DNFResult]
    case_study_seeds(profile) -> tuple[int, ...]
    TheorySimulation                            # experiment kind "theory-sim" (Monte Carlo)

Case-study models (Figures 2 and A1 plot weights, which the store's tables do not hold) are
kept beside the store in ``<store>/models/<config_key>/`` (``results.models``: safetensors +
JSON, no pickle, each folder written as a whole) and reused by later runs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from fpe_common.paths import models_dir as _models_dir

from ..experiments import dnf
from ..experiments.theory_sim import TheorySimulation, run_theory  # noqa: F401
from ..results.keys import config_key
from ..results.provenance import provenance
from ..results.store import ResultStore
from . import sweep
from .catalogue import get_profile
from .targets import *  # noqa: F401,F403  (the targets API is this module's too)
from .targets import __all__ as _targets_api
from .targets import case_study_config, case_study_seeds, dedupe

__all__ = [*_targets_api, "ensure", "case_study_models", "models_dir", "TheorySimulation", "run_theory"]


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
    if not isinstance(store, ResultStore):
        store = ResultStore(store)
    cfgs = dedupe(cfgs)
    report = sweep.run_sweep(
        store.missing(cfgs),
        store,
        workers=workers,
        scheduler=scheduler,
        chunk_size=sweep.DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size,
        threads=threads,
        progress=progress,
    )
    report.stored_before += len(cfgs) - report.total
    report.total = len(cfgs)
    if not report.ok:
        raise RuntimeError(f"{len(report.failed)} experiment run(s) failed; errors in {store.root}/.failures/")
    return report


def models_dir(store) -> Path:
    """``<store>/models``: the saved networks of the case study (one folder per config key)."""
    return _models_dir(store)


def case_study_models(profile: str, store, *, seeds: Sequence[int] | None = None, progress: bool = False) -> dict:
    """``{seed: DNFResult}`` of the case study under ``profile``, with the trained models.

    Loaded from ``<store>/models/<config_key>/`` when saved there; the missing ones are
    trained together (``train_dnf_many``, batched), saved atomically, and their result rows
    put into the store when it lacks them (so the store's row and the saved models then come
    from the same training). A stored row trained earlier in another batch can differ from
    the saved models' in the last digits (float reassociation); figures of the models use the
    models' own rows (``DNFResult.frame``).
    """
    get_profile(profile)
    if not isinstance(store, ResultStore):
        store = ResultStore(store)
    seeds = case_study_seeds(profile) if seeds is None else tuple(seeds)
    cfgs = {s: case_study_config(profile, s) for s in seeds}
    root = models_dir(store)
    out, todo = {}, []
    for s, cfg in cfgs.items():
        d = root / config_key(cfg)
        if (d / "result.json").is_file() and (d / "models.safetensors").is_file():
            try:
                res = dnf.load_result(d)
            except (ValueError, KeyError, OSError) as exc:  # damaged: retrain it
                print(f"profiles: saved case-study models {d} unreadable ({exc}); retraining", file=sys.stderr)
            else:
                if config_key(res.config) == config_key(cfg):
                    out[s] = res
                    continue
        todo.append(cfg)
    if todo:
        for res in dnf.train_dnf_many(todo, backend="wide", progress=progress):
            key = config_key(res.config)
            dnf.save_result(res, root / key)  # the folder is written as a whole
            if store.status(key) != "ok":
                store.put(res.config, res.frame, provenance=provenance(seed=res.config.seed, source="case_study_models"))
            out[res.config.seed] = res
    return {s: out[s] for s in seeds}
