"""2-D convolution on images stored batch × height × width × channels (NHWC), PyTorch's Conv2d.

A convolution with f filters of k × k over c channels (W of shape (k, k, c, f), b of shape (f,))
computes at every output position the dot product of the patch under the kernel with each filter
(a cross-correlation, as PyTorch's). Padding puts `pad` rows and columns of zeros before the
first pixel (top, left); taps beyond the last pixel read zeros too, so "same" with an even kernel
pads one more at the bottom and right, as PyTorch's padding="same".

All three products run through gemm.gather_gemm on a zero-padded copy of the input `xp`, reading
patches in place (no patch matrix is built):

    y[p, :]       = b + sum over (di, dj, ci) of xp[p's corner + (di, dj, ci)] W[di, dj, ci, :]
    dW[t, ci, :]  = sum over positions p of xp[p's corner + t + ci] dy[p, :]
    dx            = the stride-1 correlation of dy, dilated by the stride and padded by
                    k − 1 − pad, with W flipped in both spatial axes and in/out swapped
                    (the transposed convolution), through the same product.

A stride-1 3 × 3 convolution with one vector of filters (8 in float32) and rows of whole blocks
of 8 outputs runs on rowconv.row_blocks instead, forward and for dx: each input value loaded
serves the 3 outputs of a row it lies under. For "same" padding its dx reads dy itself, not a
padded copy: the blocks at the image's border leave out the taps that would read the zeros.

With few filters (fewer than gather_gemm's wide block has columns) and the channels in whole
vectors, dW is wgrad_gemm's product instead, the channels along the vector: gather_gemm would
put the filters there and load one entry of the patch per multiply-add.

`xp` is kept from the forward pass for the weight gradient. Arrays are flat and contiguous.
"""

import numpy as np
from numba import njit

from .arrays import fill
from .gemm import ROW_ROOM, WIDE_NRV, gather_gemm, lanes_of, padded_width
from .rowconv import ROW_J, ROW_K, row_blocks, row_blocks_inside
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
def output_size(size, k, stride, same):
    """Output height (or width) of a k × k kernel sliding with `stride` over `size` pixels:
    ceil(size / stride) with "same" padding, floor((size − k) / stride) + 1 without."""
    if same:
        return (size + stride - 1) // stride
    return (size - k) // stride + 1


@njit(**_opts)
def same_pad(k):
    """Zeros before the first pixel for "same" padding (PyTorch puts the odd one after)."""
    return (k - 1) // 2


@njit(**_opts)
def padded_size(out, k, stride):
    """Rows (or columns) of the padded input the taps of `out` outputs reach."""
    return (out - 1) * stride + k


@njit(**_opts)
def reads_input_directly(h, w, oh, ow, k, stride, pad):
    """Without padding, and with every tap inside the image, the input itself serves as xp."""
    return pad == 0 and padded_size(oh, k, stride) <= h and padded_size(ow, k, stride) <= w


@njit(**_opts)
def padded_input_size(n, h, w, c, oh, ow, k, stride, pad):
    """Entries of the xp buffer conv_forward needs (0 when it reads the input directly)."""
    if reads_input_directly(h, w, oh, ow, k, stride, pad):
        return 0
    return n * padded_size(oh, k, stride) * padded_size(ow, k, stride) * c


@njit(**_opts)
def gradient_scratch_size(n, h, w, f, k):
    """Entries of the scratch conv_backward needs for the dilated, padded dy."""
    return n * (h + k - 1) * (w + k - 1) * f


@njit(**_opts)
def _pad_into(x, xp, n, h, w, c, hp, wp, top, left, step):
    """xp = zeros with x[b, i, j] at xp[b, top + i·step, left + j·step] (those that fit)."""
    j_end = w
    while j_end > 0 and left + (j_end - 1) * step >= wp:
        j_end -= 1  # columns past the padded width are never read
    if step == 1:
        _pad_rows_into(x, xp, n, h, w, c, hp, wp, top, left, j_end)
        return
    fill(xp[: n * hp * wp * c], 0.0)
    for b in range(n):
        for i in range(h):
            ii = top + i * step
            if ii < 0 or ii >= hp:
                continue
            src = x[(b * h + i) * w * c : (b * h + i + 1) * w * c]
            dst = xp[((b * hp + ii) * wp + left) * c : ((b * hp + ii + 1) * wp) * c]
            for j in range(j_end):
                to = dst[j * step * c : j * step * c + c]
                at = src[j * c : j * c + c]
                for q in range(c):
                    to[q] = at[q]


@njit(**_opts)
def _pad_rows_into(x, xp, n, h, w, c, hp, wp, top, left, j_end):
    """_pad_into without dilation, writing each entry of xp once, row after row: the zeros of
    the border only, not a whole buffer cleared first (that was a tenth of a step). Every loop
    indexes a slice from 0: an index Numba cannot prove non-negative gets a wraparound check
    per element, which kept these loops scalar (3.5 times slower)."""
    row = wp * c
    start = left * c
    count = j_end * c
    for b in range(n):
        for ii in range(hp):
            dst = xp[(b * hp + ii) * row : (b * hp + ii + 1) * row]
            i = ii - top
            if i < 0 or i >= h:
                for q in range(row):
                    dst[q] = 0.0
                continue
            head = dst[:start]
            for q in range(start):
                head[q] = 0.0
            body = dst[start : start + count]
            src = x[(b * h + i) * w * c : (b * h + i) * w * c + count]
            for q in range(count):
                body[q] = src[q]
            tail = dst[start + count :]
            for q in range(tail.size):
                tail[q] = 0.0


@njit(**_opts)
def _corners(n, oh, ow, hp, wp, c, stride):
    """Where each output position's patch starts in a (n, hp, wp, c) buffer, with room for
    gather_gemm's whole blocks. A row of outputs at a time, indexed from 0 (see
    _pad_rows_into): the loop vectorises."""
    rows = np.empty(n * oh * ow + ROW_ROOM, np.int64)
    for b in range(n):
        for i in range(oh):
            line = rows[(b * oh + i) * ow : (b * oh + i + 1) * ow]
            start = (b * hp + i * stride) * wp * c
            for j in range(ow):
                line[j] = start + j * stride * c
    return rows


@njit(**_opts)
def _taps(k, wp, c):
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
def _packed(m, rows, cols, ld):
    """m (rows × cols, flat) with its rows padded to ld entries; m itself if cols == ld."""
    if cols == ld:
        return m[: rows * cols]
    out = np.zeros(rows * ld, m.dtype)
    for r in range(rows):
        for j in range(cols):
            out[r * ld + j] = m[r * cols + j]
    return out


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


@njit(**_opts)
def _by_rows(k, stride, width, filters, lanes):
    """Whether row_blocks computes a convolution: stride 1, its kernel width, whole blocks of
    outputs along a row and one vector of filters."""
    return stride == 1 and k == ROW_K and width % ROW_J == 0 and filters == lanes


@njit(**_opts)
def _conv_by_rows(src, hp, wp, c, W, init, out, n, oh, ow, k):
    """out (n·oh·ow·f) = init + the stride-1 correlation of src (n·hp·wp·c) with W (k·k·c·f),
    f one vector, ROW_J outputs of a row per block (row_blocks)."""
    f = init.size
    per_row = ow // ROW_J
    blocks = n * oh * per_row
    corners = np.empty(blocks, np.int64)
    outs = np.empty(blocks, np.int64)
    r = 0
    for b in range(n):
        for i in range(oh):
            for q in range(per_row):
                corners[r] = ((b * hp + i) * wp + q * ROW_J) * c
                outs[r] = ((b * oh + i) * ow + q * ROW_J) * f
                r += 1
    xoff = np.empty(k * c, np.int64)  # (kernel row, channel) pairs
    woff = np.empty(k * c, np.int64)
    for di in range(k):
        for ci in range(c):
            xoff[di * c + ci] = di * wp * c + ci
            woff[di * c + ci] = (di * k * c + ci) * f
    row_blocks(src, corners, outs, 0, blocks, xoff, woff, k * c, W, c * f, c, init, out)


@njit(**_opts)
def _dx_by_rows(dy, flipped, dx, n, h, w, c, f, k):
    """dx (n·h·w·c) = the "same" stride-1 correlation of dy (n·h·w·f, unpadded) with the
    flipped weights (k·k·f·c), c one vector, by row_blocks_inside. The blocks are sorted into
    groups by what of the padding they leave out: the kernel row above the image (first row),
    the one below (last row), the column left of it (a row's first block), right (its last)."""
    per_row = w // ROW_J
    blocks = n * h * per_row
    group = np.empty(blocks, np.int64)
    starts = np.zeros(17, np.int64)
    r = 0
    for _b in range(n):
        for i in range(h):
            for q in range(per_row):
                g = (i == 0) * 8 + (i == h - 1) * 4 + (q == 0) * 2 + (q == per_row - 1)
                group[r] = g
                starts[g + 1] += 1
                r += 1
    for g in range(16):
        starts[g + 1] += starts[g]
    corners = np.empty(blocks, np.int64)  # where the block would start in a padded copy
    outs = np.empty(blocks, np.int64)
    at = starts[:16].copy()
    r = 0
    for b in range(n):
        for i in range(h):
            for q in range(per_row):
                g = group[r]
                corners[at[g]] = ((b * h + i - 1) * w + q * ROW_J - 1) * f
                outs[at[g]] = ((b * h + i) * w + q * ROW_J) * c
                at[g] += 1
                r += 1
    xoff = np.empty(k * f, np.int64)  # (kernel row, channel of dy) pairs
    woff = np.empty(k * f, np.int64)
    for di in range(k):
        for fo in range(f):
            xoff[di * f + fo] = di * w * f + fo
            woff[di * f + fo] = (di * k * f + fo) * c
    init = np.zeros(c, dy.dtype)
    for g in range(16):
        count = starts[g + 1] - starts[g]
        if count == 0:
            continue
        d0 = 1 if g & 8 else 0
        d1 = k - 1 if g & 4 else k
        row_blocks_inside(
            (g >> 1) & 1,
            g & 1,
            dy,
            corners,
            outs,
            starts[g],
            count,
            xoff[d0 * f :],
            woff[d0 * f :],
            (d1 - d0) * f,
            flipped,
            f * c,
            f,
            init,
            dx,
        )


@njit(**_opts)
def conv_forward(x, W, b, has_bias, y, xp, n, h, w, c, oh, ow, f, k, stride, pad):
    """y (n·oh·ow·f) = conv(x (n·h·w·c), W (k·k·c·f)) + b. `xp`: padded_input_size entries,
    kept for conv_backward (ignored, possibly empty, when the input is read directly)."""
    hp = padded_size(oh, k, stride)
    wp = padded_size(ow, k, stride)
    if reads_input_directly(h, w, oh, ow, k, stride, pad):
        src = x
        hp, wp = h, w
    else:
        _pad_into(x, xp, n, h, w, c, hp, wp, pad, pad, 1)
        src = xp
    kkc = k * k * c
    ld = padded_width(f, lanes_of(y))
    init = np.zeros(ld, y.dtype)
    if has_bias:
        for j in range(f):
            init[j] = b[j]
    if _by_rows(k, stride, ow, f, lanes_of(y)):
        _conv_by_rows(src, hp, wp, c, W, init, y, n, oh, ow, k)
        return
    edge = np.empty(ROW_ROOM * ld, y.dtype)
    rows = _corners(n, oh, ow, hp, wp, c, stride)
    cols = _taps(k, wp, c)
    gather_gemm(src, rows, n * oh * ow, cols, kkc, _packed(W, kkc, f, ld), ld, f, init, y, f, edge)


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
def _weight_gradient(src, dy, dW, corners, positions, k, wp, c, f, zeros, edge):
    """dW by gather_gemm: the rows of the product are the patch entries, its sum runs over
    positions, in chunks whose patches and gradients stay in the first-level cache while every
    block of patch entries passes over them; the chunks' products are added up."""
    kkc = k * k * c
    ld = padded_width(f, lanes_of(dy))
    taps = _taps(k, wp, c)
    packed = _packed(dy, positions, f, ld)
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


@njit(**_opts)
def conv_backward(
    x, W, dy, dW, db, has_bias, dx, need_dx, xp, scratch, n, h, w, c, oh, ow, f, k, stride, pad
):
    """dW, db (if has_bias) and, if need_dx, dx for the gradient dy at the output, with the xp
    conv_forward left. `scratch`: gradient_scratch_size entries (used only for dx)."""
    direct = reads_input_directly(h, w, oh, ow, k, stride, pad)
    hp, wp = (h, w) if direct else (padded_size(oh, k, stride), padded_size(ow, k, stride))
    src = x if direct else xp
    positions = n * oh * ow
    ld = padded_width(f, lanes_of(dy))
    zeros = np.zeros(max(ld, padded_width(c, lanes_of(dy))), dy.dtype)
    edge = np.empty(ROW_ROOM * max(ld, padded_width(c, lanes_of(dy))), dy.dtype)
    corners = _corners(n, oh, ow, hp, wp, c, stride)
    if _by_channels(c, f, lanes_of(dy)):
        _weight_gradient_by_channels(src, dy, dW, corners, positions, k, wp, c, f)
    else:
        _weight_gradient(src, dy, dW, corners, positions, k, wp, c, f, zeros, edge)
    if has_bias:
        bias_gradient(dy, positions, f, db)
    if not need_dx:
        return
    he = h + k - 1
    we = w + k - 1
    if _by_rows(k, stride, w, c, lanes_of(dy)):
        flipped = np.empty(k * k * f * c, dy.dtype)  # W[k−1−di, k−1−dj, ci, fo] at (di, dj, fo, ci)
        for t in range(k * k):
            for fo in range(f):
                for ci in range(c):
                    flipped[(t * f + fo) * c + ci] = W[((k * k - 1 - t) * c + ci) * f + fo]
        if pad == 1 and oh == h and ow == w:  # "same": dy needs no padded copy
            _dx_by_rows(dy, flipped, dx, n, h, w, c, f, k)
            return
        dyp = scratch[: n * he * we * f]
        _pad_into(dy, dyp, n, oh, ow, f, he, we, k - 1 - pad, k - 1 - pad, stride)
        _conv_by_rows(dyp, he, we, f, flipped, np.zeros(c, dy.dtype), dx, n, h, w, k)
        return
    dyp = scratch[: n * he * we * f]
    _pad_into(dy, dyp, n, oh, ow, f, he, we, k - 1 - pad, k - 1 - pad, stride)
    ldc = padded_width(c, lanes_of(dy))
    flipped = np.zeros(k * k * f * ldc, dy.dtype)  # W[k−1−di, k−1−dj, ci, fo] at (di, dj, fo, ci)
    for di in range(k):
        for dj in range(k):
            for ci in range(c):
                for fo in range(f):
                    flipped[((di * k + dj) * f + fo) * ldc + ci] = W[
                        (((k - 1 - di) * k + (k - 1 - dj)) * c + ci) * f + fo
                    ]
    rows = _corners(n, h, w, he, we, f, 1)
    cols = _taps(k, we, f)
    gather_gemm(dyp, rows, n * h * w, cols, k * k * f, flipped, ldc, c, zeros, dx, c, edge)
