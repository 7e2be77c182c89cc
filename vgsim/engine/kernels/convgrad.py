"""A convolution's weight and bias gradients (conv.py gives the layout and the product).

    dW[t, ci, :] = sum over positions p of xp[p's corner + t + ci] dy[p, :]

With the filters along gemm.gather_gemm's columns, the rows of the product are the patch
entries and its sum runs over positions. With few filters (fewer than gather_gemm's wide block
has columns) and the channels in whole vectors, it is wgrad_gemm's product instead, the channels
along the vector: gather_gemm would put the filters there and load one entry of the patch per
multiply-add.
"""

import numpy as np
from numba import njit

from .gemm import WIDE_NRV, gather_gemm, lanes_of, padded_width
from .patches import packed_rows, patch_taps
from .wgrad import WG_MR, WG_NV, wgrad_gemm

_opts = {"cache": True, "nogil": True}
DW_CHUNK = 128  # positions per pass of the weight gradient's product
# Patches of at most this many entries (a first layer's one channel) take one pass: two or
# three blocks of patch entries reuse a chunk too little to repay the passes (0.83 of the time).
DW_ONE_PASS = 16
# Positions per pass of wgrad_gemm: its sums continue from one pass to the next (the same bits
# for any chunk), and 1024 took 0.9 of 128's time (fewer passes, dy and patches still in L2).
WG_CHUNK = 1024


@njit(**_opts)
def weight_gradient(src, dy, dW, corners, positions, k, wp, c, f, zeros, edge):
    """dW (k·k·c·f) for dy (positions·f) and the patches of src at `corners`; `zeros` and
    `edge`: gather_gemm's init (a vector of f zeros or more) and edge scratch."""
    if _by_channels(c, f, lanes_of(dy)):
        _weight_gradient_by_channels(src, dy, dW, corners, positions, k, wp, c, f)
    else:
        _weight_gradient_by_patches(src, dy, dW, corners, positions, k, wp, c, f, zeros, edge)


@njit(**_opts)
def _by_channels(channels, filters, lanes):
    """Whether wgrad_gemm computes the weight gradient: the channels fill whole vectors and the
    filters are too few for gather_gemm's wide block (which runs at the core's peak)."""
    return channels % lanes == 0 and filters < WIDE_NRV * lanes


@njit(**_opts)
def _tap_blocks(k, wp, c, lanes):
    """The offset of each tap's blocks of `lanes` channels from the patch's corner."""
    blocks = c // lanes
    cols = np.empty(k * k * blocks, np.int64)
    for t in range(k * k):
        for q in range(blocks):
            cols[t * blocks + q] = ((t // k) * wp + t % k) * c + q * lanes
    return cols


@njit(error_model="numpy", **_opts)
def bias_gradient(dy, positions, f, db):
    """db[j] = the sum over positions of dy[p, j]: eight rows at a time into 8·f running sums,
    added pairwise at the end. A row by row loop adding into db waits on db at every row; as a
    product of a row of ones with dy (gather_gemm) it took twice as long as this."""
    group = 8 * f
    sums = np.zeros(group, dy.dtype)
    whole = positions // 8 * group
    for p in range(0, whole, group):
        block = dy[p : p + group]
        for q in range(group):
            sums[q] += block[q]
    for j in range(f):
        s = sums[j::f]
        db[j] = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
    rest = dy[whole : positions * f]
    for p in range(positions - positions // 8 * 8):
        row = rest[p * f : p * f + f]
        for j in range(f):
            db[j] += row[j]


@njit(**_opts)
def _weight_gradient_by_patches(src, dy, dW, corners, positions, k, wp, c, f, zeros, edge):
    """dW by gather_gemm: the rows of the product are the patch entries, its sum runs over
    positions, in chunks whose patches and gradients stay in the first-level cache while every
    block of patch entries passes over them; the chunks' products are added up."""
    kkc = k * k * c
    ld = padded_width(f, lanes_of(dy))
    taps = patch_taps(k, wp, c)
    packed = packed_rows(dy, positions, f, ld)
    part = np.empty(kkc * f, dy.dtype)
    chunk = positions if kkc <= DW_ONE_PASS else DW_CHUNK
    for p0 in range(0, positions, chunk):
        p1 = min(p0 + chunk, positions)
        target = dW if p0 == 0 else part
        gather_gemm(
            src, taps, kkc, corners[p0:], p1 - p0, packed[p0 * ld :], ld, f, zeros, target, f, edge
        )
        if p0 > 0:
            for q in range(kkc * f):
                dW[q] += part[q]


@njit(**_opts)
def _weight_gradient_by_channels(src, dy, dW, corners, positions, k, wp, c, f):
    """dW by wgrad_gemm, with the channels along the vector: dW with one filter per row, then
    transposed into dW. Positions in chunks of WG_CHUNK, each adding to the rows."""
    kkc = k * k * c
    lanes = lanes_of(dy)
    filters = np.empty(f + WG_MR, np.int64)
    for j in range(f):
        filters[j] = j
    gradients = np.empty(positions, np.int64)  # where each position's row of dy starts
    for p in range(positions):
        gradients[p] = p * f
    offsets = np.empty(kkc // lanes + WG_NV, np.int64)
    offsets[: kkc // lanes] = _tap_blocks(k, wp, c, lanes)
    by_filter = np.empty(f * kkc, dy.dtype)
    edge = np.empty(WG_MR * WG_NV * lanes, dy.dtype)
    for p0 in range(0, positions, WG_CHUNK):
        count = min(WG_CHUNK, positions - p0)
        wgrad_gemm(
            dy,
            filters,
            f,
            gradients[p0:],
            corners[p0:],
            count,
            src,
            offsets,
            kkc // lanes,
            by_filter,
            kkc,
            1 if p0 > 0 else 0,
            edge,
        )
    for j in range(f):
        for q in range(kkc):
            dW[q * f + j] = by_filter[j * kkc + q]
