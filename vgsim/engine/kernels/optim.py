"""Gradient clipping and parameter updates, with PyTorch's update rules.

sgd:       w -= lr g
momentum:  b = mu b + g;            w -= lr b
nesterov:  b = mu b + g;            w -= lr (g + mu b)
adam:      m = b1 m + (1-b1) g;     v = b2 v + (1-b2) g^2;
           w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
rmsprop:   v = a v + (1-a) g^2;     w -= lr g / (sqrt(v) + eps)
"""

import math

from numba import njit

SGD, MOMENTUM, NESTEROV, ADAM, RMSPROP = range(5)
CODES = {"sgd": SGD, "momentum": MOMENTUM, "nesterov": NESTEROV, "adam": ADAM, "rmsprop": RMSPROP}
CLIP_NONE, CLIP_VALUE, CLIP_NORM = range(3)
CLIP_CODES = {"none": CLIP_NONE, "value": CLIP_VALUE, "norm": CLIP_NORM}
# Layout of the `hyper` array the trainer passes (it may change between steps).
H_LR, H_MOMENTUM, H_BETA1, H_BETA2, H_EPS, H_ALPHA, H_L2, H_CLIP = range(8)
_opts = {"cache": True, "nogil": True}


@njit(**_opts)
def sum_squares(a):
    s = 0.0
    for i in range(a.size):
        s += float(a[i]) * a[i]
    return s


@njit(**_opts)
def clip_gradients(g, mode, threshold):
    """Clip in place. Returns (fired, norm before, norm after). By norm, as torch's
    clip_grad_norm_: scale by threshold / (norm + 1e-6) when that is below 1."""
    before = math.sqrt(sum_squares(g))
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
    return fired, before, after


@njit(**_opts)
def update_segment(opt, w, g, m, v, hyper, t, start, end):
    """Update w[start:end]. Returns (sum of squared updates, sum of squared old weights)."""
    lr = hyper[H_LR]
    mu = hyper[H_MOMENTUM]
    eps = hyper[H_EPS]
    dw2 = 0.0
    w2 = 0.0
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
        dw2 += float(step) * step
        w2 += float(old) * old
    return dw2, w2
