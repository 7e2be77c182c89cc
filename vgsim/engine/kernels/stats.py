"""Per-node statistics gathered inside the training step (telemetry fused into the kernels)."""

import math

import numpy as np
from numba import njit

from .lanes import moments

# Columns of the per-node statistics table.
S_MEAN, S_STD, S_MIN, S_MAX, S_SAT, S_DEAD, S_GRAD, S_PGRAD, S_WNORM, S_RATIO = range(10)
N_STATS = 10
STAT_NAMES = (
    "act_mean", "act_std", "act_min", "act_max", "saturated", "dead",
    "grad_norm", "param_grad_norm", "weight_norm", "update_ratio",
)
_opts = {"cache": True, "nogil": True}
TABLES = 8  # interleaved histogram count tables (histogram() names all eight)
CHUNK = 256  # values per vectorised bin-number pass


@njit(**_opts)
def value_stats(y):
    """Mean, std, min and max of y (std = sqrt(max(E[y^2] - mean^2, 0))). finite=False if any
    entry is NaN or infinite. Sums in float64 over fixed lanes (lanes.moments)."""
    s, s2, lo_seen, hi_seen = moments(y)
    n = y.size
    # NaN poisons the sum; infinity shows in the extremes (a sum may overflow on finite values).
    if s != s or not (math.isfinite(lo_seen) and math.isfinite(hi_seen)):
        return math.nan, math.nan, lo_seen, hi_seen, False
    mean = s / n
    var = max(s2 / n - mean * mean, 0.0)
    return mean, math.sqrt(var), lo_seen, hi_seen, True


@njit(**_opts)
def scratch_size(bins, width):
    """uint64 entries forward_node's statistics need: histogram tables and bin numbers, then one
    flag per unit of the widest node."""
    return TABLES * (bins + 1) + CHUNK + width


@njit(**_opts)
def histogram(y, lo, hi, hist, buf):
    """Fractions of y in `hist.size` equal bins over [lo, hi]; outliers land in the end bins,
    NaN in none. Bin numbers are computed a chunk at a time (a loop that vectorises), then
    counted into 8 interleaved tables: consecutive values often share a bin (ReLU's zeros),
    and one table would make every increment wait for the previous one. Unsigned indices spare
    Numba's negative-index handling. `buf`: uint64 scratch of scratch_size entries."""
    bins = hist.size
    stride = bins + 1  # the extra column counts NaN
    scale = bins / (hi - lo)
    top = bins - 1.0
    for b in range(TABLES * stride):
        buf[b] = 0
    c0, c1, c2, c3 = (buf[0:stride], buf[stride : 2 * stride], buf[2 * stride : 3 * stride],
                      buf[3 * stride : 4 * stride])
    c4, c5, c6, c7 = (buf[4 * stride : 5 * stride], buf[5 * stride : 6 * stride],
                      buf[6 * stride : 7 * stride], buf[7 * stride : 8 * stride])
    idx = buf[TABLES * stride : TABLES * stride + CHUNK]
    n = y.size
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        seg = y[start : start + m]
        for i in range(m):
            t = (seg[i] - lo) * scale
            t = 0.0 if t < 0.0 else t
            t = top if t > top else t
            idx[i] = np.uint64(t) if t == t else np.uint64(bins)
        for r in range(m // TABLES):
            j = r * TABLES
            c0[idx[j]] += 1
            c1[idx[j + 1]] += 1
            c2[idx[j + 2]] += 1
            c3[idx[j + 3]] += 1
            c4[idx[j + 4]] += 1
            c5[idx[j + 5]] += 1
            c6[idx[j + 6]] += 1
            c7[idx[j + 7]] += 1
        for i in range(m - m % TABLES, m):
            c0[idx[i]] += 1
    for b in range(bins):  # each table read along memory: vectorises
        hist[b] = (((c0[b] + c1[b]) + (c2[b] + c3[b])) + ((c4[b] + c5[b]) + (c6[b] + c7[b]))) / n


@njit(**_opts)
def dead_units(z, alive):
    """Units (columns) whose input is <= 0 for every sample of the batch (NaN counts as <= 0).
    Row by row, so the inner loop runs along memory and vectorises; `alive`: uint64 scratch of
    at least as many entries as z has columns."""
    n, m = z.shape
    for j in range(m):
        alive[j] = 0
    for i in range(n):
        row = z[i]
        for j in range(m):
            alive[j] |= row[j] > 0
    dead = 0
    for j in range(m):
        dead += alive[j] == 0
    return dead
