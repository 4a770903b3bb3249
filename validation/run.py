"""Evaluate the ledger: resolve what the claims need, run what is missing, apply the rules.

``validate(...)`` returns a ``Report`` (one ``Row`` per claim) that ``validation.report``
writes as Markdown and JSON.
"""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import needs as _needs
from .catalogue import get_claims
from .ledger import NOT_RUN, Claim, NotRun, Outcome, count_by_category, verdict_label

__all__ = ["Context", "Row", "Report", "validate", "DATASETS", "claim_command"]

#: claim.data -> the dataset its configs are built on ("digits" offline; files otherwise)
DATASETS = {"vision": "digits", "embeddings": "clip", "imagenet1k": "imagenet1k", "fashionmnist": "fashionmnist",
            "imagenet100": "imagenet100"}
#: data set of a claim id's ``@suffix`` -> (Context attribute / CLI option, what the file holds)
DATA_FILES = {
    "clip": ("embeddings", "CLIP embeddings of CIFAR-100"),
    "imagenet1k": ("imagenet1k", "CLIP embeddings of ImageNet-1k"),
    "fashionmnist": ("fashionmnist", "FashionMNIST as raw flattened pixels"),
    "imagenet100": ("imagenet100", "CLIP embeddings of ImageNet-100"),
}
DEFAULT_STORE = "results/store"


@dataclass
class Context:
    """What claims evaluate against: the profile, the result store, optional data files."""

    profile: str
    store: Any  # fpe_empirical.store.ResultStore
    embeddings: str | None = None
    imagenet1k: str | None = None
    numba_threads: int | None = None
    fashionmnist: str | None = None
    imagenet100: str | None = None
    _tables: dict = field(default_factory=dict)

    def dataset(self, which: str) -> str:
        """``"digits"``, or the data file of ``"clip"`` / ``"imagenet1k"`` / ``"fashionmnist"`` /
        ``"imagenet100"`` (NotRun if it was not given)."""
        if which == "digits":
            return "digits"
        if which == "minilm-docstrings":  # built into the store by python -m fpe_empirical.text_embed
            from fpe_empirical.data.minilm import data_dir

            path = data_dir(self.store.root) / "embeddings.safetensors"
            if not path.is_file():
                raise NotRun(f"needs the MiniLM docstring embeddings {path}: run "
                             f"`python -m fpe_empirical.text_embed --store {self.store.root}` (offline)")
            return str(path)
        if which not in DATA_FILES:
            raise ValueError(f"dataset must be one of {['digits', 'minilm-docstrings', *DATA_FILES]}, got {which!r}")
        attr, what = DATA_FILES[which]
        path = getattr(self, attr)
        if not path:
            raise NotRun(f"needs {what}: pass --{attr} PATH (make one with `python -m fpe_empirical.embed`)")
        return path

    def configs(self, requirement: str, dataset: str | None = None) -> list:
        ds = None if dataset is None else self.dataset(dataset)
        return _needs.configs(requirement, self.profile, ds)

    def _table(self, kind: str) -> pd.DataFrame:
        if kind not in self._tables:
            self._tables[kind] = self.store.load(kind=kind)
        return self._tables[kind]

    def frame(self, requirement: str, dataset: str | None = None) -> pd.DataFrame:
        """Stored rows of exactly the requirement's configs (NotRun when some are missing)."""
        from fpe_empirical.results.keys import rows_of

        cfgs = self.configs(requirement, dataset)
        if not cfgs:
            raise NotRun(f"requirement {requirement} has no configs in profile {self.profile}")
        got, missing, n_keys = rows_of(self._table(type(cfgs[0]).kind), cfgs)
        if missing:
            raise NotRun(f"{missing} of {n_keys} results of {requirement} are missing from the store "
                         f"{self.store.root} (run without --no-run)")
        return got.reset_index(drop=True)


@dataclass
class Row:
    """One evaluated claim: the claim, its outcome, the command that reproduces it, timing."""

    claim: Claim
    outcome: Outcome
    command: str
    seconds: float
    error: str = ""


@dataclass
class Report:
    profile: str
    rows: list[Row]
    provenance: dict[str, Any]

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """``{category: {label: n}}`` (``ledger.count_by_category``): paper claims reproduced / not
        reproduced / not run, findings confirmed / not confirmed / not run, consistency checks
        passed / failed / not run, counted apart."""
        return count_by_category((r.claim.category, r.outcome.verdict) for r in self.rows)

    @property
    def errors(self) -> list[Row]:
        return [r for r in self.rows if r.error]


def claim_command(claim: Claim, ctx: Context, store_arg: str | None = None) -> str:
    """The command line that reproduces one claim's row."""
    parts = ["python -m validation", f"--profile {ctx.profile}", f"--only '{claim.id}'"]
    if store_arg and os.path.normpath(store_arg) != os.path.normpath(DEFAULT_STORE):
        parts.append(f"--store {store_arg}")
    if claim.data == "embeddings" or claim.id.endswith("@clip"):
        parts.append(f"--embeddings {ctx.embeddings or 'PATH'}")
    if claim.data == "imagenet1k" or claim.id.endswith("@imagenet1k"):
        parts.append(f"--imagenet1k {ctx.imagenet1k or 'PATH'}")
    for ds in ("fashionmnist", "imagenet100"):
        if claim.data == ds or claim.id.endswith("@" + ds):
            parts.append(f"--{ds} {getattr(ctx, ds) or 'PATH'}")
    return " ".join(parts)


def _claim_dataset(claim: Claim) -> str | None:
    if "@" in claim.id:
        return claim.id.rsplit("@", 1)[1]
    return None


def needed_configs(claims: list[Claim], ctx: Context) -> tuple[list, dict[str, str]]:
    """All configs the runnable claims need, and for the others the reason they cannot run."""
    from fpe_empirical.config import config_key

    out, seen, blocked = [], set(), {}
    for c in claims:
        ds = _claim_dataset(c)
        try:
            for req in c.needs:
                for cfg in ctx.configs(req, ds if req.startswith("vision.") else None):
                    k = config_key(cfg)
                    if k not in seen:
                        seen.add(k)
                        out.append(cfg)
        except NotRun as exc:
            blocked[c.id] = str(exc)
    return out, blocked


def validate(
    *,
    profile: str = "quick",
    store: str | os.PathLike = DEFAULT_STORE,
    embeddings: str | None = None,
    imagenet1k: str | None = None,
    only: list[str] | None = None,
    run_missing: bool = True,
    progress: bool | None = None,
    numba_threads: int | None = None,
    log=None,
    fashionmnist: str | None = None,
    imagenet100: str | None = None,
) -> Report:
    """Evaluate the selected claims (all by default); train what they need unless ``run_missing=False``."""
    from fpe_empirical.store import ResultStore, provenance

    if profile not in _needs.ALL_PROFILES:  # "tiny": tests of the pipeline only (not on the CLI)
        raise ValueError(f"profile must be one of {list(_needs.PROFILES)}, got {profile!r}")
    for name, path in (("embeddings", embeddings), ("imagenet1k", imagenet1k), ("fashionmnist", fashionmnist),
                       ("imagenet100", imagenet100)):
        if path is not None:
            from fpe_empirical.data.embeddings import check_embedding_file

            check_embedding_file(f"--{name}", path)
    say = log or (lambda msg: None)
    claims = get_claims(only)
    rs = ResultStore(store)
    ctx = Context(profile, rs, embeddings, imagenet1k, numba_threads, fashionmnist, imagenet100)
    t0 = time.perf_counter()
    cfgs, blocked = needed_configs(claims, ctx)
    n_before = len(rs)
    missing = rs.missing(cfgs)
    ran = 0
    if missing and run_missing:
        say(f"validation: {len(missing)} of {len(cfgs)} experiment runs missing from {rs.root}; running them")
        ran = _needs.case_study_models_first(claims, profile, rs, missing, progress=progress)
        ran += _needs.ensure(cfgs, rs, progress=progress)
    t_runs = time.perf_counter() - t0
    rows = []
    for c in claims:
        t = time.perf_counter()
        err = ""
        try:
            if c.id in blocked:
                raise NotRun(blocked[c.id])
            out = c.evaluate(ctx)
            if not isinstance(out, Outcome):
                raise TypeError(f"claim {c.id} returned {type(out).__name__}, not an Outcome")
        except NotRun as exc:
            out = Outcome(NOT_RUN, reason=str(exc))
        except Exception as exc:  # noqa: BLE001 - a failing claim must not hide the others
            err = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            out = Outcome(NOT_RUN, reason=f"evaluation failed: {err}")
            say(f"validation: claim {c.id} failed:\n{traceback.format_exc()}")
        rows.append(Row(c, out, claim_command(c, ctx, str(store)), time.perf_counter() - t, err))
        say(f"validation: {c.id} ({c.category}): {verdict_label(c.category, out.verdict)}")
    prov = provenance(
        profile=profile,
        store=str(rs.root),
        results_in_store_before=n_before,
        configs_needed=len(cfgs),
        configs_missing_before=len(missing),
        configs_run=ran,
        run_missing=run_missing,
        experiment_seconds=round(t_runs, 2),
        total_seconds=round(time.perf_counter() - t0, 2),
        embeddings=_file_info(embeddings),
        imagenet1k=_file_info(imagenet1k),
        fashionmnist=_file_info(fashionmnist),
        imagenet100=_file_info(imagenet100),
        configs_from="fpe_empirical.profiles",
    )
    return Report(profile, rows, prov)


def _file_info(path: str | None) -> dict | None:
    if path is None:
        return None
    from fpe_empirical.embeddings import file_sha256

    return {"path": str(path), "sha256": file_sha256(path)}
