"""Fixed Parameter Expansion (paper Section 2.3, A.1, A.7): split neurons, keep the non-zero count.

``fpe_expand(model, alpha, ...)`` returns a *new* MLP (the input is never modified):

1. **Split.** Every hidden neuron ``p`` of a split layer becomes ``alpha`` children, units
   ``p*alpha ... p*alpha+alpha-1`` (contiguous, so sibling groups can be drawn). The
   parent's *live inputs* (the support of its effective weight row, ``weight*mask != 0``)
   are partitioned disjointly among the children by the split strategy; each child copies
   the parent's weights on its part and the parent's bias. ``parent_index[j] = j // alpha``.
   A LayerNorm after the split layer is widened, each child copying its parent's gain and bias.
2. **Widen the next layer.** The layer after a split layer gets ``alpha`` copies of the
   parent's input column, one per child (its mask likewise); biases are unchanged.
3. **Re-sparsify.** The split adds the children's bias copies and the next layer's column
   copies. The smallest-magnitude live weights of the *touched layers* (every split layer and
   the layer after it, i.e. the paper's ``W1'`` and ``W2'``) are pruned, pooled globally
   across those layers, until ``count_nonzero(new) == count_nonzero(model)`` exactly.
   Biases and LayerNorm parameters are counted but never pruned. Ties in magnitude are
   broken by position: lower layer index first, then row-major index inside the layer
   (a stable sort), so the result is a deterministic function of ``(model, alpha, strategy,
   groups, seed, layers, n_partitions)``. The count is asserted.

In every touched layer the new mask equals the support of the new effective weight, so the
number of trainable weight entries equals the non-zero count and cannot grow in training.

Strategies (``strategy``) come from the registry in ``fpe_empirical.nn.strategies``: one
function per file, registered by name (``"random"``, optionally grouped by ``n_partitions``,
``"clause"`` with ``groups``,
``"gram"`` with optional ``n_clusters``, ``"two_four"``; each file documents its rule).

Layers (``layers``): ``"first"`` splits hidden layer 1 only (the paper's shallow case);
``"alternate"`` (A.7) splits hidden layers 1, 3, 5, ... and never the classification head;
each even-numbered hidden layer only gets a wider input. All touched layers share one
pruning pool.

All randomness comes from ``numpy.random.default_rng(seed)``, drawn in a fixed order
(split layers in order, parents in order), so the same seed gives the same masks.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from fpe_common.checks import check_choice, check_int

from .expand_module import _prune, expand_module
from .models import MLP, MaskedLinear, count_nonzero
from .strategies import STRATEGIES as _REGISTRY, LayerSplit, SplitStrategy, get_strategy
from .strategies.gram import gram_groups, silhouette
from .strategies.random import GroupedPartition

__all__ = [
    "fpe_expand",
    "split_masks",
    "split_layer",
    "prune_to",
    "split_layer_indices",
    "partition_inputs",
    "gram_groups",
    "silhouette",
    "STRATEGIES",
    "LAYER_SCHEMES",
]

#: the registered strategy names when this module was imported (``strategies.STRATEGIES`` is
#: the live registry)
STRATEGIES = tuple(_REGISTRY)
LAYER_SCHEMES = ("first", "alternate")


def split_layer_indices(n_hidden: int, layers: str = "first") -> list[int]:
    """Indices (into ``model.layers``) of the hidden layers that ``layers`` splits.

    ``"first"`` -> ``[0]``; ``"alternate"`` -> ``[0, 2, 4, ...] < n_hidden`` (never the head,
    which is ``model.layers[n_hidden]``).
    """
    check_choice("layers", layers, LAYER_SCHEMES)
    if layers == "first":
        return [0]
    return list(range(0, n_hidden, 2))


def partition_inputs(support: np.ndarray, in_features: int, alpha: int, strategy: str, rng: np.random.Generator,
                     groups: list[np.ndarray] | None = None) -> np.ndarray:
    """Disjoint child masks ``(alpha, in_features)`` bool covering ``support`` (sorted indices).

    The partition rule of one parent under ``strategy``; ``groups`` are the groups a
    group-keeping strategy (``"clause"``, ``"gram"``) balances, already computed.
    """
    spec = get_strategy(strategy)
    layer = LayerSplit(None, in_features, alpha, rng, {"groups": groups or []}, groups or [])
    row = np.zeros((1, in_features), dtype=bool)
    row[0, support] = True
    return SplitStrategy(spec.name, spec.labels).child_masks(layer, row)


def _new_masked_linear(in_features: int, out_features: int, like: MaskedLinear) -> MaskedLinear:
    # fork_rng: building a MaskedLinear draws an init from torch's global generator;
    # we overwrite every value, and the caller's global RNG state must not move.
    with torch.random.fork_rng(devices=[]):
        layer = MaskedLinear(in_features, out_features, bias=like.bias is not None)
    return layer.to(device=like.weight.device, dtype=like.weight.dtype)


@torch.no_grad()
def split_layer(model: MLP, i: int, alpha: int, strategy: str | SplitStrategy, rng: np.random.Generator,
                groups: list[np.ndarray] | None = None, n_clusters: int | None = None, **options) -> None:
    """Split hidden layer ``i`` of ``model`` in place (no pruning): ``strategy``'s child
    masks, the next layer widened, a LayerNorm widened. ``groups``, ``n_clusters`` and any
    other ``options``: the strategy's options, already checked (``fpe_expand`` checks them)."""
    spec = strategy if isinstance(strategy, SplitStrategy) else get_strategy(strategy)
    old, nxt = model.layers[i], model.layers[i + 1]
    W = old.masked_weight()  # (N, in)
    N, n_in = W.shape
    given = {"groups": groups, "n_clusters": n_clusters, **options}
    layer = LayerSplit(W, n_in, alpha, rng, {k: given.get(k) for k in spec.options})
    mask = torch.from_numpy(spec.child_masks(layer, (W != 0).cpu().numpy())).to(W.device)
    new = _new_masked_linear(n_in, N * alpha, old)
    if isinstance(layer.state, GroupedPartition):  # n_partitions: keep the shared partitions (to_sparse reads them)
        new.partition = (torch.from_numpy(layer.state.group_of_parent), torch.from_numpy(layer.state.input_part))
    new.weight.copy_(W.repeat_interleave(alpha, dim=0) * mask)
    new.mask.copy_(mask)
    if old.bias is not None:
        new.bias.copy_(old.bias.repeat_interleave(alpha))
    new.parent_index.copy_(torch.arange(N, device=W.device).repeat_interleave(alpha))

    W2 = nxt.masked_weight().repeat_interleave(alpha, dim=1)  # (out2, N*alpha)
    wide = _new_masked_linear(N * alpha, nxt.out_features, nxt)
    wide.weight.copy_(W2)
    wide.mask.copy_(W2 != 0)
    if nxt.bias is not None:
        wide.bias.copy_(nxt.bias)
    wide.parent_index.copy_(nxt.parent_index)
    new.train(old.training)
    wide.train(nxt.training)
    model.layers[i] = new
    model.layers[i + 1] = wide

    norm = model.norms[i]
    if isinstance(norm, nn.LayerNorm):
        new_norm = nn.LayerNorm(
            N * alpha,
            eps=norm.eps,
            elementwise_affine=norm.elementwise_affine,
            bias=norm.bias is not None,
        ).to(device=W.device, dtype=W.dtype if norm.weight is None else norm.weight.dtype)
        if norm.weight is not None:
            new_norm.weight.copy_(norm.weight.repeat_interleave(alpha))
        if norm.bias is not None:
            new_norm.bias.copy_(norm.bias.repeat_interleave(alpha))
        new_norm.train(norm.training)
        model.norms[i] = new_norm
    elif not isinstance(norm, nn.Identity):
        raise TypeError(f"model.norms[{i}] must be LayerNorm or Identity to be split, got {type(norm).__name__}")


@torch.no_grad()
def prune_to(model: MLP, touched: list[int], target: int) -> None:
    """Prune the smallest-magnitude live weights of the ``touched`` layers (pooled; ties by
    layer, then row-major position) until ``count_nonzero(model) == target``."""
    excess = count_nonzero(model) - target
    if excess < 0:  # pragma: no cover - a split only adds parameters
        raise RuntimeError(f"the split lost parameters: {excess}")
    _prune([model.layers[li] for li in touched], excess)


def _resolve(model, alpha, strategy, layers, seed, given: dict) -> tuple[SplitStrategy, list[int], int, int, dict]:
    """Check ``fpe_expand``'s arguments: (strategy, split layer indices, alpha, seed, options)."""
    if not isinstance(model, MLP):
        raise TypeError(f"model must be an fpe_empirical.MLP, got {type(model).__name__}")
    alpha = check_int("alpha", alpha, 2)
    spec = get_strategy(strategy)
    layers = check_choice("layers", layers, LAYER_SCHEMES)
    seed = check_int("seed", seed, 0)
    split = split_layer_indices(len(model.layers) - 1, layers)
    fan_ins = {f"hidden layer {i + 1}": model.layers[i].in_features for i in split}
    for where, fan_in in fan_ins.items():
        if alpha > fan_in:
            raise ValueError(f"alpha must be <= the fan-in of {where} (in_features = {fan_in}), got {alpha}")
    if spec.check is not None:
        for where, fan_in in fan_ins.items():
            spec.check(alpha, fan_in, where)
    if spec.first_layer_only and len(split) > 1:
        others = " or ".join(repr(s.name) for s in _REGISTRY.values() if not s.first_layer_only)
        raise ValueError(
            f"strategy={spec.name!r} {'/'.join(spec.options)} name input features of layer 1 only; with "
            f"layers='alternate' this model splits {len(split)} layers: use strategy={others}"
        )
    for name, value in given.items():
        if value is not None and name not in spec.options:
            users = [s.name for s in _REGISTRY.values() if name in s.options]
            used_by = repr(users[0]) if len(users) == 1 else f"one of {users}"
            raise ValueError(f"{name} is used only by strategy={used_by}, got strategy={spec.name!r}")
    options = {k: given.get(k) for k in spec.options}
    if spec.validate is not None:
        options = spec.validate(options, fan_ins, alpha)
    return spec, split, alpha, seed, options


def split_masks(model: MLP, alpha: int, *, strategy: str = "random", groups: Sequence[Sequence[int]] | None = None,
                seed: int = 0, n_clusters: int | None = None, n_partitions: int | None = None) -> np.ndarray:
    """Bool ``(N * alpha, in_features)``: hidden layer 1's child masks as ``fpe_expand(model,
    alpha, strategy=..., seed=seed, n_partitions=...)`` draws them, *before* re-sparsification
    (same checks, same generator, same draw order); ``fpe_expand``'s pruned masks are subsets
    of these (grouped: parents of one group hold identical child supports)."""
    spec, _, alpha, seed, options = _resolve(model, alpha, strategy, "first", seed,
                                             {"groups": groups, "n_clusters": n_clusters,
                                              "n_partitions": n_partitions})
    with torch.no_grad():
        W = model.layers[0].masked_weight()
    layer = LayerSplit(W, W.shape[1], alpha, np.random.default_rng(seed), options)
    return spec.child_masks(layer, (W != 0).cpu().numpy())


def _expand_generic(model, alpha, strategy, seed, layers, pairs, given) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (e.g. an fpe_empirical.MLP), got {type(model).__name__}")
    if layers != "first":
        raise ValueError(f"layers applies to an fpe_empirical.MLP only (name the pairs instead), got {layers!r}")
    if isinstance(model, MLP) and model.layernorm:
        # the generic path does not widen the MLP's LayerNorms
        raise ValueError("pairs cannot be given for an MLP with layernorm=True; use layers= instead")
    return expand_module(model, alpha, strategy=strategy, seed=seed, pairs=pairs, options=given)


def fpe_expand(
    model: MLP,
    alpha: int,
    *,
    strategy: str = "random",
    groups: Sequence[Sequence[int]] | None = None,
    seed: int = 0,
    layers: str = "first",
    n_clusters: int | None = None,
    n_partitions: int | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
) -> nn.Module:
    """Fixed Parameter Expansion: a new, wider, sparser MLP with ``count_nonzero`` unchanged.

    Each hidden neuron of the split layers (``layers="first"``: hidden layer 1;
    ``"alternate"``: hidden layers 1, 3, 5, ...) becomes ``alpha`` children (units
    ``p*alpha .. p*alpha+alpha-1``) with disjoint input masks covering the parent's live
    inputs, partitioned by ``strategy`` (a registered name: ``"random"``, ``"clause"`` with
    ``groups``, ``"gram"``, ``"two_four"``); the next layer gets a copy of the parent's column
    per child; then the smallest-magnitude weights of the touched layers are pruned until
    ``count_nonzero(new) == count_nonzero(model)``. ``n_clusters`` fixes the cluster count of
    ``"gram"`` (default: best silhouette). ``n_partitions=G`` (``"random"`` only; 1 <= G <=
    parents of each split layer) makes the split *grouped*: parents dealt (seeded, sizes
    differ by <= 1) into G groups, each group sharing one uniform balanced partition of the
    layer's inputs, child ``a`` of each parent taking part ``a``; the partition is stored on
    the split layer (``MaskedLinear.partition``). ``None`` (default): the classic split,
    bit-identical to before. See the module docstring for every rule.

    Any other ``torch.nn.Module`` (or an MLP with ``pairs`` given): the linear ``pairs``
    ``(in_name, out_name)`` are expanded by the same rules (``None``: detected in
    ``nn.Sequential`` and BERT-style feed-forward blocks); see ``fpe_empirical.nn.expand_module``.
    """
    given = {"groups": groups, "n_clusters": n_clusters, "n_partitions": n_partitions}
    if not isinstance(model, MLP) or pairs is not None:
        return _expand_generic(model, alpha, strategy, seed, layers, pairs, given)
    spec, split, alpha, seed, options = _resolve(model, alpha, strategy, layers, seed, given)
    target = count_nonzero(model)
    rng = np.random.default_rng(seed)
    new = copy.deepcopy(model)
    for i in split:
        split_layer(new, i, alpha, spec, rng, **options)
    touched = sorted(set(split) | {i + 1 for i in split})
    prune_to(new, touched, target)
    got = count_nonzero(new)
    if got != target:  # pragma: no cover - guarded invariant
        raise RuntimeError(f"fpe_expand: non-zero count {got} != original {target}")
    return new
