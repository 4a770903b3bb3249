"""Fixed Parameter Expansion for any ``torch.nn.Module``: split named ``nn.Linear`` pairs.

``expand_module(module, alpha, strategy=..., seed=..., pairs=None)`` (reached through
``fpe_expand`` for every module that is not the project's ``MLP``) returns a *new* module (a
``deepcopy``; the input is never modified) in which every expanded pair is a pair of
``MaskedLinear`` layers (the masks are buffers, so they survive ``state_dict``):

- a *pair* ``(in_name, out_name)`` names two linear layers (``nn.Linear`` or ``MaskedLinear``)
  joined by an element-wise activation: ``out(act(in(x)))``, ``in.out_features ==
  out.in_features``. ``pairs=None`` detects them: in every ``nn.Sequential``, each
  ``Linear, <element-wise modules>, Linear`` run (at least one element-wise module between:
  an activation or dropout); in every BERT-style layer (a module with ``intermediate.dense``
  and ``output.dense`` linear layers, e.g. ``transformers``' ``BertLayer``), its feed-forward
  block ``(<layer>.intermediate.dense, <layer>.output.dense)``.
- each hidden unit ``p`` of an in-layer becomes ``alpha`` children ``p*alpha + a`` whose masks
  partition the parent's live inputs disjointly (the registered split ``strategy``), each
  child copying the parent's weights on its part and its bias; the out-layer gets one copy of
  the parent's column per child. Pairs are processed in module order; a layer that is the
  out-layer of one pair and the in-layer of the next (a deep ``Sequential``) is first widened,
  then split, so every hidden layer of the stack is expanded.
- the split adds the bias copies and the column copies; the smallest-magnitude live weights
  of all touched layers, pooled, are pruned (ties: layer order, then row-major position; a
  stable sort) until ``count_nonzero(new) == count_nonzero(module)`` exactly: the same rule as
  the MLP path (``fpe_empirical.nn.expand``). Biases and other parameters are never pruned.

All randomness comes from ``numpy.random.default_rng(seed)`` in a fixed order (pairs in
module order, parents in order): same arguments, same module.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from fpe_common.checks import check_int

from .models import MaskedLinear, count_nonzero
from .strategies import STRATEGIES as _REGISTRY, LayerSplit, SplitStrategy, get_strategy
from .strategies.random import GroupedPartition

__all__ = ["expand_module", "find_pairs", "ELEMENTWISE"]

#: modules that act element-wise (the same scalar function on every unit), so a hidden unit
#: can be split into children that each see the same function
ELEMENTWISE: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU,
    nn.Mish, nn.Softplus, nn.Softsign, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Tanhshrink,
    nn.Dropout, nn.AlphaDropout, nn.Identity,
)

_LINEAR = (nn.Linear, MaskedLinear)


def _elementwise(m: nn.Module) -> bool:
    # PReLU with one slope is element-wise; with one slope per unit it would need widening
    return isinstance(m, ELEMENTWISE) or (isinstance(m, nn.PReLU) and m.num_parameters == 1)


def find_pairs(module: nn.Module) -> list[tuple[str, str]]:
    """The ``(in_name, out_name)`` linear pairs ``pairs=None`` expands, in module order:
    ``Linear, element-wise..., Linear`` runs in every ``nn.Sequential`` and the
    ``intermediate.dense -> output.dense`` feed-forward block of every BERT-style layer."""
    found: list[tuple[str, str]] = []
    for name, sub in module.named_modules():
        prefix = f"{name}." if name else ""
        if isinstance(sub, nn.Sequential):
            items = list(sub.named_children())
            for i, (a, first) in enumerate(items):
                if not isinstance(first, _LINEAR):
                    continue
                j = i + 1
                while j < len(items) and _elementwise(items[j][1]):
                    j += 1
                if j > i + 1 and j < len(items) and isinstance(items[j][1], _LINEAR):
                    found.append((prefix + a, prefix + items[j][0]))
        inter, out = getattr(sub, "intermediate", None), getattr(sub, "output", None)
        if (isinstance(inter, nn.Module) and isinstance(out, nn.Module)
                and isinstance(getattr(inter, "dense", None), _LINEAR)
                and isinstance(getattr(out, "dense", None), _LINEAR)):
            found.append((prefix + "intermediate.dense", prefix + "output.dense"))
    return found


def _check_pairs(module: nn.Module, pairs) -> list[tuple[str, str]]:
    """Normalise ``pairs`` and check names, types, chaining; return them in module order."""
    names = dict(module.named_modules())
    order = {n: k for k, n in enumerate(names)}
    if pairs is None:
        out = find_pairs(module)
        if not out:
            raise ValueError(
                f"pairs: found no (Linear, element-wise activation, Linear) pair nor BERT-style "
                f"feed-forward block in {type(module).__name__}; name them: pairs=[('in_layer', 'out_layer')]"
            )
        return out
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence):
        raise TypeError(f"pairs must be a sequence of (in_name, out_name) pairs, got {type(pairs).__name__}")
    out = []
    for pair in pairs:
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2 \
                or not all(isinstance(n, str) for n in pair):
            raise ValueError(f"pairs must hold (in_name, out_name) pairs of module names, got {pair!r}")
        a, b = pair
        for n in (a, b):
            if n not in names or n == "":
                raise ValueError(f"pair {(a, b)!r}: no submodule named {n!r} in {type(module).__name__}")
            if not isinstance(names[n], _LINEAR):
                raise ValueError(f"pair {(a, b)!r}: {n!r} must be an nn.Linear or MaskedLinear, "
                                 f"got {type(names[n]).__name__}")
        if a == b:
            raise ValueError(f"pair {(a, b)!r}: the in-layer and the out-layer must differ")
        if names[a].out_features != names[b].in_features:
            raise ValueError(f"pair {(a, b)!r}: shapes do not chain: {a}.out_features = {names[a].out_features} "
                             f"!= {b}.in_features = {names[b].in_features}")
        out.append((a, b))
    if not out:
        raise ValueError("pairs must name at least one (in_name, out_name) pair, got none")
    for k, role in ((0, "in-layer"), (1, "out-layer")):
        seen = [p[k] for p in out]
        dup = sorted({n for n in seen if seen.count(n) > 1})
        if dup:
            raise ValueError(f"pairs: {dup[0]!r} is the {role} of more than one pair")
    out.sort(key=lambda p: order[p[0]])
    return out


def _masked_copy(layer: nn.Module, weight: torch.Tensor, mask: torch.Tensor, bias, parent_index) -> MaskedLinear:
    # fork_rng: building a MaskedLinear draws an init we overwrite; the caller's RNG must not move
    with torch.random.fork_rng(devices=[]):
        new = MaskedLinear(weight.shape[1], weight.shape[0], bias=bias is not None)
    new = new.to(device=weight.device, dtype=weight.dtype)
    new.weight.copy_(weight * mask)
    new.mask.copy_(mask)
    if bias is not None:
        new.bias.copy_(bias)
    new.parent_index.copy_(parent_index)
    new.train(layer.training)
    return new


def _effective(layer: nn.Module) -> torch.Tensor:
    return layer.masked_weight() if isinstance(layer, MaskedLinear) else layer.weight


def _parents(layer: nn.Module) -> torch.Tensor:
    if isinstance(layer, MaskedLinear):
        return layer.parent_index.clone()
    return torch.arange(layer.out_features, device=layer.weight.device)


def _set(module: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(module.get_submodule(parent) if parent else module, leaf, new)


def _resolve(module: nn.Module, pairs, alpha, strategy, seed, given: Mapping) -> tuple:
    alpha = check_int("alpha", alpha, 2)
    spec = get_strategy(strategy)
    seed = check_int("seed", seed, 0)
    pairs = _check_pairs(module, pairs)
    fan_ins = {}
    for a, b in pairs:
        where = f"pair {(a, b)!r}"
        fan_in = module.get_submodule(a).in_features
        if alpha > fan_in:
            raise ValueError(f"alpha must be <= the fan-in of {where} ({a}.in_features = {fan_in}), got {alpha}")
        fan_ins[where] = fan_in
    if spec.check is not None:
        for where, fan_in in fan_ins.items():
            spec.check(alpha, fan_in, where)
    if spec.first_layer_only and len(pairs) > 1:
        raise ValueError(f"strategy={spec.name!r} names input features of one layer; it can split one pair, "
                         f"got {len(pairs)} pairs")
    for name, value in given.items():
        if value is not None and name not in spec.options:
            users = [s.name for s in _REGISTRY.values() if name in s.options]
            raise ValueError(f"{name} is used only by strategy={users[0] if len(users) == 1 else users!r}, "
                             f"got strategy={spec.name!r}")
    options = {k: given.get(k) for k in spec.options}
    if spec.validate is not None:
        options = spec.validate(options, fan_ins, alpha)
    return spec, pairs, alpha, seed, options


@torch.no_grad()
def _split_pair(module: nn.Module, a: str, b: str, alpha: int, spec: SplitStrategy, rng: np.random.Generator,
                options: Mapping) -> None:
    first, second = module.get_submodule(a), module.get_submodule(b)
    W = _effective(first).detach()
    n, n_in = W.shape
    layer = LayerSplit(W, n_in, alpha, rng, dict(options))
    mask = torch.from_numpy(spec.child_masks(layer, (W != 0).cpu().numpy())).to(W.device)
    bias = None if first.bias is None else first.bias.detach().repeat_interleave(alpha)
    _set(module, a, _masked_copy(first, W.repeat_interleave(alpha, dim=0), mask, bias,
                                 _parents(first).repeat_interleave(alpha)))
    if isinstance(layer.state, GroupedPartition):  # n_partitions: the shared partitions, as on the MLP path
        module.get_submodule(a).partition = (torch.from_numpy(layer.state.group_of_parent),
                                             torch.from_numpy(layer.state.input_part))
    W2 = _effective(second).detach().repeat_interleave(alpha, dim=1)
    _set(module, b, _masked_copy(second, W2, W2 != 0, None if second.bias is None else second.bias.detach(),
                                 _parents(second)))


@torch.no_grad()
def _prune(layers: list[MaskedLinear], excess: int) -> None:
    """Prune the ``excess`` smallest-magnitude live weights of ``layers`` (pooled; ties by
    layer order, then row-major position): the one pruning rule of ``fpe_expand`` (``prune_to``)
    and ``expand_module``."""
    if excess == 0:
        return
    values, where = [], []
    for layer in layers:
        w = layer.masked_weight().detach().reshape(-1)
        live = torch.nonzero(w != 0).reshape(-1)
        values.append(w[live].abs().double().cpu().numpy())
        where.append(live.cpu().numpy())
    pool = np.concatenate(values)
    if excess >= pool.size:
        # bias / LayerNorm copies are counted but not prunable: on tiny layers they can
        # outnumber the weights, and the budget is then unreachable (or leaves no weight)
        raise ValueError(
            f"cannot keep the non-zero count: the split adds {excess} parameters but the touched "
            f"layers hold only {pool.size} live weights to prune; use a smaller alpha or wider layers"
        )
    # stable sort: ties by position (layer order, then row-major index)
    chosen = np.argsort(pool, kind="stable")[:excess]
    offsets = np.cumsum([0] + [v.size for v in values])
    for k, layer in enumerate(layers):
        sel = chosen[(chosen >= offsets[k]) & (chosen < offsets[k + 1])] - offsets[k]
        if sel.size:
            flat = torch.from_numpy(where[k][sel]).to(layer.mask.device)
            layer.mask.view(-1)[flat] = False
            layer.weight.view(-1)[flat] = 0


def expand_module(module: nn.Module, alpha: int, *, strategy: str = "random", seed: int = 0,
                  pairs: Sequence[tuple[str, str]] | None = None,
                  options: Mapping[str, object] | None = None) -> nn.Module:
    """FPE of the linear ``pairs`` of any module: a new module, ``count_nonzero`` unchanged.

    ``pairs``: ``(in_name, out_name)`` module names (``None``: ``find_pairs``); every hidden
    unit ``p`` of each in-layer becomes children ``p*alpha .. p*alpha+alpha-1`` with disjoint
    input masks (``strategy``), the out-layer gets a column copy per child, then the
    smallest-magnitude weights of the touched layers are pruned until ``count_nonzero(new) ==
    count_nonzero(module)``. ``options``: the strategy's keyword options (``n_clusters``, ...).
    Bad names, shapes that do not chain, ``alpha`` above a fan-in: ``ValueError`` naming the pair.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    spec, pairs, alpha, seed, opts = _resolve(module, pairs, alpha, strategy, seed, dict(options or {}))
    target = count_nonzero(module)
    rng = np.random.default_rng(seed)
    new = copy.deepcopy(module)
    for a, b in pairs:
        _split_pair(new, a, b, alpha, spec, rng, opts)
    touched = list(dict.fromkeys(n for pair in pairs for n in pair))
    order = {n: k for k, n in enumerate(dict(new.named_modules()))}
    touched.sort(key=order.__getitem__)
    _prune([new.get_submodule(n) for n in touched], count_nonzero(new) - target)
    got = count_nonzero(new)
    if got != target:  # pragma: no cover - guarded invariant
        raise RuntimeError(f"fpe_expand: non-zero count {got} != original {target}")
    return new
