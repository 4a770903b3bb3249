"""The wide trainer's GEMM tile in explicit SIMD (LLVM vectors through a Numba intrinsic).

``tile(B, j0, V, v0, T, Out)`` writes, for ``c < 4`` and ``l < 16`` (``tile24``: ``l < 24``)::

    Out[j0 + c, v0 + l] = sum_{t < T} B[j0 + c, t] * V[t, v0 + l]

as one fused-multiply-add chain ``t = 0, 1, ..., T - 1`` per element (two or three 8-float
vector accumulators per row of ``B``, kept in registers). The forward pass is ``B = W1`` (units x
inputs), ``V = X^T`` (inputs x batch); the weight gradient is ``B = G`` (units x batch),
``V = X`` (batch x inputs). Because every element is the same chain, a hidden unit's result
does not depend on which other units share the GEMM, the family's width or the tile it
lands in: the wide trainer's bit-identity rests on this. Auto-vectorised Numba loops reach
about a quarter of this speed (benchmarks/bench_throughput.py).

All arrays: C-contiguous 2-D float32; the caller keeps every index in range (no checks).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["tile", "tile24", "COLS", "LANES", "BATCH_LANES"]

COLS = 4  # rows of B (hidden units) per tile
LANES = 16  # columns of V per tile (two vectors of 8 floats)
BATCH_LANES = 24  # columns of V per ``tile24`` (three vectors: the forward pass, over the batch)

_F32 = ir.FloatType()
_VEC = ir.VectorType(_F32, 8)
_I32 = ir.IntType(32)


def _row_stride(builder, arr) -> ir.Value:
    # element stride of dimension 0 (byte stride / 4)
    strides = cgutils.unpack_tuple(builder, arr.strides)
    return builder.sdiv(strides[0], ir.Constant(strides[0].type, 4))


def _make_tile(n_cols: int, n_vec: int):
    """The tile intrinsic for ``n_cols`` rows of B and ``n_vec`` vectors of 8 lanes."""
    cols, nv = n_cols, n_vec

    @intrinsic
    def tile(typingctx, B, j0, V, v0, T, Out):
        sig = types.void(B, j0, V, v0, T, Out)

        def codegen(context, builder, signature, args):
            b_arr = context.make_array(signature.args[0])(context, builder, args[0])
            v_arr = context.make_array(signature.args[2])(context, builder, args[2])
            o_arr = context.make_array(signature.args[5])(context, builder, args[5])
            i64 = ir.IntType(64)
            j0_, v0_, T_ = (builder.sext(a, i64) if a.type.width < 64 else a for a in (args[1], args[3], args[4]))
            ldb, ldv, ldo = (_row_stride(builder, a) for a in (b_arr, v_arr, o_arr))
            fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VEC, [_VEC, _VEC, _VEC]), "llvm.fma.v8f32")
            zero_vec = ir.Constant(_VEC, [0.0] * 8)
            accs = [cgutils.alloca_once_value(builder, zero_vec) for _ in range(nv * cols)]
            vptr_ty = _VEC.as_pointer()
            b_rows = [builder.gep(b_arr.data, [builder.mul(builder.add(j0_, ir.Constant(i64, c)), ldb)]) for c in range(cols)]
            undef = ir.Constant(_VEC, ir.Undefined)
            splat = ir.Constant(ir.VectorType(_I32, 8), [0] * 8)
            with cgutils.for_range(builder, T_) as loop:
                t = loop.index
                vrow = builder.gep(v_arr.data, [builder.add(builder.mul(t, ldv), v0_)])
                xs = [builder.load(builder.bitcast(builder.gep(vrow, [ir.Constant(i64, 8 * h)]), vptr_ty), align=4) for h in range(nv)]
                for c in range(cols):
                    s = builder.load(builder.gep(b_rows[c], [t]))
                    w = builder.shuffle_vector(builder.insert_element(undef, s, ir.Constant(_I32, 0)), undef, splat)
                    for h, x in enumerate(xs):
                        acc = accs[nv * c + h]
                        builder.store(builder.call(fma, [w, x, builder.load(acc)]), acc)
            for c in range(cols):
                orow = builder.gep(o_arr.data, [builder.add(builder.mul(builder.add(j0_, ir.Constant(i64, c)), ldo), v0_)])
                for h in range(nv):
                    p = builder.bitcast(builder.gep(orow, [ir.Constant(i64, 8 * h)]), vptr_ty)
                    builder.store(builder.load(accs[nv * c + h]), p, align=4)
            return context.get_dummy_value()

        return sig, codegen
    return tile


tile = _make_tile(COLS, LANES // 8)
tile24 = _make_tile(COLS, BATCH_LANES // 8)
