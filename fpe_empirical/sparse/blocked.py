"""The blocked activation layout of the tiled kernels: ``(B, n)`` <-> ``(nb, n, TB)``.

``to_blocked`` transposes a batch into tiles of ``TB`` samples (each input row of a tile a
contiguous ``TB``-vector, zero-padded past the batch) and ``from_blocked`` back; float32 runs
8x8 blocks through one vector transpose (``_transpose8``), other dtypes element by element.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["to_blocked", "from_blocked"]


def _shuffle(builder, a, b, mask):
    return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(ir.IntType(32), len(mask)), mask))


@intrinsic
def _transpose8(typingctx, src, dst, src_off, src_stride, dst_off, dst_stride):
    """Transpose one 8x8 float32 block: ``dst[dst_off + j*dst_stride + i] = src[src_off + i*src_stride + j]``.

    ``src``, ``dst``: flat C arrays; offsets and strides in elements. Eight vector loads,
    24 lane shuffles (unpack, shuffle, 128-bit permute), eight vector stores: about four
    times faster than scalar copies, and the blocked layout needs one per layer input.
    """
    if not (
        isinstance(src, types.Array)
        and isinstance(dst, types.Array)
        and src.dtype == types.float32
        and dst.dtype == types.float32
    ):
        return None
    sig = types.void(src, dst, types.int64, types.int64, types.int64, types.int64)

    def codegen(context, builder, sig, args):
        s = context.make_array(sig.args[0])(context, builder, args[0])
        d = context.make_array(sig.args[1])(context, builder, args[1])
        i64 = ir.IntType(64)
        vty = ir.VectorType(ir.FloatType(), 8)
        rows = []
        for i in range(8):
            off = builder.add(args[2], builder.mul(args[3], ir.Constant(i64, i)))
            ptr = builder.bitcast(builder.gep(s.data, [off]), vty.as_pointer())
            rows.append(builder.load(ptr, align=4))
        t = []  # interleave row pairs within 128-bit lanes
        for i in range(0, 8, 2):
            t.append(_shuffle(builder, rows[i], rows[i + 1], [0, 8, 1, 9, 4, 12, 5, 13]))
            t.append(_shuffle(builder, rows[i], rows[i + 1], [2, 10, 3, 11, 6, 14, 7, 15]))
        u = []  # pairs of pairs: u[j] (rows 0-3) / u[4+j] (rows 4-7) hold columns j and j+4
        for base in (0, 4):
            lo_a, hi_a, lo_b, hi_b = t[base], t[base + 1], t[base + 2], t[base + 3]
            u.append(_shuffle(builder, lo_a, lo_b, [0, 1, 8, 9, 4, 5, 12, 13]))
            u.append(_shuffle(builder, lo_a, lo_b, [2, 3, 10, 11, 6, 7, 14, 15]))
            u.append(_shuffle(builder, hi_a, hi_b, [0, 1, 8, 9, 4, 5, 12, 13]))
            u.append(_shuffle(builder, hi_a, hi_b, [2, 3, 10, 11, 6, 7, 14, 15]))
        cols = [None] * 8
        for j in range(4):  # join the 128-bit halves
            cols[j] = _shuffle(builder, u[j], u[4 + j], [0, 1, 2, 3, 8, 9, 10, 11])
            cols[j + 4] = _shuffle(builder, u[j], u[4 + j], [4, 5, 6, 7, 12, 13, 14, 15])
        for j in range(8):
            off = builder.add(args[4], builder.mul(args[5], ir.Constant(i64, j)))
            ptr = builder.bitcast(builder.gep(d.data, [off]), vty.as_pointer())
            builder.store(cols[j], ptr, align=4)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True)
def _blocked_f32(X, h, forward):
    """``forward``: ``X (B, n) -> h (nb, n, TB)`` (zero-padded past the batch); else the
    inverse ``h -> X``. Full 8x8 blocks by ``_transpose8``, the edges element by element."""
    B, n = X.shape
    nb, _, TB = h.shape
    xf = X.reshape(-1)
    hf = h.reshape(-1)
    full = B // TB
    n8 = n - n % 8
    for b in range(full):
        for i0 in range(0, n8, 8):
            for t0 in range(0, TB, 8):
                xo, ho = (b * TB + t0) * n + i0, (b * n + i0) * TB + t0
                if forward:
                    _transpose8(xf, hf, xo, n, ho, TB)
                else:
                    _transpose8(hf, xf, ho, TB, xo, n)
        for i in range(n8, n):
            for t in range(TB):
                if forward:
                    h[b, i, t] = X[b * TB + t, i]
                else:
                    X[b * TB + t, i] = h[b, i, t]
    for b in range(full, nb):
        for i in range(n):
            for t in range(TB):
                s = b * TB + t
                if forward:
                    h[b, i, t] = X[s, i] if s < B else 0
                elif s < B:
                    X[s, i] = h[b, i, t]


@njit(cache=True, nogil=True)
def _blocked_any(X, h, forward):
    """``_blocked_f32`` for any dtype, element by element."""
    B, n = X.shape
    TB = h.shape[2]
    for s in range(h.shape[0] * TB):
        b = s // TB
        t = s - b * TB
        for i in range(n):
            if forward:
                h[b, i, t] = X[s, i] if s < B else 0
            elif s < B:
                X[s, i] = h[b, i, t]


def to_blocked(X: np.ndarray, h: np.ndarray) -> None:
    """``h[b, i, t] = X[b*TB + t, i]`` (0 past the batch): ``X (B, n)`` C -> ``h (nb, n, TB)``."""
    (_blocked_f32 if X.dtype == np.float32 else _blocked_any)(X, h, True)


def from_blocked(h: np.ndarray, Y: np.ndarray) -> None:
    """``Y[s, j] = h[s // TB, j, s % TB]``: ``h (nb, n, TB)`` -> ``Y (B, n)`` C."""
    (_blocked_f32 if Y.dtype == np.float32 else _blocked_any)(Y, h, False)
