"""Dense and batch-norm layers, forward and backward side by side (PyTorch's conventions).

Dense: y = x @ W + b with W of shape (inputs, outputs). Batch norm in training uses the batch
mean and biased variance; the running variance is updated with the unbiased one, momentum 0.1.
"""

import math

import numpy as np
from numba import njit

from .arrays import fill
from .gemm import ROW_ROOM, gather_gemm, lanes_of
from .lanes import as_2d, transpose_into

_opts = {"cache": True, "nogil": True}
SMALL_TRANSPOSE = 96  # largest layer side for which dense_backward copies W^T out first
TILE_SIDE = 256  # largest side the register-tile product takes (it beat BLAS up to 256 here)


@njit(**_opts)
def _tiles_fit(columns, a):
    """The register-tile product (gemm.gather_gemm) takes columns in whole vectors; beyond
    TILE_SIDE BLAS's blocking for the caches wins."""
    return columns % lanes_of(a) == 0 and columns <= TILE_SIDE


@njit(**_opts)
def _strides(count, step, room):
    """0, step, 2 step, ... (count entries) and `room` more for gather_gemm's overhang."""
    out = np.empty(count + room, np.int64)
    for i in range(count):
        out[i] = i * step
    return out


@njit(**_opts)
def _product(a, rows, nrows, cols, b, ncols, init, out):
    """out[m, j] = init[j] + sum_kk a[rows[m] + cols[kk]] b[kk, j]: b and out C-contiguous 2-D
    with ncols columns (a whole number of vectors), a flat."""
    edge = np.empty(ROW_ROOM * ncols, a.dtype)
    flat_b, flat_out = b.reshape(b.size), out.reshape(out.size)
    gather_gemm(a, rows, nrows, cols, cols.size, flat_b, ncols, ncols, init, flat_out, ncols, edge)


@njit(**_opts)
def dense_forward(x, W, b, has_bias, y):
    n, k = x.shape
    m = y.shape[1]
    if _tiles_fit(m, x) and k <= TILE_SIDE:  # the bias added as the sums start
        init = b if has_bias else np.zeros(m, x.dtype)
        rows = _strides(n, k, ROW_ROOM)
        _product(x.reshape(x.size), rows, n, _strides(k, 1, 0), W, m, init, y)
        return
    np.dot(x, W, y)
    if has_bias:
        for i in range(n):
            for j in range(m):
                y[i, j] += b[j]


@njit(**_opts)
def dense_backward(x, W, dy, dW, db, has_bias, dx, need_dx, work=None):
    """dW = x^T dy, db = column sums of dy, dx = dy W^T (skipped when nothing needs it).
    For small layers dx is dy (W^T) with W^T copied out first into `work` (at least W.size
    entries of W's dtype; allocated if None): a plain product is much faster there than a
    transposed one."""
    n, m = dy.shape
    k = W.shape[0]
    tiles = _tiles_fit(m, dy) and max(n, k) <= TILE_SIDE
    if tiles:  # dW[p, j] = sum_i x[i, p] dy[i, j]: x's columns read as rows
        zeros = np.zeros(max(k, m), dy.dtype)
        _product(
            x.reshape(x.size), _strides(k, 1, ROW_ROOM), k, _strides(n, k, 0), dy, m, zeros, dW
        )
    else:
        np.dot(x.T, dy, dW)
    if has_bias:
        fill(db, 0.0)
        for i in range(n):
            for j in range(m):
                db[j] += dy[i, j]
    if need_dx:
        if max(k, m) <= SMALL_TRANSPOSE or _tiles_fit(k, dy) and m <= TILE_SIDE:
            if work is None:  # two branches, not one Optional value: Numba prunes one
                Wt = as_2d(np.empty(W.size, W.dtype), m, k)
            else:
                Wt = as_2d(work, m, k)
            transpose_into(W, Wt)
            if _tiles_fit(k, dy) and m <= TILE_SIDE:
                zeros = np.zeros(k, dy.dtype)
                rows = _strides(n, m, ROW_ROOM)
                _product(dy.reshape(dy.size), rows, n, _strides(m, 1, 0), Wt, k, zeros, dx)
            else:
                np.dot(dy, Wt, dx)
        else:
            np.dot(dy, W.T, dx)


@njit(**_opts)
def batchnorm_forward(x, gamma, beta, y, xhat, invstd, run_mean, run_var, momentum, eps, training):
    n, m = x.shape
    for j in range(m):
        if training:
            mean = 0.0
            for i in range(n):
                mean += x[i, j]
            mean /= n
            var = 0.0
            for i in range(n):
                d = x[i, j] - mean
                var += d * d
            var /= n
            unbiased = var * n / (n - 1) if n > 1 else var
            run_mean[j] = (1 - momentum) * run_mean[j] + momentum * mean
            run_var[j] = (1 - momentum) * run_var[j] + momentum * unbiased
        else:
            mean = run_mean[j]
            var = run_var[j]
        inv = 1.0 / math.sqrt(var + eps)
        invstd[j] = inv
        for i in range(n):
            h = (x[i, j] - mean) * inv
            xhat[i, j] = h
            y[i, j] = gamma[j] * h + beta[j]


@njit(**_opts)
def batchnorm_backward(dy, gamma, xhat, invstd, dx, dgamma, dbeta):
    """dx = invstd/N * (N dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)), dxhat = dy * gamma."""
    n, m = dy.shape
    for j in range(m):
        sum_dy = 0.0
        sum_dy_xhat = 0.0
        for i in range(n):
            sum_dy += dy[i, j]
            sum_dy_xhat += dy[i, j] * xhat[i, j]
        dgamma[j] = sum_dy_xhat
        dbeta[j] = sum_dy
        g = gamma[j]
        k = g * invstd[j] / n
        for i in range(n):
            dx[i, j] = k * (n * dy[i, j] - sum_dy - xhat[i, j] * sum_dy_xhat)
