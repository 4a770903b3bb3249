"""The plain single-model trainer: the readable reference every faster path must match.

Semantics (the batched ensemble trainer in ``ensemble.py`` reproduces them exactly):

- optimizer: ``torch.optim.Adam(params, lr, weight_decay)``; weight decay is Adam's
  coupled L2 on *all* parameters (paper A.3: "L2 on all parameters").
- loss per step: ``model.loss(logits, y_batch) + l1 * sum(|W1 * M1|)`` (mean data loss plus
  L1 on the effective first-layer weights; paper A.3: "L1 on W1").
- data order: each epoch draws ``torch.randperm(n_train, generator=g)`` from one
  ``torch.Generator`` seeded with ``seed``; batches are consecutive slices of it of size
  ``batch_size``, the last (partial) batch kept.
- after every optimizer step: ``apply_masks_(model, optimizer)``.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .models import MLP, apply_masks_

__all__ = ["TrainSettings", "TrainHistory", "train", "train_many", "make_optimizer", "l1_penalty"]


@dataclass(frozen=True)
class TrainSettings:
    """Hyper-parameters of one training phase."""

    epochs: int
    batch_size: int = 500
    lr: float = 1e-3
    weight_decay: float = 0.0  # Adam's coupled L2, all parameters
    l1: float = 0.0  # coefficient of sum |W1| (first layer, effective weights)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if self.epochs < 0:
            raise ValueError(f"epochs must be an integer >= 0, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {self.batch_size}")
        for name in ("lr", "weight_decay", "l1"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise TypeError(f"{name} must be a float, got {type(value).__name__}")
            if not math.isfinite(value) or value < 0 or (name == "lr" and value == 0):
                rule = "> 0" if name == "lr" else ">= 0"
                raise ValueError(f"{name} must be a finite float {rule}, got {value}")

    def replace(self, **changes) -> "TrainSettings":
        return dataclasses.replace(self, **changes)


@dataclass
class TrainHistory:
    """Per-epoch mean of the training objective (data loss + L1 term)."""

    epoch_loss: list[float] = dataclasses.field(default_factory=list)


def make_optimizer(model: nn.Module, settings: TrainSettings) -> torch.optim.Adam:
    """``Adam(model.parameters(), lr, weight_decay)`` as the reference semantics use it."""
    return torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)


def l1_penalty(model: MLP) -> torch.Tensor:
    """``sum |W1 * M1|`` over the first layer's effective weights."""
    return model.layers[0].masked_weight().abs().sum()


def _check_data(model, X, y, where: str = "") -> None:
    """X a finite (n, in_features) float tensor, y (n,) integer labels the head can take."""
    if not isinstance(model, MLP):
        raise TypeError(f"model{where} must be an fpe_empirical.MLP, got {type(model).__name__}")
    if not torch.is_tensor(X) or not torch.is_floating_point(X):
        raise TypeError(f"X{where} must be a floating-point torch.Tensor, got {type(X).__name__} {getattr(X, 'dtype', '')}")
    if X.ndim != 2 or X.shape[1] != model.in_features:
        raise ValueError(f"X{where} must have shape (n, {model.in_features}), got {tuple(X.shape)}")
    if not torch.isfinite(X).all():  # NaN/inf inputs would train a NaN model without a word
        raise ValueError(f"X{where} must be finite (no NaN or inf)")
    if not torch.is_tensor(y) or y.dtype == torch.bool or torch.is_floating_point(y) or torch.is_complex(y):
        raise TypeError(f"y{where} must be an integer torch.Tensor of class labels, got {type(y).__name__} {getattr(y, 'dtype', '')}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y{where} must have shape ({X.shape[0]},), got {tuple(y.shape)}")
    n_classes = 2 if model.out_features == 1 else model.out_features
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= n_classes):
        raise ValueError(f"y{where} must hold labels in 0..{n_classes - 1} (the model's head), "
                         f"got {int(y.min())}..{int(y.max())}")


def _check_seed(name: str, seed) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"{name} must be an integer in [0, 2**64), got {seed}")
    return seed


def train(
    model: MLP,
    X: torch.Tensor,
    y: torch.Tensor,
    settings: TrainSettings,
    *,
    seed: int,
    optimizer: torch.optim.Optimizer | None = None,
) -> tuple[torch.optim.Optimizer, TrainHistory]:
    """Train ``model`` in place on ``(X, y)``; return the optimizer (to continue) and history.

    X: (n_train, in_features) float; y: (n_train,) labels. Pass ``optimizer`` to continue
    a previous phase with its state; otherwise a fresh Adam is made.
    """
    _check_data(model, X, y)
    if not isinstance(settings, TrainSettings):
        raise TypeError(f"settings must be a TrainSettings, got {type(settings).__name__}")
    _check_seed("seed", seed)
    opt = optimizer if optimizer is not None else make_optimizer(model, settings)
    gen = torch.Generator().manual_seed(int(seed))
    history = TrainHistory()
    n = X.shape[0]
    model.train()
    for _ in range(settings.epochs):
        perm = torch.randperm(n, generator=gen)
        total, steps = 0.0, 0
        for start in range(0, n, settings.batch_size):
            idx = perm[start : start + settings.batch_size]
            loss = model.loss(model(X[idx]), y[idx])
            if settings.l1:
                loss = loss + settings.l1 * l1_penalty(model)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            apply_masks_(model, opt)
            total += float(loss.detach())
            steps += 1
        history.epoch_loss.append(total / max(steps, 1))
    model.eval()
    return opt, history


def train_many(
    models: list[MLP],
    data: list[tuple[torch.Tensor, torch.Tensor]],
    settings: list[TrainSettings] | TrainSettings,
    seeds: list[int],
    *,
    backend: str = "loop",
    progress: bool = False,
) -> list[TrainHistory]:
    """Train each ``models[i]`` in place on ``data[i] = (X, y)`` with ``seeds[i]``, fresh Adam.

    Contract: the result equals ``[train(m, X, y, s, seed=seed)[1] for ...]`` (up to float
    reassociation when batched). ``backend="loop"`` is that reference loop; faster backends
    (the batched ensemble in ``ensemble.py``) must keep the contract.
    ``backend="ensemble"`` trains every model in stacks (``ensemble.train_ensemble``; a
    model that cannot be stacked is a ValueError); ``backend="auto"`` stacks the models
    that can be stacked and loops over the rest.
    """
    n = len(models)
    if isinstance(settings, TrainSettings):
        settings = [settings] * n
    if not (len(data) == len(settings) == len(seeds) == n):
        raise ValueError(
            f"models, data, settings and seeds must have equal lengths, got "
            f"{n}, {len(data)}, {len(settings)}, {len(seeds)}"
        )
    if backend not in ("loop", "ensemble", "auto"):
        raise ValueError(f"backend must be 'loop', 'ensemble' or 'auto', got {backend!r}")
    for i, (model, xy, s, seed) in enumerate(zip(models, data, settings, seeds)):
        if not isinstance(xy, (tuple, list)) or len(xy) != 2:
            raise TypeError(f"data[{i}] must be a pair (X, y), got {type(xy).__name__}")
        _check_data(model, xy[0], xy[1], f" of data[{i}]")
        if not isinstance(s, TrainSettings):
            raise TypeError(f"settings[{i}] must be a TrainSettings, got {type(s).__name__}")
        _check_seed(f"seeds[{i}]", seed)
    if backend != "loop":
        from .ensemble import ensemble_compatible, train_ensemble

        # "ensemble": stack everything (train_ensemble rejects what cannot be stacked);
        # "auto": stack what can be stacked, loop over the rest
        stacked = [i for i, m in enumerate(models) if backend == "ensemble" or ensemble_compatible(m) is None]
        looped = sorted(set(range(n)) - set(stacked))
        out: list[TrainHistory | None] = [None] * n
        for idx, fn in ((stacked, train_ensemble), (looped, train_many)):
            if idx:
                pick = [models[i] for i in idx], [data[i] for i in idx], [settings[i] for i in idx]
                hist = fn(*pick, [seeds[i] for i in idx], progress=progress)
                for i, h in zip(idx, hist):
                    out[i] = h
        return out  # type: ignore[return-value]
    from tqdm.auto import tqdm

    histories = []
    for model, (X, y), s, seed in tqdm(
        list(zip(models, data, settings, seeds)), desc="train", disable=not progress, leave=False
    ):
        histories.append(train(model, X, y, s, seed=seed)[1])
    return histories


class _CallableModule(type(sys)):
    """``fpe_empirical.train`` names both this module and the function ``train``: once the
    module is imported (``from fpe_empirical.train import TrainSettings``), the package
    attribute is the module, so the module forwards calls to the function (as
    ``fpe_theory.simulate`` does)."""

    def __call__(self, *args, **kwargs):
        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
