"""Per-node statistics gathered inside the training step (telemetry fused into the kernels)."""

import math

from numba import njit

from .arrays import fill

# Columns of the per-node statistics table.
S_MEAN, S_STD, S_MIN, S_MAX, S_SAT, S_DEAD, S_GRAD, S_PGRAD, S_WNORM, S_RATIO = range(10)
N_STATS = 10
STAT_NAMES = (
    "act_mean", "act_std", "act_min", "act_max", "saturated", "dead",
    "grad_norm", "param_grad_norm", "weight_norm", "update_ratio",
)
_opts = {"cache": True, "nogil": True}


@njit(**_opts)
def value_stats(y, lo, hi, hist):
    """Mean, std, min, max of y and its histogram over [lo, hi] (outliers land in the end bins),
    as fractions of all entries. Returns finite=False if any entry is NaN or infinite."""
    bins = hist.size
    fill(hist, 0.0)
    scale = bins / (hi - lo)
    s = 0.0
    s2 = 0.0
    lo_seen = math.inf
    hi_seen = -math.inf
    for i in range(y.size):
        v = float(y[i])
        s += v
        s2 += v * v
        lo_seen = min(lo_seen, v)
        hi_seen = max(hi_seen, v)
        if v == v:  # NaN has no bin (and int(NaN) is undefined)
            k = int((min(max(v, lo), hi) - lo) * scale)
            hist[min(k, bins - 1)] += 1.0
    n = y.size
    finite = math.isfinite(s) and math.isfinite(s2)
    if not finite:
        return math.nan, math.nan, lo_seen, hi_seen, False
    mean = s / n
    var = max(s2 / n - mean * mean, 0.0)
    for b in range(bins):
        hist[b] /= n
    return mean, math.sqrt(var), lo_seen, hi_seen, True


@njit(**_opts)
def dead_units(z):
    """Units (columns) whose input is <= 0 for every sample of the batch."""
    n, m = z.shape
    dead = 0
    for j in range(m):
        alive = False
        for i in range(n):
            if z[i, j] > 0:
                alive = True
                break
        dead += not alive
    return dead
