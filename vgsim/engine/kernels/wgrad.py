"""The weight gradient of a convolution with few filters, as a product whose right side is read
through offsets too:

    out[m, v-th vector] (+)= sum over kk of  a[rows[m] + cols[kk]] * b[brows[kk] + boffs[v] : + L]

For dW with rows[m] = filter m, cols[kk] = position kk's row of dy (a = dy), brows[kk] the corner
of position kk's patch in the padded input b and boffs[v] the offset of one tap's block of L
channels, out is dW with the filters as rows (dW^T). gemm.gather_gemm computes dW with the
filters along the vector and, for 8 filters, waits on one broadcast load per multiply-add; here
a block of MR filters by NV blocks of channels loads MR + NV values per MR · NV multiply-adds.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from .gemm import VECTOR_BYTES, _float_1d, _int_1d, vector_function
from .lanes import _close_loop, _open_loop, _or_in_python, _splat

_opts = {"cache": True, "nogil": True}
WG_MR, WG_NV = 4, 3  # 12 accumulators: filters by blocks of channels


def _wgrad_function(module, fty, mr: int, nv: int) -> ir.Function:
    """The block as an LLVM function of its own (see gemm._tile_function). Arguments: a, rows
    (already at the block's first), cols, brows, kcount, b, boffs (already at the block's
    first), out (at o0), ldo, add (0: out = the sums; else out += them)."""
    single = fty == ir.FloatType()
    name = f"vgsim_wgrad_{mr}x{nv}_{'f32' if single else 'f64'}"
    if name in module.globals:
        return module.globals[name]
    i64 = ir.IntType(64)
    fp, ip = fty.as_pointer(), i64.as_pointer()
    arg_types = [fp, ip, ip, ip, i64, fp, ip, fp, i64, i64]
    fn, builder, vty, lanes, align, fma = vector_function(module, fty, name, arg_types)
    a, rows, cols, brows, kcount, b, boffs, out, ldo, add = fn.args

    def vptr(base, offset):
        return builder.bitcast(builder.gep(base, [offset]), vty.as_pointer())

    starts = [
        builder.gep(a, [builder.load(builder.gep(rows, [ir.Constant(i64, m)]))]) for m in range(mr)
    ]
    offs = [builder.load(builder.gep(boffs, [ir.Constant(i64, v)])) for v in range(nv)]
    slots = [
        [
            vptr(
                out, builder.add(builder.mul(ir.Constant(i64, m), ldo), ir.Constant(i64, v * lanes))
            )
            for v in range(nv)
        ]
        for m in range(mr)
    ]
    adding = builder.icmp_unsigned("!=", add, ir.Constant(i64, 0))
    zero = ir.Constant(vty, [0.0] * lanes)
    first = [
        [builder.select(adding, builder.load(slots[m][v], align=align), zero) for v in range(nv)]
        for m in range(mr)
    ]
    pre, loop, after, kk = _open_loop(builder, kcount, "wgrad")
    accs = [[builder.phi(vty) for _ in range(nv)] for _ in range(mr)]
    off = builder.load(builder.gep(cols, [kk]))
    corner = builder.gep(b, [builder.load(builder.gep(brows, [kk]))])
    bv = [builder.load(vptr(corner, offs[v]), align=align) for v in range(nv)]
    news = []
    for m in range(mr):
        sv = _splat(builder, vty, builder.load(builder.gep(starts[m], [off])))
        news.append([builder.call(fma, [sv, bv[v], accs[m][v]]) for v in range(nv)])
    end = _close_loop(builder, kk, 1, kcount, pre, loop, after)
    done = [[builder.phi(vty) for _ in range(nv)] for _ in range(mr)]  # every phi first
    for m in range(mr):
        for v in range(nv):
            for phi in (accs[m][v], done[m][v]):
                phi.add_incoming(first[m][v], pre)
                phi.add_incoming(news[m][v], end)
    for m in range(mr):
        for v in range(nv):
            builder.store(done[m][v], slots[m][v], align=align)
    builder.ret_void()
    return fn


def _python_wgrad(a, rows, r0, cols, brows, kcount, b, boffs, v0, out, o0, ldo, add):
    """The block in NumPy, for running the kernels without the JIT."""
    lanes = VECTOR_BYTES // a.itemsize
    left = a[rows[r0 : r0 + WG_MR, None] + cols[None, :kcount]]
    ends = brows[:kcount, None] + np.arange(lanes)[None, :]
    for v in range(WG_NV):
        block = left @ b[ends + boffs[v0 + v]]
        for m in range(WG_MR):
            at = o0 + m * ldo + v * lanes
            out[at : at + lanes] = block[m] + (out[at : at + lanes] if add else 0)


@_or_in_python(_python_wgrad)
@intrinsic
def _wgrad_tile(typingctx, a, rows, r0, cols, brows, kcount, b, boffs, v0, out, o0, ldo, add):
    """_wgrad_tile(a, rows, r0, cols, brows, kcount, b, boffs, v0, out, o0, ldo, add) computes
    out[o0 + m ldo + v L + l] (+)= sum_kk a[rows[r0 + m] + cols[kk]] b[brows[kk] + boffs[v0 + v]
    + l] for m < WG_MR, v < WG_NV, l < L (adding to out's values if add != 0)."""
    if not (
        _float_1d(a)
        and _float_1d(b)
        and _float_1d(out)
        and a.dtype == b.dtype == out.dtype
        and all(_int_1d(t) for t in (rows, cols, brows, boffs))
    ):
        return None
    ints = (r0, kcount, v0, o0, ldo, add)
    if not all(isinstance(t, types.Integer) for t in ints):
        return None
    sig = types.void(a, rows, r0, cols, brows, kcount, b, boffs, v0, out, o0, ldo, add)

    def codegen(context, builder, signature, args):
        data = {
            i: context.make_array(signature.args[i])(context, builder, args[i]).data
            for i in (0, 1, 3, 4, 6, 7, 9)
        }
        r0, kcount, v0, o0, ldo, add = (
            context.cast(builder, args[i], signature.args[i], types.int64)
            for i in (2, 5, 8, 10, 11, 12)
        )
        fty = context.get_value_type(signature.args[0].dtype)
        fn = _wgrad_function(builder.module, fty, WG_MR, WG_NV)
        builder.call(
            fn,
            [
                data[0],
                builder.gep(data[1], [r0]),
                data[3],
                data[4],
                kcount,
                data[6],
                builder.gep(data[7], [v0]),
                builder.gep(data[9], [o0]),
                ldo,
                add,
            ],
        )
        return context.get_dummy_value()

    return sig, codegen


@njit(**_opts)
def wgrad_gemm(a, rows, nrows, cols, brows, kcount, b, boffs, nvec, out, ldo, add, edge):
    """out[m, v L + l] (+)= sum_kk a[rows[m] + cols[kk]] b[brows[kk] + boffs[v] + l] for
    m < nrows, v < nvec, l < L. `rows` needs WG_MR entries more than nrows and `boffs` WG_NV
    more than nvec (overwritten: overhanging blocks repeat the last). `edge`: scratch of
    WG_MR · WG_NV · L entries for blocks that overhang out's last row or column."""
    lanes = VECTOR_BYTES // a.itemsize
    for m in range(nrows, nrows + WG_MR):
        rows[m] = rows[nrows - 1]
    for v in range(nvec, nvec + WG_NV):
        boffs[v] = boffs[nvec - 1]
    for r0 in range(0, nrows, WG_MR):
        for v0 in range(0, nvec, WG_NV):
            o0 = r0 * ldo + v0 * lanes
            if r0 + WG_MR <= nrows and v0 + WG_NV <= nvec:
                _wgrad_tile(a, rows, r0, cols, brows, kcount, b, boffs, v0, out, o0, ldo, add)
                continue
            width = WG_NV * lanes
            tall = min(WG_MR, nrows - r0)
            wide = min(WG_NV, nvec - v0) * lanes
            for m in range(tall):
                for j in range(wide):
                    edge[m * width + j] = out[o0 + m * ldo + j] if add else 0.0
            _wgrad_tile(a, rows, r0, cols, brows, kcount, b, boffs, v0, edge, 0, width, add)
            for m in range(tall):
                for j in range(wide):
                    out[o0 + m * ldo + j] = edge[m * width + j]
