"""The training loop every trainer runs (``train``, ``train_rewiring``, ``train_ensemble``).

``run_epochs`` owns the schedule and the bookkeeping; a trainer supplies one optimizer step:

- data order: each epoch, member ``m`` draws ``torch.randperm(n, generator=generators[m])``;
- batches: consecutive slices of that permutation of ``settings.batch_size`` rows, the last
  (partial) batch kept; ``step(j, rows)`` takes one optimizer step on batch ``j`` (``rows``:
  ``(members, b)`` row indices) and returns its objective (a float for one model, an
  ``(members,)`` tensor for a stack);
- ``after_step(t)`` runs after optimizer step ``t`` (counted from 1 over the phase): where
  rewiring changes the masks;
- the epoch loss is the mean of the step objectives over the epoch, summed in the order of
  the steps (for a stack in the stack's dtype, for one model in Python floats).

``model_step`` is the step of one model with autograd: the reference semantics of
``settings`` (loss + L1 on the effective first layer, Adam, masks re-applied after the step).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..nn.models import MLP, apply_masks_
from .settings import TrainSettings, l1_penalty

__all__ = ["run_epochs", "model_step"]

Step = Callable[[int, torch.Tensor], Any]


def run_epochs(
    n: int,
    settings: TrainSettings,
    generators: Sequence[torch.Generator],
    step: Step,
    *,
    begin_epoch: Callable[[torch.Tensor], None] | None = None,
    after_step: Callable[[int], None] | None = None,
    progress: str | None = None,
) -> list:
    """Run ``settings.epochs`` epochs of ``step`` over ``n`` training rows (module docstring).

    ``begin_epoch(perms)`` sees each epoch's ``(members, n)`` permutations first (a stack
    gathers its batches from them). ``progress``: a tqdm bar over epochs with this label.
    Returns each epoch's mean objective (a float, or what ``step`` returns divided by the
    number of steps).
    """
    epochs: Any = range(settings.epochs)
    if progress is not None:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc=progress, leave=False)
    bs = settings.batch_size
    t = 0
    means = []
    for _ in epochs:
        perms = torch.stack([torch.randperm(n, generator=g) for g in generators])  # (members, n)
        if begin_epoch is not None:
            begin_epoch(perms)
        total: Any = 0.0
        steps = 0
        for j, start in enumerate(range(0, n, bs)):
            total = total + step(j, perms[:, start : start + bs])
            steps += 1
            t += 1
            if after_step is not None:
                after_step(t)
        means.append(total / max(steps, 1))
    if progress is not None:
        epochs.close()
    return means


def model_step(model: MLP, optimizer: torch.optim.Optimizer, X: torch.Tensor, y: torch.Tensor,
               settings: TrainSettings) -> Step:
    """One autograd step of ``model`` on rows ``rows[0]`` of ``(X, y)``: mean data loss plus
    ``l1 * sum |W1 * M1|``, zero_grad, backward, ``optimizer.step()``, ``apply_masks_``;
    returns the objective as a float."""

    def step(j: int, rows: torch.Tensor) -> float:
        idx = rows[0]
        loss = model.loss(model(X[idx]), y[idx])
        if settings.l1:
            loss = loss + settings.l1 * l1_penalty(model)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        apply_masks_(model, optimizer)
        return float(loss.detach())

    return step
