"""Dense and batch-norm layers, forward and backward side by side (PyTorch's conventions).

Dense: y = x @ W + b with W of shape (inputs, outputs). Batch norm in training uses the batch
mean and biased variance; the running variance is updated with the unbiased one, momentum 0.1.
"""

import math

import numpy as np
from numba import njit

from .arrays import fill
from .lanes import as_2d, transpose_into

_opts = {"cache": True, "nogil": True}
SMALL_TRANSPOSE = 96  # largest layer side for which dense_backward copies W^T out first


@njit(**_opts)
def dense_forward(x, W, b, has_bias, y):
    np.dot(x, W, y)
    if has_bias:
        n, m = y.shape
        for i in range(n):
            for j in range(m):
                y[i, j] += b[j]


@njit(**_opts)
def dense_backward(x, W, dy, dW, db, has_bias, dx, need_dx, work=None):
    """dW = x^T dy, db = column sums of dy, dx = dy W^T (skipped when nothing needs it).
    For small layers dx is dy (W^T) with W^T copied out first into `work` (at least W.size
    entries of W's dtype; allocated if None): BLAS's plain product is much faster there than
    its transposed one."""
    np.dot(x.T, dy, dW)
    if has_bias:
        n, m = dy.shape
        fill(db, 0.0)
        for i in range(n):
            for j in range(m):
                db[j] += dy[i, j]
    if need_dx:
        k, m = W.shape
        if max(k, m) <= SMALL_TRANSPOSE:
            if work is None:  # two branches, not one Optional value: Numba prunes one
                Wt = as_2d(np.empty(W.size, W.dtype), m, k)
            else:
                Wt = as_2d(work, m, k)
            transpose_into(W, Wt)
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
