"""Per-node statistics gathered inside the training step (telemetry fused into the kernels)."""

import math

import numpy as np
from numba import njit
from numba.extending import register_jitable

from .bins import PLANE_BINS, TABLES, moments_plane_counts, table_counts
from .lanes import moments

# Columns of the per-node statistics table.
S_MEAN, S_STD, S_MIN, S_MAX, S_SAT, S_DEAD, S_GRAD, S_PGRAD, S_WNORM, S_RATIO = range(10)
N_STATS = 10
STAT_NAMES = (
    "act_mean",
    "act_std",
    "act_min",
    "act_max",
    "saturated",
    "dead",
    "grad_norm",
    "param_grad_norm",
    "weight_norm",
    "update_ratio",
)
_opts = {"cache": True, "nogil": True}


@njit(**_opts)
def value_stats(y):
    """Mean, std, min and max of y (std = sqrt(max(E[y^2] - mean^2, 0))). finite=False if any
    entry is NaN or infinite. Sums in float64 over fixed lanes (lanes.moments)."""
    s, s2, lo_seen, hi_seen = moments(y)
    return _finish(y.size, s, s2, lo_seen, hi_seen)


@njit(inline="always", **_opts)
def _finish(n, s, s2, lo_seen, hi_seen):
    # NaN poisons the sum; infinity shows in the extremes (a sum may overflow on finite values).
    if s != s or not (math.isfinite(lo_seen) and math.isfinite(hi_seen)):
        return math.nan, math.nan, lo_seen, hi_seen, False
    mean = s / n
    var = max(s2 / n - mean * mean, 0.0)
    return mean, math.sqrt(var), lo_seen, hi_seen, True


@register_jitable
def scratch_size(bins, width, rows):
    """uint64 entries forward_node's statistics need for nodes up to `width` units wide on
    `rows` rows: the dead-unit flags (`width` entries) or, with more than 32 bins, every
    output's bin (a byte each), then the bin counts (and their tables beyond 32 bins)."""
    counts = PLANE_BINS if bins <= PLANE_BINS else (TABLES + 1) * bins
    return max((rows * width + 7) // 8, width) + counts


@njit(**_opts)
def stats_and_histogram(y, lo, hi, hist, buf):
    """value_stats(y), and in `hist` the fractions of y in `hist.size` equal bins over
    [lo, hi]: outliers in the end bins, NaN in none. The sums are value_stats' (lanes.moments'
    lanes, the same bits). Up to 32 bins are counted from bit planes in the same pass
    (bins.moments_plane_counts), more from a byte per value (bins.table_counts). `buf`: uint64
    scratch of scratch_size entries; at most 256 bins."""
    bins = hist.size
    n = y.size
    # In y's precision, so the binning runs at its vector width.
    lo_y = y.dtype.type(lo)
    scale = y.dtype.type(bins / (hi - lo))
    top = y.dtype.type(bins - 1)
    words = (n + 7) // 8
    if bins <= PLANE_BINS:
        counts = buf[words : words + PLANE_BINS]
        s, s2, lo_seen, hi_seen = moments_plane_counts(y, lo_y, scale, top, counts)
    else:
        s, s2, lo_seen, hi_seen = moments(y)
        counts = buf[words : words + bins]
        tables = buf[words + bins : words + (TABLES + 1) * bins]
        table_counts(y, lo_y, scale, top, buf[:words].view(np.uint8), tables, counts)
    figures = _finish(n, s, s2, lo_seen, hi_seen)
    if not figures[4]:  # NaN went to bin 0: take it out again
        nans = 0
        for i in range(n):
            nans += y[i] != y[i]
        counts[0] -= np.uint64(nans)
    for b in range(bins):
        hist[b] = counts[b] / n
    return figures


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
