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

Batch-composition invariance ("same seed, same result"). A member's arithmetic must not
depend on which other members share its stack, how many there are, where it sits, or the
thread count: otherwise a config's stored result would depend on how a sweep was chunked
or resumed, and chaotic small models (hidden 2) then end in different optima (measured:
77-82% alone vs 67% in a 20-run batch). Measured causes, all removed here
(benchmarks/RESULTS-sweeps.md):

- MKL picks its GEMM kernel (hence the summation order) by the matrix shapes, so zero
  padding a member's reduction dimension to a stack-mate's width changed its sums
  (e.g. 64-4-10 members padded to hidden 12). Fix: every member is padded only to its own
  *stack shape* (``stack_shape``: a function of its own widths), and only members of one
  stack shape share a stack.
- MKL's result also depends on each matrix's address modulo 16 bytes, so a member at an
  odd position of a stack whose per-member slab is not a multiple of 4 floats (e.g. a
  2 x 437 output, the last partial batch of the digits data) got other sums. Fix: widths
  are multiples of 4 and the batch is padded to a multiple of ``SEGMENT_QUANTUM`` (padded
  samples read a zero row and get zero loss gradient), so every slab starts on a 16-byte
  boundary.
- Vectorised elementwise kernels (sigmoid, fused Adam, ...) compute the remainder of a
  tensor that does not fill a vector with scalar code, whose results differ in the last
  bit (measured for sigmoid), and the remainder falls on whichever member is last. Fix:
  activations have a batch that is a multiple of ``SEGMENT_QUANTUM``, and every parameter
  lives in one flat buffer (the one tensor Adam sees) at an offset that is a multiple of
  it, so no member's entries ever fall in a remainder.
- A stack of one member takes other GEMM paths (size-1 batch dimension) than any larger
  stack. Fix: a lone member trains beside a ghost copy of itself.
- With 2 threads MKL splits a lone matrix but not a batch of them. Fix: stacks train with
  one intra-op thread (parallelism across stacks comes from processes: sweep ``--workers``).
- LayerNorm over padded units used another formula than over unpadded ones. Fix: the
  masked formula is used for every member.

Elementwise kernels, reductions and fused Adam were checked to be position- and
length-independent; tests/test_ensemble.py pins bit-identical results across stack
compositions, sizes and positions, and run(config) alone equal to the same config in a
sweep chunk.

Padding is exact in exact arithmetic: padded inputs are zero, padded weights sit under a
False mask (so they are exactly zero, get exactly zero gradient and zero Adam moments),
padded biases and LayerNorm parameters start at zero and receive zero gradient, LayerNorm
normalises over each member's real units only, and padded samples get zero loss gradient.

Shapes in comments: M members, B batch, I inputs, H hidden units, O outputs.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator, Sequence
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
    "stack_shape",
    "DEFAULT_MAX_MEMBERS",
    "WIDTH_QUANTUM",
]

#: Members per stack at most. Beyond ~32 tiny members the per-step overhead is amortised
#: and larger stacks only cost memory and cache (benchmarks/bench_ensemble.py).
DEFAULT_MAX_MEMBERS = 128

#: Bytes of one step's activations (batch x sum of stack widths x item size, over the
#: members) a stack aims to stay under: a step then works in cache. Measured at 1 thread
#: (AMD EPYC, 1 MiB L2 per core): 64 x 32-8-1 members took 78 us per model-step in one
#: stack (5.4 MB) and 60 us in two of 32; 128-32-1 members were fastest in stacks of 8
#: (2.6 MB). Only speed depends on it: results do not depend on how stacks are cut.
STACK_CACHE_BYTES = 3 * 2**20

#: Input and hidden widths (and the batch) are padded up to a multiple of this, so every
#: member's matrices start on a 16-byte boundary in any stack (module docstring).
WIDTH_QUANTUM = 4


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
    """Members with equal keys share a stack: same stack shape, settings (but ``l1``), ..."""
    return (
        stack_shape(model),
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


def _round_up(n: int, quantum: int = WIDTH_QUANTUM) -> int:
    return -(-int(n) // quantum) * quantum


def _hidden_width(w: int) -> int:
    # small layers: the next power of two (>= WIDTH_QUANTUM), so that e.g. a sweep's
    # widths 12 and 16 (24 and 32) share a stack: small stacks are overhead-bound, and
    # fewer, fuller stacks win over tight padding; beyond 64 units the work dominates, so
    # pad only to a multiple of 32
    if w <= 64:
        return max(WIDTH_QUANTUM, 1 << (int(w) - 1).bit_length())
    return _round_up(w, 32)


def stack_shape(model: MLP) -> tuple[int, ...]:
    """The padded widths ``(in, *hidden, out)`` a member trains with in any stack.

    The input width is rounded up to a multiple of ``WIDTH_QUANTUM``; a hidden width ``w``
    to the next power of two (at least ``WIDTH_QUANTUM``) up to 64, beyond that to a
    multiple of 32; the output width is kept. A function of the member alone, so its
    arithmetic is the same whatever it is stacked with.
    """
    return (_round_up(model.in_features), *(_hidden_width(w) for w in model.hidden), model.out_features)


def ensemble_groups(
    models: Sequence[MLP],
    data: Sequence[tuple[torch.Tensor, torch.Tensor]],
    settings: Sequence[TrainSettings],
    *,
    max_members: int = DEFAULT_MAX_MEMBERS,
) -> list[list[int]]:
    """Partition member indices into stacks.

    Members may share a stack when they agree on ``stack_shape``, norm, bias layout,
    dtype, device, training-set size and every training setting except ``l1`` (which is
    per member). Each such class (in input order) is cut into stacks of near-equal size,
    each of at most ``max_members`` and of at most ``STACK_CACHE_BYTES`` of activations per
    step. Which stack a member lands in does not change its result.
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
        first = models[members[0]]
        batch = _round_up(min(settings[members[0]].batch_size, int(data[members[0]][0].shape[0])), SEGMENT_QUANTUM)
        per_member = batch * sum(stack_shape(first)) * first.layers[0].weight.element_size()
        cap = max(1, min(max_members, STACK_CACHE_BYTES // per_member))
        n_stacks = math.ceil(len(members) / cap)
        size = math.ceil(len(members) / n_stacks)
        groups.extend(members[i : i + size] for i in range(0, len(members), size))
    return groups


#: Elements: every stacked tensor starts at a multiple of this in the flat parameter buffer,
#: and the batch is padded to a multiple of it, so that vectorised elementwise loops (fused
#: Adam, sigmoid, exp) never run a scalar remainder over some member's entries (measured: a
#: scalar tail's sigmoid differs from the vector one in the last bit).
SEGMENT_QUANTUM = 64


@dataclass
class _Layer:
    weight: torch.Tensor  # (M, out, in) view of the flat buffer
    bias: torch.Tensor | None  # (M, out) view of the flat buffer
    mask: torch.Tensor | None  # (M, out, in) float 0/1, None when every entry is 1


class StackedMLP:
    """M ``MLP`` members of one ``stack_shape`` stacked into ``(M, out, in)`` tensors.

    Each member is zero-padded to its stack shape (never to a stack-mate's widths).
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
            if stack_shape(m) != stack_shape(first):
                raise ValueError(
                    f"models[{i}] must have models[0]'s stack shape {stack_shape(first)}, got {stack_shape(m)}"
                )
        self.M = M = len(models)
        self.binary = first.out_features == 1
        self.layernorm = first.layernorm
        self.eps = _norm_eps(first) or 1e-5
        dtype, device = first.layers[0].weight.dtype, first.layers[0].weight.device
        # widths[l] = per-member width of activation l (0 = input), padded to max_widths[l]
        # (the common stack shape, which depends on no member but itself)
        widths = [[_dims(m)[k] for m in models] for k in range(depth)] + [[first.out_features] * M]
        self.widths = widths
        self.max_widths = list(stack_shape(first))
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
                self.layers.append(_Layer(weight=W, bias=b, mask=None if dense else mask.to(dtype)))
            # LayerNorm parameters (M, H) per hidden layer, and which units are real
            self.norm_weight: list[torch.Tensor | None] = []
            self.norm_bias: list[torch.Tensor | None] = []
            self.valid: list[torch.Tensor | None] = []  # (M, 1, H) float 0/1: real units
            self.count: list[torch.Tensor | None] = []  # (M, 1, 1) real units per member
            for k in range(depth - 1):
                H = self.max_widths[k + 1]
                w_k = torch.tensor(widths[k + 1], device=device)
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
                self.norm_weight.append(g)
                self.norm_bias.append(beta)
                # always the masked formula (even when no member is padded), so a member's
                # arithmetic does not depend on whether a stack-mate is padded
                valid = torch.arange(H, device=device)[None, :] < w_k[:, None]
                self.valid.append(valid.to(dtype).unsqueeze(1))
                self.count.append(w_k.to(dtype).view(M, 1, 1))
            # One flat leaf holds every parameter, each tensor starting at a multiple of
            # SEGMENT_QUANTUM elements (so Adam's vector loop covers every member alike);
            # the stacked tensors become views of it.
            self._names: list[tuple[str, int]] = []
            tensors = []
            for name, k, t in self._named():
                self._names.append((name, k))
                tensors.append(t)
            self._segments: list[tuple[int, torch.Size]] = []
            total = 0
            for t in tensors:
                self._segments.append((total, t.shape))
                total += _round_up(t.numel(), SEGMENT_QUANTUM)
            flat = torch.zeros(total, dtype=dtype, device=device)
            for (offset, shape), t in zip(self._segments, tensors):
                flat[offset : offset + t.numel()] = t.reshape(-1)
            self.flat = flat.requires_grad_()
            self._bind(self.views(self.flat.detach()))
            self._grad_views: list[torch.Tensor] | None = None

    def _named(self) -> list[tuple[str, int, torch.Tensor]]:
        """``(name, layer, tensor)`` of every stacked parameter, in flat-buffer order."""
        out = []
        for k, layer in enumerate(self.layers):
            out.append(("weight", k, layer.weight))
            if layer.bias is not None:
                out.append(("bias", k, layer.bias))
        for k, (g, beta) in enumerate(zip(self.norm_weight, self.norm_bias)):
            if g is not None:
                out.extend((("norm_weight", k, g), ("norm_bias", k, beta)))
        return out

    def _bind(self, views: list[torch.Tensor]) -> None:
        for (name, k), v in zip(self._names, views):
            if name in ("weight", "bias"):
                setattr(self.layers[k], name, v)
            else:
                getattr(self, name)[k] = v

    def views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        """``flat`` (the parameter buffer, its gradient or an Adam moment) cut into the
        stacked tensors, in ``_named`` order."""
        return [flat[o : o + shape.numel()].view(shape) for o, shape in self._segments]

    def view(self, flat: torch.Tensor, name: str, k: int) -> torch.Tensor:
        """The part of ``flat`` holding parameter ``name`` ("weight", "bias", "norm_weight",
        "norm_bias") of layer ``k``."""
        o, shape = self._segments[self._names.index((name, k))]
        return flat[o : o + shape.numel()].view(shape)

    def parameters(self) -> list[torch.Tensor]:
        """The one leaf tensor to optimise: the flat buffer behind every stacked parameter."""
        return [self.flat]

    def effective_weight(self, k: int) -> torch.Tensor:
        """``weight * mask`` of layer k, ``(M, out, in)``."""
        layer = self.layers[k]
        return layer.weight if layer.mask is None else layer.weight * layer.mask

    def _norm(self, k: int, h: torch.Tensor) -> torch.Tensor:  # (M, B, H) -> (M, B, H)
        g = self.norm_weight[k]
        if g is None:
            return h
        beta = self.norm_bias[k]
        valid, count = self.valid[k], self.count[k]
        # LayerNorm over each member's real units only; padded units come out 0
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

    def losses(self, logits: torch.Tensor, y: torch.Tensor, n_real: int | None = None) -> torch.Tensor:  # -> (M,)
        """Each member's mean data loss (BCE on one logit, or cross-entropy) over the first
        ``n_real`` samples of the batch (all by default; the rest is padding)."""
        if n_real is not None and n_real != logits.shape[1]:
            logits, y = logits[:, :n_real], y[:, :n_real]
        if self.binary:
            per = F.binary_cross_entropy_with_logits(logits.squeeze(-1), y, reduction="none")
            return per.mean(1)
        M, B, O = logits.shape
        per = F.cross_entropy(logits.reshape(M * B, O), y.reshape(M * B), reduction="none")
        return per.view(M, B).mean(1)

    def objective_and_grads(
        self, x: torch.Tensor, y: torch.Tensor, l1: torch.Tensor | None, n_real: int | None = None
    ) -> torch.Tensor:
        """Each member's objective ``L_m`` (M,), with ``grad sum_m L_m`` left in ``.grad``.

        ``x (M, B, I)``, ``y (M, B)``; only the first ``n_real`` samples count (the rest
        pads the batch to a multiple of ``WIDTH_QUANTUM``; default: all).
        ``L_m = mean data loss + l1_m * sum |W1_m * M1_m|``. Without LayerNorm the gradients
        are written by hand (one bmm per weight and per back-propagated activation, no
        autograd graph: ~1.4x faster per step for tiny members); with LayerNorm autograd
        does it. Both equal the reference's gradients up to float reassociation.
        """
        if self.layernorm:
            # autograd through views of the flat leaf, so its .grad gets every gradient
            aliases = [t for _, _, t in self._named()]
            self._bind(self.views(self.flat))
            try:
                loss = self.losses(self.forward(x), y, n_real)
                if l1 is not None:
                    loss = loss + l1 * self.effective_weight(0).abs().sum((1, 2))
            finally:
                self._bind(aliases)
            self.flat.grad = None
            self._grad_views = None
            loss.sum().backward()
            return loss.detach()
        with torch.no_grad():
            return self._manual_objective_and_grads(x, y, l1, n_real)

    def _manual_objective_and_grads(
        self, x: torch.Tensor, y: torch.Tensor, l1: torch.Tensor | None, n_real: int | None
    ) -> torch.Tensor:
        # Activations are kept feature-major, (M, width, B): every matmul then has the batch
        # as its wide dimension (W @ x^T rather than x @ W^T), which MKL runs up to 3x
        # faster for narrow layers (measured: 64 x 500 x 32 -> 8 took 0.9 ms one way,
        # 0.3 ms the other) and never slower here.
        M, B = x.shape[0], x.shape[1]
        b = B if n_real is None else n_real  # real samples; columns b: are padding
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
            loss = F.binary_cross_entropy_with_logits(o[:, :b], y[:, :b], reduction="none").mean(1)
            g = torch.sigmoid(o).sub_(y).div_(b).unsqueeze(1)  # d mean BCE / d logit, (M, 1, B)
        else:
            logp = F.log_softmax(logits, 1)  # over classes
            loss = -logp.gather(1, y.unsqueeze(1)).squeeze(1)[:, :b].mean(1)
            g = logp.exp_()  # (softmax - onehot) / b, (M, O, B)
            g.scatter_add_(1, y.unsqueeze(1), torch.full_like(g[:, :1], -1.0))
            g.div_(b)
        if b < B:
            g[:, :, b:] = 0  # padded samples: no gradient
        if l1 is not None:
            loss = loss + l1 * weights[0].abs().sum((1, 2))
        if self._grad_views is None or self.flat.grad is None:
            self.flat.grad = torch.zeros_like(self.flat)  # padding between segments stays 0
            self._grad_views = self.views(self.flat.grad)
        grads = dict(zip(self._names, self._grad_views))
        for k in range(last, -1, -1):
            layer = self.layers[k]
            grad_w = grads["weight", k]
            torch.bmm(g, acts[k].transpose(1, 2), out=grad_w)  # (M, out, B) @ (M, B, in)
            if layer.mask is not None:
                grad_w.mul_(layer.mask)
            if k == 0 and l1 is not None:
                # d |W * M| / dW = sign(W * M) * M (0 at 0, as autograd's abs)
                grad_w.addcmul_(torch.sign(weights[0]), l1.view(M, 1, 1))
            if layer.bias is not None:
                torch.sum(g, 2, out=grads["bias", k])
            if k > 0:
                # back through W_k, then ReLU: pass where the activation is > 0
                g = torch.bmm(weights[k].transpose(1, 2), g)  # (M, in, B)
                g = torch.ops.aten.threshold_backward(g, acts[k], 0)
        return loss

    @torch.no_grad()
    def apply_masks_(self, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Zero masked weights and their Adam moments (``models.apply_masks_``, stacked)."""
        tensors, masks = [], []
        state = optimizer.state.get(self.flat, {}) if optimizer is not None else {}
        moments = [v for v in state.values() if torch.is_tensor(v) and v.shape == self.flat.shape]
        for k, layer in enumerate(self.layers):
            if layer.mask is None:
                continue
            tensors.append(layer.weight)
            masks.append(layer.mask)
            for value in moments:
                tensors.append(self.view(value, "weight", k))
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


class _FlatAdam:
    """``torch.optim.Adam(lr, weight_decay)`` (coupled L2, betas 0.9/0.999, eps 1e-8) on the
    one flat parameter buffer, written as torch's single-tensor Adam writes it.

    ``torch.optim.Adam.step`` spent ~70 us of Python per call around a 6 us fused kernel,
    which dominated small stacks' steps; these eight in-place passes take ~25 us. State as
    torch keeps it: ``state[param] = {"step", "exp_avg", "exp_avg_sq"}``.
    """

    betas = (0.9, 0.999)
    eps = 1e-8

    def __init__(self, param: torch.Tensor, lr: float, weight_decay: float) -> None:
        self.param, self.lr, self.weight_decay = param, float(lr), float(weight_decay)
        self.state = {param: {"step": 0, "exp_avg": torch.zeros_like(param), "exp_avg_sq": torch.zeros_like(param)}}

    @torch.no_grad()
    def step(self) -> None:
        p = self.param
        state = self.state[p]
        beta1, beta2 = self.betas
        grad = p.grad
        if self.weight_decay:
            grad = grad.add(p, alpha=self.weight_decay)
        state["step"] += 1
        t = state["step"]
        state["exp_avg"].lerp_(grad, 1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step_size = self.lr / (1 - beta1**t)
        denom = (state["exp_avg_sq"].sqrt() / math.sqrt(1 - beta2**t)).add_(self.eps)
        p.addcdiv_(state["exp_avg"], denom, value=-step_size)


def _make_optimizer(params: list[torch.Tensor], s: TrainSettings) -> _FlatAdam:
    (flat,) = params
    return _FlatAdam(flat, s.lr, s.weight_decay)


def _stack_data(
    data: Sequence[tuple[torch.Tensor, torch.Tensor]], in_width: int, binary: bool, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Unique datasets stacked: X (U*n + 1, I) zero-padded, y (U*n + 1,), member -> dataset
    offset (M,). The last row (index U*n) is all zeros: padded batch samples read it.

    Members whose data are equal (a config's strategies all train on its training set,
    often passed as separate copies) share one copy: found by a cheap fingerprint,
    confirmed by ``torch.equal``.
    """
    uniq: list[tuple[torch.Tensor, torch.Tensor]] = []
    by_print: dict[tuple, list[int]] = {}
    which = []
    by_id: dict[tuple[int, int], int] = {}  # the very same tensors (alive here: ids are stable)
    for X, y in data:
        if (id(X), id(y)) in by_id:
            which.append(by_id[id(X), id(y)])
            continue
        fp = (tuple(X.shape), X.dtype, float(X.sum()), float(X[0].sum()), float(y.sum()))
        for u in by_print.get(fp, []):
            if torch.equal(uniq[u][0], X) and torch.equal(uniq[u][1], y):
                which.append(u)
                break
        else:
            by_print.setdefault(fp, []).append(len(uniq))
            which.append(len(uniq))
            uniq.append((X, y))
        by_id[id(X), id(y)] = which[-1]
    n = uniq[0][0].shape[0]
    device = uniq[0][0].device
    U = len(uniq)
    Xs = torch.zeros(U * n + 1, in_width, dtype=dtype, device=device)
    ys = torch.zeros(U * n + 1, dtype=dtype if binary else torch.long, device=device)
    for u, (X, y) in enumerate(uniq):
        Xs[u * n : (u + 1) * n, : X.shape[1]] = X
        ys[u * n : (u + 1) * n] = y.to(ys.dtype)
    offsets = torch.tensor(which, dtype=torch.long, device=device) * n
    return Xs, ys, offsets


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """One torch intra-op thread while a stack trains (module docstring: with more, MKL
    splits a lone matrix but not a batch, so results would depend on the stack size)."""
    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


def _train_stack(
    models: Sequence[MLP],
    data: Sequence[tuple[torch.Tensor, torch.Tensor]],
    settings: Sequence[TrainSettings],
    seeds: Sequence[int],
    *,
    progress: bool,
) -> tuple[list[TrainHistory], StackedMLP, torch.optim.Optimizer]:
    """Train one stack; ``settings`` agree except ``l1`` (checked by the caller's grouping).

    Returns the histories and, for inspection, the stack and its optimizer. A lone member
    trains beside a ghost copy of itself (a stack of one takes other GEMM paths).
    """
    n_members = len(models)
    if n_members == 1:
        models = [models[0], copy.deepcopy(models[0])]
        data, settings, seeds = [data[0]] * 2, [settings[0]] * 2, [seeds[0]] * 2
    with _one_thread():
        histories, net, opt = _train_stack_1t(models, data, settings, seeds, progress=progress)
    return histories[:n_members], net, opt


def _train_stack_1t(
    models: Sequence[MLP],
    data: Sequence[tuple[torch.Tensor, torch.Tensor]],
    settings: Sequence[TrainSettings],
    seeds: Sequence[int],
    *,
    progress: bool,
) -> tuple[list[TrainHistory], StackedMLP, torch.optim.Optimizer]:
    s0 = settings[0]
    net = StackedMLP(models)
    M = net.M
    dtype = net.flat.dtype
    Xs, ys, offsets = _stack_data(data, net.max_widths[0], net.binary, dtype)
    n = data[0][0].shape[0]
    pad_row = Xs.shape[0] - 1  # the zero row
    buffers: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # padded batch -> (x, y) gather buffers
    # (real, padded) size of each batch of an epoch; bs_pad: a full batch, padded
    bs_pad = _round_up(min(s0.batch_size, n), SEGMENT_QUANTUM)
    batches = [(min(s0.batch_size, n - start), _round_up(min(s0.batch_size, n - start), SEGMENT_QUANTUM))
               for start in range(0, n, s0.batch_size)]
    n_full, n_rest = divmod(n, s0.batch_size)
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
            # every batch padded to a multiple of SEGMENT_QUANTUM (every (width, B) slab:
            # no vector-loop tail): all padded row indices of the epoch in one pass
            padded = torch.full((M, len(batches) * bs_pad), pad_row, dtype=perms.dtype, device=perms.device)
            if n_full:
                padded.view(M, len(batches), bs_pad)[:, :n_full, : s0.batch_size] = perms[
                    :, : n_full * s0.batch_size
                ].view(M, n_full, s0.batch_size)
            if n_rest:  # the last, partial batch (the only one when n < batch_size)
                padded[:, n_full * bs_pad : n_full * bs_pad + n_rest] = perms[:, n_full * s0.batch_size :]
            total = torch.zeros(M, dtype=dtype, device=Xs.device)
            steps = 0
            for j, (b, B) in enumerate(batches):
                rows = padded[:, j * bs_pad : j * bs_pad + B]  # (M, B): b real rows, then the zero row
                if B not in buffers:
                    # reused every step: a fresh 1-4 MB gather output cost 4x the gather
                    buffers[B] = (Xs.new_empty(M * B, Xs.shape[1]), ys.new_empty(M * B))
                xbuf, ybuf = buffers[B]
                flat_rows = rows.reshape(-1)
                xb = torch.index_select(Xs, 0, flat_rows, out=xbuf).view(M, B, -1)
                yb = torch.index_select(ys, 0, flat_rows, out=ybuf).view(M, B)
                loss = net.objective_and_grads(xb, yb, l1 if use_l1 else None, b)  # (M,)
                opt.step()
                # no apply_masks_ here: masked entries of the weights and of both Adam
                # moments start at exactly 0 and their gradient is exactly 0 (masked in
                # objective_and_grads), so Adam keeps them at 0: g + wd * 0 = 0, m and v
                # stay 0, the step is lr * 0 / (0 + eps) = 0. Same result as masking after
                # every step (the reference's contract), without three passes per layer.
                total += loss
                steps += 1
            for h, value in zip(histories, (total / max(steps, 1)).tolist()):
                h.epoch_loss.append(value)
        bar.close()
        net.apply_masks_(opt)  # a no-op by the invariant above; kept as the contract's last word
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
    ``ensemble_groups`` (same ``stack_shape``, dataset size and settings except ``l1``);
    each group trains as one stack. Each member's result is bit-identical whatever else is
    trained in the same call, in what order, and with any torch thread count (module
    docstring). Raises ``ValueError`` for a model that cannot be stacked (see
    ``ensemble_compatible``).
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
