"""Batched ensemble training: many small MLPs trained as one stacked computation.

Tiny networks spend their time in per-call overhead, not arithmetic. Stacking M models'
weights as ``(M, out, in)`` tensors and running ``torch.baddbmm`` turns M small steps
into one, with one fused Adam over the stacks (PERFORMANCE.md: ~12x on 2 threads).

Exactness. The stacked objective is ``sum_m L_m`` where ``L_m`` is member m's own
objective (its mean data loss plus its L1 term), so the gradient with respect to member
m's parameters is exactly ``grad L_m``; Adam (and its coupled L2) is elementwise, so every
member follows the trajectory of ``train.train`` on its own, up to float reassociation in
the batched matmul. Each member draws its data order from its own generator seeded with
its own seed, exactly as the reference does.

Members of different widths share a stack by zero padding: padded inputs are zero, padded
weights sit under a False mask (so they are exactly zero, get exactly zero gradient and
zero Adam moments), padded biases and LayerNorm parameters start at zero and receive zero
gradient, and LayerNorm normalises over each member's real units only. Padding is
therefore exact, not an approximation.

Shapes in comments: M members, B batch, I inputs, H hidden units, O outputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .models import MLP, MaskedLinear
from .train import TrainHistory, TrainSettings

__all__ = [
    "StackedMLP",
    "train_ensemble",
    "ensemble_groups",
    "ensemble_compatible",
    "DEFAULT_MAX_MEMBERS",
]

#: Members per stack. Beyond ~64 tiny members the per-step overhead is already amortised
#: (benchmarks/bench_ensemble.py) and larger stacks only cost memory.
DEFAULT_MAX_MEMBERS = 128


def ensemble_compatible(model: nn.Module) -> str | None:
    """``None`` if ``model`` can be trained in a stack, else the reason it cannot.

    Stackable: an ``MLP`` whose forward and loss are ``MLP``'s own, whose norms are
    affine ``LayerNorm`` or ``Identity``, and whose parameters are exactly its layers'
    weights and biases and its norms' parameters.
    """
    if not isinstance(model, MLP):
        return f"{type(model).__name__} is not an MLP"
    cls = type(model)
    if cls.forward is not MLP.forward or cls.loss is not MLP.loss or cls.features is not MLP.features:
        return f"{cls.__name__} overrides MLP.forward/loss/features"
    known: set[int] = set()
    for layer in model.layers:
        if type(layer) is not MaskedLinear:
            return f"layer {type(layer).__name__} is not a MaskedLinear"
        known.add(id(layer.weight))
        if layer.bias is not None:
            known.add(id(layer.bias))
    for norm in model.norms:
        if isinstance(norm, nn.Identity):
            continue
        if type(norm) is not nn.LayerNorm:
            return f"norm {type(norm).__name__} is not LayerNorm or Identity"
        if not norm.elementwise_affine or norm.bias is None or len(norm.normalized_shape) != 1:
            return "LayerNorm must be elementwise-affine with a bias over the last dimension"
        known.update((id(norm.weight), id(norm.bias)))
    if {id(p) for p in model.parameters()} != known:
        return "model has parameters outside its layers and norms"
    return None


def _norm_eps(model: MLP) -> float | None:
    for norm in model.norms:
        if isinstance(norm, nn.LayerNorm):
            return float(norm.eps)
    return None


def _group_key(model: MLP, X: torch.Tensor, y: torch.Tensor, s: TrainSettings) -> tuple:
    """Members with equal keys can share a stack (widths may differ: they are padded)."""
    return (
        len(model.layers),
        model.out_features,
        model.layernorm,
        _norm_eps(model),
        tuple(layer.bias is not None for layer in model.layers),
        model.layers[0].weight.dtype,
        model.layers[0].weight.device,
        X.dtype,
        int(X.shape[0]),
        s.epochs,
        s.batch_size,
        s.lr,
        s.weight_decay,
    )


def _dims(model: MLP) -> tuple[int, ...]:
    return (model.in_features, *model.hidden)


def ensemble_groups(
    models: Sequence[MLP],
    data: Sequence[tuple[torch.Tensor, torch.Tensor]],
    settings: Sequence[TrainSettings],
    *,
    max_members: int = DEFAULT_MAX_MEMBERS,
) -> list[list[int]]:
    """Partition member indices into stacks.

    Members may share a stack when they agree on depth, outputs, norm, bias layout, dtype,
    device, training-set size and every training setting except ``l1`` (which is per
    member). Within such a class members are sorted by size and cut into contiguous
    stacks of at most ``max_members`` that minimise the modelled time per step (the sum
    over stacks of ``STEP_OVERHEAD_MACS + members * batch * padded work per sample``):
    similar widths share a stack, very different ones do not pay for each other's padding.
    """
    if isinstance(max_members, bool) or not isinstance(max_members, int):
        raise TypeError(f"max_members must be an int, got {type(max_members).__name__}")
    if max_members < 1:
        raise ValueError(f"max_members must be an integer >= 1, got {max_members}")
    classes: dict[tuple, list[int]] = {}
    for i, (model, (X, y), s) in enumerate(zip(models, data, settings)):
        classes.setdefault(_group_key(model, X, y, s), []).append(i)
    groups = []
    for members in classes.values():
        dims = {i: (*_dims(models[i]), models[i].out_features) for i in members}
        members = sorted(members, key=lambda i: (_macs(dims[i]), dims[i], i))
        batch = min(settings[members[0]].batch_size, int(data[members[0]][0].shape[0]))
        groups.extend(_partition(members, [dims[i] for i in members], batch, max_members))
    return groups


#: Step-time model of one stack, in units of one forward multiply-add per sample:
#: ``STEP_OVERHEAD_MACS + members * batch * (macs(widths) + ELEMENTWISE_MACS * sum(widths))``
#: (fixed Python/dispatch/Adam cost; matmuls; elementwise passes over activations and the
#: input gather). Fitted to measured step times of stacks from 1 x 4-2-1 to 60 x 128-32-1
#: on this 2-core machine (benchmarks/bench_ensemble.py --calibrate). Merging two stacks
#: pays when it adds less padded work than one stack's fixed cost.
STEP_OVERHEAD_MACS = 6.0e6
ELEMENTWISE_MACS = 10.0


def _macs(dims: Sequence[int]) -> int:
    """Multiply-adds per sample of a forward pass through widths ``dims``."""
    return sum(a * b for a, b in zip(dims, dims[1:]))


def _partition(members: list[int], dims: list[tuple[int, ...]], batch: int, max_members: int) -> list[list[int]]:
    """Optimal contiguous cut of the sorted ``members`` under the step-cost model (DP)."""
    n = len(members)
    best = [0.0] + [math.inf] * n
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        width = list(dims[j - 1])
        for i in range(j - 1, max(0, j - max_members) - 1, -1):
            width = [max(a, b) for a, b in zip(width, dims[i])]
            per_sample = _macs(width) + ELEMENTWISE_MACS * sum(width)
            cost = best[i] + STEP_OVERHEAD_MACS + (j - i) * batch * per_sample
            if cost < best[j]:
                best[j], cut[j] = cost, i
    out = []
    j = n
    while j > 0:
        out.append(members[cut[j] : j])
        j = cut[j]
    return out[::-1]


@dataclass
class _Layer:
    weight: torch.Tensor  # (M, out, in) leaf
    bias: torch.Tensor | None  # (M, out) leaf
    mask: torch.Tensor | None  # (M, out, in) float 0/1, None when every entry is 1


class StackedMLP:
    """M ``MLP`` members stacked into ``(M, out, in)`` tensors (zero-padded to common widths).

    ``StackedMLP(models)`` copies the members' parameters in; ``write_back(models)`` copies
    the trained values out again (only each member's real, unpadded part).
    """

    def __init__(self, models: Sequence[MLP]) -> None:
        if not models:
            raise ValueError("models must contain at least one MLP")
        for i, m in enumerate(models):
            reason = ensemble_compatible(m)
            if reason is not None:
                raise ValueError(f"models[{i}] cannot be stacked: {reason}")
        first = models[0]
        depth = len(first.layers)
        for i, m in enumerate(models):
            if len(m.layers) != depth or m.out_features != first.out_features:
                raise ValueError(
                    f"models[{i}] must have depth {depth} and {first.out_features} outputs like models[0]"
                )
            if m.layernorm != first.layernorm:
                raise ValueError(f"models[{i}] must use layernorm={first.layernorm} like models[0]")
        self.M = M = len(models)
        self.binary = first.out_features == 1
        self.layernorm = first.layernorm
        self.eps = _norm_eps(first) or 1e-5
        dtype, device = first.layers[0].weight.dtype, first.layers[0].weight.device
        # widths[l] = per-member width of activation l (0 = input), padded to max_widths[l]
        widths = [[_dims(m)[k] for m in models] for k in range(depth)] + [[first.out_features] * M]
        self.widths = widths
        self.max_widths = [max(w) for w in widths]
        self.layers: list[_Layer] = []
        with torch.no_grad():
            for k in range(depth):
                out_w, in_w = self.max_widths[k + 1], self.max_widths[k]
                W = torch.zeros(M, out_w, in_w, dtype=dtype, device=device)
                mask = torch.zeros(M, out_w, in_w, dtype=torch.bool, device=device)
                has_bias = first.layers[k].bias is not None
                b = torch.zeros(M, out_w, dtype=dtype, device=device) if has_bias else None
                for i, m in enumerate(models):
                    layer = m.layers[k]
                    if (layer.bias is not None) != has_bias:
                        raise ValueError(f"models[{i}].layers[{k}] must match models[0]'s bias layout")
                    o, n = layer.weight.shape
                    W[i, :o, :n] = layer.weight * layer.mask
                    mask[i, :o, :n] = layer.mask
                    if b is not None:
                        b[i, :o] = layer.bias
                dense = bool(mask.all())
                self.layers.append(
                    _Layer(
                        weight=W.requires_grad_(),
                        bias=b.requires_grad_() if b is not None else None,
                        mask=None if dense else mask.to(dtype),
                    )
                )
            # LayerNorm parameters (M, H) per hidden layer, and which units are real
            self.norm_weight: list[torch.Tensor | None] = []
            self.norm_bias: list[torch.Tensor | None] = []
            self.valid: list[torch.Tensor | None] = []  # (M, 1, H) float, None when unpadded
            self.count: list[torch.Tensor | None] = []  # (M, 1, 1) real units per member
            for k in range(depth - 1):
                H = self.max_widths[k + 1]
                w_k = torch.tensor(widths[k + 1], device=device)
                padded = bool((w_k != H).any())
                if not self.layernorm:
                    self.norm_weight.append(None)
                    self.norm_bias.append(None)
                    self.valid.append(None)
                    self.count.append(None)
                    continue
                g = torch.zeros(M, H, dtype=dtype, device=device)
                beta = torch.zeros(M, H, dtype=dtype, device=device)
                for i, m in enumerate(models):
                    norm = m.norms[k]
                    g[i, : norm.weight.shape[0]] = norm.weight
                    beta[i, : norm.bias.shape[0]] = norm.bias
                self.norm_weight.append(g.requires_grad_())
                self.norm_bias.append(beta.requires_grad_())
                if padded:
                    valid = torch.arange(H, device=device)[None, :] < w_k[:, None]
                    self.valid.append(valid.to(dtype).unsqueeze(1))
                    self.count.append(w_k.to(dtype).view(M, 1, 1))
                else:
                    self.valid.append(None)
                    self.count.append(None)

    def parameters(self) -> list[torch.Tensor]:
        """Every stacked leaf tensor (weights, biases, LayerNorm parameters)."""
        out: list[torch.Tensor] = []
        for layer in self.layers:
            out.append(layer.weight)
            if layer.bias is not None:
                out.append(layer.bias)
        for t in (*self.norm_weight, *self.norm_bias):
            if t is not None:
                out.append(t)
        return out

    def effective_weight(self, k: int) -> torch.Tensor:
        """``weight * mask`` of layer k, ``(M, out, in)``."""
        layer = self.layers[k]
        return layer.weight if layer.mask is None else layer.weight * layer.mask

    def _norm(self, k: int, h: torch.Tensor) -> torch.Tensor:  # (M, B, H) -> (M, B, H)
        g = self.norm_weight[k]
        if g is None:
            return h
        beta = self.norm_bias[k]
        valid = self.valid[k]
        if valid is None:
            h = F.layer_norm(h, (h.shape[-1],), eps=self.eps)
        else:
            # LayerNorm over each member's real units only; padded units come out 0
            count = self.count[k]
            mean = (h * valid).sum(-1, keepdim=True) / count
            centred = (h - mean) * valid
            var = (centred * centred).sum(-1, keepdim=True) / count
            h = centred * torch.rsqrt(var + self.eps)
        return torch.addcmul(beta.unsqueeze(1), h, g.unsqueeze(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (M, B, I) -> (M, B, O)
        last = len(self.layers) - 1
        for k, layer in enumerate(self.layers):
            W = self.effective_weight(k).transpose(1, 2)  # (M, in, out)
            if layer.bias is not None:
                x = torch.baddbmm(layer.bias.unsqueeze(1), x, W)
            else:
                x = torch.bmm(x, W)
            if k < last:
                x = F.relu(self._norm(k, x))
        return x

    def losses(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # -> (M,)
        """Each member's mean data loss (BCE on one logit, or cross-entropy)."""
        if self.binary:
            per = F.binary_cross_entropy_with_logits(logits.squeeze(-1), y, reduction="none")
            return per.mean(1)
        M, B, O = logits.shape
        per = F.cross_entropy(logits.reshape(M * B, O), y.reshape(M * B), reduction="none")
        return per.view(M, B).mean(1)

    def objective_and_grads(self, x: torch.Tensor, y: torch.Tensor, l1: torch.Tensor | None) -> torch.Tensor:
        """Each member's objective ``L_m`` (M,), with ``grad sum_m L_m`` left in ``.grad``.

        ``L_m = mean data loss + l1_m * sum |W1_m * M1_m|``. Without LayerNorm the gradients
        are written by hand (one bmm per weight and per back-propagated activation, no
        autograd graph: ~1.4x faster per step for tiny members); with LayerNorm autograd
        does it. Both equal the reference's gradients up to float reassociation.
        """
        if self.layernorm:
            loss = self.losses(self.forward(x), y)
            if l1 is not None:
                loss = loss + l1 * self.effective_weight(0).abs().sum((1, 2))
            for p in self.parameters():
                p.grad = None
            loss.sum().backward()
            return loss.detach()
        with torch.no_grad():
            return self._manual_objective_and_grads(x, y, l1)

    def _manual_objective_and_grads(self, x: torch.Tensor, y: torch.Tensor, l1: torch.Tensor | None) -> torch.Tensor:
        # Activations are kept feature-major, (M, width, B): every matmul then has the batch
        # as its wide dimension (W @ x^T rather than x @ W^T), which MKL runs up to 3x
        # faster for narrow layers (measured: 64 x 500 x 32 -> 8 took 0.9 ms one way,
        # 0.3 ms the other) and never slower here.
        M, B = x.shape[0], x.shape[1]
        # weights are kept exactly zero where masked (masked at construction, gradients
        # masked, apply_masks_ after every step), so weight == weight * mask bitwise
        weights = [layer.weight for layer in self.layers]  # (M, out, in)
        acts = [x.transpose(1, 2)]  # each layer's input, (M, in, B): x^T, then ReLU outputs
        last = len(self.layers) - 1
        z = acts[0]
        for k, layer in enumerate(self.layers):
            if layer.bias is not None:
                z = torch.baddbmm(layer.bias.unsqueeze(2), weights[k], z)  # (M, out, B)
            else:
                z = torch.bmm(weights[k], z)
            if k < last:
                z = z.clamp_min_(0)  # ReLU in place
                acts.append(z)
        logits = z  # (M, O, B)
        if self.binary:
            o = logits.squeeze(1)  # (M, B)
            loss = F.binary_cross_entropy_with_logits(o, y, reduction="none").mean(1)
            g = torch.sigmoid(o).sub_(y).div_(B).unsqueeze(1)  # d mean BCE / d logit, (M, 1, B)
        else:
            logp = F.log_softmax(logits, 1)  # over classes
            loss = -logp.gather(1, y.unsqueeze(1)).squeeze(1).mean(1)
            g = logp.exp_()  # (softmax - onehot) / B, (M, O, B)
            g.scatter_add_(1, y.unsqueeze(1), torch.full_like(g[:, :1], -1.0))
            g.div_(B)
        if l1 is not None:
            loss = loss + l1 * weights[0].abs().sum((1, 2))
        for k in range(last, -1, -1):
            layer = self.layers[k]
            grad_w = torch.bmm(g, acts[k].transpose(1, 2))  # (M, out, B) @ (M, B, in)
            if layer.mask is not None:
                grad_w.mul_(layer.mask)
            if k == 0 and l1 is not None:
                # d |W * M| / dW = sign(W * M) * M (0 at 0, as autograd's abs)
                grad_w.addcmul_(torch.sign(weights[0]), l1.view(M, 1, 1))
            layer.weight.grad = grad_w
            if layer.bias is not None:
                layer.bias.grad = g.sum(2)
            if k > 0:
                # back through W_k, then ReLU: pass where the activation is > 0
                g = torch.bmm(weights[k].transpose(1, 2), g)  # (M, in, B)
                g = torch.ops.aten.threshold_backward(g, acts[k], 0)
        return loss

    @torch.no_grad()
    def apply_masks_(self, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Zero masked weights and their Adam moments (``models.apply_masks_``, stacked)."""
        tensors, masks = [], []
        for layer in self.layers:
            if layer.mask is None:
                continue
            tensors.append(layer.weight)
            masks.append(layer.mask)
            state = optimizer.state.get(layer.weight) if optimizer is not None else None
            for value in (state or {}).values():
                if torch.is_tensor(value) and value.shape == layer.mask.shape:
                    tensors.append(value)
                    masks.append(layer.mask)
        if tensors:
            torch._foreach_mul_(tensors, masks)

    @torch.no_grad()
    def write_back(self, models: Sequence[MLP]) -> None:
        """Copy each member's trained (unpadded) parameters into ``models[i]`` in place."""
        for i, m in enumerate(models):
            for k, layer in enumerate(m.layers):
                o, n = layer.weight.shape
                layer.weight.copy_(self.layers[k].weight[i, :o, :n])
                layer.weight.mul_(layer.mask)
                if layer.bias is not None:
                    layer.bias.copy_(self.layers[k].bias[i, :o])
            for k, norm in enumerate(m.norms):
                if isinstance(norm, nn.LayerNorm):
                    h = norm.weight.shape[0]
                    norm.weight.copy_(self.norm_weight[k][i, :h])
                    norm.bias.copy_(self.norm_bias[k][i, :h])


def _make_optimizer(params: list[torch.Tensor], s: TrainSettings) -> torch.optim.Adam:
    # fused Adam is ~0.8x the default step (PERFORMANCE.md) and elementwise identical in
    # exact arithmetic; fall back to the default where a build lacks the fused kernel
    try:
        return torch.optim.Adam(params, lr=s.lr, weight_decay=s.weight_decay, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.Adam(params, lr=s.lr, weight_decay=s.weight_decay)


def _stack_data(
    data: Sequence[tuple[torch.Tensor, torch.Tensor]], in_width: int, binary: bool, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Unique datasets stacked: X (U*n, I) zero-padded, y (U*n,), member -> dataset offset (M,).

    Members whose data are equal (a config's strategies all train on its training set,
    often passed as separate copies) share one copy: found by a cheap fingerprint,
    confirmed by ``torch.equal``.
    """
    uniq: list[tuple[torch.Tensor, torch.Tensor]] = []
    by_print: dict[tuple, list[int]] = {}
    which = []
    for X, y in data:
        fp = (tuple(X.shape), X.dtype, float(X.sum()), float(X[0].sum()), float(y.sum()))
        for u in by_print.get(fp, []):
            if torch.equal(uniq[u][0], X) and torch.equal(uniq[u][1], y):
                which.append(u)
                break
        else:
            by_print.setdefault(fp, []).append(len(uniq))
            which.append(len(uniq))
            uniq.append((X, y))
    n = uniq[0][0].shape[0]
    device = uniq[0][0].device
    Xs = torch.zeros(len(uniq), n, in_width, dtype=dtype, device=device)
    ys = torch.empty(len(uniq), n, dtype=dtype if binary else torch.long, device=device)
    for u, (X, y) in enumerate(uniq):
        Xs[u, :, : X.shape[1]] = X
        ys[u] = y.to(ys.dtype)
    offsets = torch.tensor(which, dtype=torch.long, device=device) * n
    return Xs.view(len(uniq) * n, in_width), ys.view(-1), offsets


def _train_stack(
    models: Sequence[MLP],
    data: Sequence[tuple[torch.Tensor, torch.Tensor]],
    settings: Sequence[TrainSettings],
    seeds: Sequence[int],
    *,
    progress: bool,
) -> tuple[list[TrainHistory], StackedMLP, torch.optim.Optimizer]:
    """Train one stack; ``settings`` agree except ``l1`` (checked by the caller's grouping).

    Returns the histories and, for inspection, the stack and its optimizer.
    """
    s0 = settings[0]
    net = StackedMLP(models)
    M = net.M
    dtype = net.layers[0].weight.dtype
    Xs, ys, offsets = _stack_data(data, net.max_widths[0], net.binary, dtype)
    n = data[0][0].shape[0]
    l1 = torch.tensor([s.l1 for s in settings], dtype=dtype, device=Xs.device)
    use_l1 = bool((l1 != 0).any())
    opt = _make_optimizer(net.parameters(), s0)
    gens = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
    histories = [TrainHistory() for _ in range(M)]
    for m in models:
        m.train()
    if s0.epochs > 0:
        from tqdm.auto import tqdm

        bar = tqdm(range(s0.epochs), desc=f"ensemble x{M}", disable=not progress, leave=False)
        net.apply_masks_(opt)
        for _ in bar:
            # the reference's stream: one randperm(n) per epoch from each member's generator
            perms = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(Xs.device)
            perms += offsets[:, None]  # (M, n) rows of the stacked datasets
            total = torch.zeros(M, dtype=dtype, device=Xs.device)
            steps = 0
            for start in range(0, n, s0.batch_size):
                rows = perms[:, start : start + s0.batch_size]  # (M, B)
                b = rows.shape[1]
                xb = Xs.index_select(0, rows.reshape(-1)).view(M, b, -1)
                yb = ys.index_select(0, rows.reshape(-1)).view(M, b)
                loss = net.objective_and_grads(xb, yb, l1 if use_l1 else None)  # (M,)
                opt.step()
                net.apply_masks_(opt)
                total += loss
                steps += 1
            for h, value in zip(histories, (total / max(steps, 1)).tolist()):
                h.epoch_loss.append(value)
        bar.close()
    net.write_back(models)
    for m in models:
        m.eval()
    return histories, net, opt


def train_ensemble(
    models: Sequence[MLP],
    data: Sequence[tuple[torch.Tensor, torch.Tensor]],
    settings: Sequence[TrainSettings] | TrainSettings,
    seeds: Sequence[int],
    *,
    max_members: int = DEFAULT_MAX_MEMBERS,
    progress: bool = False,
) -> list[TrainHistory]:
    """Train every ``models[i]`` in place on ``data[i]`` with ``seeds[i]``, batched.

    Same contract as ``train.train_many`` (fresh Adam per member, the reference's data
    order, masks enforced after every step): the result equals training each model alone
    with ``train.train`` up to float reassociation. Members are grouped by
    ``ensemble_groups`` (compatible depth, outputs, dataset size and settings except
    ``l1``); each group trains as one stack. Raises ``ValueError`` for a model that cannot
    be stacked (see ``ensemble_compatible``).
    """
    n = len(models)
    if isinstance(settings, TrainSettings):
        settings = [settings] * n
    if not (len(data) == len(settings) == len(seeds) == n):
        raise ValueError(
            f"models, data, settings and seeds must have equal lengths, got "
            f"{n}, {len(data)}, {len(settings)}, {len(seeds)}"
        )
    for i, (model, (X, y)) in enumerate(zip(models, data)):
        reason = ensemble_compatible(model)
        if reason is not None:
            raise ValueError(f"models[{i}] cannot be trained in an ensemble: {reason}")
        if X.ndim != 2 or X.shape[1] != model.in_features:
            raise ValueError(f"data[{i}] X must have shape (n, {model.in_features}), got {tuple(X.shape)}")
        if y.shape != (X.shape[0],):
            raise ValueError(f"data[{i}] y must have shape ({X.shape[0]},), got {tuple(y.shape)}")
        if X.dtype != model.layers[0].weight.dtype:
            raise ValueError(f"data[{i}] X must have the model's dtype {model.layers[0].weight.dtype}, got {X.dtype}")
    histories: list[TrainHistory | None] = [None] * n
    for group in ensemble_groups(models, data, settings, max_members=max_members):
        out, _, _ = _train_stack(
            [models[i] for i in group],
            [data[i] for i in group],
            [settings[i] for i in group],
            [seeds[i] for i in group],
            progress=progress,
        )
        for i, h in zip(group, out):
            histories[i] = h
    return histories  # type: ignore[return-value]
