"""Pooling on NHWC images, forward and backward side by side (PyTorch's MaxPool2d, AvgPool2d and
AdaptiveAvgPool2d(1) with padding 0 and floor rounding).

A size × size window moves by `stride`; the output is floor((h − size) / stride) + 1 high. Loops
run with the channel innermost, along memory, so they vectorise over channels.
"""

from numba import njit

from .arrays import fill

_opts = {"cache": True, "nogil": True}


@njit(**_opts)
def pool_output_size(size_in, size, stride):
    return (size_in - size) // stride + 1


@njit(**_opts)
def maxpool_forward(x, y, where, n, h, w, c, oh, ow, size, stride):
    """y = the largest value in each window, per channel; `where` (like y) records which entry
    of the window it came from (di · size + dj, as a number of y's dtype). The first of equal
    values wins, and a NaN wins, as in PyTorch."""
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                o = ((b * oh + i) * ow + j) * c
                yr = y[o : o + c]
                wr = where[o : o + c]
                for di in range(size):
                    for dj in range(size):
                        s = ((b * h + i * stride + di) * w + j * stride + dj) * c
                        xr = x[s : s + c]
                        tap = di * size + dj
                        if tap == 0:
                            for ch in range(c):
                                yr[ch] = xr[ch]
                                wr[ch] = 0
                        else:
                            for ch in range(c):
                                v = xr[ch]
                                take = v > yr[ch] or v != v
                                yr[ch] = v if take else yr[ch]
                                wr[ch] = tap if take else wr[ch]


@njit(**_opts)
def maxpool_backward(dy, where, dx, n, h, w, c, oh, ow, size, stride):
    """dx = 0, then each output's gradient added to the entry its maximum came from."""
    fill(dx, 0.0)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                o = ((b * oh + i) * ow + j) * c
                for ch in range(c):
                    tap = int(where[o + ch])
                    di = tap // size
                    dj = tap - di * size
                    s = ((b * h + i * stride + di) * w + j * stride + dj) * c + ch
                    dx[s] += dy[o + ch]


@njit(**_opts)
def avgpool_forward(x, y, n, h, w, c, oh, ow, size, stride):
    """y = the mean of each window, per channel."""
    scale = 1.0 / (size * size)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                o = ((b * oh + i) * ow + j) * c
                yr = y[o : o + c]
                fill(yr, 0.0)
                for di in range(size):
                    for dj in range(size):
                        s = ((b * h + i * stride + di) * w + j * stride + dj) * c
                        xr = x[s : s + c]
                        for ch in range(c):
                            yr[ch] += xr[ch]
                for ch in range(c):
                    yr[ch] *= scale


@njit(**_opts)
def avgpool_backward(dy, dx, n, h, w, c, oh, ow, size, stride):
    """dx = 0, then each output's gradient spread evenly over its window."""
    fill(dx, 0.0)
    scale = 1.0 / (size * size)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                o = ((b * oh + i) * ow + j) * c
                g = dy[o : o + c]
                for di in range(size):
                    for dj in range(size):
                        s = ((b * h + i * stride + di) * w + j * stride + dj) * c
                        dr = dx[s : s + c]
                        for ch in range(c):
                            dr[ch] += g[ch] * scale


@njit(**_opts)
def global_avgpool_forward(x, y, n, hw, c):
    """y[b, ch] = the mean over all hw positions of channel ch."""
    scale = 1.0 / hw
    for b in range(n):
        yr = y[b * c : (b + 1) * c]
        fill(yr, 0.0)
        for p in range(hw):
            xr = x[(b * hw + p) * c : (b * hw + p + 1) * c]
            for ch in range(c):
                yr[ch] += xr[ch]
        for ch in range(c):
            yr[ch] *= scale


@njit(**_opts)
def global_avgpool_backward(dy, dx, n, hw, c):
    """Each position of channel ch receives dy[b, ch] / hw."""
    scale = 1.0 / hw
    for b in range(n):
        g = dy[b * c : (b + 1) * c]
        for p in range(hw):
            dr = dx[(b * hw + p) * c : (b * hw + p + 1) * c]
            for ch in range(c):
                dr[ch] = g[ch] * scale
