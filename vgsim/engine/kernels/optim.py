"""Gradient clipping and parameter updates, with PyTorch's update rules.

sgd:       w -= lr g
momentum:  b = mu b + g;            w -= lr b
nesterov:  b = mu b + g;            w -= lr (g + mu b)
adam:      m = b1 m + (1-b1) g;     v = b2 v + (1-b2) g^2;
           w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
rmsprop:   v = a v + (1-a) g^2;     w -= lr g / (sqrt(v) + eps)
"""

import math

import numpy as np
from numba import njit

SGD, MOMENTUM, NESTEROV, ADAM, RMSPROP = range(5)
CODES = {"sgd": SGD, "momentum": MOMENTUM, "nesterov": NESTEROV, "adam": ADAM, "rmsprop": RMSPROP}
CLIP_NONE, CLIP_VALUE, CLIP_NORM = range(3)
CLIP_CODES = {"none": CLIP_NONE, "value": CLIP_VALUE, "norm": CLIP_NORM}
# Layout of the `hyper` array the trainer passes (it may change between steps).
H_LR, H_MOMENTUM, H_BETA1, H_BETA2, H_EPS, H_ALPHA, H_L2, H_CLIP = range(8)
_opts = {"cache": True, "nogil": True}
LANES = 8


@njit(**_opts)
def sum_squares(a):
    """Sum of squares in float64 over 8 interleaved partial sums: a fixed order (so the same
    bits wherever it is inlined, unlike fast-math reassociation) that still vectorises."""
    acc = np.zeros(LANES)
    n8 = a.size - a.size % LANES
    for i in range(0, n8, LANES):
        for j in range(LANES):
            v = float(a[i + j])
            acc[j] += v * v
    s = 0.0
    for i in range(n8, a.size):
        v = float(a[i])
        s += v * v
    return s + ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))


@njit(**_opts)
def clip_gradients(g, mode, threshold, before):
    """Clip in place, given the global norm `before`. Returns (fired, norm after). By norm, as
    torch's clip_grad_norm_: scale by threshold / (norm + 1e-6) when that is below 1."""
    fired = False
    if mode == CLIP_VALUE:
        for i in range(g.size):
            if g[i] > threshold:
                g[i] = threshold
                fired = True
            elif g[i] < -threshold:
                g[i] = -threshold
                fired = True
    elif mode == CLIP_NORM:
        coef = threshold / (before + 1e-6)
        if coef < 1.0:
            fired = True
            for i in range(g.size):
                g[i] *= coef
    after = math.sqrt(sum_squares(g)) if fired else before
    return fired, after


@njit(**_opts)
def update_segment(opt, w, g, m, v, hyper, t, start, end, steps):
    """Update w[start:end], writing each applied step to `steps`. Returns the sums of squared
    steps, old weights and new weights."""
    lr = hyper[H_LR]
    mu = hyper[H_MOMENTUM]
    eps = hyper[H_EPS]
    w2 = sum_squares(w[start:end])
    if opt == ADAM:
        b1 = hyper[H_BETA1]
        b2 = hyper[H_BETA2]
        step_size = lr / (1 - b1**t)
        root_bc2 = math.sqrt(1 - b2**t)
    for i in range(start, end):
        old = w[i]
        gi = g[i]
        if opt == SGD:
            step = lr * gi
        elif opt == MOMENTUM or opt == NESTEROV:
            m[i] = mu * m[i] + gi
            step = lr * (gi + mu * m[i]) if opt == NESTEROV else lr * m[i]
        elif opt == ADAM:
            m[i] = b1 * m[i] + (1 - b1) * gi
            v[i] = b2 * v[i] + (1 - b2) * gi * gi
            step = step_size * m[i] / (math.sqrt(v[i]) / root_bc2 + eps)
        else:
            a = hyper[H_ALPHA]
            v[i] = a * v[i] + (1 - a) * gi * gi
            step = lr * gi / (math.sqrt(v[i]) + eps)
        w[i] = old - step
        steps[i] = step
    return sum_squares(steps[start:end]), w2, sum_squares(w[start:end])
