"""Element-wise helpers as plain loops: Numba compiles these far faster than slice assignments
and array expressions, which each generate a kernel of their own."""

from numba import njit

_opts = {"cache": True, "nogil": True}


@njit(**_opts)
def copy_into(dst, src):
    for i in range(dst.size):
        dst[i] = src[i]


@njit(**_opts)
def add_into(dst, src):
    for i in range(dst.size):
        dst[i] += src[i]


@njit(**_opts)
def add_scaled(dst, a, src):
    """dst += a * src."""
    for i in range(dst.size):
        dst[i] += a * src[i]


@njit(**_opts)
def fill(dst, value):
    for i in range(dst.size):
        dst[i] = value
