"""A stride-1 convolution with one vector of filters, a row of outputs at a time.

gemm.gather_gemm computes a convolution as a product whose rows are output positions: with one
vector of filters (8 in float32), each multiply-add needs a load of its own, the input value
broadcast. Here a block holds ROW_J neighbouring outputs of one row in registers: an input
value, loaded once, is multiplied by the K taps of a kernel row that reach it, into the
accumulators of the K outputs it lies under (K · ROW_J multiply-adds for ROW_J + K − 1
broadcasts and K weight vectors per kernel row and channel).

    out[outs[r] + j·L + l] = init[l] + sum over kk and dj < K of
        a[corners[r] + xoff[kk] + (j + dj)·step] · w[woff[kk] + dj·wtap + l]

for blocks r, j < ROW_J, l < L: kk runs over (kernel row, channel) pairs, xoff[kk] their offset
in the padded input and woff[kk] in the weights.

`row_blocks_inside` reads an input without its zero border instead: it leaves out the first and
the last column a block's outputs reach (`lead`, `trail`: 1 where that column is the padding)
and the caller leaves out the kernel rows above and below the image from xoff and woff. The
input gradient of a "same" convolution then needs no padded copy of dy.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from .gemm import _float_1d, _int_1d, vector_function
from .lanes import _close_loop, _open_loop, _or_in_python, _splat

ROW_J = 8  # outputs per block: 8 accumulators, K weight vectors and a broadcast in registers
ROW_K = 3  # the kernel width the blocks are made for
_opts = {"cache": True, "nogil": True}


def _row_function(module, fty, taps: int, width: int, lead: int, trail: int) -> ir.Function:
    """The blocks as an LLVM function of its own (see gemm._tile_function), without the first
    `lead` and the last `trail` input columns. Arguments: a, corners (at r0), outs (at r0),
    blocks, xoff, woff, kcount, w, wtap, step, init, out."""
    single = fty == ir.FloatType()
    edges = f"_{lead}{trail}" if lead or trail else ""
    name = f"vgsim_rowconv_{taps}x{width}{edges}_{'f32' if single else 'f64'}"
    if name in module.globals:
        return module.globals[name]
    i64 = ir.IntType(64)
    fp, ip = fty.as_pointer(), i64.as_pointer()
    args = [fp, ip, ip, i64, ip, ip, i64, fp, i64, i64, fp, fp]
    fn, builder, vty, lanes, align, fma = vector_function(module, fty, name, args)
    a, corners, outs, blocks, xoff, woff, kcount, w, wtap, step, init, out = fn.args

    def vptr(base, offset):
        return builder.bitcast(builder.gep(base, [offset]), vty.as_pointer())

    first = builder.load(vptr(init, ir.Constant(i64, 0)), align=align)
    shifts = [builder.mul(step, ir.Constant(i64, j)) for j in range(width + taps - 1)]
    wshifts = [builder.mul(wtap, ir.Constant(i64, dj)) for dj in range(taps)]
    pre_r, loop_r, after_r, r = _open_loop(builder, blocks, "rowconv.block")
    corner = builder.gep(a, [builder.load(builder.gep(corners, [r]))])
    target = builder.gep(out, [builder.load(builder.gep(outs, [r]))])
    pre, loop, after, kk = _open_loop(builder, kcount, "rowconv")
    accs = [builder.phi(vty) for _ in range(width)]
    row = builder.gep(corner, [builder.load(builder.gep(xoff, [kk]))])
    wrow = builder.gep(w, [builder.load(builder.gep(woff, [kk]))])
    wv = [builder.load(vptr(wrow, wshifts[dj]), align=align) for dj in range(taps)]
    news = list(accs)
    # One weight vector at a time over the block's outputs, not one input column at a time
    # over the taps it lies under: the column order had LLVM load all the broadcasts first and
    # spill half of them; this order took 0.8 of its time (the same sums in the same order).
    for dj in range(taps):
        for j in range(width):
            if lead <= j + dj < width + taps - 1 - trail:
                xb = _splat(builder, vty, builder.load(builder.gep(row, [shifts[j + dj]])))
                news[j] = builder.call(fma, [xb, wv[dj], news[j]])
    end = _close_loop(builder, kk, 1, kcount, pre, loop, after)
    done = [builder.phi(vty) for _ in range(width)]  # every phi first
    for j in range(width):
        for phi in (accs[j], done[j]):
            phi.add_incoming(first, pre)
            phi.add_incoming(news[j], end)
    for j in range(width):
        builder.store(done[j], vptr(target, ir.Constant(i64, j * lanes)), align=align)
    _close_loop(builder, r, 1, blocks, pre_r, loop_r, after_r)
    builder.ret_void()
    return fn


def _python_rows(lead: int, trail: int):
    """The blocks in NumPy, for running the kernels without the JIT."""

    def rows(a, corners, outs, r0, blocks, xoff, woff, kcount, w, wtap, step, init, out):
        lanes = init.size
        for r in range(r0, r0 + blocks):
            for j in range(ROW_J):
                total = init.astype(np.float64)
                for kk in range(kcount):
                    for dj in range(ROW_K):
                        if j + dj < lead or j + dj >= ROW_J + ROW_K - 1 - trail:
                            continue
                        x = a[corners[r] + xoff[kk] + (j + dj) * step]
                        at = woff[kk] + dj * wtap
                        total = total + x * w[at : at + lanes]
                out[outs[r] + j * lanes : outs[r] + (j + 1) * lanes] = total

    return rows


def _rows_intrinsic(lead: int, trail: int):
    """row_blocks(a, corners, outs, r0, blocks, xoff, woff, kcount, w, wtap, step, init, out):
    the module's sum for blocks r0 ≤ r < r0 + blocks, with K = ROW_K and L = init's length,
    one vector of a's dtype, without the first `lead` and the last `trail` input columns."""

    def impl(typingctx, a, corners, outs, r0, blocks, xoff, woff, kcount, w, wtap, step, init, out):
        if not (
            _float_1d(a)
            and _float_1d(w)
            and _float_1d(init)
            and _float_1d(out)
            and a.dtype == w.dtype == init.dtype == out.dtype
            and all(_int_1d(t) for t in (corners, outs, xoff, woff))
        ):
            return None
        if not all(isinstance(t, types.Integer) for t in (r0, blocks, kcount, wtap, step)):
            return None
        sig = types.void(a, corners, outs, r0, blocks, xoff, woff, kcount, w, wtap, step, init, out)

        def codegen(context, builder, signature, args):
            data = {
                i: context.make_array(signature.args[i])(context, builder, args[i]).data
                for i in (0, 1, 2, 5, 6, 8, 11, 12)
            }
            r0, blocks, kcount, wtap, step = (
                context.cast(builder, args[i], signature.args[i], types.int64)
                for i in (3, 4, 7, 9, 10)
            )
            fty = context.get_value_type(signature.args[0].dtype)
            fn = _row_function(builder.module, fty, ROW_K, ROW_J, lead, trail)
            builder.call(
                fn,
                [
                    data[0],
                    builder.gep(data[1], [r0]),
                    builder.gep(data[2], [r0]),
                    blocks,
                    data[5],
                    data[6],
                    kcount,
                    data[8],
                    wtap,
                    step,
                    data[11],
                    data[12],
                ],
            )
            return context.get_dummy_value()

        return sig, codegen

    impl.__name__ = f"row_blocks_{lead}{trail}"
    return _or_in_python(_python_rows(lead, trail))(intrinsic(impl))


row_blocks = _rows_intrinsic(0, 0)
_rows_lead = _rows_intrinsic(1, 0)
_rows_trail = _rows_intrinsic(0, 1)
_rows_both = _rows_intrinsic(1, 1)


@njit(**_opts)
def row_blocks_inside(
    lead, trail, a, corners, outs, r0, blocks, xoff, woff, kcount, w, wtap, step, init, out
):
    """row_blocks without the first input column if lead, without the last if trail."""
    if lead and trail:
        _rows_both(a, corners, outs, r0, blocks, xoff, woff, kcount, w, wtap, step, init, out)
    elif lead:
        _rows_lead(a, corners, outs, r0, blocks, xoff, woff, kcount, w, wtap, step, init, out)
    elif trail:
        _rows_trail(a, corners, outs, r0, blocks, xoff, woff, kcount, w, wtap, step, init, out)
    else:
        row_blocks(a, corners, outs, r0, blocks, xoff, woff, kcount, w, wtap, step, init, out)
