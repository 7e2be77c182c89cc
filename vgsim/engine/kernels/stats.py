"""Per-node statistics gathered inside the training step (telemetry fused into the kernels)."""

import math

import numpy as np
from numba import njit
from numba.extending import register_jitable

from .lanes import BYTE_BLOCK, GROUP, count_group, moments

# Columns of the per-node statistics table.
S_MEAN, S_STD, S_MIN, S_MAX, S_SAT, S_DEAD, S_GRAD, S_PGRAD, S_WNORM, S_RATIO = range(10)
N_STATS = 10
STAT_NAMES = (
    "act_mean", "act_std", "act_min", "act_max", "saturated", "dead",
    "grad_norm", "param_grad_norm", "weight_norm", "update_ratio",
)
_opts = {"cache": True, "nogil": True}
CODE_CHUNK = 16384  # values binned per counting round
CODE_WORDS = CODE_CHUNK // 8  # their bin numbers, one byte each, in uint64 scratch words


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


@register_jitable
def scratch_size(bins, width):
    """uint64 entries forward_node's statistics need: the histogram's bin numbers and counts,
    then one flag per unit of the widest node."""
    return CODE_WORDS + (bins + GROUP - 1) // GROUP * GROUP + width


@njit(**_opts)
def _bin_numbers(seg, lo, scale, top, codes, finite):
    """Each value's bin as a byte; NaN (only if not `finite`) goes to bin 0 and is counted.
    The finite case is a separate loop: without the NaN test it runs at full vector width."""
    nans = 0
    if finite:
        zero = top - top  # in y's precision: a float64 constant would widen the loop
        for i in range(seg.size):
            t = (seg[i] - lo) * scale
            t = zero if t < zero else t
            t = top if t > top else t
            codes[i] = np.uint8(np.int32(t))
    else:
        for i in range(seg.size):
            t = (seg[i] - lo) * scale
            t = 0.0 if t < 0.0 else t
            t = top if t > top else t
            nan = t != t
            nans += nan
            codes[i] = np.uint8(0.0 if nan else t)
    return nans


@njit(**_opts)
def histogram(y, lo, hi, hist, buf, finite):
    """Fractions of y in `hist.size` equal bins over [lo, hi]; outliers land in the end bins,
    NaN in none (`finite`: y holds no NaN, as value_stats tells). A chunk at a time: every
    value's bin number as a byte (a loop that vectorises), then all bins counted from bit
    planes (lanes.count_group). `buf`: uint64 scratch of scratch_size entries; at most 256
    bins."""
    bins = hist.size
    # In y's precision, so the binning loop runs at its vector width.
    lo_y = y.dtype.type(lo)
    scale = y.dtype.type(bins / (hi - lo))
    top = y.dtype.type(bins - 1)
    codes = buf[:CODE_WORDS].view(np.uint8)
    groups = (bins + GROUP - 1) // GROUP
    counts = buf[CODE_WORDS : CODE_WORDS + groups * GROUP]
    for b in range(counts.size):
        counts[b] = 0
    n = y.size
    nans = 0
    for start in range(0, n, CODE_CHUNK):
        m = min(CODE_CHUNK, n - start)
        nans += _bin_numbers(y[start : start + m], lo_y, scale, top, codes, finite)
        whole = m - m % BYTE_BLOCK
        for g in range(groups):
            count_group(codes, whole, g, counts[g * GROUP : (g + 1) * GROUP])
        for i in range(whole, m):
            counts[codes[i]] += np.uint64(1)
    counts[0] -= np.uint64(nans)
    for b in range(bins):
        hist[b] = counts[b] / n


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
