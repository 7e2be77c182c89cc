"""Histogram bin counts of a float array, for stats.stats_and_histogram.

A value's bin is min((y - lo) * scale, top) truncated to an integer, computed in y's
precision; below 0 and NaN go to bin 0 (the caller takes NaN out again).

Up to 32 bins (PLANE_BINS) the counts come from bit planes, without a byte per value stored:
64 values at a time are binned in vector registers and bit j of their 64 bins gathered into
one 64-bit mask P_j (a shift and a move-mask per 32 bins). For every non-empty set S of the 5
planes, the popcount of the AND of its masks adds to N(S), how many values have every bit of S
set; the counts follow by inclusion-exclusion, count(b) = sum over S containing b's bits of
(-1)^(|S| - |b|) N(S). That is 26 ANDs and 31 scalar popcounts per 64 values, independent of
how the values spread over the bins (counting one value at a time waits on the previous count
when neighbours share a bin, as ReLU's zeros do). The loop is software-pipelined (the vector
units bin block k + 1 while the scalar units count block k) and also runs lanes.moments' lanes
over the same values, in the same order (so the same sums, bit for bit), on the vector units
the counting leaves idle: one pass for the statistics and the histogram.

More bins: a byte per value (binned as above, 64 at a time), then four interleaved count
tables.

The intrinsics have NumPy twins for runs with the JIT off (NUMBA_DISABLE_JIT=1), which give
the same N(S) and the same bins exactly. With AVX2 the bins go through x86's truncations and
packs (their saturation is defined for NaN and infinities); elsewhere through generic LLVM
vector code, which moments_subset_counts_generic and bin_codes_generic keep under test.
Whether the target has AVX2 is read from the codegen's `_tm_features`, a Numba internal (see
lanes.py on the numba cap).
"""

import numpy as np
from llvmlite import ir
from numba import config, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from . import lanes
from .lanes import _close_loop, _float_array, _open_loop, _splat

BLOCK = 64  # values binned per pass: one 64-bit mask per bit plane
PLANES = 5
PLANE_BINS = 1 << PLANES  # the most bins the bit planes count
TABLES = 4  # interleaved count tables for more bins
_opts = {"cache": True, "nogil": True}


def _python_whole_codes(y, lo, scale, top):
    whole = y.size - y.size % BLOCK
    with np.errstate(all="ignore"):  # as compiled: infinities and NaN go to the clamps
        t = (y[:whole] - lo) * scale
    t = np.where(t > 0, t, 0)
    return np.where(t < top, t, top).astype(np.int64)


def _python_subset_counts(y, lo, scale, top, subsets):
    """Adds N(S) over the whole blocks to subsets[S], S = 1..31, in NumPy."""
    codes = _python_whole_codes(y, lo, scale, top)
    for s in range(1, PLANE_BINS):
        subsets[s] += np.uint64(np.count_nonzero(codes & s == s))


def _python_bin_codes(y, lo, scale, top, codes):
    """bin_codes in NumPy, each block in order."""
    whole = _python_whole_codes(y, lo, scale, top)
    codes[: whole.size] = whole.astype(np.uint8)


def _has_avx2(context) -> bool:
    """Whether the target has AVX2: Numba compiles for the host, or for NUMBA_CPU_FEATURES."""
    features = getattr(context.codegen(), "_tm_features", "") or ""
    return "+avx2" in features.split(",")


def _part(builder, v, k, width):
    """Elements k * width ... (k + 1) * width - 1 of vector v."""
    idx = ir.Constant(ir.VectorType(ir.IntType(32), width), list(range(k * width, (k + 1) * width)))
    return builder.shuffle_vector(v, ir.Constant(v.type, ir.Undefined), idx)


def _pairs(values):
    return zip(values[::2], values[1::2], strict=True)


def _codes_avx2(builder, t):
    """The bins of one block as <64 x i8>, in the order x86's in-lane packs leave them (the
    counts do not care): truncations to int32 (NaN and -inf give INT_MIN), then two packs
    that saturate to [0, 255]. Two packs per 32 values, where a truncation in order takes
    eleven shuffles."""
    mod = builder.module
    i8, i16, i32 = ir.IntType(8), ir.IntType(16), ir.IntType(32)
    v8i32, v16i16, v32i8 = ir.VectorType(i32, 8), ir.VectorType(i16, 16), ir.VectorType(i8, 32)

    def declare(name, ret, *args):
        return cgutils.get_or_insert_function(mod, ir.FunctionType(ret, list(args)), name)

    if t.type.element == ir.DoubleType():
        v4f64 = ir.VectorType(ir.DoubleType(), 4)
        cvt = declare("llvm.x86.avx.cvtt.pd2dq.256", ir.VectorType(i32, 4), v4f64)
        halves = [builder.call(cvt, [_part(builder, t, k, 4)]) for k in range(BLOCK // 4)]
        both = ir.Constant(v8i32, list(range(8)))
        words = [builder.shuffle_vector(a, b, both) for a, b in _pairs(halves)]
    else:
        cvt = declare("llvm.x86.avx.cvtt.ps2dq.256", v8i32, ir.VectorType(ir.FloatType(), 8))
        words = [builder.call(cvt, [_part(builder, t, k, 8)]) for k in range(BLOCK // 8)]
    packusdw = declare("llvm.x86.avx2.packusdw", v16i16, v8i32, v8i32)
    packuswb = declare("llvm.x86.avx2.packuswb", v32i8, v16i16, v16i16)
    shorts = [builder.call(packusdw, [a, b]) for a, b in _pairs(words)]
    octets = [builder.call(packuswb, [a, b]) for a, b in _pairs(shorts)]
    return builder.shuffle_vector(
        octets[0], octets[1], ir.Constant(ir.VectorType(i32, BLOCK), list(range(BLOCK)))
    )


def _block_binner(context, builder, signature, args, avx2):
    """A function of i: the bins of y[i : i + BLOCK] as <64 x i8> (args: y, lo, scale, top)."""
    src = context.make_array(signature.args[0])(context, builder, args[0])
    fty = context.get_value_type(signature.args[0].dtype)
    fvty = ir.VectorType(fty, BLOCK)
    lo, scale, top = (_splat(builder, fvty, a) for a in args[1:4])
    zero = ir.Constant(fvty, [0.0] * BLOCK)

    def codes_at(i):
        ptr = builder.bitcast(builder.gep(src.data, [i]), fvty.as_pointer())
        v = builder.load(ptr, align=4 if fty == ir.FloatType() else 8)
        t = builder.fmul(builder.fsub(v, lo), scale)
        t = builder.select(builder.fcmp_ordered("<", top, t), top, t)  # NaN stays NaN
        if avx2:
            return _codes_avx2(builder, t)
        t = builder.select(builder.fcmp_ordered(">", t, zero), t, zero)  # NaN to 0
        return builder.fptoui(t, ir.VectorType(ir.IntType(8), BLOCK))

    return codes_at


def _whole_blocks(builder, n):
    i64 = ir.IntType(64)
    return builder.mul(builder.udiv(n, ir.Constant(i64, BLOCK)), ir.Constant(i64, BLOCK))


def _planes_of(builder, codes):
    """The 5 bit planes of a block's bins, each a 64-bit mask."""
    i8, i64 = ir.IntType(8), ir.IntType(64)
    bty = codes.type
    # An empty inline asm: the optimiser would otherwise turn the ANDs of the masks back
    # into ANDs of vector compares, each then needing its own move-mask.
    opaque = ir.FunctionType(i64, [i64])
    planes = []
    for j in range(PLANES):
        high = builder.shl(codes, _splat(builder, bty, ir.Constant(i8, 7 - j)))
        bits = builder.icmp_signed("<", high, ir.Constant(bty, [0] * BLOCK))
        planes.append(builder.asm(opaque, "", "=r,0", [builder.bitcast(bits, i64)], False))
    return planes


def _tally(builder, subsets, planes):
    """subsets[S] += popcount of the AND of the planes in S, for every non-empty S."""
    i64 = ir.IntType(64)
    ctpop = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(i64, [i64]), "llvm.ctpop.i64"
    )

    def visit(s, mask, nxt):  # depth first, so that few masks are live at once
        slot = builder.gep(subsets, [ir.Constant(i64, s)])
        builder.store(builder.add(builder.load(slot), builder.call(ctpop, [mask])), slot)
        for j in range(nxt, PLANES):
            visit(s | 1 << j, builder.and_(mask, planes[j]), j + 1)

    for j in range(PLANES):
        visit(1 << j, planes[j], j + 1)


def _subset_counts_codegen(avx2):
    """moments_subset_counts' loops: the bit planes' counts over the whole blocks, and
    lanes.moments' lanes over the same values in the same order (so the same sums)."""

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        codes_at = _block_binner(context, builder, signature, args, avx2)
        src = context.make_array(signature.args[0])(context, builder, args[0])
        dst = context.make_array(signature.args[4])(context, builder, args[4])
        fty = context.get_value_type(signature.args[0].dtype)
        fma = lanes._fma(builder)
        kinds = lanes.MOMENTS
        starts = lanes._lanes_start(builder, kinds, src.data, fty)
        n = src.nitems
        whole = _whole_blocks(builder, n)
        # Pass k bins block k and counts block k - 1 (none at first: zero masks count
        # nothing); one pass more than blocks, whose binning repeats the last block unused.
        # The vector units bin one block while the scalar units count the other.
        some = builder.icmp_unsigned(">", whole, ir.Constant(i64, 0))
        passes = builder.select(some, builder.add(whole, ir.Constant(i64, BLOCK)), whole)
        pre, loop, after, i = _open_loop(builder, passes, "planes")
        held = [builder.phi(i64) for _ in range(PLANES)]
        accs = [[builder.phi(start.type) for _ in range(lanes.NV)] for start in starts]
        inside = builder.icmp_unsigned("<", i, whole)
        at = builder.select(inside, i, builder.sub(whole, ir.Constant(i64, BLOCK)))
        binned = _planes_of(builder, codes_at(at))
        _tally(builder, dst.data, held)
        news = _moments_steps(builder, fma, kinds, accs, src.data, fty, at, BLOCK)
        # The extra pass's sums are not kept.
        news = [
            [builder.select(inside, x, y) for x, y in zip(*pair, strict=True)]
            for pair in zip(news, accs, strict=True)
        ]
        end = _close_loop(builder, i, BLOCK, passes, pre, loop, after)
        for h, b in zip(held, binned, strict=True):
            h.add_incoming(ir.Constant(i64, 0), pre)
            h.add_incoming(b, end)
        sums = _phis_after(builder, accs, news, starts, pre, end)
        # The values after the whole blocks, up to the last whole WIDTH, as moments does.
        nw = builder.mul(
            builder.udiv(n, ir.Constant(i64, lanes.WIDTH)), ir.Constant(i64, lanes.WIDTH)
        )
        rest = builder.sub(nw, whole)
        pre, loop, after, j = _open_loop(builder, rest, "rest")
        accs = [[builder.phi(start.type) for _ in range(lanes.NV)] for start in starts]
        news = _moments_steps(
            builder, fma, kinds, accs, src.data, fty, builder.add(whole, j), lanes.WIDTH
        )
        end = _close_loop(builder, j, lanes.WIDTH, rest, pre, loop, after)
        sums = _phis_after(builder, accs, news, sums, pre, end)
        totals = [
            lanes._lanes_total(builder, kind, vecs) for kind, vecs in zip(kinds, sums, strict=True)
        ]
        return context.make_tuple(builder, signature.return_type, totals)

    return codegen


def _moments_steps(builder, fma, kinds, accs, data, fty, at, count):
    """accs (per kind, NV vectors) after the moments lanes of the `count` values from `at`."""
    i64 = ir.IntType(64)
    accs = [list(row) for row in accs]
    for q in range(0, count, lanes.WIDTH):  # in index order, as moments' loop
        for k in range(lanes.NV):
            offset = builder.add(at, ir.Constant(i64, q + k * lanes.VL))
            v = lanes._lanes_load(builder, data, fty, offset)
            step = lanes._lanes_step(builder, fma, kinds, [row[k] for row in accs], v)
            for row, new in zip(accs, step, strict=True):
                row[k] = new
    return accs


def _phis_after(builder, phis, news, starts, pre, end):
    """Close a loop's accumulator phis (from `starts`, per kind: one start or NV of them) and
    give their values after it."""
    outs = []
    for row_phis, row_news, start in zip(phis, news, starts, strict=True):
        row = []
        for k, (ph, new) in enumerate(zip(row_phis, row_news, strict=True)):
            first = start[k] if isinstance(start, list) else start
            ph.add_incoming(first, pre)
            ph.add_incoming(new, end)
            out = builder.phi(ph.type)
            out.add_incoming(first, pre)
            out.add_incoming(new, end)
            row.append(out)
        outs.append(row)
    return outs


def _bin_codes_codegen(avx2):
    def codegen(context, builder, signature, args):
        codes_at = _block_binner(context, builder, signature, args, avx2)
        src = context.make_array(signature.args[0])(context, builder, args[0])
        dst = context.make_array(signature.args[4])(context, builder, args[4])
        whole = _whole_blocks(builder, src.nitems)
        pre, loop, after, i = _open_loop(builder, whole, "codes")
        ptr = builder.bitcast(
            builder.gep(dst.data, [i]), ir.VectorType(ir.IntType(8), BLOCK).as_pointer()
        )
        builder.store(codes_at(i), ptr, align=1)
        _close_loop(builder, i, BLOCK, whole, pre, loop, after)
        return context.get_dummy_value()

    return codegen


def _on_target(make_codegen):
    """The codegen make_codegen(avx2) gives for the target being compiled for."""

    def codegen(context, builder, signature, args):
        return make_codegen(_has_avx2(context))(context, builder, signature, args)

    return codegen


def _typing(y, lo, scale, top, out, dtype):
    if not (
        _float_array(y)
        and all(t == y.dtype for t in (lo, scale, top))
        and isinstance(out, types.Array)
        and out.ndim == 1
        and out.layout == "C"
        and out.dtype == dtype
    ):
        return None
    return types.void(y, lo, scale, top, out)


def _or_in_python(twin):
    def choose(compiled):
        return twin if config.DISABLE_JIT else compiled

    return choose


def _python_moments_subset_counts(y, lo, scale, top, subsets):
    _python_subset_counts(y, lo, scale, top, subsets)
    return lanes._python_moments_body(y)


def _moments_typing(y, lo, scale, top, subsets):
    sig = _typing(y, lo, scale, top, subsets, types.uint64)
    return None if sig is None else types.UniTuple(types.float64, 4)(*sig.args)


@_or_in_python(_python_moments_subset_counts)
@intrinsic
def moments_subset_counts(typingctx, y, lo, scale, top, subsets):
    """lanes._moments_body(y), and N(S) added to subsets[S] for S = 1 .. 31 (subsets:
    uint64, 32 entries) over the whole blocks of 64 values of y: the values whose bin has
    every bit of S set. Bins below 32 (top <= 31); lo, scale and top in y's dtype. One pass:
    the moments' vector work fills the time the counts' scalar work leaves, where two
    passes took the sum of both."""
    sig = _moments_typing(y, lo, scale, top, subsets)
    return None if sig is None else (sig, _on_target(_subset_counts_codegen))


@_or_in_python(_python_moments_subset_counts)
@intrinsic
def moments_subset_counts_generic(typingctx, y, lo, scale, top, subsets):
    """moments_subset_counts without AVX2's packs, as on other targets (for the tests)."""
    sig = _moments_typing(y, lo, scale, top, subsets)
    return None if sig is None else (sig, _subset_counts_codegen(False))


@_or_in_python(_python_bin_codes)
@intrinsic
def bin_codes(typingctx, y, lo, scale, top, codes):
    """The bins of the whole blocks of 64 values of y into codes (uint8), each block's in
    some order of its own (on AVX2 the packs' order); bins up to 255."""
    sig = _typing(y, lo, scale, top, codes, types.uint8)
    return None if sig is None else (sig, _on_target(_bin_codes_codegen))


@_or_in_python(_python_bin_codes)
@intrinsic
def bin_codes_generic(typingctx, y, lo, scale, top, codes):
    """bin_codes without AVX2's packs, as on other targets (for the tests)."""
    sig = _typing(y, lo, scale, top, codes, types.uint8)
    return None if sig is None else (sig, _bin_codes_codegen(False))


@njit(inline="always", **_opts)
def _bin(v, lo, scale, top):
    t = (v - lo) * scale
    t = t if t > top - top else top - top
    return np.int64(t if t < top else top)


@njit(**_opts)
def moments_plane_counts(y, lo, scale, top, counts):
    """lanes.moments(y), the same bits; and counts[b] = how many values of y fall in bin b,
    for b < 32 (counts: uint64, 32 entries; top <= 31). y must not be empty."""
    for s in range(PLANE_BINS):
        counts[s] = 0
    total, squares, least, most = moments_subset_counts(y, lo, scale, top, counts)
    whole = y.size - y.size % BLOCK
    counts[0] = whole
    # N(S) to the exact counts: for each plane, S without it minus S with it.
    for j in range(PLANES):
        bit = 1 << j
        for s in range(PLANE_BINS):
            if not s & bit:
                counts[s] -= counts[s | bit]
    for i in range(whole, y.size):
        counts[_bin(y[i], lo, scale, top)] += np.uint64(1)
    return lanes._moments_tail(y, total, squares, least, most)


@njit(**_opts)
def table_counts(y, lo, scale, top, codes, tables, counts):
    """counts[b] = how many values of y fall in bin b, for any number of bins up to 256:
    every value's bin into codes (y.size bytes; bin_codes, so in some order within each
    block of 64), then counted into TABLES interleaved tables (tables: uint64, TABLES *
    counts.size entries) that are summed into counts."""
    n, bins = y.size, counts.size
    bin_codes(y, lo, scale, top, codes)
    for i in range(n - n % BLOCK, n):
        codes[i] = np.uint8(_bin(y[i], lo, scale, top))
    for k in range(tables.size):
        tables[k] = 0
    quads = n - n % TABLES
    for i in range(0, quads, TABLES):
        for k in range(TABLES):
            tables[k * bins + np.int64(codes[i + k])] += np.uint64(1)
    for i in range(quads, n):
        tables[np.int64(codes[i])] += np.uint64(1)
    for b in range(bins):
        total = np.uint64(0)
        for k in range(TABLES):
            total += tables[k * bins + b]
        counts[b] = total
