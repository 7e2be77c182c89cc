"""Winograd's F(2 × 2, 3 × 3) convolution (kernels/winograd.py, tileproducts.py): which
convolutions take it, its outputs and input gradients against the plainly written convolution
in tests/naive.py (finite differences of the same kernels are in test_image_gradients.py), and
the tile products against NumPy's, compiled and as plain Python."""

from __future__ import annotations

import naive
import numpy as np
import pytest
from numba import config, njit
from test_gradients import assert_close

from vgsim.engine.kernels import conv, tileproducts, winograd

pytestmark = pytest.mark.kernels
LANES = {np.float32: 8, np.float64: 4}


def _work(c, f, dtype):
    return np.full(winograd.work_size(c, f), np.nan, dtype)  # NaN: nothing read before written


@pytest.mark.parametrize(
    ("case", "applies"),
    [
        ((3, 1, 1, 8, 8, 8, 8, 16, 16), True),
        ((3, 1, 1, 6, 4, 6, 4, 8, 24), True),
        ((3, 2, 1, 8, 8, 4, 4, 16, 16), False),  # stride 2
        ((3, 1, 0, 8, 8, 6, 6, 16, 16), False),  # "valid"
        ((5, 1, 2, 8, 8, 8, 8, 16, 16), False),  # 5 × 5
        ((3, 1, 1, 7, 8, 7, 8, 16, 16), False),  # odd height: no whole tiles
        ((3, 1, 1, 8, 8, 8, 8, 1, 16), False),  # one channel (the first layer on images)
        ((3, 1, 1, 8, 8, 8, 8, 16, 10), False),  # ten filters: not whole vectors
    ],
)
def test_winograd_takes_stride_1_same_3x3_of_whole_tiles_and_vectors(case, applies):
    assert winograd.winograd_applies(*case, 8) is applies


# (n, h, w, cin, cout, dtype): more tiles than a chunk and a last chunk part full, one, two
# and three vectors of out-channels (the odd vector alone), in-channels other than the depth
# written out (16) and equal to it.
CASES = [
    (2, 6, 8, 8, 16, np.float32),
    (3, 6, 6, 16, 8, np.float32),
    (1, 2, 2, 8, 24, np.float32),
    (3, 6, 6, 8, 12, np.float64),
    (2, 4, 8, 16, 4, np.float64),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[:5])) + c[5].__name__)
def test_winograd_forward_and_input_gradient_match_the_direct_sum(case):
    n, h, w, c, f, dtype = case
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, h, w, c))
    W = rng.normal(size=(3, 3, c, f)) / np.sqrt(9 * c)
    b = rng.normal(size=f)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert (n * (h // 2) * (w // 2) > winograd.CHUNK) or n == 1
    xp = np.zeros((n, h + 2, w + 2, c), dtype)
    xp[:, 1:-1, 1:-1] = x
    y = np.full(n * h * w * f, np.nan, dtype)
    Wd = W.astype(dtype).ravel()
    winograd.winograd_conv(
        xp.ravel(), h + 2, w + 2, Wd, c, f, False, b.astype(dtype), y, n, h, w, _work(c, f, dtype)
    )
    want = naive.conv2d_forward(x, W, b, 1, "same")
    assert_close(y.reshape(want.shape), want, "winograd y", rtol=tol, atol=tol)
    # dx: the correlation of dy, padded, with the filters flipped and in/out swapped.
    dy = rng.normal(size=want.shape)
    dyp = np.zeros((n, h + 2, w + 2, f), dtype)
    dyp[:, 1:-1, 1:-1] = dy
    dx = np.full(n * h * w * c, np.nan, dtype)
    zeros = np.zeros(c, dtype)
    winograd.winograd_conv(
        dyp.ravel(), h + 2, w + 2, Wd, c, f, True, zeros, dx, n, h, w, _work(c, f, dtype)
    )
    want_dx = naive.conv2d_backward(x, W, dy, 1, "same")[0]
    assert_close(dx.reshape(want_dx.shape), want_dx, "winograd dx", rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_forward_and_backward_take_winograd_where_it_applies(dtype):
    """Through conv.py: the same y and dx as the direct sum, to the precision of each dtype,
    with the engine's scratch (NaN before: Winograd's work space is written before read, and
    only Winograd writes there)."""
    n, h, w, c, f = 2, 8, 8, 16, 16
    assert winograd.winograd_applies(3, 1, 1, h, w, h, w, c, f, LANES[dtype])
    rng = np.random.default_rng(4)
    x = rng.normal(size=(n, h, w, c))
    W = rng.normal(size=(3, 3, c, f)) / 12
    b = rng.normal(size=f)
    geo = (n, h, w, c, h, w, f, 3, 1, 1)
    xp = np.full(conv.padded_input_size(n, h, w, c, h, w, 3, 1, 1), np.nan, dtype)
    scratch = np.full(conv.scratch_size(n, h, w, c, f, 3), np.nan, dtype)
    y = np.full(n * h * w * f, np.nan, dtype)
    Wd = W.astype(dtype).ravel()
    conv.conv_forward(x.astype(dtype).ravel(), Wd, b.astype(dtype), True, y, xp, scratch, *geo)
    filters = 16 * c * f  # the transformed filters start the work space: Winograd ran
    assert np.isfinite(scratch[:filters]).all() and np.isnan(scratch[-1])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    want = naive.conv2d_forward(x, W, b, 1, "same")
    assert_close(y.reshape(want.shape), want, "conv y", rtol=tol, atol=tol)
    dy = rng.normal(size=want.shape)
    dx = np.full(x.size, np.nan, dtype)
    dW = np.full(W.size, np.nan, dtype)
    db = np.full(f, np.nan, dtype)
    conv.conv_backward(
        x.astype(dtype).ravel(),
        Wd,
        dy.astype(dtype).ravel(),
        dW,
        db,
        True,
        dx,
        True,
        xp,
        scratch,
        *geo,
    )
    padded_dy = n * (h + 2) * (w + 2) * f  # dx's work space follows the padded dy
    assert np.isfinite(scratch[padded_dy : padded_dy + filters]).all()
    want_dx, want_dW, _ = naive.conv2d_backward(x, W, dy, 1, "same")
    assert_close(dx.reshape(x.shape), want_dx, "conv dx", rtol=tol * 10, atol=tol * 10)
    assert_close(dW.reshape(W.shape), want_dW, "conv dW", rtol=tol * 10, atol=tol * 10)


@pytest.mark.skipif(config.DISABLE_JIT, reason="NumPy's products sum in the order BLAS picks")
def test_winograd_sums_each_tile_alike_wherever_it_falls():
    """The same input patch gives the same bits in every tile, chunk and image."""
    n, h, w, c, f = 4, 8, 8, 8, 16
    rng = np.random.default_rng(5)
    period = rng.normal(size=(1, 2, 2, c)).astype(np.float32)
    xp = np.tile(period, (n, h // 2 + 1, w // 2 + 1, 1))  # every tile's 4 × 4 patch alike
    W = rng.normal(size=9 * c * f).astype(np.float32)
    y = np.empty(n * h * w * f, np.float32)
    winograd.winograd_conv(
        xp.ravel(), h + 2, w + 2, W, c, f, False, np.zeros(f, np.float32), y, n, h, w,
        _work(c, f, np.float32),
    )  # fmt: skip
    tiles = y.reshape(n, h // 2, 2, w // 2, 2, f).transpose(0, 1, 3, 2, 4, 5).reshape(-1, 4 * f)
    assert (tiles == tiles[0]).all()


@njit
def _compiled_products(V, U, M, count, cin, cout, sv, sm):
    tileproducts.tile_products(V, U, M, count, cin, cout, sv, sm)


# (tiles, cin, cout in vectors): partial blocks, the written-out depth and others, odd vectors.
PRODUCTS = [(12, 16, 2), (7, 16, 3), (1, 8, 1), (13, 5, 4), (6, 16, 1)]


@pytest.mark.skipif(config.DISABLE_JIT, reason="compares compiled with NumPy")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", PRODUCTS)
def test_tile_products_are_sixteen_matrix_products(dtype, case):
    count, cin, vectors = case
    cout = vectors * LANES[dtype]
    sv, sm = count * cin + 3, count * cout + 5  # entries' strides larger than their blocks
    rng = np.random.default_rng(6)
    V = rng.normal(size=16 * sv).astype(dtype)
    U = rng.normal(size=16 * cin * cout).astype(dtype)
    M = np.full(16 * sm, 7.0, dtype)
    _compiled_products(V, U, M, count, cin, cout, sv, sm)
    want = M.copy()
    tileproducts._python_products(V, U, want, count, cin, cout, sv, sm)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    assert_close(M, want, "tile products", rtol=tol, atol=tol)
    gaps = np.ones(M.size, bool)
    for e in range(16):
        gaps[e * sm : e * sm + count * cout] = False
    assert (M[gaps] == 7.0).all()  # nothing written between the entries' blocks
