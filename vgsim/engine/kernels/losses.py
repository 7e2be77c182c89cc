"""Losses on the network's last values (logits), each returning the loss and writing d loss / d z.

All are means over the batch (mean squared error and binary cross-entropy also over outputs, as
PyTorch's defaults). Labels are integer classes; `targets` holds regression values.
Each also returns the number of correct predictions (-1 where accuracy has no meaning).
"""

import math

from numba import njit

SOFTMAX_CE, MSE, BCE = range(3)
CODES = {"softmax_cross_entropy": SOFTMAX_CE, "mse": MSE, "binary_cross_entropy": BCE}
_opts = {"cache": True, "nogil": True}


@njit(**_opts)
def _argmax_row(z, i):
    best = 0
    for j in range(1, z.shape[1]):
        if z[i, j] > z[i, best]:
            best = j
    return best


@njit(**_opts)
def softmax_cross_entropy(z, labels, dz):
    """L = -mean log softmax(z)[label]; dL/dz = (softmax(z) - onehot) / n."""
    n, k = z.shape
    total = 0.0
    correct = 0
    for i in range(n):
        top = _argmax_row(z, i)
        correct += top == labels[i]
        zmax = z[i, top]
        s = 0.0
        for j in range(k):
            s += math.exp(z[i, j] - zmax)
        log_s = math.log(s)
        total += log_s - (z[i, labels[i]] - zmax)
        for j in range(k):
            dz[i, j] = math.exp(z[i, j] - zmax - log_s) / n
        dz[i, labels[i]] -= 1.0 / n
    return total / n, correct


@njit(**_opts)
def mean_squared_error(z, labels, targets, classify, dz):
    """L = mean (z - t)^2 over batch and outputs; t is one-hot labels when classifying."""
    n, k = z.shape
    total = 0.0
    correct = 0
    scale = 2.0 / (n * k)
    for i in range(n):
        for j in range(k):
            t = (1.0 if labels[i] == j else 0.0) if classify else targets[i, j]
            d = z[i, j] - t
            total += d * d
            dz[i, j] = scale * d
        if classify:
            correct += _argmax_row(z, i) == labels[i]
    return total / (n * k), correct if classify else -1


@njit(**_opts)
def binary_cross_entropy(z, labels, dz):
    """Sigmoid + BCE on logits, mean over batch and outputs. One output: label 1 is positive;
    several outputs: one-hot labels (one binary task per class)."""
    n, k = z.shape
    total = 0.0
    correct = 0
    scale = 1.0 / (n * k)
    for i in range(n):
        for j in range(k):
            t = float(labels[i]) if k == 1 else (1.0 if labels[i] == j else 0.0)
            v = z[i, j]
            # max(v,0) - v t + log(1 + e^-|v|) never overflows.
            total += max(v, 0.0) - v * t + math.log1p(math.exp(-abs(v)))
            s = 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))
            dz[i, j] = scale * (s - t)
        if k == 1:
            correct += (z[i, 0] > 0) == (labels[i] == 1)
        else:
            correct += _argmax_row(z, i) == labels[i]
    return total * scale, correct


@njit(**_opts)
def compute_loss(code, z, labels, targets, classify, dz):
    if code == SOFTMAX_CE:
        return softmax_cross_entropy(z, labels, dz)
    if code == BCE:
        return binary_cross_entropy(z, labels, dz)
    return mean_squared_error(z, labels, targets, classify, dz)
