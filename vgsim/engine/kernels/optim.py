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

from .lanes import sum_squares, sum_squares2

SGD, MOMENTUM, NESTEROV, ADAM, RMSPROP = range(5)
CODES = {"sgd": SGD, "momentum": MOMENTUM, "nesterov": NESTEROV, "adam": ADAM, "rmsprop": RMSPROP}
CLIP_NONE, CLIP_VALUE, CLIP_NORM = range(3)
CLIP_CODES = {"none": CLIP_NONE, "value": CLIP_VALUE, "norm": CLIP_NORM}
# Layout of the `hyper` array the trainer passes (it may change between steps).
H_LR, H_MOMENTUM, H_BETA1, H_BETA2, H_EPS, H_ALPHA, H_L2, H_CLIP, H_TELEMETRY = range(9)
N_HYPER = 9
# NumPy's division (inf/NaN, no check that raises) lets the updates' loops vectorise.
_opts = {"cache": True, "nogil": True, "error_model": "numpy"}


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
def update_segment(opt, w, g, m, v, hyper, t, start, end, steps, w2=-1.0, norms=True):
    """Update w[start:end], writing each applied step to `steps`. Returns the sums of squared
    steps, old weights and new weights (`w2`, the old one, if the caller has it already; all
    three NaN without `norms`). One
    loop per rule: no branch inside, so each vectorises; the arithmetic per entry is the rule
    above, written once."""
    lr = hyper[H_LR]
    mu = hyper[H_MOMENTUM]
    eps = hyper[H_EPS]
    ws = w[start:end]
    gs = g[start:end]
    ss = steps[start:end]
    if w2 < 0 and norms:
        w2 = sum_squares(ws)
    if opt == SGD:
        for i in range(ws.size):
            step = lr * gs[i]
            ws[i] = ws[i] - step
            ss[i] = step
    elif opt == MOMENTUM or opt == NESTEROV:
        ms = m[start:end]
        nesterov = opt == NESTEROV
        for i in range(ws.size):
            gi = gs[i]
            ms[i] = mu * ms[i] + gi
            step = lr * (gi + mu * ms[i]) if nesterov else lr * ms[i]
            ws[i] = ws[i] - step
            ss[i] = step
    elif opt == ADAM:
        ms = m[start:end]
        vs = v[start:end]
        b1 = hyper[H_BETA1]
        b2 = hyper[H_BETA2]
        step_size = lr / (1 - b1**t)
        root_bc2 = math.sqrt(1 - b2**t)
        for i in range(ws.size):
            gi = gs[i]
            ms[i] = b1 * ms[i] + (1 - b1) * gi
            vs[i] = b2 * vs[i] + (1 - b2) * gi * gi
            step = step_size * ms[i] / (math.sqrt(vs[i]) / root_bc2 + eps)
            ws[i] = ws[i] - step
            ss[i] = step
    else:
        vs = v[start:end]
        a = hyper[H_ALPHA]
        for i in range(ws.size):
            gi = gs[i]
            vs[i] = a * vs[i] + (1 - a) * gi * gi
            step = lr * gi / (math.sqrt(vs[i]) + eps)
            ws[i] = ws[i] - step
            ss[i] = step
    if not norms:
        return math.nan, math.nan, math.nan
    dw2, new2 = sum_squares2(ss, ws)
    return dw2, w2, new2
