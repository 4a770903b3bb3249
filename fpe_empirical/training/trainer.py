"""The plain single-model trainer: the readable reference every faster path must match.

``train`` runs ``loop.run_epochs`` with ``loop.model_step``: Adam with coupled L2, L1 on the
first layer's effective weights, a per-epoch ``randperm`` from a generator seeded with
``seed``, ``apply_masks_`` after every step (``settings`` has the exact semantics).
"""

from __future__ import annotations

import torch

from ..nn.models import MLP
from .loop import model_step, run_epochs
from .settings import TrainHistory, TrainSettings, check_data, check_seed, make_optimizer

__all__ = ["train", "train_each"]


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
    check_data(model, X, y)
    if not isinstance(settings, TrainSettings):
        raise TypeError(f"settings must be a TrainSettings, got {type(settings).__name__}")
    seed = check_seed("seed", seed)
    opt = optimizer if optimizer is not None else make_optimizer(model, settings)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    losses = run_epochs(X.shape[0], settings, [gen], model_step(model, opt, X, y, settings))
    model.eval()
    return opt, TrainHistory(losses)


def train_each(
    models: list[MLP],
    data: list[tuple[torch.Tensor, torch.Tensor]],
    settings: list[TrainSettings],
    seeds: list[int],
    *,
    progress: bool = False,
) -> list[TrainHistory]:
    """``[train(m, X, y, s, seed=seed)[1] for ...]``: the reference, one model at a time."""
    from tqdm.auto import tqdm

    return [train(model, X, y, s, seed=seed)[1]
            for model, (X, y), s, seed in tqdm(list(zip(models, data, settings, seeds)), desc="train",
                                               disable=not progress, leave=False)]
