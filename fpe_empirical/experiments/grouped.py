"""Grouped FPE experiments (issue 16, part 3): does a split that runs at BLAS cost learn as well?

Two kinds, each a DNF / vision experiment whose strategy list may also name grouped splits
``"G<g>"`` (``fpe_expand(pretrained, alpha, strategy="random", n_partitions=g, seed=split
seed)``), beside ``"dense"`` (the control), ``"random"`` (the classic split: one partition
per parent, G = N) and the structured split (``"clause"`` for DNF, ``"gram"`` for vision).
Every split keeps the dense model's non-zero count exactly (``fpe_expand``), so all rows of
one seed compare at the same budget; everything else (data, pre-training, seeds, phase-2
order) is the parent kind's pipeline, paired across strategies.

- ``dnf-grouped`` (``GroupedDNFExperiment``, a ``DNFExperiment``): rows add ``n_partitions``
  (g; N for ``"random"``; empty for dense/clause) and ``predicted_p_all_covered``, the
  partition model's P(every clause covered by a child) for that G
  (``fpe_theory.prob_all_covered(..., n_partitions=G)``; at N for random).
- ``embedding-grouped`` (``GroupedEmbeddingExperiment``, an ``EmbeddingExperiment``):
  rows add ``n_partitions``.

``grouped_configs(scale)`` lists the configs of the issue's study: the DNF case study
(8 clauses x 8 hidden, alpha 2) and slice (clauses {8, 15, 32} x hidden {8, 16}) and the
digits stand-in (hidden 8 and 16), seeds 0-4, the paper's schedule (1000 + 1000 epochs,
40,000 samples; vision 10 + 1000). ``scale="small"`` is the reduced version this machine
ran (DNF: 200 + 200 epochs on 20,000 samples instead of 1000 + 1000 on 40,000; vision at
the paper's 10 + 1000; 5 seeds: ``SMALL``; say so wherever its numbers appear).

CLI (stored in a ``ResultStore``, resumable: stored configs are not run again)::

    python -m fpe_empirical.grouped_experiment --out results/store                # full study
    python -m fpe_empirical.grouped_experiment --out results/store --scale small  # what ran here
    python -m fpe_empirical.grouped_experiment --out results/store --scale case_study  # and this
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pandas as pd

from fpe_common.cli import OneLineArgumentParser, run_main

from ..nn.expand import fpe_expand
from ..nn.models import MLP
from ..results.store import ResultStore
from . import dnf as _dnf
from . import embedding as _emb
from .pipeline import Stages, check_strategies, derive_seed, run_pipeline
from .registry import experiment_kind

__all__ = ["GroupedDNFExperiment", "GroupedEmbeddingExperiment", "grouped_label", "parse_grouped",
           "grouped_configs", "stored_study", "SMALL", "SCALES", "main"]

GROUPS = (1, 2, 4, 8)
_LABEL = re.compile(r"G([1-9][0-9]*)$")


def grouped_label(n_partitions: int) -> str:
    """The strategy label of a grouped split: ``"G4"`` for ``n_partitions=4``."""
    return f"G{int(n_partitions)}"


def parse_grouped(strategy: str) -> int | None:
    """``n_partitions`` of a ``"G<g>"`` label, None for any other strategy name."""
    m = _LABEL.match(strategy) if isinstance(strategy, str) else None
    return int(m.group(1)) if m else None


def _check(config, allowed: Sequence[str], n_parents: int, parent_post_init) -> None:
    labels = check_strategies(config.strategies, (*allowed, *(s for s in config.strategies if parse_grouped(s))))
    for s in labels:
        g = parse_grouped(s)
        if g is not None and g > n_parents:
            raise ValueError(f"strategy {s!r} needs n_partitions <= hidden = {n_parents}, got {g}")
    # the parent kind validates everything else, on its own strategies
    plain = tuple(s for s in labels if parse_grouped(s) is None) or ("dense",)
    object.__setattr__(config, "strategies", plain)
    try:
        parent_post_init(config)
    finally:
        object.__setattr__(config, "strategies", labels)


def _split(pretrained: MLP, alpha: int, seed: int, g: int, layers: str = "first") -> MLP:
    return fpe_expand(pretrained, alpha, strategy="random", n_partitions=g, seed=derive_seed(seed, "split"),
                      layers=layers)


# --------------------------------------------------------------------------- DNF


@experiment_kind("dnf-grouped", 1)
@dataclass(frozen=True)
class GroupedDNFExperiment(_dnf.DNFExperiment):
    """A ``DNFExperiment`` whose ``strategies`` may also hold ``"G<g>"`` (module docstring)."""

    strategies: tuple[str, ...] = ("dense", "random", "clause", *(grouped_label(g) for g in GROUPS))

    def __post_init__(self) -> None:
        _check(self, _dnf.DNF_STRATEGIES, self.hidden, _dnf.DNFExperiment.__post_init__)

    @staticmethod
    def run_batch(configs) -> list[pd.DataFrame]:
        """The kind's runner: the DNF pipeline with grouped splits."""
        return [r.frame for r in run_pipeline(configs, DNF_STAGES, backend="auto")]


def _dnf_split(config, pretrained, strategy, dataset):
    g = parse_grouped(strategy)
    if g is None:
        return _dnf.split_model(config, pretrained, strategy, dataset)
    return _split(pretrained, config.alpha, config.seed, g)


def _predicted(config, g: int | None) -> float:
    import fpe_theory

    try:
        return float(fpe_theory.prob_all_covered(config.n_clauses, config.clause_size, config.alpha, config.hidden,
                                                  n_partitions=g))
    except ValueError:  # alpha does not divide n: no balanced partition model
        return float("nan")


def _dnf_row(config, dataset, strategy, model) -> dict:
    row = _dnf._row(config, dataset, strategy, model)
    g = parse_grouped(strategy)
    if strategy == "random":
        g_eff = config.hidden
    else:
        g_eff = g
    row["n_partitions"] = float("nan") if g_eff is None else g_eff
    row["predicted_p_all_covered"] = _predicted(config, g_eff) if g_eff is not None else float("nan")
    return row


DNF_STAGES = Stages(config=GroupedDNFExperiment, result=_dnf.DNFResult, data=_dnf.make_dataset,
                    dense=lambda config, data: _dnf.build_dense(config), split=_dnf_split, row=_dnf_row,
                    facts=_dnf.STAGES.facts)


# --------------------------------------------------------------------------- vision


@experiment_kind("embedding-grouped", 1)
@dataclass(frozen=True)
class GroupedEmbeddingExperiment(_emb.EmbeddingExperiment):
    """An ``EmbeddingExperiment`` whose ``strategies`` may also hold ``"G<g>"``."""

    strategies: tuple[str, ...] = ("dense", "random", "gram", *(grouped_label(g) for g in GROUPS))

    def __post_init__(self) -> None:
        _check(self, _emb.EMBEDDING_STRATEGIES, self.hidden, _emb.EmbeddingExperiment.__post_init__)

    @staticmethod
    def run_batch(configs) -> list[pd.DataFrame]:
        """The kind's runner: the vision pipeline with grouped splits."""
        return [r.frame for r in run_pipeline(configs, EMBEDDING_STAGES, backend="auto")]


def _emb_split(config, pretrained, strategy, data):
    g = parse_grouped(strategy)
    if g is None:
        return _emb.split_model(config, pretrained, strategy)
    return _split(pretrained, config.alpha, config.seed, g, config.split_layer_scheme)


def _emb_row(config, data, strategy, model) -> dict:
    row = _emb._row(config, data, strategy, model)
    g = parse_grouped(strategy)
    row["n_partitions"] = config.hidden if strategy == "random" else (float("nan") if g is None else g)
    return row


EMBEDDING_STAGES = replace(_emb.STAGES, config=GroupedEmbeddingExperiment, split=_emb_split, row=_emb_row)


# --------------------------------------------------------------------------- the study

#: the reduced schedule this machine ran (2 shared cores): see grouped_configs
SMALL = {"dnf": dict(pretrain_epochs=200, split_epochs=200, n_samples=20_000), "seeds": (0, 1, 2, 3, 4),
         "vision": dict(pretrain_epochs=10, split_epochs=1000)}


SCALES = ("full", "small", "case_study")


def grouped_configs(scale: str = "full") -> list:
    """Configs of the grouped-FPE study (module docstring); ``scale`` ``"full"`` (the paper's
    schedule, 5 seeds), ``"small"`` (``SMALL``) or ``"case_study"`` (only the DNF case study,
    8 clauses x 8 hidden, at the paper's schedule, seeds 0-4: a subset of ``"full"``)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {list(SCALES)}, got {scale!r}")
    if scale == "case_study":
        return [GroupedDNFExperiment(n_clauses=8, hidden=8, seed=s) for s in range(5)]
    seeds = range(5) if scale == "full" else SMALL["seeds"]
    dnf_kw = {} if scale == "full" else SMALL["dnf"]
    vis_kw = {} if scale == "full" else SMALL["vision"]
    out = []
    for n_clauses in (8, 15, 32):
        for hidden in (8, 16):
            for s in seeds:
                out.append(GroupedDNFExperiment(n_clauses=n_clauses, hidden=hidden, seed=s, **dnf_kw))
    for hidden in (8, 16):
        for s in seeds:
            out.append(GroupedEmbeddingExperiment(dataset="digits", hidden=hidden, seed=s, **vis_kw))
    return out


def stored_study(store, kind: str, scales=("full", "small")):
    """``(rows, scale)``: the stored rows of ``kind``'s configs in the first of ``scales`` whose
    configs are all in ``store`` (a ``ResultStore``), or ``None`` when no scale is complete."""
    from ..results.keys import rows_of

    table = store.load(kind=kind)
    for scale in scales:
        got, missing, _ = rows_of(table, [c for c in grouped_configs(scale) if type(c).kind == kind])
        if len(got) and not missing:
            return got.reset_index(drop=True), scale
    return None


PROG = "python -m fpe_empirical.grouped_experiment"


def _main(argv: Sequence[str] | None) -> int:
    p = OneLineArgumentParser(prog=PROG, description="Grouped FPE accuracy study (DNF slice and digits), stored "
                                                     "and resumable.")
    p.add_argument("--out", required=True, help="result store directory (stored configs are reused)")
    p.add_argument("--scale", choices=SCALES, default="full")
    p.add_argument("--kind", choices=("all", "dnf-grouped", "embedding-grouped"), default="all")
    p.add_argument("--group-size", type=int, default=6, help="configs per training call (default 6)")
    args = p.parse_args(argv)
    if args.group_size < 1:
        raise ValueError(f"--group-size must be >= 1, got {args.group_size}")
    configs = [c for c in grouped_configs(args.scale) if args.kind in ("all", type(c).kind)]
    store = ResultStore(args.out)
    note = lambda msg: print(f"grouped: note: {msg}", file=sys.stderr)  # noqa: E731
    _, pending = store.split_stored(configs, note=note)
    from tqdm import tqdm

    with tqdm(total=len(configs), initial=len(configs) - len(pending), unit="config", file=sys.stderr) as bar:
        for start in range(0, len(pending), args.group_size):
            chunk = pending[start : start + args.group_size]
            by_kind: dict[str, list] = {}
            for c in chunk:
                by_kind.setdefault(type(c).kind, []).append(c)
            for group in by_kind.values():
                for c, frame in zip(group, type(group[0]).run_batch(group)):
                    store.put(c, frame)  # stored as it finishes: a kill loses at most one chunk
                    bar.update(1)
    frame = store.load()
    frame = frame[frame["kind"].isin(["dnf-grouped", "embedding-grouped"])] if "kind" in frame else frame
    print(summarize(frame).to_string())
    return 0


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean test accuracy (and n) per (kind, schedule, n_clauses, hidden, strategy)."""
    keys = [k for k in ("kind", "dataset", "pretrain_epochs", "split_epochs", "n_samples", "n_clauses", "hidden",
                        "strategy") if k in frame]
    return frame.groupby(keys, dropna=False)["test_accuracy"].agg(["mean", "std", "count"])


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point (exit 2 with one line on stderr for bad input)."""
    return run_main(_main, argv, prog=PROG)

