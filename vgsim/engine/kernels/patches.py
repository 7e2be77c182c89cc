"""Where a convolution's patches lie in an NHWC image (padded or not), as gemm.gather_gemm
reads them: each output position's corner, each patch entry's offset from its corner, and a
matrix with its rows padded to whole vectors."""

import numpy as np
from numba import njit

from .gemm import ROW_ROOM

_opts = {"cache": True, "nogil": True}


@njit(**_opts)
def patch_corners(n, oh, ow, hp, wp, c, stride):
    """Where each output position's patch starts in a (n, hp, wp, c) buffer, with room for
    gather_gemm's whole blocks. A row of outputs at a time, indexed from 0 (see
    conv._pad_rows_into): the loop vectorises."""
    rows = np.empty(n * oh * ow + ROW_ROOM, np.int64)
    for b in range(n):
        for i in range(oh):
            line = rows[(b * oh + i) * ow : (b * oh + i + 1) * ow]
            start = (b * hp + i * stride) * wp * c
            for j in range(ow):
                line[j] = start + j * stride * c
    return rows


@njit(**_opts)
def patch_taps(k, wp, c):
    """Each patch entry (di, dj, ci)'s offset from the patch's corner, with room for
    gather_gemm's whole blocks when used as its rows."""
    cols = np.zeros(k * k * c + ROW_ROOM, np.int64)
    q = 0
    for di in range(k):
        for dj in range(k):
            for ci in range(c):
                cols[q] = (di * wp + dj) * c + ci
                q += 1
    return cols


@njit(**_opts)
def packed_rows(m, rows, cols, ld):
    """m (rows × cols, flat) with its rows padded to ld entries; m itself if cols == ld."""
    if cols == ld:
        return m[: rows * cols]
    out = np.zeros(rows * ld, m.dtype)
    for r in range(rows):
        for j in range(cols):
            out[r * ld + j] = m[r * cols + j]
    return out
