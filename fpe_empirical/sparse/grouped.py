"""Grouped FPE layers (``fpe_expand(..., n_partitions=G)``) as dense blocks: stored form and runtime.

A grouped split layer (``MaskedLinear.partition`` set) is ``alpha * G`` dense blocks on
permuted inputs: block ``(g, a)`` maps the inputs of part ``a`` of group ``g``'s partition
to child ``a`` of every parent of group ``g``. ``to_sparse`` recognises it from the stored
partition (never by guessing from the mask) and checks that the mask lies inside the
blocks; pruned zeros stay inside their block (dense storage, as the parent's).

Stored form (``SparseLayer`` kind ``"grouped"``): ``values (B, m, d)`` the block weights
(``B = alpha * G`` blocks, ``m`` the largest group size, ``d`` the largest part size; padding
is zero), ``indices (B, d)`` the input column of each block column (padding: column 0 with
zero weights), ``rows (B, m)`` int64 the output row of each block row (``-1``: padding).
Every output row sits in exactly one block row.

Runtime (``GroupedRuntime``): the grouped layer and the layer after it, in a transposed
layout: one gather of the input rows of all blocks, one batched GEMM (``torch.baddbmm``,
i.e. BLAS), LayerNorm/ReLU, and the next layer as one dense GEMM over the block-major
hidden units (class docstring). Multiply-adds of the grouped layer: ``blocks * m * d *
batch``, the dense parent's ``in * N * batch`` up to padding; the next layer costs its full
``out * N * alpha`` (alpha times the parent's), run at BLAS rate.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["grouped_arrays", "GroupedRuntime", "ROWS_MAX_BATCH"]

# batches up to this run in (batch, features) layout: a batched product with one column
# (transposed layout, batch 1) ran ~10x slower in MKL's bmm (benchmarks/bench_sparse.py)
ROWS_MAX_BATCH = 16


def grouped_arrays(W: np.ndarray, partition, parent_index: np.ndarray) -> tuple | None:
    """``(values, indices, rows)`` of the grouped form of the effective weight ``W (out, in)``
    with ``partition = (group_of_parent, input_part)``; None when ``W`` has a non-zero
    outside the blocks (e.g. after rewiring) or the partition does not fit the layer."""
    groups, parts = (np.asarray(t.detach().cpu().numpy() if torch.is_tensor(t) else t, dtype=np.int64)
                     for t in partition)
    out_f, in_f = W.shape
    if parts.ndim != 2 or parts.shape[1] != in_f or groups.ndim != 1 or groups.size == 0:
        return None
    n_parents, n_groups = groups.size, parts.shape[0]
    if out_f % n_parents or groups.min() < 0 or groups.max() >= n_groups:
        return None
    alpha = out_f // n_parents
    child = np.arange(out_f)
    if not np.array_equal(parent_index, child // alpha) or parts.min() < 0 or parts.max() >= alpha:
        return None
    allowed = parts[groups[child // alpha]] == (child % alpha)[:, None]
    if np.any((W != 0) & ~allowed):
        return None
    members = [np.flatnonzero(groups == g) for g in range(n_groups)]
    cols = [[np.flatnonzero(parts[g] == a) for a in range(alpha)] for g in range(n_groups)]
    m = max(x.size for x in members)
    d = max(c.size for cs in cols for c in cs)
    n_blocks = n_groups * alpha
    values = np.zeros((n_blocks, m, d), dtype=W.dtype)
    indices = np.zeros((n_blocks, d), dtype=np.int64)
    rows = np.full((n_blocks, m), -1, dtype=np.int64)
    for g in range(n_groups):
        for a in range(alpha):
            b = g * alpha + a
            r = members[g] * alpha + a
            c = cols[g][a]
            rows[b, : r.size] = r
            indices[b, : c.size] = c
            values[b, : r.size, : c.size] = W[np.ix_(r, c)]
    return values, indices, rows


class GroupedRuntime:
    """Runs a ``"grouped"`` ``SparseLayer`` and the layer after it (torch, BLAS; torch's
    intra-op threads): ``(batch, in) -> (batch, out of the next layer)`` pre-activation.

    Activations stay transposed, ``(features, batch)``, so nothing but the input gather moves:
    ``x^T`` rows of all blocks are gathered once (``index_select``), one ``baddbmm`` computes
    every block with its bias (``(blocks, m, d) @ (blocks, d, batch)``, the hidden units in
    block-major order), LayerNorm (when the model has one) and ReLU run in place, and the next
    layer, its columns permuted to block-major order at build time, is one ``addmm``
    (dense: MKL's rate; its zeros are multiplied). Padding rows of the blocks are dropped
    before the LayerNorm / the next layer.
    """

    def __init__(self, layer, norm, nxt) -> None:
        n_blocks, m, d = layer.values.shape
        dtype = torch.from_numpy(layer.values[:0, :0, :0]).dtype
        self.shape = (n_blocks, m, d)
        self.weight = torch.from_numpy(np.ascontiguousarray(layer.values))  # (blocks, m, d)
        self.weight_t = self.weight.transpose(1, 2).contiguous()  # (blocks, d, m): small batches
        self.cols = torch.from_numpy(layer.indices.astype(np.int64).reshape(-1))
        flat = layer.rows.reshape(-1)
        bias = np.zeros(flat.size, dtype=layer.values.dtype)
        if layer.bias is not None:
            bias[flat >= 0] = layer.bias[flat[flat >= 0]]
        self.bias = torch.from_numpy(bias.reshape(n_blocks, m, 1))
        self.bias_row = self.bias.view(n_blocks, 1, m)
        keep = np.flatnonzero(flat >= 0)
        self.keep = None if keep.size == flat.size else torch.from_numpy(keep)  # drop padding rows
        order = flat[keep]  # unit held at each block-major position
        self.norm = None
        if norm is not None:
            gamma, beta, eps = norm
            self.norm = (torch.from_numpy(np.ascontiguousarray(gamma[order])[:, None]),
                         torch.from_numpy(np.ascontiguousarray(beta[order])[:, None]), eps)
        W2 = nxt.dense_weight()[:, order]
        self.next_weight = torch.from_numpy(np.ascontiguousarray(W2)).to(dtype)
        self.next_weight_t = self.next_weight.t().contiguous()
        b2 = np.zeros(nxt.out_features, dtype=layer.values.dtype) if nxt.bias is None else nxt.bias
        self.next_bias = torch.from_numpy(np.ascontiguousarray(b2)[:, None])

    def hidden(self, X: np.ndarray) -> torch.Tensor:
        """The grouped layer alone: post-activation hidden units, block-major: ``(units,
        batch)`` (transposed) for batches above ``ROWS_MAX_BATCH``, else ``(batch, units)``."""
        n_blocks, m, d = self.shape
        B = X.shape[0]
        rows = B <= ROWS_MAX_BATCH
        axis = 1 if rows else 0
        x = torch.from_numpy(X)
        if rows:  # batched GEMV-like products run far better as (blocks, B, d) @ (blocks, d, m)
            xs = x.index_select(1, self.cols).view(B, n_blocks, d).transpose(0, 1)
            h = torch.baddbmm(self.bias_row, xs, self.weight_t).transpose(0, 1).reshape(B, n_blocks * m)
        else:
            xs = x.t().index_select(0, self.cols).view(n_blocks, d, B)
            h = torch.baddbmm(self.bias, self.weight, xs).view(n_blocks * m, B)
        if self.keep is not None:
            h = h.index_select(axis, self.keep)
        if self.norm is not None:
            gamma, beta, eps = self.norm
            if rows:
                gamma, beta = gamma.view(1, -1), beta.view(1, -1)
            var, mean = torch.var_mean(h, dim=axis, correction=0, keepdim=True)
            h = (h - mean).mul_(torch.rsqrt(var + eps)).mul_(gamma).add_(beta)
        return h.relu_()

    def __call__(self, X: np.ndarray) -> np.ndarray:
        h = self.hidden(X)
        if X.shape[0] <= ROWS_MAX_BATCH:
            return torch.addmm(self.next_bias.view(1, -1), h, self.next_weight_t).numpy()
        y = torch.addmm(self.next_bias, self.next_weight, h)  # (out, B)
        return y.t().contiguous().numpy()
