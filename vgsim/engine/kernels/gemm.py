"""A small matrix product whose left matrix is read through offsets: the core of the convolutions.

    out[m, j] = init[j] + sum over kk of  a[rows[m] + cols[kk]] * b[kk, j]

With rows[m] the start of output position m's patch in a padded image and cols[kk] the offset of
patch entry kk within it, this is a convolution without copying patches out (no im2col); with the
roles of rows and cols swapped it is the weight gradient. BLAS is slow at these shapes (few
columns: one per filter), so the inner block is written here as LLVM vector code: MR rows by NRV
vectors of columns held in registers (12 or 10 accumulators of AVX2's 16), each step of kk one
load per row (broadcast), one per column vector, and MR × NRV fused multiply-adds. Every sum runs
over kk in order, so a result does not depend on where its tile falls.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .lanes import _close_loop, _open_loop, _or_in_python, _splat

_opts = {"cache": True, "nogil": True}
VECTOR_BYTES = 32  # AVX2: 8 float32 or 4 float64 per vector


def _float_1d(a) -> bool:
    return (
        isinstance(a, types.Array)
        and a.ndim == 1
        and a.layout == "C"
        and a.dtype in (types.float32, types.float64)
    )


def _int_1d(a) -> bool:
    return isinstance(a, types.Array) and a.ndim == 1 and a.dtype == types.int64


def vector_function(module, fty, name: str, arg_types: list) -> tuple:
    """A new internal, never-inlined LLVM function `name` for a block of AVX2 vector code:
    (function, builder at its entry, vector type, lanes, alignment, llvm.fma of the vector
    type). Not inlined, the register allocator sees the block's loop alone: inlined into the
    caller, its pointers and accumulators spilled to the stack."""
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), arg_types), name)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    single = fty == ir.FloatType()
    lanes = VECTOR_BYTES // (4 if single else 8)
    vty = ir.VectorType(fty, lanes)
    fma = cgutils.get_or_insert_function(
        module, ir.FunctionType(vty, [vty] * 3), f"llvm.fma.v{lanes}{'f32' if single else 'f64'}"
    )
    return fn, builder, vty, lanes, 4 if single else 8, fma


def _tile_function(module, fty, mr: int, nrv: int, split: int) -> ir.Function:
    """The block as an LLVM function of its own (not inlined), so that the register allocator
    sees this loop alone: inlined into the caller, its row pointers and accumulators spilled
    to the stack. Arguments: a, rows (already at r0), cols, kcount, b, ldb, c0, init, out
    (already at o0), ldo; pointers to the arrays' data, counts in elements."""
    single = fty == ir.FloatType()
    name = f"vgsim_tile_{mr}x{nrv}x{split}_{'f32' if single else 'f64'}"
    if name in module.globals:
        return module.globals[name]
    i64 = ir.IntType(64)
    fp, ip = fty.as_pointer(), i64.as_pointer()
    arg_types = [fp, ip, ip, i64, fp, i64, i64, fp, fp, i64]
    fn, builder, vty, lanes, align, fma = vector_function(module, fty, name, arg_types)
    a, rows, cols, kcount, b, ldb, c0, init, out, ldo = fn.args

    def vload(base, offset):
        ptr = builder.bitcast(builder.gep(base, [offset]), vty.as_pointer())
        return builder.load(ptr, align=align)

    starts = [
        builder.gep(a, [builder.load(builder.gep(rows, [ir.Constant(i64, m)]))]) for m in range(mr)
    ]
    zero = ir.Constant(vty, [0.0] * lanes)
    first = [vload(init, builder.add(c0, ir.Constant(i64, v * lanes))) for v in range(nrv)]

    def fma_step(kk, accs):
        """accs[m][v] + a[rows[m] + cols[kk]] · b[kk, v-th vector]."""
        off = builder.load(builder.gep(cols, [kk]))
        brow = builder.add(builder.mul(kk, ldb), c0)
        bvec = [vload(b, builder.add(brow, ir.Constant(i64, v * lanes))) for v in range(nrv)]
        out = []
        for m in range(mr):
            sv = _splat(builder, vty, builder.load(builder.gep(starts[m], [off])))
            out.append([builder.call(fma, [sv, bvec[v], accs[m][v]]) for v in range(nrv)])
        return out

    def merge(values_by_block):
        """A phi per accumulator over (block, values) pairs."""
        phis = [[builder.phi(vty) for _ in range(nrv)] for _ in range(mr)]
        for block, values in values_by_block:
            for m in range(mr):
                for v in range(nrv):
                    phis[m][v].add_incoming(values[m][v], block)
        return phis

    inits = [[list(first) for _ in range(mr)]]
    inits += [[[zero] * nrv for _ in range(mr)] for _ in range(split - 1)]
    whole = builder.mul(builder.udiv(kcount, ir.Constant(i64, split)), ir.Constant(i64, split))
    pre, loop, after, kk = _open_loop(builder, whole, "tile")
    sets = [merge([]) for _ in range(split)]
    news = [fma_step(builder.add(kk, ir.Constant(i64, s)), sets[s]) for s in range(split)]
    end = _close_loop(builder, kk, split, whole, pre, loop, after)
    for s in range(split):
        for m in range(mr):
            for v in range(nrv):
                sets[s][m][v].add_incoming(inits[s][m][v], pre)
                sets[s][m][v].add_incoming(news[s][m][v], end)
    done = [merge([(pre, inits[s]), (end, news[s])]) for s in range(split)]
    total = done[0]
    if split > 1:  # the last kk when kcount is odd, then the sets added up
        here = builder.block
        tail = fn.append_basic_block("tile.tail")
        joined = fn.append_basic_block("tile.join")
        builder.cbranch(builder.icmp_unsigned("<", whole, kcount), tail, joined)
        builder.position_at_end(tail)
        last = fma_step(builder.sub(kcount, ir.Constant(i64, 1)), done[0])
        builder.branch(joined)
        builder.position_at_end(joined)
        total = merge([(here, done[0]), (tail, last)])
        for s in range(1, split):
            total = [
                [builder.fadd(total[m][v], done[s][m][v]) for v in range(nrv)] for m in range(mr)
            ]
    for m in range(mr):
        for v in range(nrv):
            offset = builder.add(builder.mul(ir.Constant(i64, m), ldo), ir.Constant(i64, v * lanes))
            ptr = builder.bitcast(builder.gep(out, [offset]), vty.as_pointer())
            builder.store(total[m][v], ptr, align=align)
    builder.ret_void()
    return fn


def _python_tile(mr: int, nrv: int):
    """The block in NumPy, for running the kernels without the JIT (sums in NumPy's order)."""

    def tile(a, rows, r0, cols, kcount, b, ldb, c0, init, out, o0, ldo):
        width = nrv * VECTOR_BYTES // a.itemsize
        k = np.arange(kcount)
        left = a[rows[r0 : r0 + mr, None] + cols[None, :kcount]]
        right = b[(k * ldb + c0)[:, None] + np.arange(width)[None, :]]
        block = init[c0 : c0 + width] + left @ right
        for m in range(mr):
            out[o0 + m * ldo : o0 + m * ldo + width] = block[m]

    return tile


def _tile_intrinsic(mr: int, nrv: int, split: int):
    """The MR × NRV-vector block as an intrinsic:
    tile(a, rows, r0, cols, kcount, b, ldb, c0, init, out, o0, ldo) computes
    out[o0 + m ldo + j] = init[c0 + j] + sum_kk a[rows[r0 + m] + cols[kk]] b[kk ldb + c0 + j]
    for m < MR and j < NRV · lanes, lanes = VECTOR_BYTES / itemsize. With split = 2 the even
    and the odd kk are summed apart (twice the accumulators for few rows: fewer row pointers
    to hold in registers) and added at the end."""

    def impl(typingctx, a, rows, r0, cols, kcount, b, ldb, c0, init, out, o0, ldo):
        if not (
            _float_1d(a)
            and _float_1d(b)
            and _float_1d(init)
            and _float_1d(out)
            and a.dtype == b.dtype == init.dtype == out.dtype
            and _int_1d(rows)
            and _int_1d(cols)
        ):
            return None
        ints = (r0, kcount, ldb, c0, o0, ldo)
        if not all(isinstance(t, types.Integer) for t in ints):
            return None
        sig = types.void(a, rows, r0, cols, kcount, b, ldb, c0, init, out, o0, ldo)

        def codegen(context, builder, signature, args):
            data = {
                i: context.make_array(signature.args[i])(context, builder, args[i]).data
                for i in (0, 1, 3, 5, 8, 9)
            }
            r0, kcount, ldb, c0, o0, ldo = (
                context.cast(builder, args[i], signature.args[i], types.int64)
                for i in (2, 4, 6, 7, 10, 11)
            )
            fty = context.get_value_type(signature.args[0].dtype)
            fn = _tile_function(builder.module, fty, mr, nrv, split)
            builder.call(
                fn,
                [
                    data[0],
                    builder.gep(data[1], [r0]),
                    data[3],
                    kcount,
                    data[5],
                    ldb,
                    c0,
                    data[8],
                    builder.gep(data[9], [o0]),
                    ldo,
                ],
            )
            return context.get_dummy_value()

        return sig, codegen

    impl.__name__ = f"tile_{mr}x{nrv}x{split}"
    return _or_in_python(_python_tile(mr, nrv))(intrinsic(impl))


# Wide blocks (two vectors of columns) where there are enough columns, narrow ones for the rest.
# Narrow: 5 rows, even and odd kk apart (10 accumulators); 4 rows were 4-11% slower on 8-filter
# convolutions, 6 rows 4-8% (float32, one core, measured in one process).
WIDE_MR, WIDE_NRV, WIDE_SPLIT = 6, 2, 1
NARROW_MR, NARROW_NRV, NARROW_SPLIT = 5, 1, 2
ROW_ROOM = 8  # entries `rows` needs beyond its last row: the overhang of the tallest block
_tile_wide = _tile_intrinsic(WIDE_MR, WIDE_NRV, WIDE_SPLIT)
_tile_narrow = _tile_intrinsic(NARROW_MR, NARROW_NRV, NARROW_SPLIT)


@njit(**_opts)
def lanes_of(a):
    """Elements per vector for a's dtype."""
    return VECTOR_BYTES // a.itemsize


@njit(**_opts)
def padded_width(n, lanes):
    """n rounded up to whole vectors."""
    return (n + lanes - 1) // lanes * lanes


@njit(**_opts)
def gather_gemm(a, rows, nrows, cols, kcount, b, ldb, ncols, init, out, ldo, edge):
    """out[m, j] = init[j] + sum_kk a[rows[m] + cols[kk]] b[kk, j] for m < nrows, j < ncols.

    b is read as rows of `ldb` entries, ldb a whole number of vectors (padded with anything:
    the padding columns are computed and dropped); `init` has at least ldb entries. `rows` must
    have ROW_ROOM entries more than nrows (overwritten here: the rows of blocks that overhang
    the last one). `edge`: scratch of at least ROW_ROOM · ldb entries for blocks that overhang
    out's last row or column."""
    lanes = lanes_of(a)
    wide = WIDE_NRV * lanes
    last = rows[nrows - 1]
    for m in range(nrows, nrows + ROW_ROOM):
        rows[m] = last  # overhanging rows repeat the last one; their results are dropped
    c0 = 0
    while c0 < ldb:
        use_wide = ldb - c0 >= wide
        mr = WIDE_MR if use_wide else NARROW_MR
        width = wide if use_wide else lanes
        fits_cols = c0 + width <= ncols
        for r0 in range(0, nrows, mr):
            if fits_cols and r0 + mr <= nrows:
                if use_wide:
                    _tile_wide(a, rows, r0, cols, kcount, b, ldb, c0, init, out, r0 * ldo + c0, ldo)
                else:
                    _tile_narrow(
                        a, rows, r0, cols, kcount, b, ldb, c0, init, out, r0 * ldo + c0, ldo
                    )
                continue
            if use_wide:
                _tile_wide(a, rows, r0, cols, kcount, b, ldb, c0, init, edge, 0, width)
            else:
                _tile_narrow(a, rows, r0, cols, kcount, b, ldb, c0, init, edge, 0, width)
            for m in range(min(mr, nrows - r0)):
                for j in range(min(width, ncols - c0)):
                    out[(r0 + m) * ldo + c0 + j] = edge[m * width + j]
        c0 += width
