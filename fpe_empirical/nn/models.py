"""Masked linear layers and MLPs: the networks that FPE splits.

A mask is plain data: a persistent bool buffer beside the weight, so it survives
``state_dict``, ``deepcopy`` and pickling. The forward pass multiplies it in, so masked
weights are exactly zero in every output and receive exactly zero gradient;
``apply_masks_`` re-zeroes weights *and* every weight-shaped optimizer state tensor after a
step, so no optimizer (momentum, Adam moments, weight decay) can revive a pruned entry.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fpe_common.checks import check_bool, check_int

__all__ = ["MaskedLinear", "MLP", "apply_masks_", "count_nonzero", "masked_layers"]


def _check_module(model) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (e.g. an fpe_empirical.MLP), got {type(model).__name__}")
    return model


class MaskedLinear(nn.Module):
    """``y = x @ (weight * mask).T + bias``.

    weight: (out_features, in_features) float parameter.
    bias:   (out_features,) float parameter, or None.
    mask:   (out_features, in_features) bool buffer; False entries are structurally zero.
    parent_index: (out_features,) int64 buffer; unit j of a split layer descends from
        unit ``parent_index[j]`` of the layer it was split from (``arange`` when unsplit).
    partition: None, or ``(group_of_parent (N,), input_part (G, in_features))`` int64 tensors
        for a grouped split layer (``fpe_expand(..., n_partitions=G)``): unit j may use exactly
        the inputs i with ``input_part[group_of_parent[parent_index[j]], i] == j % alpha``.
        Kept by ``deepcopy``/pickling and, only when set, in ``state_dict`` (keys
        ``partition_groups`` / ``partition_parts``), so older state dicts load unchanged.
    """

    _PARTITION_KEYS = ("partition_groups", "partition_parts")

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features = in_features = check_int("in_features", in_features, 1)
        self.out_features = out_features = check_int("out_features", out_features, 1)
        check_bool("bias", bias)
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.register_buffer("mask", torch.ones(out_features, in_features, dtype=torch.bool))
        self.register_buffer("parent_index", torch.arange(out_features, dtype=torch.long))
        self.partition: tuple[torch.Tensor, torch.Tensor] | None = None
        self.reset_parameters()

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        if self.partition is not None:
            for key, value in zip(self._PARTITION_KEYS, self.partition):
                destination[prefix + key] = value

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # optional entries: present only for grouped layers (popped so strict loading accepts them)
        found = [state_dict.pop(prefix + key, None) for key in self._PARTITION_KEYS]
        if all(v is not None for v in found):
            self.partition = tuple(v.detach().to(torch.long).cpu().clone() for v in found)
        elif any(v is not None for v in found):
            error_msgs.append(f"{prefix}: partition_groups and partition_parts must be given together")
        else:
            self.partition = None
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def reset_parameters(self) -> None:
        """PyTorch's ``nn.Linear`` initialisation (Kaiming-uniform weights, uniform bias)."""
        tmp = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)
        with torch.no_grad():
            self.weight.copy_(tmp.weight)
            if self.bias is not None:
                self.bias.copy_(tmp.bias)
            self.weight.mul_(self.mask)

    def masked_weight(self) -> torch.Tensor:
        """The effective weight ``weight * mask`` (exact zeros where masked)."""
        return self.weight * self.mask

    def set_mask(self, mask: torch.Tensor) -> None:
        """Replace the mask (bool, weight's shape) and zero the newly masked weights."""
        mask = torch.as_tensor(mask, dtype=torch.bool, device=self.weight.device)
        if mask.shape != self.weight.shape:
            raise ValueError(
                f"mask must have the weight's shape {tuple(self.weight.shape)}, got {tuple(mask.shape)}"
            )
        self.mask.copy_(mask)
        with torch.no_grad():
            self.weight.mul_(self.mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, in) -> (batch, out)
        return F.linear(x, self.weight * self.mask, self.bias)

    def to_linear(self) -> nn.Linear:
        """A plain dense ``nn.Linear`` holding the effective (masked) weights."""
        lin = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)
        with torch.no_grad():
            lin.weight.copy_(self.masked_weight())
            if self.bias is not None:
                lin.bias.copy_(self.bias)
        return lin

    def extra_repr(self) -> str:
        density = self.mask.float().mean().item()
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, density={density:.3f}"
        )


class MLP(nn.Module):
    """``in -> [Linear -> (LayerNorm) -> activation] * len(hidden) -> Linear -> logits``.

    ``hidden`` is an int (one hidden layer) or a list of widths. ``out_features == 1``
    means binary classification (sigmoid + BCE on the single logit), otherwise softmax
    cross-entropy over ``out_features`` classes. LayerNorm, when on, sits before each
    activation (paper A.7).
    """

    def __init__(
        self,
        in_features: int,
        hidden: int | Sequence[int],
        out_features: int,
        *,
        layernorm: bool = False,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(hidden, int) and not isinstance(hidden, bool):
            widths = [hidden]
        elif isinstance(hidden, (list, tuple, range)):
            widths = list(hidden)
        else:
            raise TypeError(f"hidden must be an int or a list of ints, got {type(hidden).__name__} {hidden!r}")
        if not widths:
            raise ValueError("hidden must name at least one hidden layer width")
        for i, w in enumerate(widths):
            widths[i] = check_int(f"hidden[{i}]", w, 1)
        in_features = check_int("in_features", in_features, 1)
        out_features = check_int("out_features", out_features, 1)
        check_bool("layernorm", layernorm)
        check_bool("bias", bias)
        self.in_features = in_features
        self.out_features = out_features
        self.layernorm = bool(layernorm)
        dims = [in_features, *widths, out_features]
        self.layers = nn.ModuleList(
            MaskedLinear(dims[i], dims[i + 1], bias=bias) for i in range(len(dims) - 1)
        )
        self.norms = nn.ModuleList(
            nn.LayerNorm(w) if self.layernorm else nn.Identity() for w in widths
        )

    @property
    def hidden(self) -> list[int]:
        """Current hidden widths (after any expansion)."""
        return [layer.out_features for layer in self.layers[:-1]]

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Post-activation outputs of every hidden layer, each (batch, width)."""
        out = []
        for layer, norm in zip(self.layers[:-1], self.norms):
            x = F.relu(norm(layer(x)))
            out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, in) -> (batch, out)
        for layer, norm in zip(self.layers[:-1], self.norms):
            x = F.relu(norm(layer(x)))
        return self.layers[-1](x)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean BCE-with-logits (binary, y in {0,1}) or cross-entropy (y class indices)."""
        if self.out_features == 1:
            return F.binary_cross_entropy_with_logits(logits.squeeze(-1), y.to(logits.dtype))
        return F.cross_entropy(logits, y.long())

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted labels: ``logit > 0`` (binary) or ``argmax`` (multi-class)."""
        logits = self(x)
        if self.out_features == 1:
            return (logits.squeeze(-1) > 0).long()
        return logits.argmax(-1)

    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Fraction of correct predictions."""
        return (self.predict(x) == y.long()).double().mean().item()


def masked_layers(model: nn.Module) -> list[MaskedLinear]:
    """Every ``MaskedLinear`` in ``model``, in module order."""
    _check_module(model)
    return [m for m in model.modules() if isinstance(m, MaskedLinear)]


@torch.no_grad()
def apply_masks_(model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> None:
    """Zero masked weights and every weight-shaped optimizer state tensor, in place.

    Call after every optimizer step: whatever the optimizer (SGD momentum, Adam moments,
    weight decay), a masked entry is then exactly zero in both the weight and its state.
    """
    for layer in masked_layers(model):
        layer.weight.mul_(layer.mask)
        if optimizer is None:
            continue
        state = optimizer.state.get(layer.weight)
        if not state:
            continue
        for value in state.values():
            if torch.is_tensor(value) and value.shape == layer.mask.shape:
                value.mul_(layer.mask)


@torch.no_grad()
def count_nonzero(model: nn.Module) -> int:
    """Exact number of non-zero parameters: masked weights, biases and norm parameters.

    ``sum over MaskedLinear of nnz(weight * mask) + nnz(bias)`` plus ``nnz`` of every other
    parameter (LayerNorm weight and bias, ...). Integer arithmetic only.
    """
    _check_module(model)
    total = 0
    seen: set[int] = set()
    for layer in masked_layers(model):
        total += int(torch.count_nonzero(layer.masked_weight()))
        seen.add(id(layer.weight))
    for p in model.parameters():
        if id(p) not in seen:
            total += int(torch.count_nonzero(p))
    return total
