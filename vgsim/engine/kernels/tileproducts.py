"""The 16 matrix products of a chunk of Winograd tiles (winograd.py), in one vector loop.

    M[e·sm + t·cout + j] = sum over kk < cin of V[e·sv + t·cin + kk] · U[(e·cin + kk)·cout + j]

for each transform entry e < 16, tile t < count and out-channel j < cout (whole vectors). The
products are only cin deep (16 channels: 16 steps): on gemm.gather_gemm, whose call, row
pointers and offset loads come with every block, they ran at 27 GFMA/s (146 µs for a layer of
1024 tiles), here at 42 with the depth of 16 written out (100 µs). One function walks every
block, entry and column group: a block is MR tiles by two vectors of columns (12 accumulators),
a last odd vector of columns one vector wide. Rows past the last tile repeat it (the same
values stored twice). Every sum runs over kk in order.
"""

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .gemm import _float_1d, vector_function
from .lanes import _close_loop, _open_loop, _or_in_python, _splat

MR = 6  # tiles per block
ENTRIES = 16  # of F(2 × 2, 3 × 3)'s 4 × 4 transforms
UNROLLED = 16  # the depth (in-channels) whose products are written out without a loop


def _products_function(module, fty, depth: int) -> ir.Function:
    """Arguments: V, U, M (pointers), count, cin, cout, sv, sm (int64). With depth > 0, for
    cin == depth only, its steps written out."""
    single = fty == ir.FloatType()
    name = f"vgsim_tile_products_{depth}_{'f32' if single else 'f64'}"
    if name in module.globals:
        return module.globals[name]
    i64 = ir.IntType(64)
    fp = fty.as_pointer()
    fn, b, vty, lanes, align, fma = vector_function(module, fty, name, [fp, fp, fp] + [i64] * 5)
    V, U, M, count, cin, cout, sv, sm = fn.args

    def const(value):
        return ir.Constant(i64, value)

    def vptr(base, offset):
        return b.bitcast(b.gep(base, [offset]), vty.as_pointer())

    zero = ir.Constant(vty, [0.0] * lanes)
    wide = b.mul(b.udiv(cout, const(2 * lanes)), const(2 * lanes))
    last = b.sub(count, const(1))
    pre_r, loop_r, after_r, r0 = _open_loop(b, count, "products.block")
    tiles = []
    for m in range(MR):
        t = b.add(r0, const(m))
        tiles.append(b.select(b.icmp_unsigned("<", t, count), t, last))
    pre_e, loop_e, after_e, e = _open_loop(b, const(ENTRIES), "products.entry")
    vbase = b.gep(V, [b.mul(e, sv)])
    ubase = b.gep(U, [b.mul(b.mul(e, cin), cout)])
    mbase = b.gep(M, [b.mul(e, sm)])
    vrows = [b.gep(vbase, [b.mul(t, cin)]) for t in tiles]
    mrows = [b.mul(t, cout) for t in tiles]

    def unrolled(c0, nrv):
        """group() for depth `depth`, written out: no loop, offsets known."""
        accs = [[zero] * nrv for _ in range(MR)]
        for k in range(depth):
            urow = b.add(b.mul(const(k), cout), c0)
            uvec = [
                b.load(vptr(ubase, b.add(urow, const(v * lanes))), align=align) for v in range(nrv)
            ]
            for m in range(MR):
                sv_m = _splat(b, vty, b.load(b.gep(vrows[m], [const(k)])))
                accs[m] = [b.call(fma, [sv_m, uvec[v], accs[m][v]]) for v in range(nrv)]
        for m in range(MR):
            for v in range(nrv):
                at = b.add(b.add(mrows[m], c0), const(v * lanes))
                b.store(accs[m][v], vptr(mbase, at), align=align)

    def group(c0, nrv, tag):
        """Accumulate and store the MR × nrv-vector block at columns c0 (in an open block)."""
        if depth:
            unrolled(c0, nrv)
            return
        pre, loop, after, kk = _open_loop(b, cin, f"products.{tag}")
        accs = [[b.phi(vty) for _ in range(nrv)] for _ in range(MR)]
        urow = b.add(b.mul(kk, cout), c0)
        uvec = [b.load(vptr(ubase, b.add(urow, const(v * lanes))), align=align) for v in range(nrv)]
        news = []
        for m in range(MR):
            sv_m = _splat(b, vty, b.load(b.gep(vrows[m], [kk])))
            news.append([b.call(fma, [sv_m, uvec[v], accs[m][v]]) for v in range(nrv)])
        end = _close_loop(b, kk, 1, cin, pre, loop, after)
        done = []
        for m in range(MR):
            row = []
            for v in range(nrv):
                accs[m][v].add_incoming(zero, pre)
                accs[m][v].add_incoming(news[m][v], end)
                final = b.phi(vty)
                final.add_incoming(zero, pre)
                final.add_incoming(news[m][v], end)
                row.append(final)
            done.append(row)
        for m in range(MR):
            for v in range(nrv):
                at = b.add(b.add(mrows[m], c0), const(v * lanes))
                b.store(done[m][v], vptr(mbase, at), align=align)

    pre_c, loop_c, after_c, c0 = _open_loop(b, wide, "products.wide")
    group(c0, 2, "wide.k")
    _close_loop(b, c0, 2 * lanes, wide, pre_c, loop_c, after_c)
    odd = fn.append_basic_block("products.odd")
    joined = fn.append_basic_block("products.joined")
    b.cbranch(b.icmp_unsigned("<", wide, cout), odd, joined)
    b.position_at_end(odd)
    group(wide, 1, "odd.k")
    b.branch(joined)
    b.position_at_end(joined)
    _close_loop(b, e, 1, const(ENTRIES), pre_e, loop_e, after_e)
    _close_loop(b, r0, MR, count, pre_r, loop_r, after_r)
    b.ret_void()
    return fn


def _python_products(V, U, M, count, cin, cout, sv, sm):
    """The products in NumPy, for running the kernels without the JIT (sums in NumPy's order)."""
    for e in range(ENTRIES):
        a = V[e * sv : e * sv + count * cin].reshape(count, cin)
        u = U[e * cin * cout : (e + 1) * cin * cout].reshape(cin, cout)
        M[e * sm : e * sm + count * cout] = (a @ u).ravel()


@intrinsic
def _tile_products(typingctx, V, U, M, count, cin, cout, sv, sm):
    if not (all(_float_1d(a) for a in (V, U, M)) and V.dtype == U.dtype == M.dtype):
        return None
    if not all(isinstance(t, types.Integer) for t in (count, cin, cout, sv, sm)):
        return None
    sig = types.void(V, U, M, count, cin, cout, sv, sm)

    def codegen(context, builder, signature, args):
        data = [
            context.make_array(signature.args[i])(context, builder, args[i]).data for i in range(3)
        ]
        ints = [context.cast(builder, args[i], signature.args[i], types.int64) for i in range(3, 8)]
        fty = context.get_value_type(signature.args[0].dtype)
        unrolled = _products_function(builder.module, fty, UNROLLED)
        looped = _products_function(builder.module, fty, 0)
        is_unrolled = builder.icmp_signed("==", ints[1], ir.Constant(ir.IntType(64), UNROLLED))
        with builder.if_else(is_unrolled) as (then, otherwise):
            with then:
                builder.call(unrolled, data + ints)
            with otherwise:
                builder.call(looped, data + ints)
        return context.get_dummy_value()

    return sig, codegen


tile_products = _or_in_python(_python_products)(_tile_products)
