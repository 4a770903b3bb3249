"""The DNF experiment (paper Sections 3.1-3.2): dense pre-training, FPE split, phase 2.

``DNFExperiment`` runs the shared staged pipeline (``pipeline``: data, dense model, phase 1,
split, phase 2, rows) with these stages: data ``make_dnf_dataset`` (seed role ``data``); a
dense ``MLP(n_literals, hidden, 1)`` under the init seed; the split ``fpe_expand(pretrained,
alpha, strategy=..., groups=dataset.clauses for a group-keeping strategy, seed=split seed)``;
rows with accuracy, non-zeros, neurons, clause feature capacity and mean cosine similarity.

Defaults (``docs/dnf_defaults.md`` has the sensitivity sweep and the rule used to choose
them): paper schedule Adam, batch 500, 1000 + 1000 epochs; lr 1e-3 (Adam's default),
L1 1e-4 on ``W1``, coupled L2 weight decay 1e-4 on all parameters, 40,000 samples (80/20
split; the a-priori 10,000 left a train-test gap of 3.1 points and 20,000 a late loss spike
of 1.14 on one seed, both of which the rule rejects), true bits in [0.8, 1.0], false bits in
[0.0, 0.2].

CLI (the paper's case study, 5 seeds)::

    python -m fpe_empirical.dnf_experiment --seeds 0 1 2 3 4

``--out DIR`` keeps every run in a result store (``ResultStore``: a rerun reads what is
stored, a damaged file is recomputed with a note); ``--save-models DIR`` saves the networks,
one folder per config key (``results.models``).
"""

from __future__ import annotations

import copy
import functools
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fpe_common.checks import check_path
from fpe_common.cli import OneLineArgumentParser, run_main

from ..data.dnf import DNFDataset, make_dnf_dataset
from ..nn.expand import fpe_expand
from ..nn.metrics import feature_capacity, mean_cosine_similarity
from ..nn.models import MLP, count_nonzero
from ..nn.strategies import get_strategy, strategy_names
from ..results.keys import config_key, config_to_dict
from ..results.models import read_model_folder, write_model_folder
from ..results.store import ResultStore
from .pipeline import (
    ROLES, Stages, Trained, TwoPhases, add_schedule_arguments, check_strategies, derive_seed, run_pipeline, schedule_fields,
    seeded_init,
)
from .registry import check_fields, config_from_dict, experiment_kind

__all__ = [
    "DNFExperiment",
    "DNFResult",
    "ROLES",
    "derive_seed",
    "make_dataset",
    "build_dense",
    "split_model",
    "train_dnf",
    "train_dnf_many",
    "run_dnf",
    "family_key",
    "save_result",
    "load_result",
    "main",
]

#: ``train_many`` backend of ``train_dnf_many`` ("loop": the reference trainer)
DEFAULT_BACKEND = "loop"
#: "dense" (the control) and every registered split strategy
DNF_STRATEGIES = ("dense", *strategy_names())


# code_version 3: the default n_samples became 40,000 (config keys hash only non-default
# fields, so a stored DNFExperiment() result of version 1 holds 10,000 samples, of
# version 2 20,000). code_version 4: ``run_dnf`` trains with the wide trainer
# (``training.wide``): the same semantics, stored numbers different in float rounding.
@experiment_kind("dnf", 4)
@dataclass(frozen=True)
class DNFExperiment(TwoPhases):
    """One DNF run: a dense ``n_literals -> hidden -> 1`` MLP, split by each strategy.

    ``strategies`` may hold ``"dense"`` (the control: same phase-2 training, no split) and
    any registered split strategy (``"random"``, ``"clause"``, ``"gram"``, ``"two_four"``).
    Data fields are passed to ``make_dnf_dataset`` (``active_range=None`` is its default);
    training fields to ``TrainSettings`` for both phases.
    """

    n_clauses: int = 8
    clause_size: int = 4
    hidden: int = 8
    alpha: int = 2
    strategies: tuple[str, ...] = ("dense", "clause", "random")
    seed: int = 0
    pretrain_epochs: int = 1000
    split_epochs: int = 1000
    batch_size: int = 500
    lr: float = 1e-3
    l1: float = 1e-4
    weight_decay: float = 1e-4
    n_samples: int = 40_000
    test_fraction: float = 0.2
    true_range: tuple[float, float] = (0.8, 1.0)
    false_range: tuple[float, float] = (0.0, 0.2)
    active_range: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        check_fields(self, ints={"n_clauses": 1, "clause_size": 2, "hidden": 1, "alpha": 2, "seed": 0,
                                 "pretrain_epochs": 0, "split_epochs": 0, "batch_size": 1, "n_samples": 4},
                     floats={"lr": {"positive": True}, "l1": {}, "weight_decay": {}},
                     tuples=("true_range", "false_range", "active_range"))
        object.__setattr__(self, "strategies", check_strategies(self.strategies, DNF_STRATEGIES))
        n = self.n_literals
        if self.alpha > n:
            raise ValueError(f"alpha must be <= n_literals = {n}, got {self.alpha}")
        for s in self.strategies:
            if s != "dense" and get_strategy(s).check is not None:
                get_strategy(s).check(self.alpha, n, "hidden layer 1")
        if "clause" in self.strategies and self.clause_size > math.ceil(n / self.alpha):
            raise ValueError(
                f"strategy 'clause' needs clause_size <= ceil(n_literals / alpha) = {math.ceil(n / self.alpha)}, "
                f"got clause_size={self.clause_size}"
            )
        # the data fields are validated by a tiny dry run of the generator
        _validate_data_args(self)

    @property
    def n_literals(self) -> int:
        return self.n_clauses * self.clause_size

    def cost(self) -> float:
        """Relative cost: matmul work ~ samples x inputs x width x epochs, over the phase-1
        model and every phase-2 model (a split model is alpha times wider), plus a fixed
        part (data, splitting, metrics) worth ~50 epochs of a small model."""
        widths = sum(1 if s == "dense" else self.alpha for s in self.strategies)
        work = self.n_samples * self.n_clauses * self.clause_size * self.hidden
        return work * (self.pretrain_epochs + self.split_epochs * widths) + 50 * self.n_samples * 64

    def family(self) -> tuple:
        """``family_key(self)``: configs with equal families train as one wide layer."""
        return family_key(self)

    @staticmethod
    def run_batch(configs) -> list[pd.DataFrame]:
        """The kind's runner: ``run_dnf``."""
        return run_dnf(configs)


def _data_kwargs(config: DNFExperiment) -> dict:
    return dict(
        n_clauses=config.n_clauses,
        clause_size=config.clause_size,
        n_samples=config.n_samples,
        seed=derive_seed(config.seed, "data"),
        true_range=config.true_range,
        false_range=config.false_range,
        active_range=config.active_range,
        test_fraction=config.test_fraction,
    )


def _validate_data_args(config: DNFExperiment) -> None:
    # a 40-sample dry run with the same ranges validates every data argument quickly
    kw = _data_kwargs(config)
    if kw["n_samples"] % 2:
        raise ValueError(f"n_samples must be even (exactly half positives), got {kw['n_samples']}")
    make_dnf_dataset(**{**kw, "n_samples": 40, "test_fraction": 0.5})
    if isinstance(config.test_fraction, bool) or not isinstance(config.test_fraction, (int, float)):
        raise TypeError(f"test_fraction must be a float, got {type(config.test_fraction).__name__}")
    n_test = round(float(config.test_fraction) * config.n_samples) if 0 < config.test_fraction < 1 else 0
    if not (0 < config.test_fraction < 1) or n_test < 2 or n_test > config.n_samples - 2:
        raise ValueError(f"test_fraction must be in (0, 1) leaving >= 2 samples on each side, got {config.test_fraction}")


def make_dataset(config: DNFExperiment) -> DNFDataset:
    """Stage 1: the config's data set (seed ``derive_seed(config.seed, "data")``)."""
    return make_dnf_dataset(**_data_kwargs(config))


@functools.lru_cache(maxsize=4)
def _cached_dataset(key: tuple) -> DNFDataset:
    return make_dnf_dataset(**dict(key))


def _stage_data(config: DNFExperiment) -> DNFDataset:
    # configs that differ only in width or strategy (one wide family) get one data set
    # object: generated once, hashed once by the trainer; nothing mutates it
    return _cached_dataset(tuple(sorted(_data_kwargs(config).items())))


def build_dense(config: DNFExperiment) -> MLP:
    """Stage 2: the dense ``n_literals -> hidden -> 1`` MLP under the config's init seed."""
    return seeded_init(config.seed, lambda: MLP(config.n_literals, config.hidden, 1))


def split_model(config: DNFExperiment, pretrained: MLP, strategy: str, dataset: DNFDataset) -> MLP:
    """Stage 4: the phase-2 starting model of ``strategy`` (a copy for ``"dense"``)."""
    if strategy == "dense":
        return copy.deepcopy(pretrained)
    groups = [list(c) for c in dataset.clauses] if "groups" in get_strategy(strategy).options else None
    return fpe_expand(pretrained, config.alpha, strategy=strategy, groups=groups, seed=derive_seed(config.seed, "split"))


def _row(config: DNFExperiment, ds: DNFDataset, strategy: str, model: MLP) -> dict:
    return {
        "config_key": config_key(config),
        "strategy": strategy,
        "seed": config.seed,
        "n_clauses": config.n_clauses,
        "clause_size": config.clause_size,
        "n_literals": config.n_literals,
        "hidden": config.hidden,
        "alpha": config.alpha,
        "train_accuracy": model.accuracy(ds.X_train, ds.y_train),
        "test_accuracy": model.accuracy(ds.X_test, ds.y_test),
        "nonzero": count_nonzero(model),
        "neurons": int(sum(model.hidden)),
        "feature_capacity": feature_capacity(model, ds.clauses).total,
        "mean_cosine": mean_cosine_similarity(model),
    }


class DNFResult(Trained):
    """Everything one config produced: the data set (``.dataset``), the pre-trained dense
    model, the final models, the frame and the histories."""

    @property
    def dataset(self) -> DNFDataset:
        return self.data


STAGES = Stages(
    config=DNFExperiment,
    result=DNFResult,
    data=_stage_data,
    dense=lambda config, data: build_dense(config),
    split=split_model,
    row=_row,
    facts=("pretrain_test_accuracy", "split_test_accuracy", "pretrain_final_loss", "final_loss"),
)


def train_dnf_many(configs, *, backend: str | None = None, progress: bool = False) -> list[DNFResult]:
    """Run every config through the staged pipeline (``pipeline``); one result each.

    ``train_many`` is called once per phase with all models of all configs.
    """
    return run_pipeline(configs, STAGES, backend=DEFAULT_BACKEND if backend is None else backend, progress=progress)


def train_dnf(config: DNFExperiment, *, backend: str | None = None, progress: bool = False) -> DNFResult:
    """One config: the trained models (``.pretrained``, ``.models[strategy]``), data and frame."""
    return train_dnf_many([config], backend=backend, progress=progress)[0]


def run_dnf(configs) -> list[pd.DataFrame]:
    """Runner of kind ``"dnf"``: one tidy DataFrame per config (see ``train_dnf_many``).

    Trains with ``backend="wide"`` (``training.wide``): the models of every config that see
    the same batches (all strategies of a config; all hidden widths of one data set and
    seed) as one wide layer, equal to the loop up to float reassociation and bit-identical
    whatever other configs share the call.
    """
    return [r.frame for r in train_dnf_many(configs, backend="wide")]


def family_key(config: DNFExperiment) -> tuple:
    """Configs with equal keys train as one wide family (``training.wide``): every field
    but ``hidden``, ``alpha`` and ``strategies`` (same data, seeds and schedule, so the
    same batches). The sweep keeps a family in one chunk (``sweeps.chunks``)."""
    d = config_to_dict(config)
    for name in ("hidden", "alpha", "strategies"):
        d.pop(name, None)
    return ("dnf", tuple(sorted((k, repr(v)) for k, v in d.items())))


# --------------------------------------------------------------------------- save / load


def save_result(result: DNFResult, directory: str | os.PathLike) -> Path:
    """Write the result's networks (``pretrained`` and one per strategy) and rows to
    ``directory`` (``results.models``: safetensors + JSON with digests, the folder written
    as a whole)."""
    meta = {
        "kind": type(result.config).kind,
        "code_version": type(result.config).code_version,
        "config": config_to_dict(result.config),
        "config_key": config_key(result.config),
        # exact floats (to_json would keep 10 digits); NaN/inf as null, as to_json wrote them
        "frame": [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
                  for row in result.frame.to_dict(orient="records")],
    }
    return write_model_folder(directory, {"pretrained": result.pretrained, **result.models}, meta)


def load_result(directory: str | os.PathLike) -> DNFResult:
    """Inverse of ``save_result`` (no pickle); the data set is regenerated from the config
    (deterministic). A damaged or inconsistent folder is a ``ValueError`` (a missing file a
    ``FileNotFoundError``); the digests ``save_result`` records are checked."""
    d = check_path("directory", directory)
    meta, models = read_model_folder(d)
    if meta.get("kind") != "dnf":
        raise ValueError(f"{d} does not hold a DNF result (kind {meta.get('kind')!r})")
    try:
        config = config_from_dict("dnf", meta["config"])
        pretrained = models.pop("pretrained")
        frame = pd.DataFrame(meta["frame"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{d}: damaged or inconsistent saved DNF result ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:300]})") from None
    return DNFResult(config, make_dataset(config), pretrained, models, frame)


# --------------------------------------------------------------------------- CLI

PROG = "python -m fpe_empirical.dnf_experiment"
COLUMNS = ["strategy", "seed", "train_accuracy", "test_accuracy", "nonzero", "neurons", "feature_capacity", "mean_cosine"]


def _format_summary(frame: pd.DataFrame) -> str:
    lines = ["strategy   test accuracy (mean ± std, n)   train accuracy   nonzero   neurons"]
    for s, g in frame.groupby("strategy", sort=False):
        te, tr = g["test_accuracy"], g["train_accuracy"]
        sd = te.std(ddof=1) if len(te) > 1 else float("nan")
        lines.append(
            f"{s:<10} {100 * te.mean():6.2f}% ± {100 * sd:5.2f}% (n={len(te)})"
            f"        {100 * tr.mean():6.2f}%   {int(g['nonzero'].iloc[0]):7d}   {int(g['neurons'].iloc[0]):7d}"
        )
    return "\n".join(lines)


def _parser() -> OneLineArgumentParser:
    p = OneLineArgumentParser(prog=PROG, description="Train dense and FPE-split networks on DNF data; print accuracy per strategy.")
    defaults = DNFExperiment()
    for name in ("n_clauses", "clause_size", "hidden", "alpha", "n_samples"):
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    add_schedule_arguments(p, defaults, backend="wide")
    p.add_argument("--out", help="result store directory: each run stored as it finishes, stored runs reused (resume)")
    p.add_argument("--save-models", help="directory: the networks of each run, one folder per config key")
    p.add_argument("--group-size", type=int, default=0, help="configs per training call (0: all at once)")
    return p


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    fields = {**schedule_fields(args), **{name: getattr(args, name)
                                          for name in ("n_clauses", "clause_size", "hidden", "alpha", "n_samples")}}
    configs = [DNFExperiment(seed=s, **fields) for s in args.seeds]
    if args.group_size < 0:
        raise ValueError(f"--group-size must be >= 0, got {args.group_size}")
    store = ResultStore(args.out) if args.out else None
    note = lambda msg: print(f"dnf_experiment: note: {msg}", file=sys.stderr)  # noqa: E731
    frames, pending = store.split_stored(configs, note=note) if store is not None else ({}, configs)
    size = args.group_size or max(len(pending), 1)
    progress = args.progress or sys.stderr.isatty()
    for start in range(0, len(pending), size):
        for r in train_dnf_many(pending[start : start + size], backend=args.backend, progress=progress):
            key = config_key(r.config)
            frames[key] = r.frame
            if store is not None:
                store.put(r.config, r.frame)
            if args.save_models:
                save_result(r, Path(args.save_models) / key)
    frame = pd.concat([frames[config_key(c)] for c in dict.fromkeys(configs)], ignore_index=True)
    with pd.option_context("display.width", 160, "display.max_rows", 200):
        print(frame[COLUMNS].sort_values(["strategy", "seed"]).to_string(index=False))
    print()
    print(_format_summary(frame))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; exit code 2 with one line on stderr for bad input."""
    return run_main(_main, argv, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
