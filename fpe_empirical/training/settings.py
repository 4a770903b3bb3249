"""What every trainer shares: one phase's hyper-parameters, its history, the optimizer, the
L1 term and the input checks.

Semantics (``train`` is the reference; every faster path reproduces it):

- optimizer: ``torch.optim.Adam(params, lr, weight_decay)``; weight decay is Adam's
  coupled L2 on *all* parameters (paper A.3: "L2 on all parameters").
- loss per step: ``model.loss(logits, y_batch) + l1 * sum(|W1 * M1|)`` (mean data loss plus
  L1 on the effective first-layer weights; paper A.3: "L1 on W1").
- data order: each epoch draws ``torch.randperm(n_train, generator=g)`` from one
  ``torch.Generator`` seeded with ``seed``; batches are consecutive slices of it of size
  ``batch_size``, the last (partial) batch kept (``loop.run_epochs``).
- after every optimizer step: ``apply_masks_(model, optimizer)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from fpe_common.checks import check_float, check_int

from ..nn.models import MLP

__all__ = ["TrainSettings", "TrainHistory", "make_optimizer", "l1_penalty", "check_data", "check_seed", "per_model"]


@dataclass(frozen=True)
class TrainSettings:
    """Hyper-parameters of one training phase."""

    epochs: int
    batch_size: int = 500
    lr: float = 1e-3
    weight_decay: float = 0.0  # Adam's coupled L2, all parameters
    l1: float = 0.0  # coefficient of sum |W1| (first layer, effective weights)

    def __post_init__(self) -> None:
        for name, minimum in (("epochs", 0), ("batch_size", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):  # a Python int: it is hashed and printed
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            check_int(name, value, minimum)
        check_float("lr", self.lr, positive=True)
        check_float("weight_decay", self.weight_decay)
        check_float("l1", self.l1)

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


def check_data(model, X, y, where: str = "") -> None:
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


def per_model(models, data, settings, seeds) -> list[TrainSettings]:
    """``settings`` as one ``TrainSettings`` per model (one given for all is repeated),
    after checking that models, data, settings and seeds have equal lengths."""
    n = len(models)
    if isinstance(settings, TrainSettings):
        settings = [settings] * n
    if not (len(data) == len(settings) == len(seeds) == n):
        raise ValueError(
            f"models, data, settings and seeds must have equal lengths, got "
            f"{n}, {len(data)}, {len(settings)}, {len(seeds)}"
        )
    return list(settings)


def check_seed(name: str, seed) -> int:
    """A seed of ``torch.Generator.manual_seed``: an integer in ``[0, 2**64)``."""
    return check_int(name, seed, 0, below=2**64)
