"""Compact sparse inference on the CPU: ``to_sparse(model) -> SparseMLP``.

The paper's practical claim is that a wider network with the same non-zeros should cost the
same to run, since moving non-zero parameters, not arithmetic, dominates. A masked dense
layer costs its full wide matrix; ``SparseMLP`` stores (``layers``: ELL / CSR / dense per
layer) and runs only the non-zeros. Biases and LayerNorm parameters are kept as is. The
forward pass reproduces ``MLP.forward``: ``h = x W^T + b``, then LayerNorm (biased
variance) when the model has one, then ReLU, for each hidden layer; the last layer gives
logits. Equality with the masked model holds to float tolerance (sums run in another order).

Running: each layer is packed once into a sliced ELL (``kernels``: groups of 4 rows sorted
by fan-in, each group as wide as its widest row, inputs cut into chunks of 1024 for very
wide layers) and run by Numba kernels whose time is ``(non-zeros + padding) * batch`` and
whose weight memory is ``non-zeros + padding``: for batch >= 4 the activations are kept
transposed in tiles of 16-64 samples so each gathered input row is a contiguous vector (one
SIMD FMA per non-zero per 16 samples, accumulators in registers); batches of 1-3 use a
per-sample scalar gather. ``threads`` splits the work over Python threads (the kernels
release the GIL), so no OpenMP pool spins beside torch's; results are identical for any
thread count. Activation buffers are reused between calls on the same thread.

Cost, measured (``benchmarks/bench_sparse.py``, one AVX-512 core): a gathered non-zero
costs one vector load per vector FMA, so the sparse kernel runs at ~50-60% of the rate of a
well-blocked dense GEMM; an FPE network at batch 256 then takes ~1.0-1.6x the latency of
its dense parent (same non-zeros) where the masked wide network takes ~alpha times. At
batch 1 the gather (3 loads per non-zero) is ~3x slower per non-zero than a dense GEMV.

Grouped FPE layers (``fpe_expand(..., n_partitions=G)``, recognised from their stored
partition) are kept as dense blocks (``grouped``): by default packed as dense 4-row slices
whose rows share the block's input rows (one gather per input row, reused by the 4 rows: the
dense kernel's arithmetic intensity; batches <= 3 permute the input once per block, then
dense dots); with ``grouped_runtime="torch"`` they run as torch batched GEMMs, the network
segment by segment.

Files: ``SparseMLP.save`` / ``SparseMLP.load`` (``io``); GPU: ``SparseMLP.to_torch`` (``cuda``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import nn

from fpe_common.checks import check_int

from ..nn.models import MLP
from . import kernels as _K
from .blocked import from_blocked, to_blocked
from .cuda import TorchSparseMLP
from .grouped import GroupedRuntime, grouped_arrays
from .io import read_sparse, write_sparse
from .layers import ELL_MAX_PADDING, LAYOUTS, SparseLayer, as_float_dtype, index_dtype, layer_from_weight  # noqa: F401
from .packing import pack_all

__all__ = ["to_sparse", "SparseMLP"]

#: how SparseMLP runs grouped layers (``grouped_runtime=``): "numba" (default: the kernels'
#: dense slices over gathered input rows) or "torch" (``sparse.grouped.GroupedRuntime``:
#: batched GEMMs by torch/BLAS, with the layer after it)
GROUPED_RUNTIMES = ("numba", "torch")
# batches below this use the per-sample gather kernels, larger ones the tiled kernels
_ROWS_MAX_BATCH = 3
# relative cost per (padded) sample column of the tile widths, measured (benchmarks/bench_sparse.py)
_TILE_COST = {64: 1.0, 32: 1.12, 16: 1.68}
# a layer is split over threads only when its work (entries * batch) exceeds this
_PARALLEL_MIN_WORK = 1 << 20
_ALIGN = 64  # bytes: tiles start on a cache line so vector loads never split lines


# --------------------------------------------------------------------------- threads

_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    with _pools_lock:
        pool = _pools.get(workers)
        if pool is None:
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fpe-sparse")
            _pools[workers] = pool
        return pool


def _chunks(work: np.ndarray, repeats: int, parts: int) -> list[tuple[int, int]]:
    """Split tasks ``t = b * ng + g`` (``b < repeats``) into ``parts`` runs of equal work."""
    ng = work.size
    n_tasks = repeats * ng
    cum = np.concatenate([[0], np.cumsum(work)])
    total = cum[-1] * repeats
    bounds = [0]
    for i in range(1, parts):
        target = total * i / parts
        b, rem = divmod(target, cum[-1]) if cum[-1] else (0, 0)
        t = int(b) * ng + int(np.searchsorted(cum, rem, side="left"))
        bounds.append(min(max(t, bounds[-1]), n_tasks))
    bounds.append(n_tasks)
    return [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]


def _run(kernel, args, work: np.ndarray, repeats: int, threads: int, total_work: int) -> None:
    """Run ``kernel(*args, lo, hi)`` over tasks ``0 .. repeats * len(work)``, split over threads."""
    n_tasks = repeats * work.size
    if threads <= 1 or n_tasks < 2 or total_work < _PARALLEL_MIN_WORK:
        kernel(*args, 0, n_tasks)
        return
    parts = _chunks(work, repeats, threads)
    if len(parts) == 1:
        kernel(*args, 0, n_tasks)
        return
    futures = [_pool(threads - 1).submit(kernel, *args, lo, hi) for lo, hi in parts[1:]]
    kernel(*args, *parts[0])
    for f in futures:
        f.result()


def _aligned_empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    n = math.prod(shape) * dtype.itemsize
    buf = np.empty(n + _ALIGN, dtype=np.uint8)
    off = (-buf.__array_interface__["data"][0]) % _ALIGN
    return buf[off : off + n].view(dtype).reshape(shape)


def _tile_width(batch: int) -> int:
    """The tile width with the least padded cost ``ceil(batch / TB) * TB * cost(TB)``."""
    return min(_TILE_COST, key=lambda tb: (-(-batch // tb) * tb * _TILE_COST[tb], -tb))


_WORKSPACE_MAX_BYTES = 1 << 25  # activation buffers up to 32 MiB are kept for the next call


# --------------------------------------------------------------------------- SparseMLP


class SparseMLP:
    """Inference-only sparse copy of an ``MLP`` (``to_sparse``); CPU, Numba kernels.

    ``layers``: list of ``SparseLayer``; ``norms``: one ``(gamma, beta, eps)`` or None per
    hidden layer (LayerNorm before the ReLU). ``threads``: how many threads a forward pass
    may use (default 1; keep numba/our threads + torch threads <= physical cores).
    ``grouped_runtime``: how grouped FPE layers run, ``"numba"`` (default: one input gather
    per block, dense 4-row slices in the kernels) or ``"torch"`` (batched GEMMs, BLAS).
    Calling it on ``x`` of shape ``(batch, in)`` or ``(in,)`` (torch tensor on the CPU, or
    anything NumPy turns into a real array) returns logits of shape ``(batch, out)`` /
    ``(out,)``, a torch tensor for a tensor input, else a NumPy array.
    """

    def __init__(self, layers: Sequence[SparseLayer], norms: Sequence | None = None, *, threads: int = 1,
                 grouped_runtime: str = "numba"):
        layers = list(layers)
        if not layers:
            raise ValueError("layers must hold at least one SparseLayer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, SparseLayer):
                raise TypeError(f"layers[{i}] must be a SparseLayer, got {type(layer).__name__}")
            if i and layer.in_features != layers[i - 1].out_features:
                raise ValueError(
                    f"layers[{i}].in_features must equal layers[{i - 1}].out_features = "
                    f"{layers[i - 1].out_features}, got {layer.in_features}"
                )
        dtypes = {layer.values.dtype for layer in layers}
        if len(dtypes) != 1 or next(iter(dtypes)) not in (np.float32, np.float64):
            raise ValueError(f"all layers must share one dtype, float32 or float64, got {sorted(map(str, dtypes))}")
        norms = [None] * (len(layers) - 1) if norms is None else list(norms)
        if len(norms) != len(layers) - 1:
            raise ValueError(f"norms must have one entry per hidden layer ({len(layers) - 1}), got {len(norms)}")
        dtype = next(iter(dtypes))
        for i, norm in enumerate(norms):
            if norm is not None:
                gamma, beta, eps = norm
                w = layers[i].out_features
                if np.shape(gamma) != (w,) or np.shape(beta) != (w,):
                    raise ValueError(f"norms[{i}] gamma and beta must have shape ({w},)")
                if not (isinstance(eps, float) and eps >= 0):
                    raise ValueError(f"norms[{i}] eps must be a float >= 0, got {eps!r}")
                norms[i] = (np.ascontiguousarray(gamma, dtype=dtype), np.ascontiguousarray(beta, dtype=dtype), eps)
        self.layers = layers
        self.norms = norms
        self._segments = None
        self.threads = threads
        self.dtype = dtype
        if not isinstance(grouped_runtime, str) or grouped_runtime not in GROUPED_RUNTIMES:
            raise ValueError(f"grouped_runtime must be one of {list(GROUPED_RUNTIMES)}, got {grouped_runtime!r}")
        self.grouped_runtime = grouped_runtime
        if grouped_runtime == "torch" and any(layer.kind == "grouped" for layer in layers):
            self._segments = _segments(layers, norms, self.threads)
            self._packed = self._packed_norms = None
        else:
            self._packed, self._packed_norms = pack_all(layers, norms)
        self._local = threading.local()  # per-thread activation buffers, reused across calls

    def _buffer(self, key, shape: tuple[int, ...]) -> np.ndarray:
        """An aligned scratch array of ``shape``, reused by later calls on this thread."""
        cache = getattr(self._local, "buffers", None)
        if cache is None:
            cache = self._local.buffers = {}
        buf = cache.get(key)
        if buf is None or buf.shape != shape:
            buf = _aligned_empty(shape, self.dtype)
            if buf.nbytes <= _WORKSPACE_MAX_BYTES:
                cache[key] = buf
        return buf

    @property
    def threads(self) -> int:
        """Threads one forward pass may use (settable; validated)."""
        return self._threads

    @threads.setter
    def threads(self, value) -> None:
        self._threads = check_int("threads", value, 1)
        for run, _ in self._segments or ():
            if isinstance(run, SparseMLP):
                run.threads = self._threads

    # ---- description
    @property
    def in_features(self) -> int:
        return self.layers[0].in_features

    @property
    def out_features(self) -> int:
        return self.layers[-1].out_features

    @property
    def hidden(self) -> list[int]:
        return [layer.out_features for layer in self.layers[:-1]]

    @property
    def layernorm(self) -> bool:
        return any(n is not None for n in self.norms)

    @property
    def nbytes(self) -> int:
        """Bytes of the stored network: values, indices, indptr, biases, LayerNorm parameters."""
        total = sum(layer.nbytes for layer in self.layers)
        for norm in self.norms:
            if norm is not None:
                total += norm[0].nbytes + norm[1].nbytes
        return int(total)

    def count_nonzero(self) -> int:
        """Non-zero weights, biases and LayerNorm parameters (equals ``models.count_nonzero``)."""
        total = 0
        for layer in self.layers:
            total += layer.nnz
            if layer.bias is not None:
                total += int(np.count_nonzero(layer.bias))
        for norm in self.norms:
            if norm is not None:
                total += int(np.count_nonzero(norm[0])) + int(np.count_nonzero(norm[1]))
        return total

    def __repr__(self) -> str:
        kinds = ", ".join(
            f"{layer.kind}({layer.in_features}->{layer.out_features}, nnz={layer.nnz})" for layer in self.layers
        )
        return f"SparseMLP([{kinds}], layernorm={self.layernorm}, threads={self.threads})"

    # ---- inference
    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        """Logits of the network for ``x`` (see the class docstring for shapes and types)."""
        is_tensor = torch.is_tensor(x)
        if is_tensor:
            if x.device.type != "cpu":
                raise ValueError(
                    f"x must be a CPU tensor for SparseMLP, got device {x.device}; "
                    "use SparseMLP.to_torch(device) for a GPU"
                )
            if x.is_complex() or x.dtype == torch.bool:
                raise TypeError(f"x must hold real numbers, got dtype {x.dtype}")
            arr = x.detach().numpy() if x.dtype in (torch.float32, torch.float64) else x.detach().double().numpy()
        else:
            arr = np.asarray(x)
            if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
                raise TypeError(f"x must hold real numbers, got dtype {arr.dtype}")
        if arr.ndim not in (1, 2) or arr.shape[-1] != self.in_features:
            raise ValueError(
                f"x must have shape (batch, {self.in_features}) or ({self.in_features},), got {tuple(arr.shape)}"
            )
        single = arr.ndim == 1
        X = np.ascontiguousarray(arr.reshape(1, -1) if single else arr, dtype=self.dtype)
        Y = self._forward_array(X)
        Y = Y[0] if single else Y
        return torch.from_numpy(Y) if is_tensor else Y

    def _forward_array(self, X: np.ndarray) -> np.ndarray:
        B = X.shape[0]
        if B == 0:
            return np.zeros((0, self.out_features), dtype=self.dtype)
        if self._segments is not None:
            return self._forward_segments(X)
        if B <= _ROWS_MAX_BATCH:
            return self._forward_rows(X)
        return self._forward_tiled(X)

    def _forward_segments(self, X: np.ndarray) -> np.ndarray:
        h = X
        last = len(self.layers) - 1
        for run, end in self._segments:
            h = run(h) if isinstance(run, GroupedRuntime) else run._forward_array(h)
            if end < last:  # the run's last layer is hidden: its LayerNorm and ReLU
                norm = self.norms[end]
                if norm is not None:
                    gamma, beta, eps = norm
                    mean = h.mean(axis=1, keepdims=True)
                    var = ((h - mean) ** 2).mean(axis=1, keepdims=True)
                    h = (h - mean) / np.sqrt(var + eps) * gamma + beta
                h = np.maximum(h, 0, out=h if h.flags.writeable else None)
        return np.ascontiguousarray(h, dtype=self.dtype)

    def _forward_rows(self, X: np.ndarray) -> np.ndarray:
        rows_dense_kernel, rows_kernel, rows_layernorm = _K.rows_dense_kernel, _K.rows_kernel, _K.rows_layernorm
        B = X.shape[0]
        h = X
        last = len(self.layers) - 1
        for i, p in enumerate(self._packed):
            y = np.empty((B, p.rows), dtype=self.dtype) if i == last else self._buffer(("rows", i), (B, p.rows))
            norm = self._packed_norms[i] if i < last else None
            relu = i < last and norm is None
            if p.shared:  # grouped: one input permutation per block, then dense dots
                xg = self._buffer(("gather", i), (B, p.cols.shape[0], p.cols.shape[1]))
                _K.gather_blocks(h, p.cols, xg)
                args = (p.vals, p.slice_block, p.bias, p.perm, xg, y, relu)
                _run(_K.rows_shared_kernel, args, p.work, 1, self.threads, p.entries * B)
            elif p.dense:
                args = (p.vals, p.bias, p.perm, h, y, relu)
                _run(rows_dense_kernel, args, p.work, 1, self.threads, p.entries * B)
            else:
                args = (p.goff, p.n_chunks, p.vals, p.idx, p.bias, p.perm, h, y, relu)
                _run(rows_kernel, args, p.work, 1, self.threads, p.entries * B)
            if norm is not None:
                gamma, beta, eps = norm
                rows_layernorm(y, gamma, beta, eps, self.layers[i].out_features, True, 0, B)
            h = y
        return h

    def _forward_tiled(self, X: np.ndarray) -> np.ndarray:
        B, n_in = X.shape
        TB = _tile_width(B)
        nb = -(-B // TB)
        tiled_kernel, tiled_dense_kernel = _K.tiled_kernel[TB], _K.tiled_dense_kernel[TB]
        h = self._buffer("in", (nb, n_in, TB))  # (B, in) -> (nb, in, TB), zero-padded
        to_blocked(X, h)
        last = len(self.layers) - 1
        for i, p in enumerate(self._packed):
            y = self._buffer(("tile", i), (nb, p.rows, TB))
            norm = self._packed_norms[i] if i < last else None
            relu = i < last and norm is None
            if p.shared:
                args = (p.vals, p.cols, p.slice_block, p.bias, p.perm, h, y, relu)
                _run(_K.tiled_shared_kernel[TB], args, p.work, nb, self.threads, p.entries * nb * TB)
            elif p.dense:
                args = (p.vals, p.bias, p.perm, h, y, relu)
                _run(tiled_dense_kernel, args, p.work, nb, self.threads, p.entries * nb * TB)
            else:
                args = (p.goff, p.n_chunks, p.vals, p.idx, p.bias, p.perm, h, y, relu)
                _run(tiled_kernel, args, p.work, nb, self.threads, p.entries * nb * TB)
            if norm is not None:
                gamma, beta, eps = norm
                _K.tiled_layernorm[TB](y, gamma, beta, eps, self.layers[i].out_features, True, 0, nb)
            h = y
        out = np.empty((B, self.out_features), dtype=self.dtype)
        from_blocked(h, out)
        return out

    # ---- files
    def save(self, path) -> None:
        """Write the network to ``path`` (safetensors; atomic: a temp file then a rename; ``io``)."""
        write_sparse(path, self.layers, self.norms, self.dtype)

    @classmethod
    def load(cls, path, *, threads: int = 1) -> "SparseMLP":
        """Read a network written by ``save``; ``ValueError`` on a bad, truncated or foreign file."""
        threads = check_int("threads", threads, 1)
        layers, norms = read_sparse(path)
        return cls(layers, norms, threads=threads)

    # ---- other devices
    def to_torch(self, device="cuda", *, dtype: torch.dtype | None = None, semi_structured="auto") -> "TorchSparseMLP":
        """A ``torch.nn.Module`` for ``device``; 2:4 layers use semi-structured sparse kernels on CUDA.

        ``semi_structured``: ``"auto"`` (on CUDA with compute capability >= 8.0), ``True``
        (require it: ``ValueError`` otherwise) or ``False`` (all layers dense).
        ``dtype``: compute dtype (default: the network's); float16/bfloat16 use cuSPARSELt
        when available, float32 the CUTLASS kernels.
        """
        return TorchSparseMLP(self, device=device, dtype=dtype, semi_structured=semi_structured)


def _segments(layers: list[SparseLayer], norms: list, threads: int) -> list:
    """``(runner, index of its last layer)``: each grouped layer with the layer after it
    (``GroupedRuntime``), each run of other layers as a ``SparseMLP`` of its own (without the
    LayerNorm/ReLU after its last layer)."""
    out, start, i = [], 0, 0
    while i <= len(layers):
        layer = layers[i] if i < len(layers) else None
        if layer is None or layer.kind == "grouped":
            if i > start:
                out.append((SparseMLP(layers[start:i], norms[start:i - 1], threads=threads), i - 1))
            if layer is None:
                break
            if i + 1 >= len(layers) or layers[i + 1].kind == "grouped":
                raise ValueError(f"layers[{i}] is grouped: it must be followed by a layer that is not")
            out.append((GroupedRuntime(layer, norms[i], layers[i + 1]), i + 1))
            start = i = i + 2
            continue
        i += 1
    return out


def to_sparse(model: MLP, *, threads: int = 1, layout: str = "auto", grouped_runtime: str = "numba") -> SparseMLP:
    """The compact sparse copy of ``model`` (an ``MLP``, e.g. from ``fpe_expand``).

    Stores the non-zeros of every effective weight ``weight * mask`` (ELL, CSR or dense per
    layer, module docstring; ``layout`` forces one kind for every layer), biases and
    LayerNorm parameters. ``SparseMLP(x) == model(x)`` to float tolerance and
    ``SparseMLP.count_nonzero() == count_nonzero(model)``.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be an fpe_empirical.MLP, got {type(model).__name__}")
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {list(LAYOUTS)}, got {layout!r}")
    threads = check_int("threads", threads, 1)
    layers = []
    with torch.no_grad():
        for lin in model.layers:
            W = lin.masked_weight().detach().cpu()
            np_dtype = as_float_dtype(W.dtype)
            W = W.to(torch.float64 if np_dtype == np.float64 else torch.float32).numpy()
            bias = None if lin.bias is None else lin.bias.detach().cpu().numpy().astype(np_dtype)
            parent = lin.parent_index.detach().cpu().numpy().astype(np.int64)
            blocks = None
            if layout == "auto" and getattr(lin, "partition", None) is not None:
                blocks = grouped_arrays(W, lin.partition, parent)
            if blocks is not None:
                values, indices, rows = blocks
                layers.append(SparseLayer("grouped", W.shape[1], W.shape[0], values,
                                          indices.astype(index_dtype(W.shape[1])), None, bias, parent, rows))
            else:
                layers.append(layer_from_weight(W, bias, parent, layout))
        dtype = layers[0].values.dtype
        norms = []
        for norm in model.norms:
            if isinstance(norm, nn.Identity):
                norms.append(None)
            elif isinstance(norm, nn.LayerNorm):
                if len(norm.normalized_shape) != 1:
                    raise ValueError("LayerNorm must normalise the last axis only")
                w = norm.normalized_shape[0]
                gamma = np.ones(w, dtype) if norm.weight is None else norm.weight.detach().cpu().numpy().astype(dtype)
                beta = np.zeros(w, dtype) if norm.bias is None else norm.bias.detach().cpu().numpy().astype(dtype)
                norms.append((gamma, beta, float(norm.eps)))
            else:
                raise TypeError(f"model.norms entries must be LayerNorm or Identity, got {type(norm).__name__}")
    return SparseMLP(layers, norms, threads=threads, grouped_runtime=grouped_runtime)
