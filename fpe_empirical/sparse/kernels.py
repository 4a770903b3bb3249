"""Numba kernels of sparse inference (``cpu``), and the plain NumPy reference.

Runtime format ("packed", a sliced ELL with slice height ``R = 4``, blocked by input
chunks): the output rows of a layer, sorted by fan-in (descending, stable), are cut into
groups of ``R`` rows, and the inputs into ``C`` chunks of ``KC`` consecutive features (one
chunk unless the layer is wider than ``KC``). Block ``(g, c)`` has width
``w = goff[g*C+c+1] - goff[g*C+c]``, the most entries any row of group ``g`` has in chunk
``c``; row ``r`` of the group holds them at ``vals[R*goff[g*C+c] + r*w + k]`` / ``idx[...]``
for ``k < w`` (flat arrays, each row contiguous, indices absolute). Short rows are padded
with value 0 at a valid index (the row's last index), so the padding reads memory but adds
exact zeros. ``perm[g*R + r]`` is the output row that packed row holds (``-1`` for the rows
that fill the last group). Chunks keep the input rows one block reads within ``KC`` rows
(``KC * TB * 4`` bytes, L2-resident) when a layer has thousands of inputs (a wide head).

Two kernel families:

- **tiled** (batch >= 4): activations in a blocked, transposed layout ``(nb, features, TB)``
  (``TB`` batch columns per tile, padded with zeros). Each gathered input row ``X[b, i]`` is
  a contiguous ``TB``-vector, so one non-zero costs one vector FMA
  ``acc_r += v * X[b, i, :]``; the ``R * TB`` accumulators live in registers (stack arrays
  that LLVM promotes, via the ``_stack`` intrinsic), so time is proportional to
  ``(nnz + padding) * batch``. ``TB`` is 16, 32 or 64 (4 to 16 AVX-512 registers).
- **rows** (batch <= 3): activations ``(batch, features)``; per group and sample, ``R``
  scalar accumulators over the group's entries (time ``(nnz + padding) * batch``).

Dense layers (a weight with few zeros) keep the weight ``(ng*R, in)`` (rows padded to a
multiple of ``R``) and no index: the ``R`` rows of a group share each loaded input row.

All kernels take a task range ``lo .. hi`` and write disjoint outputs, so the caller can run
ranges on several threads (``nogil``) and get identical results for any thread count.
``fastmath`` allows contraction and reassociation only (no ``nnan``/``ninf``: NaN and inf
propagate as in torch).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

__all__ = [
    "R",
    "KC",
    "TILE_WIDTHS",
    "tiled_kernel",
    "tiled_dense_kernel",
    "tiled_layernorm",
    "rows_kernel",
    "rows_dense_kernel",
    "tiled_shared_kernel",
    "rows_shared_kernel",
    "gather_blocks",
    "rows_layernorm",
    "reference_forward",
]

R = 4  # rows per group (slice height)
KC = 1024  # inputs per chunk: a chunk of a 64-sample tile is 256 KiB
TILE_WIDTHS = (16, 32, 64)
_FM = {"contract", "reassoc", "nsz", "arcp"}


@intrinsic
def _stack(typingctx, like, size):
    """A pointer to ``size`` (a literal int) uninitialised elements of ``like.dtype`` on the stack.

    The alloca sits in the function's entry block, so after the constant-trip inner loops
    are vectorised LLVM keeps the accumulators in registers (a heap ``np.empty`` would
    force a load and a store per FMA).
    """
    if not isinstance(size, types.IntegerLiteral) or not isinstance(like, types.Array):
        return None
    n = size.literal_value
    dtype = like.dtype

    def codegen(context, builder, sig, args):
        return cgutils.alloca_once(builder, context.get_value_type(dtype), size=n)

    return types.CPointer(dtype)(like, size), codegen


@njit(inline="always")
def _block(goff, vals, idx, b):
    """Width and the per-row value / index slices of packed block ``b`` (one slice per row:
    indices from ``range(w)`` are provably >= 0, so loops carry no negative-index wraparound)."""
    start = goff[b]
    w = goff[b + 1] - start
    r0 = 4 * start
    return (w, vals[r0 : r0 + w], vals[r0 + w : r0 + 2 * w], vals[r0 + 2 * w : r0 + 3 * w], vals[r0 + 3 * w : r0 + 4 * w],
            idx[r0 : r0 + w], idx[r0 + w : r0 + 2 * w], idx[r0 + 2 * w : r0 + 3 * w], idx[r0 + 3 * w : r0 + 4 * w])


@njit(inline="always")
def _fill(acc, value, tb):
    for t in range(tb):
        acc[t] = value


@njit(inline="always")
def _load(acc, Yb, row, tb):
    if row >= 0:
        y = Yb[row]
        for t in range(tb):
            acc[t] = y[t]
    else:  # a filler row: its sums are never stored
        for t in range(tb):
            acc[t] = 0


@njit(inline="always")
def _store(y_row, acc, relu, tb):
    if relu:
        for t in range(tb):
            a = acc[t]
            y_row[t] = a if (a > 0 or a != a) else 0
    else:
        for t in range(tb):
            y_row[t] = acc[t]


def _input_row(Xb, cg, k):  # pragma: no cover - compiled only, see the overload
    """Input row ``k`` of a tile: ``Xb[k]``, or ``Xb[cg[k]]`` when ``cg`` is an index array."""


@overload(_input_row, inline="always")
def _input_row_impl(Xb, cg, k):
    # chosen by type at compile time: the dense kernels keep their plain loads
    if isinstance(cg, types.NoneType):
        return lambda Xb, cg, k: Xb[k]
    return lambda Xb, cg, k: Xb[cg[k]]


def _slice_cols(cols, slice_block, g):  # pragma: no cover - compiled only, see the overload
    """Group ``g``'s input rows ``cols[slice_block[g]]``, or None for a dense layer (``cols`` None)."""


@overload(_slice_cols, inline="always")
def _slice_cols_impl(cols, slice_block, g):
    if isinstance(cols, types.NoneType):
        return lambda cols, slice_block, g: None
    return lambda cols, slice_block, g: cols[slice_block[g]]


def _sample_row(X, s, blk):  # pragma: no cover - compiled only, see the overload
    """Sample ``s``'s input: ``X[s]``, or ``X[s, blk]`` when ``blk`` is a block index."""


@overload(_sample_row, inline="always")
def _sample_row_impl(X, s, blk):
    if isinstance(blk, types.NoneType):
        return lambda X, s, blk: X[s]
    return lambda X, s, blk: X[s, blk]


def _make_tiled(TB: int):
    @njit(cache=True, nogil=True, fastmath=_FM)
    def kernel(goff, n_chunks, vals, idx, bias, perm, X, Y, relu, lo, hi):
        # goff (ng*C+1,) int64; vals, idx flat; bias (ng, R); perm (ng*R,) int64
        # X (nb, in, TB), Y (nb, out, TB); tasks t = b * ng + g, run chunk-major inside a tile
        ng = (goff.shape[0] - 1) // n_chunks
        a0 = numba.carray(_stack(vals, TB), TB)
        a1 = numba.carray(_stack(vals, TB), TB)
        a2 = numba.carray(_stack(vals, TB), TB)
        a3 = numba.carray(_stack(vals, TB), TB)
        task = lo
        while task < hi:
            b = task // ng
            g_lo = task - b * ng
            g_hi = min(ng, g_lo + (hi - task))
            task += g_hi - g_lo
            Xb = X[b]
            Yb = Y[b]
            for c in range(n_chunks):
                last = c == n_chunks - 1
                for g in range(g_lo, g_hi):
                    base = g * 4
                    p0 = perm[base]
                    p1 = perm[base + 1]
                    p2 = perm[base + 2]
                    p3 = perm[base + 3]
                    if c == 0:
                        _fill(a0, bias[g, 0], TB)
                        _fill(a1, bias[g, 1], TB)
                        _fill(a2, bias[g, 2], TB)
                        _fill(a3, bias[g, 3], TB)
                    else:  # partial sums of the previous chunks
                        _load(a0, Yb, p0, TB)
                        _load(a1, Yb, p1, TB)
                        _load(a2, Yb, p2, TB)
                        _load(a3, Yb, p3, TB)
                    w, v0s, v1s, v2s, v3s, i0s, i1s, i2s, i3s = _block(goff, vals, idx, g * n_chunks + c)
                    for k in range(w):
                        v0 = v0s[k]
                        v1 = v1s[k]
                        v2 = v2s[k]
                        v3 = v3s[k]
                        x0 = Xb[i0s[k]]
                        x1 = Xb[i1s[k]]
                        x2 = Xb[i2s[k]]
                        x3 = Xb[i3s[k]]
                        for t in range(TB):
                            a0[t] += v0 * x0[t]
                            a1[t] += v1 * x1[t]
                            a2[t] += v2 * x2[t]
                            a3[t] += v3 * x3[t]
                    rl = relu and last
                    if p0 >= 0:
                        _store(Yb[p0], a0, rl, TB)
                    if p1 >= 0:
                        _store(Yb[p1], a1, rl, TB)
                    if p2 >= 0:
                        _store(Yb[p2], a2, rl, TB)
                    if p3 >= 0:
                        _store(Yb[p3], a3, rl, TB)

    return kernel


@njit(inline="always")
def _tiled_groups(W, cols, slice_block, bias, perm, X, Y, relu, lo, hi, tb):
    """Dense and grouped tiled layers, tasks ``lo .. hi`` (task = tile ``b`` · ng + group
    ``g``): the R = 4 rows of group ``g`` (``W (ng*R, d)``), each input row of the tile read
    once for the 4 rows; row ``k`` is ``X[b, k]`` (``cols`` None: dense) or the gather
    ``X[b, cols[slice_block[g], k]]`` (grouped: the slice's shared input rows).

    ``tb`` is the caller's constant tile width: inlined (Numba IR), it stays a literal, so the
    accumulators are entry-block stack arrays of the caller as in ``_make_tiled``."""
    a0 = numba.carray(_stack(W, tb), tb)
    a1 = numba.carray(_stack(W, tb), tb)
    a2 = numba.carray(_stack(W, tb), tb)
    a3 = numba.carray(_stack(W, tb), tb)
    ng = W.shape[0] // 4
    n = W.shape[1]
    for task in range(lo, hi):
        b = task // ng
        g = task - b * ng
        cg = _slice_cols(cols, slice_block, g)
        Xb = X[b]
        w0 = W[4 * g]
        w1 = W[4 * g + 1]
        w2 = W[4 * g + 2]
        w3 = W[4 * g + 3]
        c0 = bias[g, 0]
        c1 = bias[g, 1]
        c2 = bias[g, 2]
        c3 = bias[g, 3]
        for t in range(tb):
            a0[t] = c0
            a1[t] = c1
            a2[t] = c2
            a3[t] = c3
        for k in range(n):
            v0 = w0[k]
            v1 = w1[k]
            v2 = w2[k]
            v3 = w3[k]
            x = _input_row(Xb, cg, k)
            for t in range(tb):
                a0[t] += v0 * x[t]
                a1[t] += v1 * x[t]
                a2[t] += v2 * x[t]
                a3[t] += v3 * x[t]
        base = g * 4
        if perm[base] >= 0:
            _store(Y[b, perm[base]], a0, relu, tb)
        if perm[base + 1] >= 0:
            _store(Y[b, perm[base + 1]], a1, relu, tb)
        if perm[base + 2] >= 0:
            _store(Y[b, perm[base + 2]], a2, relu, tb)
        if perm[base + 3] >= 0:
            _store(Y[b, perm[base + 3]], a3, relu, tb)


def _make_tiled_dense(TB: int):
    @njit(cache=True, nogil=True, fastmath=_FM)
    def kernel(W, bias, perm, X, Y, relu, lo, hi):
        # W (ng*R, in); bias (ng, R); perm (ng*R,); X (nb, in, TB); Y (nb, out, TB)
        _tiled_groups(W, None, None, bias, perm, X, Y, relu, lo, hi, TB)

    return kernel


def _make_tiled_layernorm(TB: int):
    @njit(cache=True, nogil=True, fastmath=_FM)
    def kernel(Y, gamma, beta, eps, n, relu, lo, hi):
        # Y (nb, rows, TB) in place: LayerNorm over rows 0..n for every column, then ReLU
        for b in range(lo, hi):
            Yb = Y[b]
            mean = numba.carray(_stack(Y, TB), TB)
            var = numba.carray(_stack(Y, TB), TB)
            for t in range(TB):
                mean[t] = 0
                var[t] = 0
            for j in range(n):
                y = Yb[j]
                for t in range(TB):
                    mean[t] += y[t]
            for t in range(TB):
                mean[t] /= n
            for j in range(n):
                y = Yb[j]
                for t in range(TB):
                    d = y[t] - mean[t]
                    var[t] += d * d
            for t in range(TB):
                # biased variance, as torch.nn.LayerNorm
                var[t] = 1 / np.sqrt(var[t] / n + eps)
            for j in range(n):
                y = Yb[j]
                gj = gamma[j]
                bj = beta[j]
                for t in range(TB):
                    v = (y[t] - mean[t]) * var[t] * gj + bj
                    if relu:
                        v = v if (v > 0 or v != v) else 0
                    y[t] = v

    return kernel


def _make_tiled_shared(TB: int):
    @njit(cache=True, nogil=True, fastmath=_FM)
    def kernel(W, cols, slice_block, bias, perm, X, Y, relu, lo, hi):
        # grouped layer: W (ng*R, d), the R rows of slice g share the input rows
        # cols[slice_block[g]] (d,); as the dense kernel, but each input row read is a gather
        _tiled_groups(W, cols, slice_block, bias, perm, X, Y, relu, lo, hi, TB)

    return kernel


tiled_kernel = {tb: _make_tiled(tb) for tb in TILE_WIDTHS}
tiled_shared_kernel = {tb: _make_tiled_shared(tb) for tb in TILE_WIDTHS}
tiled_dense_kernel = {tb: _make_tiled_dense(tb) for tb in TILE_WIDTHS}
tiled_layernorm = {tb: _make_tiled_layernorm(tb) for tb in TILE_WIDTHS}


@njit(cache=True, nogil=True, fastmath={"contract"})
def rows_kernel(goff, n_chunks, vals, idx, bias, perm, X, Y, relu, lo, hi):
    """Small batch: ``X (B, in)``, ``Y (B, out)``; tasks are groups ``g`` in ``lo .. hi``.

    Scalar on purpose: the 4 rows of a group are 4 independent FMA chains, about 1 entry per
    cycle (3 loads each); AVX-512 gathers (what reassociation would give) measured ~25% slower.
    """
    B = X.shape[0]
    for g in range(lo, hi):
        base = 4 * g
        for s in range(B):
            x = X[s]
            a0 = bias[g, 0]
            a1 = bias[g, 1]
            a2 = bias[g, 2]
            a3 = bias[g, 3]
            for c in range(n_chunks):
                w, v0s, v1s, v2s, v3s, i0s, i1s, i2s, i3s = _block(goff, vals, idx, g * n_chunks + c)
                for k in range(w):
                    a0 += v0s[k] * x[i0s[k]]
                    a1 += v1s[k] * x[i1s[k]]
                    a2 += v2s[k] * x[i2s[k]]
                    a3 += v3s[k] * x[i3s[k]]
            if relu:
                a0 = a0 if (a0 > 0 or a0 != a0) else 0
                a1 = a1 if (a1 > 0 or a1 != a1) else 0
                a2 = a2 if (a2 > 0 or a2 != a2) else 0
                a3 = a3 if (a3 > 0 or a3 != a3) else 0
            y = Y[s]
            if perm[base] >= 0:
                y[perm[base]] = a0
            if perm[base + 1] >= 0:
                y[perm[base + 1]] = a1
            if perm[base + 2] >= 0:
                y[perm[base + 2]] = a2
            if perm[base + 3] >= 0:
                y[perm[base + 3]] = a3


@njit(inline="always")
def _rows_group(W, g, bias, perm, X, blk, Y, relu):
    """Small batch, dense and grouped layers: the R = 4 rows of group ``g`` as dense dots
    with sample ``s``'s input ``X[s]`` (``blk`` None) or ``X[s, blk]`` (grouped, permuted)."""
    d = W.shape[1]
    for r in range(4):
        row = perm[4 * g + r]
        if row < 0:
            continue
        wr = W[4 * g + r]
        c = bias[g, r]
        for s in range(X.shape[0]):
            x = _sample_row(X, s, blk)
            a = c
            for k in range(d):
                a += wr[k] * x[k]
            if relu:
                a = a if (a > 0 or a != a) else 0
            Y[s, row] = a


@njit(cache=True, nogil=True, fastmath=_FM)
def rows_dense_kernel(W, bias, perm, X, Y, relu, lo, hi):
    """Small batch, dense layer ``W (ng*R, in)``; tasks are groups."""
    for g in range(lo, hi):
        _rows_group(W, g, bias, perm, X, None, Y, relu)


@njit(cache=True, nogil=True)
def gather_blocks(X, cols, XG):
    """``XG[s, j, k] = X[s, cols[j, k]]``: the input permutation of every block (small batch)."""
    for s in range(X.shape[0]):
        x = X[s]
        for j in range(cols.shape[0]):
            c = cols[j]
            xg = XG[s, j]
            for k in range(cols.shape[1]):
                xg[k] = x[c[k]]


@njit(cache=True, nogil=True, fastmath=_FM)
def rows_shared_kernel(W, slice_block, bias, perm, XG, Y, relu, lo, hi):
    """Small batch, grouped layer: the R rows of slice g are dense dots with the permuted
    input ``XG[s, slice_block[g]]`` (``gather_blocks``); tasks are slices."""
    for g in range(lo, hi):
        _rows_group(W, g, bias, perm, XG, slice_block[g], Y, relu)


@njit(cache=True, nogil=True, fastmath=_FM)
def rows_layernorm(Y, gamma, beta, eps, n, relu, lo, hi):
    """Small batch: LayerNorm over columns 0..n of ``Y (B, rows)`` in place, then ReLU."""
    for s in range(lo, hi):
        y = Y[s]
        mean = 0.0
        for j in range(n):
            mean += y[j]
        mean /= n
        var = 0.0
        for j in range(n):
            d = y[j] - mean
            var += d * d
        rstd = 1 / np.sqrt(var / n + eps)
        for j in range(n):
            v = (y[j] - mean) * rstd * gamma[j] + beta[j]
            if relu:
                v = v if (v > 0 or v != v) else 0
            y[j] = v


def reference_forward(layers, x: np.ndarray) -> np.ndarray:
    """Plain NumPy forward pass the kernels are tested against (float64 accumulation).

    ``layers``: sequence of ``(W, b, norm, relu)`` with ``W (out, in)`` dense effective
    weight, ``b (out,)``, ``norm`` None or ``(gamma, beta, eps)``.
    ``h = x @ W.T + b``; then LayerNorm (biased variance) if ``norm``; then ReLU if ``relu``.
    """
    h = np.asarray(x, dtype=np.float64)
    for W, b, norm, relu in layers:
        h = h @ np.asarray(W, dtype=np.float64).T + np.asarray(b, dtype=np.float64)
        if norm is not None:
            gamma, beta, eps = norm
            mu = h.mean(axis=-1, keepdims=True)
            var = ((h - mu) ** 2).mean(axis=-1, keepdims=True)
            h = (h - mu) / np.sqrt(var + eps) * gamma + beta
        if relu:
            h = np.maximum(h, 0)
    return h
