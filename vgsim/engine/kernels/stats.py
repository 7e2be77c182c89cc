"""Per-node statistics gathered inside the training step (telemetry fused into the kernels)."""

import math

import numpy as np
from numba import njit

# Columns of the per-node statistics table.
S_MEAN, S_STD, S_MIN, S_MAX, S_SAT, S_DEAD, S_GRAD, S_PGRAD, S_WNORM, S_RATIO = range(10)
N_STATS = 10
STAT_NAMES = (
    "act_mean", "act_std", "act_min", "act_max", "saturated", "dead",
    "grad_norm", "param_grad_norm", "weight_norm", "update_ratio",
)
_opts = {"cache": True, "nogil": True}
LANES = 8


@njit(**_opts)
def value_stats(y):
    """Mean, std, min and max of y. finite=False if any entry is NaN or infinite.
    Sums run over 8 interleaved partial sums: a fixed order that vectorises."""
    acc = np.zeros(LANES)
    acc2 = np.zeros(LANES)
    n8 = y.size - y.size % LANES
    for i in range(0, n8, LANES):
        for j in range(LANES):
            v = float(y[i + j])
            acc[j] += v
            acc2[j] += v * v
    s = acc.sum()
    s2 = acc2.sum()
    for i in range(n8, y.size):
        v = float(y[i])
        s += v
        s2 += v * v
    lo_seen = y[0]
    hi_seen = y[0]
    for i in range(y.size):
        v = y[i]
        lo_seen = v if v < lo_seen else lo_seen
        hi_seen = v if v > hi_seen else hi_seen
    n = y.size
    # NaN poisons the sum; infinity shows in the extremes (a sum may overflow on finite values).
    if s != s or not (math.isfinite(lo_seen) and math.isfinite(hi_seen)):
        return math.nan, math.nan, float(lo_seen), float(hi_seen), False
    mean = s / n
    var = max(s2 / n - mean * mean, 0.0)
    return mean, math.sqrt(var), float(lo_seen), float(hi_seen), True


@njit(**_opts)
def histogram(y, lo, hi, hist):
    """Fractions of y in `hist.size` equal bins over [lo, hi]; outliers land in the end bins.
    Four interleaved counters: consecutive values often share a bin (ReLU's zeros), and one
    counter would make every increment wait for the previous one."""
    bins = hist.size
    scale = bins / (hi - lo)
    top = bins - 1.0
    counts = np.zeros((LANES // 2, bins), np.int64)
    for i in range(y.size):
        v = y[i]
        if v == v:  # NaN has no bin (and int(NaN) is undefined)
            t = (v - lo) * scale
            t = 0.0 if t < 0.0 else top if t > top else t
            counts[i % (LANES // 2), int(t)] += 1
    for b in range(bins):
        hist[b] = (counts[0, b] + counts[1, b] + counts[2, b] + counts[3, b]) / y.size


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
