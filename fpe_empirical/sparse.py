"""Compact sparse inference for (FPE-expanded) MLPs: ``to_sparse(model) -> SparseMLP``.

The paper's practical claim is that a wider network with the same non-zeros should cost the
same to run, since moving non-zero parameters, not arithmetic, dominates. A masked dense
layer costs its full wide matrix; this module stores and runs only the non-zeros.

Stored form (per layer, the ``SparseLayer`` of ``SparseMLP.layers``; what ``save`` writes):

- ``"ell"``: fixed-width rows: ``values, indices (out, width)``, ``width`` the largest
  fan-in; shorter rows are padded with value 0 at a valid index (the row's last index).
  Chosen when the padding is at most ``ELL_MAX_PADDING`` (25%) of the non-zeros, which FPE
  children (near-constant fan-in) meet.
- ``"csr"``: ``indptr (out+1,) int64, indices, values (nnz,)`` otherwise.
- ``"dense"``: ``weight (out, in)`` when ``in * out <= DENSE_SPEEDUP * entries`` of the
  sparse form (density >= ~57%, e.g. an unpruned or lightly pruned head): a dense entry
  runs ~1.75x faster than a gathered one, and storage stays <= 7 bytes per sparse entry.

Indices are ``uint16`` when ``in_features <= 65536``, else ``int32``; values keep the
model's float dtype (float32 or float64). Biases and LayerNorm parameters are kept as is.
The forward pass reproduces ``MLP.forward``: ``h = x W^T + b``, then LayerNorm (biased
variance) when the model has one, then ReLU, for each hidden layer; the last layer gives
logits. Equality with the masked model holds to float tolerance (sums run in another order).

Running (CPU): each layer is packed once into a sliced ELL (``_sparse_kernels``: groups of 4
rows sorted by fan-in, each group as wide as its widest row, inputs cut into chunks of 1024
for very wide layers) and run by Numba kernels whose time is ``(non-zeros + padding) *
batch`` and whose weight memory is ``non-zeros + padding``: for batch >= 4 the activations are kept transposed in
tiles of 16-64 samples so each gathered input row is a contiguous vector (one SIMD FMA per
non-zero per 16 samples, accumulators in registers); batches of 1-3 use a
per-sample scalar gather. ``threads`` splits the work over Python threads (the kernels
release the GIL), so no OpenMP pool spins beside torch's; results are identical for any
thread count. Activation buffers are reused between calls on the same thread.

Cost, measured (``benchmarks/bench_sparse.py``, one AVX-512 core): a gathered non-zero
costs one vector load per vector FMA, so the sparse kernel runs at ~50-60% of the rate of a
well-blocked dense GEMM; an FPE network at batch 256 then takes ~1.0-1.6x the latency of
its dense parent (same non-zeros) where the masked wide network takes ~alpha times. At
batch 1 the gather (3 loads per non-zero) is ~3x slower per non-zero than a dense GEMV.

GPU: ``SparseMLP.to_torch("cuda")`` gives a ``TorchSparseMLP`` (``torch.nn.Module``) in which
every layer whose weight has the 2:4 pattern (at most 2 non-zeros in each aligned run of 4
inputs: the ``"two_four"`` split) runs through PyTorch's semi-structured sparse kernels
(``torch.sparse.to_sparse_semi_structured``; compute capability >= 8.0), zero-padded to the
shape multiples those kernels need; other layers run dense (cuBLAS). Without CUDA the same
module runs dense on the CPU (used to test the wiring).

Files: safetensors (never pickle) with a JSON header entry ``"fpe_sparse"`` giving the format
name and version, the layer kinds and shapes; ``SparseMLP.load`` validates every tensor
against it and raises ``ValueError`` on a bad or truncated file.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import _sparse_kernels as _K
from .models import MLP

__all__ = [
    "to_sparse",
    "SparseMLP",
    "SparseLayer",
    "TorchSparseMLP",
    "is_two_four",
    "ELL_MAX_PADDING",
    "FORMAT_NAME",
    "FORMAT_VERSION",
]

FORMAT_NAME = "fpe-sparse-mlp"
FORMAT_VERSION = 1
ELL_MAX_PADDING = 0.25  # ELL when (out * width - nnz) <= 25% of nnz, else CSR
# dense when in * out <= DENSE_SPEEDUP * (stored sparse entries): a dense entry costs about
# 1/1.75-1/2 of a gathered one (benchmarks/bench_sparse.py --kernel-rates: ~50 vs ~26 G
# multiply-adds/s at batch 64-256, ~14 vs ~2.4 at batch 1); dense storage then stays
# <= 7 bytes per stored sparse entry (float32), so memory still follows the non-zero count
DENSE_SPEEDUP = 1.75
LAYOUTS = ("auto", "ell", "csr", "dense")
KINDS = ("ell", "csr", "dense")

# batches below this use the per-sample gather kernels, larger ones the tiled kernels
_ROWS_MAX_BATCH = 3
# relative cost per (padded) sample column of the tile widths, measured (benchmarks/bench_sparse.py)
_TILE_COST = {64: 1.0, 32: 1.12, 16: 1.68}
# a layer is split over threads only when its work (entries * batch) exceeds this
_PARALLEL_MIN_WORK = 1 << 20
_ALIGN = 64  # bytes: tiles start on a cache line so vector loads never split lines


# --------------------------------------------------------------------------- validation


def _check_threads(threads) -> int:
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"threads must be an int, got {type(threads).__name__}")
    if threads < 1:
        raise ValueError(f"threads must be an integer >= 1, got {threads}")
    return int(threads)


def _index_dtype(in_features: int) -> np.dtype:
    return np.dtype(np.uint16) if in_features <= 65536 else np.dtype(np.int32)


def _as_float_dtype(dtype: torch.dtype) -> np.dtype:
    return np.dtype(np.float64) if dtype == torch.float64 else np.dtype(np.float32)


# --------------------------------------------------------------------------- stored layers


@dataclass(frozen=True, eq=False)
class SparseLayer:
    """One linear layer ``y = x W^T + b`` in compact form (what ``SparseMLP.save`` writes).

    kind ``"ell"``: ``values, indices (out, width)``; ``"csr"``: ``indptr (out+1,)``,
    ``indices, values (nnz,)``; ``"dense"``: ``values (out, in)`` (the weight), no indices.
    ``bias (out,)`` or None; ``parent_index (out,)`` int64 (FPE: the parent of each unit).
    """

    kind: str
    in_features: int
    out_features: int
    values: np.ndarray
    indices: np.ndarray | None
    indptr: np.ndarray | None
    bias: np.ndarray | None
    parent_index: np.ndarray

    @property
    def nnz(self) -> int:
        """Number of non-zero weights (padding zeros excluded)."""
        return int(np.count_nonzero(self.values))

    @property
    def nbytes(self) -> int:
        """Bytes of values, indices, indptr and bias (the weight traffic of one pass)."""
        arrays = (self.values, self.indices, self.indptr, self.bias)
        return int(sum(a.nbytes for a in arrays if a is not None))

    def to_csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(indptr, indices, values)`` of the non-zeros, rows sorted by index."""
        if self.kind == "csr":
            return self.indptr, self.indices.astype(np.int64), self.values
        keep = self.values != 0  # ELL padding holds zeros
        counts = keep.sum(axis=1)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        if self.kind == "dense":
            cols = np.nonzero(keep)[1].astype(np.int64)
        else:
            cols = self.indices[keep].astype(np.int64)
        return indptr, cols, self.values[keep]

    def dense_weight(self) -> np.ndarray:
        """The effective weight ``(out, in)`` as a dense array."""
        if self.kind == "dense":
            return self.values.copy()
        indptr, cols, vals = self.to_csr()
        W = np.zeros((self.out_features, self.in_features), dtype=self.values.dtype)
        rows = np.repeat(np.arange(self.out_features), np.diff(indptr))
        W[rows, cols] = vals
        return W


def _ell_from_csr(indptr, cols, vals, out_features):
    counts = np.diff(indptr)
    width = int(counts.max()) if out_features else 0
    values = np.zeros((out_features, width), dtype=vals.dtype)
    indices = np.zeros((out_features, width), dtype=np.int64)
    rows = np.repeat(np.arange(out_features), counts)
    pos = np.arange(cols.size) - indptr[rows]
    values[rows, pos] = vals
    indices[rows, pos] = cols
    # padding: value 0 at the row's last index (a valid index, already in cache)
    last = np.where(counts > 0, cols[np.maximum(indptr[1:] - 1, 0)] if cols.size else 0, 0)
    pad = np.arange(width)[None, :] >= counts[:, None]
    indices = np.where(pad, last[:, None], indices)
    return values, indices


def _layer_from_weight(
    W: np.ndarray, bias: np.ndarray | None, parent_index: np.ndarray, layout: str
) -> SparseLayer:
    """Choose the stored form of the effective weight ``W (out, in)`` (module docstring)."""
    out_f, in_f = W.shape
    keep = W != 0
    counts = keep.sum(axis=1)
    nnz = int(counts.sum())
    idx_dtype = _index_dtype(in_f)
    width = int(counts.max()) if out_f else 0
    if layout == "auto":
        padding_ok = out_f * width - nnz <= ELL_MAX_PADDING * nnz
        sparse_kind, entries = ("ell", out_f * width) if padding_ok else ("csr", nnz)
        # dense costs in*out entries, each ~DENSE_SPEEDUP x cheaper (no index, shared loads)
        layout = "dense" if out_f * in_f <= DENSE_SPEEDUP * entries else sparse_kind
    common = dict(in_features=in_f, out_features=out_f, bias=bias, parent_index=parent_index)
    if layout == "dense":
        return SparseLayer("dense", values=np.ascontiguousarray(W), indices=None, indptr=None, **common)
    rows, cols = np.nonzero(keep)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    vals = W[rows, cols]
    if layout == "csr":
        return SparseLayer(
            "csr", values=vals, indices=cols.astype(idx_dtype), indptr=indptr, **common
        )
    values, indices = _ell_from_csr(indptr, cols.astype(np.int64), vals, out_f)
    return SparseLayer("ell", values=values, indices=indices.astype(idx_dtype), indptr=None, **common)


# --------------------------------------------------------------------------- runtime packing


@dataclass(frozen=True, eq=False)
class _Packed:
    """Runtime form of one layer for the kernels (layout: ``_sparse_kernels`` docstring).

    Hidden layers write their outputs in *packed order* (row ``p`` of the output tile is
    packed row ``p``; filler rows at the end), so every store is sequential; the next layer's
    indices (or dense columns) are renumbered to that order at pack time. The last layer
    writes the original order (``perm``), skipping fillers.
    """

    dense: bool
    goff: np.ndarray | None  # (ng*C+1,) int64 block offsets
    n_chunks: int
    vals: np.ndarray  # sparse: flat; dense: (ng*R, in)
    idx: np.ndarray | None  # flat uint16 / uint32, in the previous layer's packed order
    bias: np.ndarray  # (ng, R)
    perm: np.ndarray  # (ng*R,) int64: output row of each packed row (-1: not stored)
    slot: np.ndarray  # (out,) int64: original output row -> its row in the output tile
    rows: int  # rows of the output tile
    work: np.ndarray  # (ng,) entries per group row (for balancing threads)
    entries: int  # stored entries incl. padding (per sample)


def _pack(layer: SparseLayer, in_slot: np.ndarray | None, final: bool) -> _Packed:
    """Pack ``layer``; ``in_slot[i]``: the input tile row holding input ``i`` (None: row ``i``)."""
    KC, R = _K.KC, _K.R

    out_f, in_f = layer.out_features, layer.in_features
    dtype = layer.values.dtype
    ng = -(-out_f // R)
    bias = np.zeros(out_f, dtype=dtype) if layer.bias is None else layer.bias.astype(dtype)
    bp = np.zeros(ng * R, dtype=dtype)

    def outputs(order):
        if final:
            perm = np.full(ng * R, -1, dtype=np.int64)
            perm[:out_f] = order
            return perm, np.arange(out_f, dtype=np.int64), out_f
        slot = np.empty(out_f, dtype=np.int64)
        slot[order] = np.arange(out_f)
        return np.arange(ng * R, dtype=np.int64), slot, ng * R

    if layer.kind == "dense":
        order = np.arange(out_f)
        perm, slot, n_rows = outputs(order)
        Wp = np.zeros((ng * R, in_f), dtype=dtype)
        if in_slot is None:
            Wp[:out_f] = layer.values
        else:  # columns in the previous layer's packed order
            Wp[:out_f, in_slot] = layer.values
        bp[:out_f] = bias
        return _Packed(True, None, 1, Wp, None, bp.reshape(ng, R), perm, slot, n_rows,
                       np.full(ng, in_f, dtype=np.int64), ng * R * in_f)
    indptr, cols, v = layer.to_csr()
    if in_slot is not None:  # renumber inputs; keep each row sorted by tile row
        cols = in_slot[cols]
        rows_ = np.repeat(np.arange(out_f), np.diff(indptr))
        o = np.lexsort((cols, rows_))
        cols, v = cols[o], v[o]
    n_chunks = max(1, -(-in_f // KC))
    fan = np.diff(indptr)
    order = np.argsort(-fan, kind="stable")  # widest rows first: groups of similar width
    perm, slot_out, n_rows = outputs(order)
    slot = np.empty(out_f, dtype=np.int64)
    slot[order] = np.arange(out_f)  # row -> packed position
    rows = np.repeat(np.arange(out_f), fan)
    chunk = cols // KC
    # entries per (packed row, chunk); block width = max over the group's rows
    counts = np.zeros((ng * R, n_chunks), dtype=np.int64)
    np.add.at(counts, (slot[rows], chunk), 1)
    widths = counts.reshape(ng, R, n_chunks).max(axis=1)  # (ng, C)
    goff = np.concatenate([[0], np.cumsum(widths.reshape(-1))]).astype(np.int64)
    total = int(goff[-1]) * R
    # each packed row spans, per chunk, its block's width; padding: value 0 at its last index
    last = np.zeros(ng * R, dtype=np.int64)
    if cols.size:
        has = fan[order] > 0
        last[:out_f][has] = cols[indptr[order[has] + 1] - 1]
    p_all = np.arange(ng * R)
    g_all = p_all // R
    block_w = widths[g_all]  # (ng*R, C)
    block_start = R * goff[:-1].reshape(ng, n_chunks)[g_all] + (p_all % R)[:, None] * block_w
    idx = np.empty(total, dtype=np.int64)
    for c in range(n_chunks):  # fill every row's span of every block with its padding index
        starts, lens = block_start[:, c], block_w[:, c]
        pos = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) + np.arange(lens.sum())
        idx[pos] = np.repeat(last, lens)
    vals = np.zeros(total, dtype=dtype)
    # position of each entry inside its row's chunk: entries are sorted by column per row
    first_in_chunk = np.zeros((ng * R, n_chunks), dtype=np.int64)
    first_in_chunk[:, 1:] = np.cumsum(counts, axis=1)[:, :-1]
    p = slot[rows]
    q = (np.arange(cols.size) - indptr[rows]) - first_in_chunk[p, chunk]
    k = block_start[p, chunk] + q
    vals[k] = v
    idx[k] = cols
    idx_dtype = np.uint16 if in_f <= 65536 else np.uint32
    bp[:out_f] = bias[order]
    return _Packed(False, goff, n_chunks, vals, np.ascontiguousarray(idx.astype(idx_dtype)),
                   bp.reshape(ng, R), perm, slot_out, n_rows, widths.sum(axis=1).astype(np.int64), total)


def _pack_all(layers: list[SparseLayer], norms: list) -> tuple[list[_Packed], list]:
    """Pack every layer, chaining packed orders; LayerNorm parameters follow their layer's order."""
    packed, packed_norms, in_slot = [], [], None
    for i, layer in enumerate(layers):
        final = i == len(layers) - 1
        p = _pack(layer, in_slot, final)
        packed.append(p)
        if not final:
            norm = norms[i]
            if norm is None:
                packed_norms.append(None)
            else:
                gamma, beta, eps = norm
                g = np.zeros(p.rows, dtype=layer.values.dtype)
                bt = np.zeros(p.rows, dtype=layer.values.dtype)
                g[p.slot] = gamma
                bt[p.slot] = beta
                packed_norms.append((g, bt, eps))
            in_slot = p.slot
    return packed, packed_norms


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
    Calling it on ``x`` of shape ``(batch, in)`` or ``(in,)`` (torch tensor on the CPU, or
    anything NumPy turns into a real array) returns logits of shape ``(batch, out)`` /
    ``(out,)``, a torch tensor for a tensor input, else a NumPy array.
    """

    def __init__(self, layers: Sequence[SparseLayer], norms: Sequence | None = None, *, threads: int = 1):
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
        self.threads = threads
        self.dtype = dtype
        self._packed, self._packed_norms = _pack_all(layers, norms)
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
        self._threads = _check_threads(value)

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
        if B <= _ROWS_MAX_BATCH:
            return self._forward_rows(X)
        return self._forward_tiled(X)

    def _forward_rows(self, X: np.ndarray) -> np.ndarray:
        rows_dense_kernel, rows_kernel, rows_layernorm = _K.rows_dense_kernel, _K.rows_kernel, _K.rows_layernorm
        B = X.shape[0]
        h = X
        last = len(self.layers) - 1
        for i, p in enumerate(self._packed):
            y = np.empty((B, p.rows), dtype=self.dtype) if i == last else self._buffer(("rows", i), (B, p.rows))
            norm = self._packed_norms[i] if i < last else None
            relu = i < last and norm is None
            if p.dense:
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
        _K.to_blocked(X, h)
        last = len(self.layers) - 1
        for i, p in enumerate(self._packed):
            y = self._buffer(("tile", i), (nb, p.rows, TB))
            norm = self._packed_norms[i] if i < last else None
            relu = i < last and norm is None
            if p.dense:
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
        _K.from_blocked(h, out)
        return out

    # ---- files
    def save(self, path) -> None:
        """Write the network to ``path`` (safetensors; atomic: a temp file then a rename)."""
        from safetensors.numpy import save_file

        tensors: dict[str, np.ndarray] = {}
        meta_layers = []
        for i, layer in enumerate(self.layers):
            tensors[f"layers.{i}.values"] = np.ascontiguousarray(layer.values)
            if layer.indices is not None:
                tensors[f"layers.{i}.indices"] = np.ascontiguousarray(layer.indices)
            if layer.indptr is not None:
                tensors[f"layers.{i}.indptr"] = np.ascontiguousarray(layer.indptr)
            if layer.bias is not None:
                tensors[f"layers.{i}.bias"] = np.ascontiguousarray(layer.bias)
            tensors[f"layers.{i}.parent_index"] = np.ascontiguousarray(layer.parent_index.astype(np.int64))
            meta_layers.append(
                {
                    "kind": layer.kind,
                    "in_features": layer.in_features,
                    "out_features": layer.out_features,
                    "nnz": layer.nnz,
                    "width": int(layer.values.shape[1]) if layer.kind == "ell" else None,
                    "bias": layer.bias is not None,
                }
            )
        meta_norms = []
        for i, norm in enumerate(self.norms):
            if norm is None:
                meta_norms.append(None)
                continue
            gamma, beta, eps = norm
            tensors[f"norms.{i}.weight"] = np.ascontiguousarray(gamma)
            tensors[f"norms.{i}.bias"] = np.ascontiguousarray(beta)
            meta_norms.append({"eps": float(eps)})
        meta = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "dtype": str(self.dtype),
            "activation": "relu",
            "layers": meta_layers,
            "norms": meta_norms,
        }
        path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=directory)
        os.close(fd)
        try:
            save_file(tensors, tmp, metadata={"fpe_sparse": json.dumps(meta)})
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path, *, threads: int = 1) -> "SparseMLP":
        """Read a network written by ``save``; ``ValueError`` on a bad, truncated or foreign file."""
        from safetensors import safe_open

        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
        threads = _check_threads(threads)
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no such file: {path}")
        try:
            with safe_open(path, framework="numpy") as f:
                header = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as e:  # safetensors raises SafetensorError (an Exception) on a bad header/size
            raise ValueError(f"{path} is not a readable safetensors file: {e}") from None
        return _from_file_contents(path, header, tensors, threads)

    # ---- other devices
    def to_torch(self, device="cuda", *, dtype: torch.dtype | None = None, semi_structured="auto") -> "TorchSparseMLP":
        """A ``torch.nn.Module`` for ``device``; 2:4 layers use semi-structured sparse kernels on CUDA.

        ``semi_structured``: ``"auto"`` (on CUDA with compute capability >= 8.0), ``True``
        (require it: ``ValueError`` otherwise) or ``False`` (all layers dense).
        ``dtype``: compute dtype (default: the network's); float16/bfloat16 use cuSPARSELt
        when available, float32 the CUTLASS kernels.
        """
        return TorchSparseMLP(self, device=device, dtype=dtype, semi_structured=semi_structured)


def _from_file_contents(path: str, header: dict, tensors: dict, threads: int) -> SparseMLP:
    def bad(msg: str) -> ValueError:
        return ValueError(f"{path}: {msg}")

    raw = header.get("fpe_sparse")
    if raw is None:
        raise bad("no 'fpe_sparse' entry in the safetensors header: not written by SparseMLP.save")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as e:
        raise bad(f"the 'fpe_sparse' header entry is not valid JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise bad(f"header format must be {FORMAT_NAME!r}, got {meta.get('format') if isinstance(meta, dict) else meta!r}")
    if meta.get("version") != FORMAT_VERSION:
        raise bad(f"format version must be {FORMAT_VERSION}, got {meta.get('version')!r}")
    if meta.get("activation") != "relu":
        raise bad(f"activation must be 'relu', got {meta.get('activation')!r}")
    dtype_name = meta.get("dtype")
    if dtype_name not in ("float32", "float64"):
        raise bad(f"dtype must be 'float32' or 'float64', got {dtype_name!r}")
    dtype = np.dtype(dtype_name)
    mlayers, mnorms = meta.get("layers"), meta.get("norms")
    if not isinstance(mlayers, list) or not mlayers:
        raise bad("header 'layers' must be a non-empty list")
    if not isinstance(mnorms, list) or len(mnorms) != len(mlayers) - 1:
        raise bad(f"header 'norms' must be a list of {len(mlayers) - 1} entries")
    used: set[str] = set()

    def get(name: str, shape: tuple[int, ...], kinds: str) -> np.ndarray:
        if name not in tensors:
            raise bad(f"missing tensor {name!r}")
        a = tensors[name]
        used.add(name)
        if a.shape != shape:
            raise bad(f"tensor {name!r} must have shape {shape}, got {tuple(a.shape)}")
        if kinds == "float" and a.dtype != dtype:
            raise bad(f"tensor {name!r} must have dtype {dtype}, got {a.dtype}")
        if kinds == "index" and a.dtype not in (np.uint16, np.int32):
            raise bad(f"tensor {name!r} must have dtype uint16 or int32, got {a.dtype}")
        if kinds == "int64" and a.dtype != np.int64:
            raise bad(f"tensor {name!r} must have dtype int64, got {a.dtype}")
        return a

    def pos_int(d: dict, key: str, i: int) -> int:
        v = d.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise bad(f"layers[{i}].{key} must be an integer >= 1, got {v!r}")
        return v

    layers = []
    for i, m in enumerate(mlayers):
        if not isinstance(m, dict):
            raise bad(f"layers[{i}] must be an object")
        kind = m.get("kind")
        if kind not in KINDS:
            raise bad(f"layers[{i}].kind must be one of {list(KINDS)}, got {kind!r}")
        n_in, n_out = pos_int(m, "in_features", i), pos_int(m, "out_features", i)
        if i and n_in != layers[-1].out_features:
            raise bad(f"layers[{i}].in_features must equal layers[{i - 1}].out_features")
        p = f"layers.{i}."
        indices = indptr = None
        if kind == "dense":
            values = get(p + "values", (n_out, n_in), "float")
        elif kind == "ell":
            width = m.get("width")
            if isinstance(width, bool) or not isinstance(width, int) or not 0 <= width <= n_in:
                raise bad(f"layers[{i}].width must be an integer in [0, {n_in}], got {width!r}")
            values = get(p + "values", (n_out, width), "float")
            indices = get(p + "indices", (n_out, width), "index")
        else:
            indptr = get(p + "indptr", (n_out + 1,), "int64")
            if indptr[0] != 0 or np.any(np.diff(indptr) < 0) or np.any(np.diff(indptr) > n_in):
                raise bad(f"tensor {p + 'indptr'!r} must start at 0 and rise by 0..{n_in} per row")
            nnz = int(indptr[-1])
            values = get(p + "values", (nnz,), "float")
            indices = get(p + "indices", (nnz,), "index")
        if indices is not None and indices.size and (indices.min() < 0 or indices.max() >= n_in):
            raise bad(f"tensor {p + 'indices'!r} must hold indices in [0, {n_in})")
        if kind == "csr" and indices.size:
            # no repeated column inside a row (a repeat would double-count a weight)
            rows = np.repeat(np.arange(n_out), np.diff(indptr))
            key = rows * n_in + indices.astype(np.int64)
            if np.unique(key).size != key.size:
                raise bad(f"tensor {p + 'indices'!r} repeats a column inside a row")
        if kind == "ell" and indices.size:
            live = values != 0
            rows = np.nonzero(live)[0]
            key = rows * n_in + indices[live].astype(np.int64)
            if np.unique(key).size != key.size:
                raise bad(f"tensor {p + 'indices'!r} repeats a column inside a row")
        if m.get("bias") not in (True, False):
            raise bad(f"layers[{i}].bias must be true or false")
        bias = get(p + "bias", (n_out,), "float") if m["bias"] else None
        parent_index = get(p + "parent_index", (n_out,), "int64")
        layer = SparseLayer(kind, n_in, n_out, values, indices, indptr, bias, parent_index)
        if m.get("nnz") != layer.nnz:
            raise bad(f"layers[{i}].nnz is {m.get('nnz')!r} but the tensors hold {layer.nnz} non-zeros")
        layers.append(layer)
    norms = []
    for i, m in enumerate(mnorms):
        if m is None:
            norms.append(None)
            continue
        eps = m.get("eps") if isinstance(m, dict) else None
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not (eps >= 0 and math.isfinite(eps)):
            raise bad(f"norms[{i}].eps must be a finite number >= 0, got {eps!r}")
        w = layers[i].out_features
        norms.append((get(f"norms.{i}.weight", (w,), "float"), get(f"norms.{i}.bias", (w,), "float"), float(eps)))
    extra = sorted(set(tensors) - used)
    if extra:
        raise bad(f"unexpected tensors {extra[:5]}")
    return SparseMLP(layers, norms, threads=threads)


def to_sparse(model: MLP, *, threads: int = 1, layout: str = "auto") -> SparseMLP:
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
    threads = _check_threads(threads)
    layers = []
    with torch.no_grad():
        for lin in model.layers:
            W = lin.masked_weight().detach().cpu()
            np_dtype = _as_float_dtype(W.dtype)
            W = W.to(torch.float64 if np_dtype == np.float64 else torch.float32).numpy()
            bias = None if lin.bias is None else lin.bias.detach().cpu().numpy().astype(np_dtype)
            parent = lin.parent_index.detach().cpu().numpy().astype(np.int64)
            layers.append(_layer_from_weight(W, bias, parent, layout))
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
    return SparseMLP(layers, norms, threads=threads)


# --------------------------------------------------------------------------- 2:4 on CUDA


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

    def __init__(self, sparse: SparseMLP, *, device="cuda", dtype=None, semi_structured="auto", _convert=None):
        super().__init__()
        if not isinstance(sparse, SparseMLP):
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
