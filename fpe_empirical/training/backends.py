"""``train_many``: train many models with fresh optimizers by a trainer chosen by name.

``TRAINERS`` maps a backend name to a trainer with the signature
``fn(models, data, settings, seeds, *, progress) -> list[TrainHistory]``:

- ``"loop"``: ``trainer.train_each``, the reference, one model at a time;
- ``"ensemble"``: ``ensemble.train_ensemble``, every model in stacks (a model that cannot be
  stacked is a ``ValueError``);
- ``"auto"``: the models that can be stacked in stacks, the rest one at a time;
- ``"wide"``: one-hidden-layer binary models by ``wide.train_wide`` (models that see the
  same batches as one wide layer), the rest as ``"auto"``.

Every trainer keeps the contract: the result equals ``[train(m, X, y, s, seed=seed)[1] for
...]`` up to float reassociation when batched. The trainers do not know each other; the
caller (the experiment pipeline) picks one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..nn.models import MLP
from .ensemble import ensemble_compatible, train_ensemble
from .settings import TrainHistory, TrainSettings, check_data, check_seed, per_model
from .trainer import train_each
from .wide import train_wide, wide_compatible

__all__ = ["TRAINERS", "train_many", "train_auto", "train_wide_auto"]


def _dispatch(parts, models, data, settings, seeds, progress) -> list[TrainHistory]:
    """Run each ``(indices, trainer)`` of ``parts`` on its models; results in the models' order."""
    out: list[TrainHistory | None] = [None] * len(models)
    for idx, fn in parts:
        if idx:
            hist = fn([models[i] for i in idx], [data[i] for i in idx], [settings[i] for i in idx],
                      [seeds[i] for i in idx], progress=progress)
            for i, h in zip(idx, hist):
                out[i] = h
    return out  # type: ignore[return-value]


def train_auto(models, data, settings, seeds, *, progress: bool = False) -> list[TrainHistory]:
    """Stack the models ``ensemble_compatible`` accepts, train the others one at a time."""
    stacked = [i for i, m in enumerate(models) if ensemble_compatible(m) is None]
    looped = sorted(set(range(len(models))) - set(stacked))
    return _dispatch(((stacked, train_ensemble), (looped, train_each)), models, data, settings, seeds, progress)


def train_wide_auto(models, data, settings, seeds, *, progress: bool = False) -> list[TrainHistory]:
    """``wide.train_wide`` for the ``wide_compatible`` models with float32 data, ``train_auto``
    for the rest."""
    wide = [i for i, m in enumerate(models) if wide_compatible(m) is None and data[i][0].dtype == torch.float32]
    rest = sorted(set(range(len(models))) - set(wide))
    return _dispatch(((wide, train_wide), (rest, train_auto)), models, data, settings, seeds, progress)


#: backend name -> trainer
TRAINERS: dict[str, Callable[..., list[TrainHistory]]] = {
    "loop": train_each,
    "ensemble": train_ensemble,
    "auto": train_auto,
    "wide": train_wide_auto,
}


def train_many(
    models: list[MLP],
    data: list[tuple[torch.Tensor, torch.Tensor]],
    settings: list[TrainSettings] | TrainSettings,
    seeds: list[int],
    *,
    backend: str = "loop",
    progress: bool = False,
) -> list[TrainHistory]:
    """Train each ``models[i]`` in place on ``data[i] = (X, y)`` with ``seeds[i]``, fresh Adam,
    by the trainer ``TRAINERS[backend]`` (module docstring); one history per model."""
    settings = per_model(models, data, settings, seeds)
    if backend not in TRAINERS:
        raise ValueError(f"backend must be one of {', '.join(repr(b) for b in TRAINERS)}, got {backend!r}")
    for i, (model, xy, s, seed) in enumerate(zip(models, data, settings, seeds)):
        if not isinstance(xy, (tuple, list)) or len(xy) != 2:
            raise TypeError(f"data[{i}] must be a pair (X, y), got {type(xy).__name__}")
        check_data(model, xy[0], xy[1], f" of data[{i}]")
        if not isinstance(s, TrainSettings):
            raise TypeError(f"settings[{i}] must be a TrainSettings, got {type(s).__name__}")
        check_seed(f"seeds[{i}]", seed)
    return TRAINERS[backend](list(models), list(data), list(settings), list(seeds), progress=progress)
