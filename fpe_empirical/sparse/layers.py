"""Stored form of one sparse layer: ``SparseLayer`` and the choice between ELL, CSR and dense.

- ``"ell"``: fixed-width rows: ``values, indices (out, width)``, ``width`` the largest
  fan-in; shorter rows are padded with value 0 at a valid index (the row's last index).
  Chosen when the padding is at most ``ELL_MAX_PADDING`` (25%) of the non-zeros, which FPE
  children (near-constant fan-in) meet.
- ``"csr"``: ``indptr (out+1,) int64, indices, values (nnz,)`` otherwise.
- ``"dense"``: ``weight (out, in)`` when ``in * out <= DENSE_SPEEDUP * entries`` of the
  sparse form (density >= ~57%, e.g. an unpruned or lightly pruned head): a dense entry
  runs ~1.75x faster than a gathered one, and storage stays <= 7 bytes per sparse entry.

- ``"grouped"``: a grouped FPE layer (``fpe_expand(..., n_partitions=G)``) as dense blocks
  on permuted inputs, ``values (blocks, m, d)``, ``indices (blocks, d)``, ``rows (blocks, m)``
  (``sparse.grouped``); chosen by ``to_sparse`` from the layer's stored partition.

Indices are ``uint16`` when ``in_features <= 65536``, else ``int32``; values keep the
model's float dtype (float32 or float64).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["SparseLayer", "layer_from_weight", "ELL_MAX_PADDING", "DENSE_SPEEDUP", "LAYOUTS", "KINDS",
           "index_dtype", "as_float_dtype"]

ELL_MAX_PADDING = 0.25  # ELL when (out * width - nnz) <= 25% of nnz, else CSR
# dense when in * out <= DENSE_SPEEDUP * (stored sparse entries): a dense entry costs about
# 1/1.75-1/2 of a gathered one (benchmarks/bench_sparse.py --kernel-rates: ~50 vs ~26 G
# multiply-adds/s at batch 64-256, ~14 vs ~2.4 at batch 1); dense storage then stays
# <= 7 bytes per stored sparse entry (float32), so memory still follows the non-zero count
DENSE_SPEEDUP = 1.75
LAYOUTS = ("auto", "ell", "csr", "dense")
KINDS = ("ell", "csr", "dense", "grouped")


def index_dtype(in_features: int) -> np.dtype:
    return np.dtype(np.uint16) if in_features <= 65536 else np.dtype(np.int32)


def as_float_dtype(dtype: torch.dtype) -> np.dtype:
    return np.dtype(np.float64) if dtype == torch.float64 else np.dtype(np.float32)


@dataclass(frozen=True, eq=False)
class SparseLayer:
    """One linear layer ``y = x W^T + b`` in compact form (what ``SparseMLP.save`` writes).

    kind ``"ell"``: ``values, indices (out, width)``; ``"csr"``: ``indptr (out+1,)``,
    ``indices, values (nnz,)``; ``"dense"``: ``values (out, in)`` (the weight), no indices.
    ``"grouped"``: ``values (blocks, m, d)``, ``indices (blocks, d)``, ``rows (blocks, m)``
    int64 (``sparse.grouped``). ``bias (out,)`` or None; ``parent_index (out,)`` int64 (FPE:
    the parent of each unit).
    """

    kind: str
    in_features: int
    out_features: int
    values: np.ndarray
    indices: np.ndarray | None
    indptr: np.ndarray | None
    bias: np.ndarray | None
    parent_index: np.ndarray
    rows: np.ndarray | None = None

    @property
    def nnz(self) -> int:
        """Number of non-zero weights (padding zeros excluded)."""
        return int(np.count_nonzero(self.values))

    @property
    def nbytes(self) -> int:
        """Bytes of values, indices, indptr and bias (the weight traffic of one pass)."""
        arrays = (self.values, self.indices, self.indptr, self.bias, self.rows)
        return int(sum(a.nbytes for a in arrays if a is not None))

    def to_csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(indptr, indices, values)`` of the non-zeros, rows sorted by index."""
        if self.kind == "csr":
            return self.indptr, self.indices.astype(np.int64), self.values
        if self.kind == "grouped":
            W = self.dense_weight()
            keep = W != 0
            return (np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int64),
                    np.nonzero(keep)[1].astype(np.int64), W[keep])
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
        if self.kind == "grouped":
            W = np.zeros((self.out_features, self.in_features), dtype=self.values.dtype)
            valid = self.rows >= 0  # (blocks, m)
            b, r = np.nonzero(valid)
            # add.at: padding columns repeat a real column index (with weight 0), so accumulate
            np.add.at(W, (self.rows[b, r][:, None], self.indices[b].astype(np.int64)), self.values[b, r])
            return W
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


def layer_from_weight(
    W: np.ndarray, bias: np.ndarray | None, parent_index: np.ndarray, layout: str
) -> SparseLayer:
    """Choose the stored form of the effective weight ``W (out, in)`` (module docstring)."""
    out_f, in_f = W.shape
    keep = W != 0
    counts = keep.sum(axis=1)
    nnz = int(counts.sum())
    idx_dtype = index_dtype(in_f)
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
