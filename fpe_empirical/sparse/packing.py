"""Runtime packing of sparse layers for the kernels (the layout: ``kernels`` docstring).

Each layer is packed once, when a ``SparseMLP`` is built: output rows sorted by fan-in and
cut into groups of ``R`` rows, inputs into chunks of ``KC``; hidden layers write their
outputs in packed order, and the next layer's indices are renumbered to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import kernels as _K
from .layers import SparseLayer

__all__ = ["Packed", "pack", "pack_grouped", "pack_all"]


@dataclass(frozen=True, eq=False)
class Packed:
    """Runtime form of one layer for the kernels (layout: ``kernels`` docstring).

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
    shared: bool = False  # a grouped layer: vals (ng*R, d) dense slices over shared input rows
    cols: np.ndarray | None = None  # (blocks, d) int64 input rows of each block (previous layer's order)
    slice_block: np.ndarray | None = None  # (ng,) int64 block of each slice


def pack_grouped(layer: SparseLayer, in_slot: np.ndarray | None) -> Packed:
    """Pack a ``"grouped"`` layer: each block's rows cut into slices of ``R`` rows (fillers:
    zero weights, perm -1) sharing the block's input rows; outputs are written in the original
    row order (so a LayerNorm after it sees exactly its ``out`` rows)."""
    R = _K.R
    n_blocks, m, d = layer.values.shape
    dtype = layer.values.dtype
    bias = np.zeros(layer.out_features, dtype=dtype) if layer.bias is None else layer.bias.astype(dtype)
    cols = layer.indices.astype(np.int64)
    if in_slot is not None:
        cols = in_slot[cols]
    per_block = -(-m // R)
    ng = n_blocks * per_block
    W = np.zeros((ng * R, d), dtype=dtype)
    perm = np.full(ng * R, -1, dtype=np.int64)
    W.reshape(n_blocks, per_block * R, d)[:, :m] = layer.values
    perm.reshape(n_blocks, per_block * R)[:, :m] = layer.rows
    bp = np.where(perm >= 0, bias[np.maximum(perm, 0)], 0).astype(dtype)
    slice_block = np.repeat(np.arange(n_blocks, dtype=np.int64), per_block)
    return Packed(False, None, 1, W, None, bp.reshape(ng, R), perm, np.arange(layer.out_features, dtype=np.int64),
                  layer.out_features, np.full(ng, d, dtype=np.int64), ng * R * d, True, np.ascontiguousarray(cols),
                  slice_block)


def pack(layer: SparseLayer, in_slot: np.ndarray | None, final: bool) -> Packed:
    """Pack ``layer``; ``in_slot[i]``: the input tile row holding input ``i`` (None: row ``i``)."""
    KC, R = _K.KC, _K.R
    if layer.kind == "grouped":
        return pack_grouped(layer, in_slot)

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
        return Packed(True, None, 1, Wp, None, bp.reshape(ng, R), perm, slot, n_rows,
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
    return Packed(False, goff, n_chunks, vals, np.ascontiguousarray(idx.astype(idx_dtype)),
                   bp.reshape(ng, R), perm, slot_out, n_rows, widths.sum(axis=1).astype(np.int64), total)


def pack_all(layers: list[SparseLayer], norms: list) -> tuple[list[Packed], list]:
    """Pack every layer, chaining packed orders; LayerNorm parameters follow their layer's order."""
    packed, packed_norms, in_slot = [], [], None
    for i, layer in enumerate(layers):
        final = i == len(layers) - 1
        p = pack(layer, in_slot, final)
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
