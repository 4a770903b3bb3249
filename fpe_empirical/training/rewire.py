"""Dynamic rewiring of FPE masks (paper A.7, inspired by RigL, Evci et al. 2020).

"After the initial FPE split, we periodically update the sparsity mask by randomly unmasking
a fraction of weights and, to maintain a fixed parameter count, re-pruning an equal number of
the lowest-magnitude weights." ``rewire_`` is one such update; ``train_rewiring`` is the
reference trainer (``trainer.train``: the same loop and step) that calls it every ``every`` steps.

One rewire of layer ``l`` with ``A_l = sum(mask_l)`` active entries (in place):

1. ``k_l = min(floor(fraction * A_l), #inactive entries)``;
2. **prune first**: the ``k_l`` active entries of smallest ``|weight|`` leave the mask
   (ties: lower row-major index first); weight and every weight-shaped optimizer state
   (Adam's moments) are set to exactly 0;
3. **then grow**: ``k_l`` entries drawn uniformly without replacement from those that were
   inactive *before* step 2 join the mask, with weight 0 and optimizer state 0 (RigL's
   zero initialisation).

Order matters: grown weights start at zero, so a prune after the grow would pick them as
the smallest and undo the rewire; pruning among the old active weights first, and growing
only among entries that were inactive before, makes every rewire change exactly ``2 k_l``
mask entries (``k_l`` out, ``k_l`` in).

Scope: by default every *split* layer (a ``MaskedLinear`` whose ``parent_index`` is not
``arange``, i.e. the layers ``fpe_expand`` split: hidden layer 1, or 1, 3, 5, ... with
``layers="alternate"``); the widened layer after a split layer keeps its mask. Pass
``layers=`` (indices into ``model.layers``) to choose others. Each layer's count is kept on
its own, so per layer ``sum(mask)`` is exactly unchanged (asserted).

What stays fixed. The *parameter budget* ``sum of mask entries + number of entries of every
other parameter`` (biases, LayerNorm gain and bias: the entries allowed to be non-zero) is
exactly unchanged by a rewire (asserted), and ``count_nonzero(model) <= budget`` always
(asserted). Right after ``fpe_expand`` of a trained model (no bias or norm entry exactly 0)
the budget equals ``count_nonzero(model)``. ``count_nonzero`` can sit below the budget while
a grown weight is still exactly zero (it becomes non-zero at the next optimizer step whose
gradient for it is non-zero; an input that is always 0, like a blank border pixel, never
moves it).

Adam keeps one step counter per tensor, so a grown entry's moments restart at zero under
the tensor's current bias correction: its first update is ``lr * (1 - b1) / sqrt(1 - b2)``
times ``sign(g)``, about ``3.2 lr``, as in RigL's TensorFlow implementation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from fpe_common.checks import check_fraction, check_int

from ..nn.models import MLP, MaskedLinear, count_nonzero
from .loop import model_step, run_epochs
from .settings import TrainHistory, TrainSettings, make_optimizer

__all__ = ["rewire_", "RewireReport", "parameter_budget", "split_layers", "train_rewiring", "rewire_steps"]


@dataclass(frozen=True)
class RewireReport:
    """What one ``rewire_`` call changed.

    layers: indices (into ``model.layers``) that were rewired; pruned / grown: per layer, the
    flat (row-major) indices of the entries that left / joined the mask (equal lengths);
    budget: the parameter budget (unchanged).
    """

    layers: tuple[int, ...]
    pruned: dict[int, np.ndarray]
    grown: dict[int, np.ndarray]
    budget: int

    @property
    def n_changed(self) -> int:
        """Mask entries moved (pruned, which equals grown)."""
        return int(sum(v.size for v in self.pruned.values()))


def split_layers(model: MLP) -> list[int]:
    """Indices of the layers of ``model`` whose units descend from split parents."""
    out = []
    for i, layer in enumerate(model.layers):
        pi = layer.parent_index
        if not torch.equal(pi, torch.arange(pi.numel(), device=pi.device)):
            out.append(i)
    return out


@torch.no_grad()
def parameter_budget(model: nn.Module) -> int:
    """``sum(mask)`` over every ``MaskedLinear`` plus ``numel`` of every other parameter.

    The number of parameter entries allowed to be non-zero, so ``count_nonzero(model) <=
    budget``, with equality when no such entry is exactly 0. Training cannot change it.
    """
    total = 0
    seen: set[int] = set()
    for m in model.modules():
        if isinstance(m, MaskedLinear):
            total += int(m.mask.sum())
            seen.add(id(m.weight))
    for p in model.parameters():
        if id(p) not in seen:
            total += p.numel()
    return total


def _resolve_layers(model: MLP, layers: Sequence[int] | None) -> list[int]:
    if layers is None:
        chosen = split_layers(model)
        if not chosen:
            raise ValueError("model has no split layer (every parent_index is arange); pass layers= explicitly")
        return chosen
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise TypeError(f"layers must be a sequence of layer indices, got {type(layers).__name__}")
    out = []
    for i in layers:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"layers must hold ints, got {type(i).__name__}")
        if not 0 <= int(i) < len(model.layers):
            raise ValueError(f"layers must be indices in [0, {len(model.layers)}), got {int(i)}")
        out.append(int(i))
    if len(set(out)) != len(out):
        raise ValueError(f"layers must not repeat, got {out}")
    return sorted(out)


def _zero_state(optimizer: torch.optim.Optimizer | None, weight: torch.Tensor, flat: torch.Tensor) -> None:
    if optimizer is None:
        return
    state = optimizer.state.get(weight)
    if not state:
        return
    for value in state.values():
        if torch.is_tensor(value) and value.shape == weight.shape:
            value.view(-1)[flat] = 0


@torch.no_grad()
def rewire_(
    model: MLP,
    fraction: float,
    *,
    seed: int,
    optimizer: torch.optim.Optimizer | None = None,
    layers: Sequence[int] | None = None,
) -> RewireReport:
    """Prune ``floor(fraction * active)`` smallest-|w| active weights, then grow as many at random.

    Per layer in ``layers`` (default: the split layers), in place; grown entries are drawn
    from those inactive before the prune (``numpy.random.default_rng([seed, layer])``),
    start at weight 0 with zeroed optimizer state. The parameter budget and each layer's
    ``sum(mask)`` are exactly unchanged (asserted). See the module docstring.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be an fpe_empirical.MLP, got {type(model).__name__}")
    fraction = check_fraction("fraction", fraction)
    seed = check_int("seed", seed, 0)
    chosen = _resolve_layers(model, layers)
    budget = parameter_budget(model)
    pruned: dict[int, np.ndarray] = {}
    grown: dict[int, np.ndarray] = {}
    for li in chosen:
        layer = model.layers[li]
        mask = layer.mask.view(-1)
        w = layer.weight.view(-1)
        active = torch.nonzero(mask).view(-1)  # ascending flat indices
        inactive = torch.nonzero(~mask).view(-1)
        n_active = int(active.numel())
        k = min(int(math.floor(fraction * n_active)), int(inactive.numel()))
        if k == 0:
            pruned[li] = np.zeros(0, dtype=np.int64)
            grown[li] = np.zeros(0, dtype=np.int64)
            continue
        # prune: k smallest |w| among the active entries; stable sort breaks ties by index
        mags = w[active].abs().double().cpu().numpy()
        drop = active[torch.from_numpy(np.argsort(mags, kind="stable")[:k]).to(active.device)]
        # grow: k uniformly random entries among those inactive before the prune
        rng = np.random.default_rng([seed, li])
        pick = rng.choice(inactive.numel(), size=k, replace=False)
        add = inactive[torch.from_numpy(np.sort(pick)).to(inactive.device)]
        before = int(mask.sum())
        mask[drop] = False
        w[drop] = 0
        _zero_state(optimizer, layer.weight, drop)
        mask[add] = True
        w[add] = 0
        _zero_state(optimizer, layer.weight, add)
        if int(mask.sum()) != before:  # pragma: no cover - guarded invariant
            raise RuntimeError(f"rewire_: layer {li} mask count {int(mask.sum())} != {before}")
        pruned[li] = drop.cpu().numpy().astype(np.int64)
        grown[li] = add.cpu().numpy().astype(np.int64)
    after = parameter_budget(model)
    if after != budget:  # pragma: no cover - guarded invariant
        raise RuntimeError(f"rewire_: parameter budget {after} != {budget}")
    nnz = count_nonzero(model)
    if nnz > budget:  # pragma: no cover - guarded invariant
        raise RuntimeError(f"rewire_: count_nonzero {nnz} exceeds the budget {budget}")
    return RewireReport(tuple(chosen), pruned, grown, budget)


def rewire_steps(total_steps: int, every: int, stop: float) -> list[int]:
    """Optimizer steps after which a rewire happens: ``every, 2 every, ... <= stop * total``.

    ``every == 0`` means never. (RigL stops updating masks at 75% of training, so the last
    grown weights still get trained; ``stop`` is that fraction.)
    """
    if every <= 0:
        return []
    last = math.floor(stop * total_steps)
    return list(range(every, last + 1, every))


def train_rewiring(
    model: MLP,
    X: torch.Tensor,
    y: torch.Tensor,
    settings: TrainSettings,
    *,
    seed: int,
    every: int,
    fraction: float,
    rewire_seed: int,
    stop: float = 0.75,
    layers: Sequence[int] | None = None,
) -> tuple[torch.optim.Optimizer, TrainHistory, list[RewireReport]]:
    """``trainer.train`` (the same loop and step) plus ``rewire_`` every ``every`` optimizer steps.

    After optimizer step ``t`` (counted from 1 over the whole phase) with ``t`` in
    ``rewire_steps(total, every, stop)``, calls ``rewire_(model, fraction, seed=
    SeedSequence([rewire_seed, t]) word 0, optimizer=opt, layers=layers)``. With no rewire
    step (``every=0``, or ``fraction=0``) the result equals ``trainer.train`` exactly.
    Returns the optimizer, the history and one report per rewire.
    """
    if X.ndim != 2 or X.shape[1] != model.in_features:
        raise ValueError(f"X must have shape (n, {model.in_features}), got {tuple(X.shape)}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), got {tuple(y.shape)}")
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise ValueError(f"every must be an integer >= 0 (optimizer steps; 0 = never), got {every!r}")
    fraction = check_fraction("fraction", fraction)
    if isinstance(stop, bool) or not isinstance(stop, (int, float)) or not 0.0 <= stop <= 1.0:
        raise ValueError(f"stop must lie in [0, 1] (fraction of the phase's steps), got {stop!r}")
    rewire_seed = check_int("rewire_seed", rewire_seed, 0)
    n = X.shape[0]
    when = set(rewire_steps(settings.epochs * math.ceil(n / settings.batch_size), every, stop))
    opt = make_optimizer(model, settings)
    reports: list[RewireReport] = []

    def after_step(t: int) -> None:
        if t in when and fraction > 0:
            s = int(np.random.SeedSequence([rewire_seed, t]).generate_state(1, np.uint32)[0])
            reports.append(rewire_(model, fraction, seed=s, optimizer=opt, layers=layers))

    model.train()
    losses = run_epochs(n, settings, [torch.Generator().manual_seed(int(seed))], model_step(model, opt, X, y, settings),
                        after_step=after_step)
    model.eval()
    return opt, TrainHistory(losses), reports
