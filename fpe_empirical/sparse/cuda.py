"""2:4 sparse layers on CUDA: ``TorchSparseMLP`` (``SparseMLP.to_torch``) and ``is_two_four``.

Every layer whose weight has the 2:4 pattern (at most 2 non-zeros in each aligned run of 4
inputs: the ``"two_four"`` split) runs through PyTorch's semi-structured sparse kernels
(``torch.sparse.to_sparse_semi_structured``; compute capability >= 8.0), zero-padded to the
shape multiples those kernels need; other layers run dense (cuBLAS). Without CUDA the same
module runs dense on the CPU (used to test the wiring).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .layers import SparseLayer

__all__ = ["TorchSparseMLP", "is_two_four"]


def is_two_four(weight) -> bool:
    """True when every aligned run of 4 inputs of ``weight (out, in)`` holds <= 2 non-zeros.

    The 2:4 pattern of sparse tensor cores, along the input (last) axis; ``in`` need not be a
    multiple of 4 (the last run is zero-padded).
    """
    W = weight.detach().cpu().numpy() if torch.is_tensor(weight) else np.asarray(weight)
    if W.ndim != 2:
        raise ValueError(f"weight must be 2-D (out, in), got shape {W.shape}")
    nz = W != 0
    pad = (-nz.shape[1]) % 4
    if pad:
        nz = np.concatenate([nz, np.zeros((nz.shape[0], pad), dtype=bool)], axis=1)
    return bool((nz.reshape(nz.shape[0], -1, 4).sum(axis=2) <= 2).all())


def _semi_structured_class(dtype: torch.dtype):
    """The torch semi-structured class for ``dtype``: CUTLASS for float32, else cuSPARSELt if present."""
    from torch.sparse import SparseSemiStructuredTensorCUSPARSELT, SparseSemiStructuredTensorCUTLASS

    if dtype == torch.float32:
        return SparseSemiStructuredTensorCUTLASS
    try:
        cslt = torch.backends.cusparselt.is_available()
    except AttributeError:  # older torch without the backend flag
        cslt = False
    return SparseSemiStructuredTensorCUSPARSELT if cslt else SparseSemiStructuredTensorCUTLASS


def _semi_structured_multiples(cls, dtype: torch.dtype) -> tuple[int, int]:
    """Row and column multiples a sparse operand of ``cls`` needs (conservative fallback)."""
    table = getattr(cls, "_DTYPE_SHAPE_CONSTRAINTS", {})
    cfg = table.get(dtype)
    if cfg is None:
        return 64, 128
    return int(cfg.sparse_min_rows), int(cfg.sparse_min_cols)


def _pad_to(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


class TorchSparseMLP(nn.Module):
    """``SparseMLP`` as a torch module for a device (``SparseMLP.to_torch``).

    Each layer is either ``"semi_structured"`` (2:4 weight padded with zero rows/columns to
    the kernel's shape multiples; input columns zero-padded, output rows sliced, bias added
    after) or ``"dense"`` (the effective weight, ``F.linear``). ``layer_kinds`` lists them.
    Output dtype is the compute dtype.
    """

    def __init__(self, sparse, *, device="cuda", dtype=None, semi_structured="auto", _convert=None):
        super().__init__()
        # a SparseMLP (not imported here: cpu.py imports this module); checked by what it holds
        if not all(hasattr(sparse, a) for a in ("layers", "norms", "dtype")) or not all(
                isinstance(layer, SparseLayer) for layer in sparse.layers):
            raise TypeError(f"sparse must be a SparseMLP, got {type(sparse).__name__}")
        if semi_structured not in ("auto", True, False):
            raise ValueError(f"semi_structured must be 'auto', True or False, got {semi_structured!r}")
        device = torch.device(device)
        if dtype is None:
            dtype = torch.float64 if sparse.dtype == np.float64 else torch.float32
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        capable = (
            device.type == "cuda"
            and torch.cuda.is_available()
            and torch.cuda.get_device_capability(device) >= (8, 0)
            and dtype in (torch.float16, torch.bfloat16, torch.float32)
        )
        if semi_structured is True and not capable and _convert is None:
            raise ValueError(
                "semi_structured=True needs a CUDA device of compute capability >= 8.0 and dtype "
                f"float16, bfloat16 or float32; got device {device}, dtype {dtype}"
            )
        use_ss = _convert is not None or (semi_structured is not False and capable)
        if _convert is None and use_ss:
            cls = _semi_structured_class(dtype)
            multiples = _semi_structured_multiples(cls, dtype)
            convert = cls.from_dense
        elif _convert is not None:  # tests: a stand-in converter on the CPU
            convert, multiples = _convert
        self.layer_kinds: list[str] = []
        self._shapes: list[tuple[int, int, int]] = []  # (out, in, in_padded)
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for layer in sparse.layers:
            W = torch.from_numpy(layer.dense_weight()).to(device=device, dtype=dtype)
            b = torch.zeros(layer.out_features) if layer.bias is None else torch.from_numpy(layer.bias)
            self.biases.append(nn.Parameter(b.to(device=device, dtype=dtype), requires_grad=False))
            if use_ss and is_two_four(layer.dense_weight()):
                rows = _pad_to(layer.out_features, multiples[0])
                cols = _pad_to(layer.in_features, max(multiples[1], 4))
                Wp = torch.zeros(rows, cols, device=device, dtype=dtype)
                Wp[: layer.out_features, : layer.in_features] = W
                self.weights.append(nn.Parameter(convert(Wp.contiguous()), requires_grad=False))
                self.layer_kinds.append("semi_structured")
                self._shapes.append((layer.out_features, layer.in_features, cols))
            else:
                self.weights.append(nn.Parameter(W, requires_grad=False))
                self.layer_kinds.append("dense")
                self._shapes.append((layer.out_features, layer.in_features, layer.in_features))
        self.norms = nn.ModuleList()
        for i, norm in enumerate(sparse.norms):
            if norm is None:
                self.norms.append(nn.Identity())
                continue
            gamma, beta, eps = norm
            ln = nn.LayerNorm(gamma.shape[0], eps=eps).to(device=device, dtype=dtype)
            with torch.no_grad():
                ln.weight.copy_(torch.from_numpy(gamma))
                ln.bias.copy_(torch.from_numpy(beta))
            ln.requires_grad_(False)
            self.norms.append(ln)

    def _linear(self, i: int, x: torch.Tensor) -> torch.Tensor:
        out_f, in_f, in_pad = self._shapes[i]
        if self.layer_kinds[i] == "dense":
            return F.linear(x, self.weights[i], self.biases[i])
        if in_pad != in_f:
            x = F.pad(x, (0, in_pad - in_f))
        return F.linear(x, self.weights[i])[:, :out_f] + self.biases[i]

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, in) -> (batch, out)
        single = x.dim() == 1
        x = x.reshape(1, -1) if single else x
        x = x.to(device=self.biases[0].device, dtype=self.biases[0].dtype)
        last = len(self.weights) - 1
        for i in range(last):
            x = F.relu(self.norms[i](self._linear(i, x)))
        x = self._linear(last, x)
        return x[0] if single else x
