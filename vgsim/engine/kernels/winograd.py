"""A stride-1 3 × 3 "same" convolution by Winograd's minimal filtering F(2 × 2, 3 × 3).

Lavin and Gray (2016, "Fast Algorithms for Convolutional Neural Networks"): each 2 × 2 block of
outputs (a tile) comes from the 4 × 4 input patch d under it as

    Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A

per pair of channels, summed over the input channels. Summed, the ⊙ becomes 16 matrix products
(one per entry e of the 4 × 4 transforms) of tiles × in-channels by in-channels × out-channels:
16 multiply-adds per tile and pair of channels where the direct sum takes 36. The transforms
only add, subtract and halve: with channels in whole vectors, Bᵀ d B and Aᵀ m A run as vector
code here, and the products in tileproducts.py.

    Bᵀ = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    G  = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
    Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]]

The filters' transform G g Gᵀ is computed in float64 and rounded once to the working dtype. The
sums run in a fixed order (the transforms' as written, the products over channels in order), so
a result does not depend on the tile it falls in. Tiles go in chunks of CHUNK, so that the
transformed inputs and products of a chunk stay in the core's first-level cache.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from .gemm import _float_1d, vector_function
from .lanes import _close_loop, _open_loop, _or_in_python
from .tileproducts import tile_products

# Tiles per chunk. A 16 -> 16 layer's forward pass took 0.79 of the direct one's time with 12,
# 0.81 with 6, 0.87 with 18 and with 48, 0.88 with 24 (float32, 64 images of 8 × 8).
CHUNK = 12
# Entries between the transformed inputs and their products. Without them the products lie a
# multiple of 4 KiB after the inputs (12 tiles of 16 float32 channels), which the core takes
# for a dependence between a store and a load: 0.83-0.85 of the direct time, not 0.79-0.81.
SKEW = 40
_opts = {"cache": True, "nogil": True}
_INTS = types.Integer


def _rows_of_bt(d):
    """Bᵀ applied to four rows (or columns) d[0..3]: what both transforms of the input do."""
    return d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3]


def _function(module, fty, kind: str):
    """The input ("in") or output ("out") transform of a run of tiles as an LLVM function looping
    over the tiles and vectors of channels. Arguments: source, its offset, row and column
    strides; target, its offset, row and column strides; bias (read by "out" only); vectors;
    tiles and the steps between them in source and target."""
    single = fty == ir.FloatType()
    name = f"vgsim_winograd_{kind}_{'f32' if single else 'f64'}"
    if name in module.globals:
        return module.globals[name]
    i64 = ir.IntType(64)
    fp = fty.as_pointer()
    args = [fp, i64, i64, i64, fp, i64, i64, i64, fp, i64, i64, i64, i64]
    fn, b, vty, lanes, align, _ = vector_function(module, fty, name, args)
    src, s0, srow, scol, dst, d0, drow, dcol, bias, nvec, tiles, sstep, dstep = fn.args

    def at(base, offset, i, j, row, col):
        where = b.add(
            b.add(offset, b.mul(ir.Constant(i64, i), row)), b.mul(ir.Constant(i64, j), col)
        )
        return b.bitcast(b.gep(base, [where]), vty.as_pointer())

    class Ops:  # the arithmetic _rows_of_bt and the output sums need, on vectors
        def __init__(self, v):
            self.v = v

        def __add__(self, o):
            return Ops(b.fadd(self.v, o.v))

        def __sub__(self, o):
            return Ops(b.fsub(self.v, o.v))

    pre_t, loop_t, after_t, t = _open_loop(b, tiles, f"{name}.tile")
    pre, loop, after, v = _open_loop(b, nvec, name)
    o = b.mul(v, ir.Constant(i64, lanes))
    s_at = b.add(b.add(s0, b.mul(t, sstep)), o)
    d_at = b.add(b.add(d0, b.mul(t, dstep)), o)
    x = [
        [Ops(b.load(at(src, s_at, i, j, srow, scol), align=align)) for j in range(4)]
        for i in range(4)
    ]
    if kind == "in":
        cols = [_rows_of_bt([x[i][j] for i in range(4)]) for j in range(4)]  # Bᵀ d, by columns
        for i in range(4):
            for j, value in enumerate(_rows_of_bt([cols[jj][i] for jj in range(4)])):
                b.store(value.v, at(dst, d_at, i, j, drow, dcol), align=align)
    else:
        first = b.bitcast(b.gep(bias, [o]), vty.as_pointer())
        shift = Ops(b.load(first, align=align))
        rows = [
            [x[0][j] + x[1][j] + x[2][j] for j in range(4)],  # Aᵀ m
            [x[1][j] - x[2][j] - x[3][j] for j in range(4)],
        ]
        for i in range(2):
            r = rows[i]
            for j, value in enumerate((r[0] + r[1] + r[2], r[1] - r[2] - r[3])):
                b.store((value + shift).v, at(dst, d_at, i, j, drow, dcol), align=align)
    _close_loop(b, v, 1, nvec, pre, loop, after)
    _close_loop(b, t, 1, tiles, pre_t, loop_t, after_t)
    b.ret_void()
    return fn


def _python_transform(kind: str):
    """The transform in NumPy, every vector of channels at once (the same operations per lane
    in the same order), for running the kernels without the JIT."""

    def transform(src, s0, srow, scol, dst, d0, drow, dcol, bias, nvec, tiles, sstep, dstep):
        for t in range(tiles):
            one(src, s0 + t * sstep, srow, scol, dst, d0 + t * dstep, drow, dcol, bias, nvec)

    def one(src, s0, srow, scol, dst, d0, drow, dcol, bias, nvec):
        width = nvec * (32 // src.itemsize)

        def block(start, i, j, row, col):
            return slice(start + i * row + j * col, start + i * row + j * col + width)

        x = [[src[block(s0, i, j, srow, scol)] for j in range(4)] for i in range(4)]
        if kind == "in":
            cols = [_rows_of_bt([x[i][j] for i in range(4)]) for j in range(4)]
            for i in range(4):
                for j, value in enumerate(_rows_of_bt([cols[jj][i] for jj in range(4)])):
                    dst[block(d0, i, j, drow, dcol)] = value
            return
        rows = [
            [x[0][j] + x[1][j] + x[2][j] for j in range(4)],
            [x[1][j] - x[2][j] - x[3][j] for j in range(4)],
        ]
        for i in range(2):
            r = rows[i]
            for j, value in enumerate((r[0] + r[1] + r[2], r[1] - r[2] - r[3])):
                dst[block(d0, i, j, drow, dcol)] = value + bias[:width]

    return transform


def _transform_intrinsic(kind: str):
    """transform(src, s0, srow, scol, dst, d0, drow, dcol, bias, nvec, tiles, sstep, dstep):
    for each of `tiles` tiles t and `nvec` vectors of channels, the 4 × 4 block x of src at
    s0 + t·sstep + i·srow + j·scol gives, for "in", Bᵀ x B (4 × 4, bias unused), for "out"
    Aᵀ x A + bias (2 × 2), at d0 + t·dstep + i·drow + j·dcol."""

    def impl(typingctx, src, s0, srow, scol, dst, d0, drow, dcol, bias, nvec, tiles, sstep, dstep):
        arrays = (src, dst, bias)
        if not (all(_float_1d(a) for a in arrays) and src.dtype == dst.dtype == bias.dtype):
            return None
        ints = (s0, srow, scol, d0, drow, dcol, nvec, tiles, sstep, dstep)
        if not all(isinstance(t, _INTS) for t in ints):
            return None
        sig = types.void(src, s0, srow, scol, dst, d0, drow, dcol, bias, *ints[6:])

        def codegen(context, builder, signature, args):
            data = {
                i: context.make_array(signature.args[i])(context, builder, args[i]).data
                for i in (0, 4, 8)
            }
            ints = {
                i: context.cast(builder, args[i], signature.args[i], types.int64)
                for i in (1, 2, 3, 5, 6, 7, 9, 10, 11, 12)
            }
            fty = context.get_value_type(signature.args[0].dtype)
            fn = _function(builder.module, fty, kind)
            builder.call(fn, [data[i] if i in data else ints[i] for i in range(13)])
            return context.get_dummy_value()

        return sig, codegen

    impl.__name__ = f"winograd_{kind}"
    return _or_in_python(_python_transform(kind))(intrinsic(impl))


transform_input = _transform_intrinsic("in")
transform_output = _transform_intrinsic("out")


@njit(**_opts)
def winograd_applies(k, stride, pad, h, w, oh, ow, c, f, lanes):
    """Whether winograd_conv computes this convolution: 3 × 3, stride 1, "same", even sizes
    (whole tiles) and channels and filters in whole vectors."""
    return (
        k == 3
        and stride == 1
        and pad == 1
        and oh == h
        and ow == w
        and h % 2 == 0
        and w % 2 == 0
        and c % lanes == 0
        and f % lanes == 0
    )


@njit(**_opts)
def work_size(cin, cout):
    """Entries of the work space winograd_conv needs: the transformed filters, then a chunk's
    transformed inputs and their products."""
    return 16 * cin * cout + 16 * CHUNK * (cin + cout) + SKEW


@njit(**_opts)
def _transform_filters(W, c, f, flip, U):
    """U (16 · cin · cout) = G g Gᵀ per pair of channels, at ((4a + b) · cin + ci) · cout + co.
    W is 3 · 3 · c · f; with `flip` the filters of the input gradient: g[i, j] of (ci, co) is
    W[2 − i, 2 − j, co, ci], with cin = f and cout = c."""
    cin, cout = (f, c) if flip else (c, f)
    g = np.empty((3, 3))
    t = np.empty((4, 3))
    for ci in range(cin):
        for co in range(cout):
            for i in range(3):
                for j in range(3):
                    if flip:
                        g[i, j] = W[((2 - i) * 3 + 2 - j) * c * f + co * f + ci]
                    else:
                        g[i, j] = W[(i * 3 + j) * c * f + ci * f + co]
            for j in range(3):  # G g
                t[0, j] = g[0, j]
                t[1, j] = 0.5 * (g[0, j] + g[1, j] + g[2, j])
                t[2, j] = 0.5 * (g[0, j] - g[1, j] + g[2, j])
                t[3, j] = g[2, j]
            for a in range(4):  # (G g) Gᵀ
                row = (
                    t[a, 0],
                    0.5 * (t[a, 0] + t[a, 1] + t[a, 2]),
                    0.5 * (t[a, 0] - t[a, 1] + t[a, 2]),
                    t[a, 2],
                )
                for bb in range(4):
                    U[((4 * a + bb) * cin + ci) * cout + co] = row[bb]


@njit(**_opts)
def _skip_tiles(b, ti, tj, run, th, tw):
    """The tile `run` tiles after (b, ti, tj) in row-major order, run ≤ tw − tj (no division:
    that was a fifth of the input transform)."""
    tj += run
    if tj == tw:
        tj = 0
        ti += 1
        if ti == th:
            ti = 0
            b += 1
    return b, ti, tj


@njit(**_opts)
def winograd_conv(src, hp, wp, W, c, f, flip, bias, out, n, oh, ow, work):
    """out (n · oh · ow · cout) = bias + the 3 × 3 stride-1 correlation of src, an input of cin
    channels padded by one on every side (n · hp · wp · cin), with the filters W (3 · 3 · c · f):
    cin, cout = c, f, or with `flip` the input gradient's f, c (_transform_filters). Both are
    whole vectors, oh and ow even; bias has at least cout entries; `work`: work_size entries."""
    cin, cout = (f, c) if flip else (c, f)
    lanes = 32 // src.itemsize
    th, tw = oh // 2, ow // 2
    tiles = n * th * tw
    size = min(CHUNK, tiles)
    U = work[: 16 * cin * cout]
    _transform_filters(W, c, f, flip, U)
    V = work[U.size : U.size + 16 * size * cin]  # a chunk's transformed inputs, entry-major
    M = work[U.size + V.size + SKEW : U.size + V.size + SKEW + 16 * size * cout]  # V's products
    empty = src[:0]  # the input transform takes no bias
    b, ti, tj = 0, 0, 0  # the chunk's first tile: image, tile row and column
    for t0 in range(0, tiles, size):
        count = min(size, tiles - t0)
        t, bi, ri, ci = 0, b, ti, tj
        while t < count:  # the chunk's tiles, a run along a row of tiles per call
            run = min(tw - ci, count - t)
            corner = ((bi * hp + 2 * ri) * wp + 2 * ci) * cin
            transform_input(
                src, corner, wp * cin, cin, V, t * cin, 4 * size * cin, size * cin, empty,
                cin // lanes, run, 2 * cin, cin,
            )  # fmt: skip
            bi, ri, ci = _skip_tiles(bi, ri, ci, run, th, tw)
            t += run
        tile_products(V, U, M, count, cin, cout, size * cin, size * cout)
        t = 0
        while t < count:
            run = min(tw - tj, count - t)
            corner = ((b * oh + 2 * ti) * ow + 2 * tj) * cout
            transform_output(
                M, t * cout, 4 * size * cout, size * cout, out, corner, ow * cout, cout, bias,
                cout // lanes, run, cout, 2 * cout,
            )  # fmt: skip
            b, ti, tj = _skip_tiles(b, ti, tj, run, th, tw)
            t += run
