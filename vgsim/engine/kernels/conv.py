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

A stride-1 3 × 3 "same" convolution of even size with channels and filters in whole vectors
(multiples of 8 in float32, of 4 in float64) runs by Winograd's F(2 × 2, 3 × 3) instead
(winograd.py), forward and for dx, where row_blocks does not: 16 multiply-adds per 2 × 2
outputs and pair of channels, not 36.

The weight and bias gradients are convgrad.py's (with few filters, dW is wgrad_gemm's product).

`xp` is kept from the forward pass for the weight gradient. Arrays are flat and contiguous.
"""

import numpy as np
from numba import njit

from .arrays import fill
from .convgrad import bias_gradient, weight_gradient
from .gemm import ROW_ROOM, gather_gemm, lanes_of, padded_width
from .patches import packed_rows, patch_corners, patch_taps
from .rowconv import ROW_J, ROW_K, row_blocks, row_blocks_inside
from .winograd import winograd_applies, winograd_conv, work_size

_opts = {"cache": True, "nogil": True}


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
def scratch_size(n, h, w, c, f, k):
    """Entries of the scratch conv_forward and conv_backward need: the dilated, padded dy, then
    winograd_conv's work space (conv_forward's from the start)."""
    return n * (h + k - 1) * (w + k - 1) * f + work_size(c, f)


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
def conv_forward(x, W, b, has_bias, y, xp, scratch, n, h, w, c, oh, ow, f, k, stride, pad):
    """y (n·oh·ow·f) = conv(x (n·h·w·c), W (k·k·c·f)) + b. `xp`: padded_input_size entries,
    kept for conv_backward (ignored, possibly empty, when the input is read directly);
    `scratch`: scratch_size entries, free again when it returns."""
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
    if winograd_applies(k, stride, pad, h, w, oh, ow, c, f, lanes_of(y)):
        winograd_conv(src, hp, wp, W, c, f, False, init, y, n, oh, ow, scratch)
        return
    edge = np.empty(ROW_ROOM * ld, y.dtype)
    rows = patch_corners(n, oh, ow, hp, wp, c, stride)
    cols = patch_taps(k, wp, c)
    gather_gemm(
        src, rows, n * oh * ow, cols, kkc, packed_rows(W, kkc, f, ld), ld, f, init, y, f, edge
    )


@njit(**_opts)
def conv_backward(
    x, W, dy, dW, db, has_bias, dx, need_dx, xp, scratch, n, h, w, c, oh, ow, f, k, stride, pad
):
    """dW, db (if has_bias) and, if need_dx, dx for the gradient dy at the output, with the xp
    conv_forward left. `scratch`: scratch_size entries (used only for dx)."""
    direct = reads_input_directly(h, w, oh, ow, k, stride, pad)
    hp, wp = (h, w) if direct else (padded_size(oh, k, stride), padded_size(ow, k, stride))
    src = x if direct else xp
    positions = n * oh * ow
    ld = padded_width(f, lanes_of(dy))
    zeros = np.zeros(max(ld, padded_width(c, lanes_of(dy))), dy.dtype)
    edge = np.empty(ROW_ROOM * max(ld, padded_width(c, lanes_of(dy))), dy.dtype)
    corners = patch_corners(n, oh, ow, hp, wp, c, stride)
    weight_gradient(src, dy, dW, corners, positions, k, wp, c, f, zeros, edge)
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
    if winograd_applies(k, stride, pad, h, w, oh, ow, f, c, lanes_of(dy)):
        winograd_conv(dyp, he, we, W, c, f, True, zeros, dx, n, h, w, scratch[dyp.size :])
        return
    ldc = padded_width(c, lanes_of(dy))
    flipped = np.zeros(k * k * f * ldc, dy.dtype)  # W[k−1−di, k−1−dj, ci, fo] at (di, dj, fo, ci)
    for di in range(k):
        for dj in range(k):
            for ci in range(c):
                for fo in range(f):
                    flipped[((di * k + dj) * f + fo) * ldc + ci] = W[
                        (((k - 1 - di) * k + (k - 1 - dj)) * c + ci) * f + fo
                    ]
    rows = patch_corners(n, h, w, he, we, f, 1)
    cols = patch_taps(k, we, f)
    gather_gemm(dyp, rows, n * h * w, cols, k * k * f, flipped, ldc, c, zeros, dx, c, edge)
