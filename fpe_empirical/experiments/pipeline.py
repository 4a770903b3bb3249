"""The staged pipeline every network experiment shares: pretrain -> split -> fine-tune -> rows.

``run_pipeline(configs, stages)`` runs the stages over *all* configs of one call, so the
chosen trainer (``training.backends``: ``"loop"``, ``"ensemble"``, ``"auto"`` or ``"wide"``) sees every
model of a phase at once:

1. data: ``stages.data(config)``;
2. dense models: ``stages.dense(config, data)`` (built with ``seeded_init``: under the init
   seed, the global RNG untouched);
3. phase 1: one ``train_many`` call, ``config.settings("pretrain")`` for every dense model;
4. split: per config and strategy, ``"dense"`` is a copy of the pre-trained model (the
   control), any other strategy ``stages.split(config, pretrained, strategy, data)``;
5. phase 2: one ``train_many`` call, ``config.settings("split")``, a fresh Adam for every
   model, the dense control included (all strategies are treated alike); a strategy for which
   ``stages.alone(strategy)`` is true trains on its own by ``stages.train_alone`` (rewiring);
6. rows: ``stages.row(config, data, strategy, model)`` plus the facts named in
   ``stages.facts`` (below), then ``relative_improvement`` over the dense control.

Facts: ``pretrain_test_accuracy``, ``pretrain_final_loss`` (the dense model after phase 1),
``split_test_accuracy`` and ``split_nonzero`` (right after the split), ``final_loss`` (last
epoch of phase 2), ``n_rewires`` and ``rewired_weights`` (what ``train_alone`` reports).

Seeds: every random stream comes from ``derive_seed(config.seed, role)``, the first word of
``numpy.random.SeedSequence([seed, ROLES[role]])``; roles: ``data`` (data generation and
split), ``init`` (dense initialisation), ``pretrain_order`` (phase-1 batch order), ``split``
(the partition), ``finetune_order`` (phase-2 batch order), ``rewire``. Paired design: all
strategies of one seed share the pre-trained model, the split seed and the phase-2 batch
order, so strategy differences are not confounded with data-order noise.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..nn.models import MLP, count_nonzero
from ..training.backends import train_many
from ..training.settings import TrainHistory, TrainSettings

__all__ = ["ROLES", "derive_seed", "seeded_init", "check_strategies", "TwoPhases", "add_schedule_arguments", "schedule_fields", "Stages", "Trained", "run_pipeline", "relative_improvement_column"]

#: seed role -> code in the SeedSequence entropy
ROLES = {"data": 0, "init": 1, "pretrain_order": 2, "split": 3, "finetune_order": 4, "rewire": 5}


def derive_seed(seed: int, role: str) -> int:
    """A 32-bit seed for stream ``role`` of run ``seed``: ``SeedSequence([seed, ROLES[role]])``."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {sorted(ROLES)}, got {role!r}")
    return int(np.random.SeedSequence([int(seed), ROLES[role]]).generate_state(1, np.uint32)[0])


class TwoPhases:
    """Mixin of a pipeline config: ``settings(phase)`` from its fields ``pretrain_epochs``,
    ``split_epochs``, ``batch_size``, ``lr``, ``weight_decay`` and ``l1``."""

    def settings(self, phase: str) -> TrainSettings:
        """``TrainSettings`` of ``phase`` ("pretrain" or "split")."""
        epochs = {"pretrain": self.pretrain_epochs, "split": self.split_epochs}[phase]
        return TrainSettings(epochs=epochs, batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
                             l1=self.l1)


@dataclass(frozen=True)
class Stages:
    """What an experiment kind plugs into the pipeline (module docstring): its config class,
    its result class (a ``Trained``) and the stage functions."""

    config: type
    result: type
    data: Callable[[Any], Any]
    dense: Callable[[Any, Any], MLP]
    split: Callable[[Any, MLP, str, Any], MLP]
    row: Callable[[Any, Any, str, MLP], dict]
    facts: tuple[str, ...]
    alone: Callable[[str], bool] = lambda strategy: False
    train_alone: Callable[[Any, Any, str, MLP], tuple[TrainHistory, dict]] | None = None


@dataclass
class Trained:
    """One config's outcome: its data, the pre-trained dense model, the final models per
    strategy, the tidy frame and every history (``"pretrain"`` and one per strategy)."""

    config: Any
    data: Any
    pretrained: MLP
    models: dict[str, MLP]
    frame: pd.DataFrame
    histories: dict[str, TrainHistory] = field(default_factory=dict)


def check_strategies(strategies, allowed: Sequence[str]) -> tuple[str, ...]:
    """``strategies`` as a non-empty tuple of distinct names drawn from ``allowed``."""
    if isinstance(strategies, str) or not isinstance(strategies, (tuple, list)):
        raise TypeError(f"strategies must be a tuple of names, got {type(strategies).__name__}")
    strategies = tuple(strategies)
    if not strategies:
        raise ValueError("strategies must name at least one strategy")
    for s in strategies:
        if s not in allowed:
            raise ValueError(f"strategies must be drawn from {list(allowed)}, got {s!r}")
    if len(set(strategies)) != len(strategies):
        raise ValueError(f"strategies must not repeat, got {strategies}")
    return strategies


#: the ``TwoPhases`` fields every pipeline CLI sets (``--pretrain-epochs`` ...)
SCHEDULE_FIELDS = ("pretrain_epochs", "split_epochs", "lr", "l1", "weight_decay")


def add_schedule_arguments(parser, defaults: TwoPhases, *, backend: str) -> None:
    """The options every pipeline CLI shares: ``--strategies``, ``--seeds``, the schedule
    (``SCHEDULE_FIELDS``), ``--backend`` (default ``backend``) and ``--progress``."""
    parser.add_argument("--strategies", nargs="+", default=list(defaults.strategies))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    for name in SCHEDULE_FIELDS:
        value = getattr(defaults, name)
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--backend", choices=["loop", "ensemble", "auto", "wide"], default=backend,
                        help="train_many backend: 'auto' stacks the models into batched ensembles (fast), "
                             "'wide' trains models that see the same batches as one wide layer (fastest, "
                             "one-hidden-layer binary models), 'loop' is the reference")
    parser.add_argument("--progress", action="store_true", help="progress bars even when stderr is not a TTY")


def schedule_fields(args) -> dict:
    """The config fields of ``add_schedule_arguments``'s options (``strategies`` and the schedule)."""
    return {"strategies": tuple(args.strategies), **{name: getattr(args, name) for name in SCHEDULE_FIELDS}}


def relative_improvement_column(frame: pd.DataFrame) -> pd.Series | float:
    """``(test_accuracy - dense) / dense`` per row, dense being the frame's ``"dense"`` row
    (NaN without one, or when it is 0)."""
    dense = frame.loc[frame.strategy == "dense", "test_accuracy"]
    if not len(dense) or not dense.iloc[0] > 0:
        return float("nan")
    return (frame["test_accuracy"] - dense.iloc[0]) / dense.iloc[0]


def seeded_init(seed: int, build: Callable[[], MLP]) -> MLP:
    """``build()`` under ``torch.manual_seed(derive_seed(seed, "init"))``, the global RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "init"))
        return build()


def _last(history: TrainHistory) -> float:
    return history.epoch_loss[-1] if history.epoch_loss else float("nan")


def run_pipeline(configs: Sequence, stages: Stages, *, backend: str, progress: bool = False) -> list[Trained]:
    """Run ``configs`` (instances of ``stages.config``) through the stages (module
    docstring); one ``stages.result`` each, in order."""
    configs = list(configs)
    for c in configs:
        if not isinstance(c, stages.config):
            raise TypeError(f"configs must be {stages.config.__name__} instances, got {type(c).__name__}")
    datas = [stages.data(c) for c in configs]
    dense = [stages.dense(c, d) for c, d in zip(configs, datas)]
    pre_hist = train_many(
        dense,
        [(d.X_train, d.y_train) for d in datas],
        [c.settings("pretrain") for c in configs],
        [derive_seed(c.seed, "pretrain_order") for c in configs],
        backend=backend,
        progress=progress,
    )
    jobs = []  # (config index, strategy, model)
    for i, (c, d, m) in enumerate(zip(configs, datas, dense)):
        for s in c.strategies:
            jobs.append((i, s, copy.deepcopy(m) if s == "dense" else stages.split(c, m, s, d)))
    facts: list[dict[str, Any]] = [
        {"split_test_accuracy": m.accuracy(datas[i].X_test, datas[i].y_test), "split_nonzero": count_nonzero(m),
         "n_rewires": 0, "rewired_weights": 0}
        for i, _, m in jobs
    ]
    hist: dict[int, TrainHistory] = {}
    together = [j for j, (_, s, _) in enumerate(jobs) if not stages.alone(s)]
    if together:
        out = train_many(
            [jobs[j][2] for j in together],
            [(datas[jobs[j][0]].X_train, datas[jobs[j][0]].y_train) for j in together],
            [configs[jobs[j][0]].settings("split") for j in together],
            [derive_seed(configs[jobs[j][0]].seed, "finetune_order") for j in together],
            backend=backend,
            progress=progress,
        )
        hist.update(zip(together, out))
    for j, (i, s, model) in enumerate(jobs):
        if j not in hist:
            hist[j], extra = stages.train_alone(configs[i], datas[i], s, model)
            facts[j].update(extra)
    results = []
    for i, (c, d, m) in enumerate(zip(configs, datas, dense)):
        known = {"pretrain_test_accuracy": m.accuracy(d.X_test, d.y_test), "pretrain_final_loss": _last(pre_hist[i])}
        rows, models, hists = [], {}, {"pretrain": pre_hist[i]}
        for j, (ci, s, model) in enumerate(jobs):
            if ci != i:
                continue
            every = {**known, **facts[j], "final_loss": _last(hist[j])}
            rows.append({**stages.row(c, d, s, model), **{f: every[f] for f in stages.facts}})
            models[s] = model
            hists[s] = hist[j]
        frame = pd.DataFrame(rows)
        frame["relative_improvement"] = relative_improvement_column(frame)
        results.append(stages.result(c, d, m, models, frame, hists))
    return results
