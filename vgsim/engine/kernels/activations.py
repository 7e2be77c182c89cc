"""Activation functions: each f and its derivative side by side, on flat contiguous arrays.

`z` is the input, `y = f(z)` the output, `dy` the gradient arriving at the output and `dz` the
gradient passed back. Loops are written per function (the dispatch sits outside the loop) so the
simple ones vectorise; derivatives reuse `y` where that is exact and cheap.
"""

import math

import numpy as np
from numba import njit

from .arrays import copy_into

IDENTITY, SIGMOID, TANH, RELU, LEAKY_RELU, PRELU, ELU, SELU, SOFTPLUS, SWISH = range(10)
CODES = {
    "identity": IDENTITY,
    "sigmoid": SIGMOID,
    "tanh": TANH,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "prelu": PRELU,
    "elu": ELU,
    "selu": SELU,
    "softplus": SOFTPLUS,
    "swish": SWISH,
}
# Klambauer et al. (2017), the fixed point at mean 0, variance 1.
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
# Division by zero gives inf/NaN as in NumPy instead of a check per element that raises:
# that check kept every loop with a division (tanh's p / q) from vectorising (22 -> 4 us a
# 4,096-element tanh). Where a zero can occur, the result is non-finite and caught as such.
_opts = {"cache": True, "nogil": True, "error_model": "numpy"}


@njit(**_opts)
def _sigmoid(v):
    # Stable for large |v|: never exponentiates a positive number.
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


# --- sigmoid: f = 1/(1+e^-z); f' = y(1-y), at most 0.25 -------------------------------------
@njit(**_opts)
def sigmoid_f(z, y):
    for i in range(z.size):
        y[i] = _sigmoid(z[i])


@njit(**_opts)
def sigmoid_df(z, y, dy, dz):
    for i in range(z.size):
        dz[i] = dy[i] * y[i] * (1 - y[i])


# --- tanh: f' = 1 - y^2, at most 1 ------------------------------------------------------------
# Rational approximation for float32 (error below 4e-7): unlike a libm call per element it
# vectorises. Coefficients as in Eigen's fast tanh; beyond |z| = 7.9 tanh rounds to +-1.
_TANH_P = (
    -2.76076847742355e-16,
    2.00018790482477e-13,
    -8.60467152213735e-11,
    5.12229709037114e-08,
    1.48572235717979e-05,
    6.37261928875436e-04,
    4.89352455891786e-03,
)
_TANH_Q = (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03)


@njit(**_opts, fastmath={"reassoc", "nsz", "contract"})
def _tanh_float32(z, y):
    p0, p1, p2, p3, p4, p5, p6 = [np.float32(c) for c in _TANH_P]
    q0, q1, q2, q3 = [np.float32(c) for c in _TANH_Q]
    top = np.float32(7.90531110763549805)
    one = np.float32(1.0)
    for i in range(z.size):
        x = z[i]
        x = x if x < top else top
        x = x if x > -top else -top
        x2 = x * x
        p = ((((((p0 * x2 + p1) * x2 + p2) * x2 + p3) * x2 + p4) * x2 + p5) * x2 + p6) * x
        q = ((q0 * x2 + q1) * x2 + q2) * x2 + q3
        r = p / q
        r = r if r < one else one
        y[i] = r if r > -one else -one
    for i in range(z.size):
        if z[i] != z[i]:
            y[i] = z[i]  # NaN stays NaN: divergence must stay visible


@njit(**_opts)
def tanh_f(z, y):
    if z.itemsize == 4:
        _tanh_float32(z, y)
    else:
        for i in range(z.size):
            y[i] = math.tanh(z[i])


@njit(**_opts)
def tanh_df(z, y, dy, dz):
    for i in range(z.size):
        dz[i] = dy[i] * (1 - y[i] * y[i])


# --- relu family: f = z for z > 0, slope * z below (slope 0 for relu) ------------------------
@njit(**_opts)
def leaky_f(z, y, slope):
    for i in range(z.size):
        y[i] = z[i] if z[i] > 0 else slope * z[i]


@njit(**_opts)
def leaky_df(z, y, dy, dz, slope):
    for i in range(z.size):
        dz[i] = dy[i] if z[i] > 0 else slope * dy[i]


@njit(**_opts)
def relu_f(z, y):
    """leaky_f with slope 0. 0 * z is +-0 (or NaN) in either precision, so float32 arrays stay
    in float32, twice the lanes of the float64 arithmetic leaky_f does, with the same bits."""
    if z.itemsize == 4:
        zero = np.float32(0.0)
        for i in range(z.size):
            v = z[i]
            y[i] = v if v > zero else zero * v
    else:
        leaky_f(z, y, 0.0)


@njit(**_opts)
def relu_f_dead(z, y, alive):
    """relu_f on (n, m) arrays row by row, also returning how many columns (units) have no
    z > 0 in any row (NaN counts as not > 0): the dead-unit count in the same pass. `alive`:
    uint64 scratch of at least m / 8 entries, used as a byte per column (64-bit flags took
    four vectors for each of z's, and float32 ReLU ran 1.5x slower for them)."""
    n, m = z.shape
    flags = alive.view(np.uint8)[:m]
    for j in range(m):
        flags[j] = 0
    zero = z.dtype.type(0.0)  # float32 stays float32: relu_f's bits
    for i in range(n):
        zr = z[i]
        yr = y[i]
        for j in range(m):
            v = zr[j]
            pos = v > zero
            yr[j] = v if pos else zero * v
            flags[j] |= pos
    dead = 0
    for j in range(m):
        dead += flags[j] == 0
    return dead


@njit(**_opts)
def relu_df(z, y, dy, dz):
    """leaky_df with slope 0, in the arrays' own precision (see relu_f)."""
    if z.itemsize == 4:
        zero = np.float32(0.0)
        for i in range(z.size):
            g = dy[i]
            dz[i] = g if z[i] > zero else zero * g
    else:
        leaky_df(z, y, dy, dz, 0.0)


@njit(**_opts)
def prelu_dalpha(z, dy):
    """d loss / d alpha = sum of dy * z where z <= 0 (one learnable slope, as PyTorch's default)."""
    s = 0.0
    for i in range(z.size):
        if z[i] <= 0:
            s += dy[i] * z[i]
    return s


# --- elu / selu: f = scale * (z if z > 0 else alpha (e^z - 1)); f' = scale*alpha*e^z below ----
@njit(**_opts)
def elu_f(z, y, alpha, scale):
    for i in range(z.size):
        y[i] = scale * z[i] if z[i] > 0 else scale * alpha * math.expm1(z[i])


@njit(**_opts)
def elu_df(z, y, dy, dz, alpha, scale):
    for i in range(z.size):
        # Below zero y = scale*alpha*(e^z - 1), so f' = y + scale*alpha.
        dz[i] = scale * dy[i] if z[i] > 0 else dy[i] * (y[i] + scale * alpha)


# --- softplus: f = log(1 + e^z); f' = sigmoid(z) ----------------------------------------------
@njit(**_opts)
def softplus_f(z, y):
    for i in range(z.size):
        v = z[i]
        y[i] = max(v, 0.0) + math.log1p(math.exp(-abs(v)))


@njit(**_opts)
def softplus_df(z, y, dy, dz):
    for i in range(z.size):
        dz[i] = dy[i] * _sigmoid(z[i])


# --- swish (SiLU): f = z sigmoid(z); f' = s + z s (1 - s) -------------------------------------
@njit(**_opts)
def swish_f(z, y):
    for i in range(z.size):
        y[i] = z[i] * _sigmoid(z[i])


@njit(**_opts)
def swish_df(z, y, dy, dz):
    for i in range(z.size):
        s = _sigmoid(z[i])
        dz[i] = dy[i] * (s + z[i] * s * (1 - s))


# --- dispatch ---------------------------------------------------------------------------------
@njit(**_opts)
def act_forward(code, z, y, a):
    """y = f(z). `a` is the function's parameter (leaky slope, prelu alpha, elu alpha)."""
    if code == SIGMOID:
        sigmoid_f(z, y)
    elif code == TANH:
        tanh_f(z, y)
    elif code == RELU:
        relu_f(z, y)
    elif code == LEAKY_RELU or code == PRELU:
        leaky_f(z, y, a)
    elif code == ELU:
        elu_f(z, y, a, 1.0)
    elif code == SELU:
        elu_f(z, y, SELU_ALPHA, SELU_SCALE)
    elif code == SOFTPLUS:
        softplus_f(z, y)
    elif code == SWISH:
        swish_f(z, y)
    else:
        copy_into(y, z)


@njit(**_opts)
def act_backward(code, z, y, dy, dz, a):
    """dz = dy * f'(z). Returns d loss / d a for PReLU (0 for every other function)."""
    if code == SIGMOID:
        sigmoid_df(z, y, dy, dz)
    elif code == TANH:
        tanh_df(z, y, dy, dz)
    elif code == RELU:
        relu_df(z, y, dy, dz)
    elif code == LEAKY_RELU:
        leaky_df(z, y, dy, dz, a)
    elif code == PRELU:
        leaky_df(z, y, dy, dz, a)
        return prelu_dalpha(z, dy)
    elif code == ELU:
        elu_df(z, y, dy, dz, a, 1.0)
    elif code == SELU:
        elu_df(z, y, dy, dz, SELU_ALPHA, SELU_SCALE)
    elif code == SOFTPLUS:
        softplus_df(z, y, dy, dz)
    elif code == SWISH:
        swish_df(z, y, dy, dz)
    else:
        copy_into(dz, dy)
    return 0.0


@njit(**_opts)
def saturated_count(code, y):
    """Entries where |f'| is below a tenth of its maximum (sigmoid: y < 0.026 or > 0.974;
    tanh: |y| > 0.949). Other functions do not saturate at both ends: -1."""
    n = 0
    if code == SIGMOID:
        for i in range(y.size):
            n += y[i] * (1 - y[i]) < 0.025
    elif code == TANH:
        for i in range(y.size):
            n += 1 - y[i] * y[i] < 0.1
    else:
        return -1
    return n
