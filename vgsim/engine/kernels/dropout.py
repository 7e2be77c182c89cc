"""Inverted dropout: in training each value is kept with probability 1 − rate and scaled by
1 / (1 − rate), so its expected value is unchanged; in evaluation dropout is the identity.

The mask comes from a counter-based generator: entry i of a node at step t is kept when
fmix32(key + i · golden) ≥ rate · 2^32 (MurmurHash3's finaliser over a Weyl sequence), with
the 32-bit key the same finaliser's hash of (seed, t, node). The same seed, step and node always
give the same mask however the step is run (a block of steps, one step, micro-steps, a gradient
check), and there is no generator state to save or restore.
"""

import numpy as np
from numba import njit

_opts = {"cache": True, "nogil": True}
_GOLDEN32 = np.uint64(0x9E3779B9)
_LOW32 = np.uint64(0xFFFFFFFF)


@njit(inline="always", **_opts)
def _mix32(z):
    """MurmurHash3's 32-bit finaliser, in 64-bit lanes masked to 32 bits (so it vectorises)."""
    z = z ^ (z >> np.uint64(16))
    z = (z * np.uint64(0x85EBCA6B)) & _LOW32
    z = z ^ (z >> np.uint64(13))
    z = (z * np.uint64(0xC2B2AE35)) & _LOW32
    return z ^ (z >> np.uint64(16))


@njit(**_opts)
def dropout_key(seed, t, node):
    """The 32-bit key of one node's mask at step t (as a uint64): the finaliser applied after
    adding in each 32-bit part of seed, t and node. Every product stays below 2^64, so the
    same arithmetic runs without the JIT (where NumPy would warn of overflow)."""
    k = _GOLDEN32
    for part in (np.uint64(seed), np.uint64(t), np.uint64(node)):
        k = _mix32((k + (part & _LOW32)) & _LOW32)
        k = _mix32((k + (part >> np.uint64(32))) & _LOW32)
    return k


@njit(**_opts)
def dropout_forward(x, y, mask, rate, key):
    """y = x · mask, mask 1 / (1 − rate) where kept and 0 where dropped."""
    k = np.uint64(key) & _LOW32  # a key from Python arrives as int64
    scale = 1.0 / (1.0 - rate)
    threshold = np.uint64(rate * 4294967296.0)
    for i in range(x.size):
        z = _mix32((k + np.uint64(i) * _GOLDEN32) & _LOW32)
        mask[i] = scale if z >= threshold else 0.0
        y[i] = x[i] * mask[i]


@njit(**_opts)
def dropout_backward(dy, mask, dx):
    """dx = dy · mask."""
    for i in range(dy.size):
        dx[i] = dy[i] * mask[i]
