"""``StackedMLP``: M ``MLP`` members as ``(M, out, in)`` stacks in one flat parameter buffer.

The data structure of the batched ensemble trainer (``ensemble.train_ensemble``, whose
docstring says why each rule below keeps every member's result independent of its stack):
each member is zero-padded to its own ``stack_shape`` (input and hidden widths rounded up,
never to a stack-mate's widths), every stacked tensor starts at a multiple of
``SEGMENT_QUANTUM`` elements of the one flat buffer Adam sees, LayerNorm uses the masked
formula for every member, and ``objective_and_grads`` writes each member's exact gradient.

Shapes in comments: M members, B batch, I inputs, H hidden units, O outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.models import MLP, MaskedLinear

__all__ = ["StackedMLP", "stack_shape", "ensemble_compatible", "WIDTH_QUANTUM", "SEGMENT_QUANTUM", "round_up"]

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


def norm_eps(model: MLP) -> float | None:
    for norm in model.norms:
        if isinstance(norm, nn.LayerNorm):
            return float(norm.eps)
    return None


def _dims(model: MLP) -> tuple[int, ...]:
    return (model.in_features, *model.hidden)


def round_up(n: int, quantum: int = WIDTH_QUANTUM) -> int:
    return -(-int(n) // quantum) * quantum


def _hidden_width(w: int) -> int:
    # small layers: the next power of two (>= WIDTH_QUANTUM), so that e.g. a sweep's
    # widths 12 and 16 (24 and 32) share a stack: small stacks are overhead-bound, and
    # fewer, fuller stacks win over tight padding; beyond 64 units the work dominates, so
    # pad only to a multiple of 32
    if w <= 64:
        return max(WIDTH_QUANTUM, 1 << (int(w) - 1).bit_length())
    return round_up(w, 32)


def stack_shape(model: MLP) -> tuple[int, ...]:
    """The padded widths ``(in, *hidden, out)`` a member trains with in any stack.

    The input width is rounded up to a multiple of ``WIDTH_QUANTUM``; a hidden width ``w``
    to the next power of two (at least ``WIDTH_QUANTUM``) up to 64, beyond that to a
    multiple of 32; the output width is kept. A function of the member alone, so its
    arithmetic is the same whatever it is stacked with.
    """
    return (round_up(model.in_features), *(_hidden_width(w) for w in model.hidden), model.out_features)


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
        self.eps = norm_eps(first) or 1e-5
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
                total += round_up(t.numel(), SEGMENT_QUANTUM)
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
