"""Reductions over contiguous float arrays in a fixed order that still runs at SIMD speed.

Numba leaves LLVM's SLP vectoriser off and a float reduction only vectorises under fast-math
reassociation, whose order LLVM may pick differently wherever a function is inlined. These
intrinsics emit the vector loop themselves: element i goes to lane i % 16 (two 8-wide float64
vectors, so additions overlap), lanes are combined in a fixed pairwise tree, and the tail after
the last multiple of 16 is added in index order. Squares accumulate by fused multiply-add
(llvm.fma: one rounding, exactly specified); minima and maxima are taken in the array's own dtype
(exact). No fast-math flags: the same bits wherever a function is inlined.

Every intrinsic has a plain NumPy twin (`_python_*`), used instead when the JIT is off
(NUMBA_DISABLE_JIT=1, to debug the kernels in Python or measure their coverage): the same
lanes in the same order, except that squares are rounded before they are added (NumPy has no
fused multiply-add), so sums of squares may differ from the compiled ones in the last bits.

`populate_array`, `impl_ret_borrowed` and `cgutils.get_or_insert_function` are Numba internals,
not its public API: numba is capped in pyproject.toml at the newest version tested. Before
raising the cap, check that they still exist with these signatures, then run
tests/engine/test_lanes.py, test_stats.py and the JIT-off run in .ci/run.
"""

import numpy as np
from llvmlite import ir
from numba import config, njit, types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np.arrayobj import populate_array

VL = 8  # float64 lanes per vector
NV = 2  # vectors per accumulator: independent chains hide the add latency
WIDTH = VL * NV
_opts = {"cache": True, "nogil": True}
_SUM, _SQ, _MIN, _MAX = range(4)
MOMENTS = (_SUM, _SQ, _MIN, _MAX)


def _or_in_python(twin):
    """The intrinsic, or with the JIT off its NumPy twin (an intrinsic cannot run in Python)."""

    def choose(compiled):
        return twin if config.DISABLE_JIT else compiled

    return choose


def _python_combine(kind, a, b):
    """_combine in NumPy: the sum, or b where it is strictly beyond a (NaN never taken)."""
    if kind in (_SUM, _SQ):
        return a + b
    return np.where(b < a if kind == _MIN else b > a, b, a)


def _python_lanes(x, kind):
    """What _reduce_codegen computes for one kind over x[:len(x) // WIDTH * WIDTH], in NumPy:
    lane i % WIDTH accumulates in index order, then lanes combine pairwise (j with j + 1, then
    pairs of pairs); min and max in x's dtype, from x[0]."""
    whole = x[: x.size - x.size % WIDTH].reshape(-1, WIDTH)
    if kind in (_SUM, _SQ):
        whole = whole.astype(np.float64)
        lanes = np.zeros(WIDTH)
    else:
        lanes = np.full(WIDTH, x[0], x.dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # as compiled: overflow gives inf
        for row in whole:
            lanes = _python_combine(kind, lanes, row * row if kind == _SQ else row)
        lanes = lanes.astype(np.float64)
        while lanes.size > 1:
            lanes = _python_combine(kind, lanes[0::2], lanes[1::2])
    return lanes[0]


def _python_moments_body(y):
    return tuple(_python_lanes(y, kind) for kind in (_SUM, _SQ, _MIN, _MAX))


def _python_sumsq_body(a):
    return (_python_lanes(a, _SQ),)


def _python_sumsq2_body(a, b):
    return _python_lanes(a, _SQ), _python_lanes(b, _SQ)


def _python_as_2d(a, n, w):
    return a[: n * w].reshape(n, w)


def _python_transpose8(src, dst, ld_src, ld_dst, r0, c0):
    k = np.arange(8)
    block = src[(r0 + k[:, None]) * ld_src + c0 + k[None, :]]
    dst[(c0 + k[:, None]) * ld_dst + r0 + k[None, :]] = block.T


def _float_array(a) -> bool:
    return (
        isinstance(a, types.Array)
        and a.ndim == 1
        and a.layout == "C"
        and a.dtype in (types.float32, types.float64)
    )


def _splat(builder, vty, value):
    v = builder.insert_element(
        ir.Constant(vty, ir.Undefined), value, ir.Constant(ir.IntType(32), 0)
    )
    mask = ir.Constant(ir.VectorType(ir.IntType(32), vty.count), [0] * vty.count)
    return builder.shuffle_vector(v, ir.Constant(vty, ir.Undefined), mask)


def _combine(builder, kind, a, b):
    if kind in (_SUM, _SQ):
        return builder.fadd(a, b)
    op = "<" if kind == _MIN else ">"
    # Keeps a unless b is strictly beyond it: NaN is never taken (as `v if v < lo else lo`).
    return builder.select(builder.fcmp_ordered(op, b, a), b, a)


def _open_loop(builder, count, name):
    """Start a loop over i = 0, step, 2 step, ... below `count` (none if count is 0): returns
    the block before it, the loop's and the one after it, and i. The caller adds its own phis
    at the top of the loop, then closes it with _close_loop."""
    fn = builder.function
    pre = builder.block
    loop = fn.append_basic_block(f"{name}.loop")
    after = fn.append_basic_block(f"{name}.after")
    builder.cbranch(builder.icmp_unsigned(">", count, ir.Constant(count.type, 0)), loop, after)
    builder.position_at_end(loop)
    return pre, loop, after, builder.phi(count.type)


def _close_loop(builder, i, step, count, pre, loop, after):
    """End a loop from _open_loop and continue after it; returns the loop's last block."""
    nxt = builder.add(i, ir.Constant(i.type, step))
    end = builder.block
    builder.cbranch(builder.icmp_unsigned("<", nxt, count), loop, after)
    i.add_incoming(ir.Constant(i.type, 0), pre)
    i.add_incoming(nxt, end)
    builder.position_at_end(after)
    return end


def _fma(builder):
    vty = ir.VectorType(ir.DoubleType(), VL)
    return cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vty, [vty] * 3), f"llvm.fma.v{VL}f64"
    )


def _lanes_start(builder, kinds, data, fty):
    """Each kind's starting vector: 0 for sums, for min/max the first element (n >= 1) in the
    array's dtype."""
    zero = ir.Constant(ir.VectorType(ir.DoubleType(), VL), [0.0] * VL)
    return [
        zero if kind in (_SUM, _SQ) else _splat(builder, ir.VectorType(fty, VL), builder.load(data))
        for kind in kinds
    ]


def _lanes_step(builder, fma, kinds, accs, v):
    """The accumulators of `kinds` (one vector each) with loaded vector v added to them."""
    dbl = ir.DoubleType()
    d = builder.fpext(v, ir.VectorType(dbl, VL)) if v.type.element != dbl else v
    news = []
    for kind, acc in zip(kinds, accs, strict=True):
        if kind == _SUM:
            news.append(builder.fadd(acc, d))
        elif kind == _SQ:
            news.append(builder.call(fma, [d, d, acc]))
        else:
            news.append(_combine(builder, kind, acc, v))
    return news


def _lanes_total(builder, kind, vecs):
    """One kind's lanes (vecs: its NV vectors) combined in the fixed pairwise tree."""
    dbl = ir.DoubleType()
    lanes = [
        builder.extract_element(v, ir.Constant(ir.IntType(32), j)) for v in vecs for j in range(VL)
    ]
    if lanes[0].type != dbl:  # min/max lanes of a float32 array
        lanes = [builder.fpext(x, dbl) for x in lanes]
    while len(lanes) > 1:  # lane j with j + 1, then pairs of pairs, ...
        lanes = [
            _combine(builder, kind, x, y) for x, y in zip(lanes[0::2], lanes[1::2], strict=True)
        ]
    return lanes[0]


def _lanes_load(builder, data, fty, i):
    ptr = builder.bitcast(builder.gep(data, [i]), ir.VectorType(fty, VL).as_pointer())
    return builder.load(ptr, align=4 if fty != ir.DoubleType() else 8)


def _reduce_codegen(kinds_per_array):
    """Codegen for a loop over the first (n // WIDTH) * WIDTH elements of each array (all of
    the first array's length), accumulating the given kinds per array; returns a tuple of
    float64 results in order."""

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        arys = [
            context.make_array(t)(context, builder, a)
            for t, a in zip(signature.args, args, strict=True)
        ]
        ftys = [context.get_value_type(t.dtype) for t in signature.args]
        n = arys[0].nitems
        nw = builder.mul(builder.udiv(n, ir.Constant(i64, WIDTH)), ir.Constant(i64, WIDTH))
        fma = _fma(builder)
        inits = [
            _lanes_start(builder, kinds, ary.data, fty)
            for ary, fty, kinds in zip(arys, ftys, kinds_per_array, strict=True)
        ]
        pre, loop, after, i = _open_loop(builder, nw, "lanes")
        phis = [
            [[builder.phi(inits[a][c].type) for _ in range(NV)] for c in range(len(kinds))]
            for a, kinds in enumerate(kinds_per_array)
        ]
        news = [[[None] * NV for _ in kinds] for kinds in kinds_per_array]
        for a, (ary, fty, kinds) in enumerate(zip(arys, ftys, kinds_per_array, strict=True)):
            for k in range(NV):
                v = _lanes_load(builder, ary.data, fty, builder.add(i, ir.Constant(i64, k * VL)))
                step = _lanes_step(
                    builder, fma, kinds, [phis[a][c][k] for c in range(len(kinds))], v
                )
                for c in range(len(kinds)):
                    news[a][c][k] = step[c]
        end = _close_loop(builder, i, WIDTH, nw, pre, loop, after)
        outs = []  # every phi first: LLVM wants them at the top of the block
        for a, kinds in enumerate(kinds_per_array):
            for c, kind in enumerate(kinds):
                vecs = []
                for k in range(NV):
                    ph = phis[a][c][k]
                    ph.add_incoming(inits[a][c], pre)
                    ph.add_incoming(news[a][c][k], end)
                    out = builder.phi(inits[a][c].type)
                    out.add_incoming(inits[a][c], pre)
                    out.add_incoming(news[a][c][k], end)
                    vecs.append(out)
                outs.append((kind, vecs))
        results = [_lanes_total(builder, kind, vecs) for kind, vecs in outs]
        return context.make_tuple(builder, signature.return_type, results)

    return codegen


@_or_in_python(_python_moments_body)
@intrinsic
def _moments_body(typingctx, y):
    if not _float_array(y):
        return None
    return types.UniTuple(types.float64, 4)(y), _reduce_codegen([(_SUM, _SQ, _MIN, _MAX)])


@_or_in_python(_python_sumsq_body)
@intrinsic
def _sumsq_body(typingctx, a):
    if not _float_array(a):
        return None
    return types.UniTuple(types.float64, 1)(a), _reduce_codegen([(_SQ,)])


@_or_in_python(_python_sumsq2_body)
@intrinsic
def _sumsq2_body(typingctx, a, b):
    if not (_float_array(a) and _float_array(b)):
        return None
    return types.UniTuple(types.float64, 2)(a, b), _reduce_codegen([(_SQ,), (_SQ,)])


@njit(**_opts)
def moments(y):
    """(sum, sum of squares, min, max) of y in float64; y must not be empty."""
    s, q, lo, hi = _moments_body(y)
    return _moments_tail(y, s, q, lo, hi)


@njit(inline="always", **_opts)
def _moments_tail(y, s, q, lo, hi):
    """The elements after the last whole vector, in index order."""
    for i in range(y.size - y.size % WIDTH, y.size):
        v = np.float64(y[i])
        s += v
        q += v * v
        lo = v if v < lo else lo
        hi = v if v > hi else hi
    return s, q, lo, hi


@njit(**_opts)
def sum_squares(a):
    """sum(a**2) in float64."""
    s = _sumsq_body(a)[0]
    for i in range(a.size - a.size % WIDTH, a.size):
        v = np.float64(a[i])
        s += v * v
    return s


@njit(**_opts)
def sum_squares2(a, b):
    """(sum(a**2), sum(b**2)) in float64, one pass; a and b of the same size."""
    sa, sb = _sumsq2_body(a, b)
    for i in range(a.size - a.size % WIDTH, a.size):
        v = np.float64(a[i])
        sa += v * v
        u = np.float64(b[i])
        sb += u * u
    return sa, sb


@_or_in_python(_python_as_2d)
@intrinsic
def as_2d(typingctx, a, n, w):
    """The first n * w entries of a contiguous 1-D array as an (n, w) C-contiguous view (the
    caller guarantees a.size >= n * w). Numba's reshape asks a C helper to check the layout
    every time, which costs as much as a small node's arithmetic; this only fills in the
    array header. Pass an array, never an Optional one (Numba then types it as a list)."""
    if not (
        isinstance(a, types.Array)
        and a.ndim == 1
        and a.layout == "C"
        and isinstance(n, types.Integer)
        and isinstance(w, types.Integer)
    ):
        return None
    ret = a.copy(ndim=2, layout="C")
    sig = ret(a, n, w)

    def codegen(context, builder, signature, args):
        src = context.make_array(signature.args[0])(context, builder, args[0])
        dst = context.make_array(signature.return_type)(context, builder)
        rows = context.cast(builder, args[1], signature.args[1], types.intp)
        cols = context.cast(builder, args[2], signature.args[2], types.intp)
        itemsize = src.itemsize
        populate_array(
            dst,
            data=src.data,
            shape=[rows, cols],
            strides=[builder.mul(cols, itemsize), itemsize],
            itemsize=itemsize,
            meminfo=src.meminfo,
            parent=src.parent,
        )
        return impl_ret_borrowed(context, builder, signature.return_type, dst._getvalue())

    return sig, codegen


@_or_in_python(_python_transpose8)
@intrinsic
def _transpose8(typingctx, src, dst, ld_src, ld_dst, r0, c0):
    """dst[c0 + j, r0 + i] = src[r0 + i, c0 + j] for an 8 x 8 block of two flat C-ordered
    float32/float64 arrays with row lengths ld_src and ld_dst: eight row loads, the shuffles of
    a transpose, eight row stores (Numba's scalar loop moves one value at a time)."""
    if not (_float_array(src) and _float_array(dst) and src.dtype == dst.dtype):
        return None
    sig = types.void(src, dst, types.intp, types.intp, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        i32, i64 = ir.IntType(32), ir.IntType(64)
        s = context.make_array(signature.args[0])(context, builder, args[0])
        d = context.make_array(signature.args[1])(context, builder, args[1])
        fty = context.get_value_type(signature.args[0].dtype)
        vty = ir.VectorType(fty, 8)
        align = 4 if fty == ir.FloatType() else 8
        ld_s, ld_d, r0, c0 = args[2:]
        rows = []
        for i in range(8):
            off = builder.add(builder.mul(builder.add(r0, ir.Constant(i64, i)), ld_s), c0)
            ptr = builder.bitcast(builder.gep(s.data, [off]), vty.as_pointer())
            rows.append(builder.load(ptr, align=align))
        # out[j][i] = rows[i][j], as the shuffle of pairs of rows the backend recognises.
        for j in range(8):
            pairs = []
            for i in range(0, 8, 2):
                mask = ir.Constant(ir.VectorType(i32, 2), [j, 8 + j])
                pairs.append(builder.shuffle_vector(rows[i], rows[i + 1], mask))
            quads = [
                builder.shuffle_vector(
                    pairs[0], pairs[1], ir.Constant(ir.VectorType(i32, 4), [0, 1, 2, 3])
                ),
                builder.shuffle_vector(
                    pairs[2], pairs[3], ir.Constant(ir.VectorType(i32, 4), [0, 1, 2, 3])
                ),
            ]
            col = builder.shuffle_vector(
                quads[0], quads[1], ir.Constant(ir.VectorType(i32, 8), list(range(8)))
            )
            off = builder.add(builder.mul(builder.add(c0, ir.Constant(i64, j)), ld_d), r0)
            ptr = builder.bitcast(builder.gep(d.data, [off]), vty.as_pointer())
            builder.store(col, ptr, align=align)
        return context.get_dummy_value()

    return sig, codegen


@njit(**_opts)
def transpose_into(W, Wt):
    """Wt = W^T for 2-D C-contiguous arrays, 8 x 8 blocks at a time where they fit."""
    k, m = W.shape
    src = W.ravel()
    dst = Wt.ravel()
    k8 = k - k % 8
    m8 = m - m % 8
    for r0 in range(0, k8, 8):
        for c0 in range(0, m8, 8):
            _transpose8(src, dst, m, k, r0, c0)
    for p in range(k):
        for j in range(m8 if p < k8 else 0, m):
            Wt[j, p] = W[p, j]
