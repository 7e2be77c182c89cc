"""A dense layer's three products (x W + b, x^T dy, dy W^T) agree with NumPy's for widths that
take the register-tile product (whole vectors of columns, sides up to TILE_SIDE) and for those
that fall back to BLAS, in both precisions."""

from __future__ import annotations

import numpy as np
import pytest

from vgsim.engine.kernels.layers import TILE_SIDE, dense_backward, dense_forward

pytestmark = pytest.mark.kernels

SHAPES = [  # batch, inputs, outputs
    (64, 64, 64),  # tiles everywhere
    (32, 32, 32),
    (13, 24, 16),  # rows not a whole number of tiles
    (7, 5, 3),  # no whole vector of columns: BLAS
    (64, 16, 10),  # 10 outputs: BLAS forward and for dW; dx (16 columns) on tiles
    (5, TILE_SIDE + 8, 8),  # an input side beyond the tiles' reach
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_dense_products_match_numpy(shape: tuple[int, int, int], dtype: type) -> None:
    n, k, m = shape
    rng = np.random.default_rng(n * 1000 + k + m)
    x, W, b, dy = (rng.normal(size=s).astype(dtype) for s in ((n, k), (k, m), (m,), (n, m)))
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for has_bias in (True, False):
        y = np.full((n, m), np.nan, dtype)
        dense_forward(x, W, b, has_bias, y)
        np.testing.assert_allclose(y, x @ W + (b if has_bias else 0), rtol=rtol, atol=rtol * k)
    dW, db, dx = np.full((k, m), np.nan, dtype), np.empty(m, dtype), np.full((n, k), np.nan, dtype)
    dense_backward(x, W, dy, dW, db, True, dx, True, np.empty(W.size, dtype))
    np.testing.assert_allclose(dW, x.T @ dy, rtol=rtol, atol=rtol * n)
    np.testing.assert_allclose(db, dy.sum(axis=0), rtol=rtol, atol=rtol * n)
    np.testing.assert_allclose(dx, dy @ W.T, rtol=rtol, atol=rtol * m)
