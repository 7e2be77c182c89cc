"""What theory predicts for the gradient flow at initialisation (mean-field, as in Glorot & Bengio
2010 and He et al. 2015), for a plain chain of dense layers and activations; and, for such a
chain of random layers of any depth, the order-to-chaos transition of Poole et al. 2016 and
Schoenholz et al. 2017 (`mean_field`, `critical_sigma_w2`, at the end).

Forward, with a_i the activations feeding a dense layer of weights W (n_in × n_out) and bias b,
each pre-activation z_j = sum_i a_i W_ij + b_j has second moment

    q = E[a^2] * ||W||^2 / n_out + ||b||^2 / n_out,

and an activation f of z ~ N(0, q) passes on E[f(z)^2] and lets through E[f'(z)^2] of the
gradient's square. Backward, the squared norm of the gradient reaching a block is that of its
successor times

    ||W||^2 / n_out        through a dense layer (dX = dY W^T; n_in * Var(W) for random W)
    E[f'(z)^2]             through an activation.

The Gaussian expectations are computed with Gauss-Hermite quadrature on the engine's own
activation kernels. Branches, sums and batch norm have no such simple prediction: None.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from . import schema
from .kernels import activations
from .kernels.plan import F_A
from .train import Trainer


def brentq(*args, **kwargs) -> float:
    """scipy's root finder, imported when first needed: importing scipy.optimize takes a
    quarter of a second that every `vgsim run` would pay for plots that never ask."""
    from scipy.optimize import brentq as find_root

    return find_root(*args, **kwargs)


QUADRATURE_POINTS = 121


def _moments(code: int, a: float, q: float, dtype: np.dtype) -> tuple[float, float]:
    """(E[f(z)^2], E[f'(z)^2]) for z ~ N(0, q). f and f' in the network's precision: the
    kernels its training uses, already compiled (a mean-field estimate needs no more)."""
    if not math.isfinite(q):  # weights that diverged: nothing to predict
        return math.nan, math.nan
    x, w = _nodes(QUADRATURE_POINTS)  # cached: a 100-layer network asks 100 times
    spread = math.sqrt(max(q, 0.0))
    if spread * float(x.max()) >= float(np.finfo(dtype).max):
        dtype = np.dtype(np.float64)  # an exploding network: beyond float32 (compiled then)
    z = np.ascontiguousarray(spread * x, dtype=dtype)
    y, dz = np.empty_like(z), np.empty_like(z)
    activations.act_forward(code, z, y, a)
    activations.act_backward(code, z, y, np.ones_like(z), dz, a)
    y, dz = y.astype(np.float64), dz.astype(np.float64)
    return float(w @ (y * y)), float(w @ (dz * dz))


def predicted_gradient_flow(trainer: Trainer) -> np.ndarray | None:
    """Per block (in the trainer's order): the predicted norm of the gradient reaching it,
    relative to the block that feeds the output (1 there); NaN for the input and the output.
    None if the network is not a plain chain of dense layers and activations."""
    plan = trainer.plan
    n = len(plan.order)
    if any(c != 1 for c in plan.pred_counts[1:]) or any(
        t not in ("input", "dense", "activation", "output") for t in plan.types
    ):
        return None
    preds = list(plan.preds)  # one predecessor each, in order, after the input
    prev = {i: preds[i - 1] for i in range(1, n)}
    slots = {(s.node_id, s.name): s for s in plan.params}

    def weights(i: int, name: str) -> np.ndarray | None:
        slot = slots.get((plan.order[i], name))
        if slot is None:
            return None
        return trainer.params[slot.offset : slot.offset + slot.size].astype(np.float64)

    x = np.asarray(trainer.data.X_train, dtype=np.float64)  # no copy of a large data set
    second = {0: float(np.vdot(x, x)) / max(x.size, 1)}  # E[a^2] of each block's output
    back: dict[int, float] = {}  # how a block scales the gradient's squared norm on its way
    for i in range(1, n):
        p, kind = prev[i], plan.types[i]
        if kind == "dense":
            w = weights(i, "W")
            b = weights(i, "b")
            n_out = plan.width_out[i]
            gain = float(w @ w) / n_out
            second[i] = second[p] * gain + (float(b @ b) / n_out if b is not None else 0.0)
            back[i] = gain
        elif kind == "activation":
            code = activations.CODES[plan.functions[i]]
            a = float(plan.fpar[i, F_A])
            alpha = weights(i, "alpha")
            if alpha is not None:
                a = float(alpha[0])
            second[i], back[i] = _moments(code, a, second[p], trainer.dtype)
        else:
            second[i] = second[p]
    out = plan.out_idx
    anchor = prev[out]
    squared = np.full(n, np.nan)
    squared[anchor] = 1.0
    node = anchor
    while prev.get(node, 0) != 0:  # back towards the input, one block at a time
        parent = prev[node]
        squared[parent] = squared[node] * back[node]
        node = parent
    return np.sqrt(squared)


# --- deep information propagation (Poole et al. 2016, Schoenholz et al. 2017) ------------------
# A chain of dense layers, each weight N(0, sigma_w2 / n_in) and each bias N(0, sigma_b2), then
# the activation f. For wide layers a pre-activation is Gaussian with variance q, which maps as
#     q' = sigma_w2 E[f(sqrt(q) z)^2] + sigma_b2                          (fixed point q*)
# Two inputs whose pre-activations have correlation c map to
#     c' = (sigma_w2 E[f(u1) f(u2)] + sigma_b2) / q*,  u1, u2 ~ N(0, q*), correlation c,
# whose fixed point c* is 1 (ordered: inputs merge) or below 1 (chaotic: they decorrelate).
#     chi_1 = sigma_w2 E[f'(u)^2]            the gradient's squared norm per layer, backward
#     chi_c = sigma_w2 E[f'(u1) f'(u2)] at c*, and xi_c = -1 / ln chi_c
# chi_c = chi_1 when c* = 1, so xi_c diverges on the critical line chi_1 = 1; networks deeper
# than about 6 xi_c do not train (Schoenholz et al., Fig. 5).

MEAN_FIELD_POINTS = 100  # even: no node at z = 0, where ReLU's derivative is undefined
CORRELATION_POINTS = 60  # per dimension of the two-input integrals
Q_TINY, Q_HUGE = 1e-30, 1e30  # q* = 0 and q* = inf are evaluated here (the limits)


@dataclass(frozen=True)
class MeanField:
    """The mean-field figures of one (activation, sigma_w2, sigma_b2)."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    q_star: float  # fixed point of the pre-activations' variance (0 or inf when it has none)
    chi1: float  # per-layer factor of the gradient's squared norm (1 on the critical line)
    c_star: float  # fixed point of the correlation between two inputs (1 in the ordered phase)
    chi_c: float  # slope of the correlation map at c*
    xi_c: float  # depth scale of the correlation: layers over which c approaches c* by e

    @property
    def phase(self) -> str:
        """ "ordered" (gradients vanish), "chaotic" (they explode) or "critical"."""
        if math.isclose(self.chi1, 1.0, rel_tol=1e-9):
            return "critical"
        return "ordered" if self.chi1 < 1 else "chaotic"

    @property
    def trainable_depth(self) -> float:
        """6 xi_c, the depth beyond which Schoenholz et al. found networks untrainable."""
        return 6.0 * self.xi_c


class _Activation:
    """f and f' of one activation on arrays of points, through the engine's own kernels."""

    def __init__(self, function: str, params: dict | None = None):
        if function not in activations.CODES:
            raise ValueError(f"unknown activation {function!r}")
        p = {**schema.ACTIVATIONS[function], **(params or {})}
        self.code = activations.CODES[function]
        self.a = float(p.get("slope", p.get("alpha", 0.0)))

    def __call__(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = np.ascontiguousarray(z, dtype=np.float64).ravel()
        y, dz = np.empty_like(z), np.empty_like(z)
        activations.act_forward(self.code, z, y, self.a)
        activations.act_backward(self.code, z, y, np.ones_like(z), dz, self.a)
        return y, dz


@functools.cache
def _nodes(points: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and weights for E over z ~ N(0, 1)."""
    x, w = np.polynomial.hermite_e.hermegauss(points)
    return x, w / math.sqrt(2 * math.pi)


def _q_maps(f: _Activation, sigma_w2: float, sigma_b2: float, q: np.ndarray) -> np.ndarray:
    """The variance map at every q (one kernel call for all)."""
    x, w = _nodes(MEAN_FIELD_POINTS)
    y, _ = f(np.sqrt(q)[:, None] * x[None, :])
    return sigma_w2 * (y * y).reshape(len(q), -1) @ w + sigma_b2


def _q_star(f: _Activation, sigma_w2: float, sigma_b2: float) -> float:
    """The stable fixed point of the variance map that an input of variance 1 runs into: up to
    the first point above 1 where q' - q turns from positive to negative (inf if none), or down
    to the last such point below 1 (0 if none)."""
    grid = np.geomspace(Q_TINY, Q_HUGE, 121)  # 1 is grid[60]
    gap = _q_maps(f, sigma_w2, sigma_b2, grid) - grid
    turns = np.flatnonzero((gap[:-1] > 0) & (gap[1:] <= 0))
    if gap[60] > 0:
        turns = turns[turns >= 60]
        if turns.size == 0:
            return math.inf
        i = int(turns[0])
    else:
        turns = turns[turns < 60]
        if turns.size == 0:
            return 0.0
        i = int(turns[-1])

    def gap_at(q: float) -> float:
        return float(_q_maps(f, sigma_w2, sigma_b2, np.array([q]))[0]) - q

    lo, hi = grid[i], grid[i + 1]
    if gap_at(lo) * gap_at(hi) > 0:  # a gap at rounding level (q ~ 0): as good as either end
        return float(lo)
    return float(brentq(gap_at, lo, hi, xtol=1e-14, rtol=1e-12))


def _chi1(f: _Activation, sigma_w2: float, sigma_b2: float) -> tuple[float, float]:
    """(q*, chi_1), chi_1 evaluated at q* (or at its limit, when q* is 0 or inf)."""
    q_star = _q_star(f, sigma_w2, sigma_b2)
    q = min(max(q_star, Q_TINY), Q_HUGE)
    x, w = _nodes(MEAN_FIELD_POINTS)
    _, d = f(math.sqrt(q) * x)
    return q_star, sigma_w2 * float(w @ (d * d))


def _pair_moments(f: _Activation, q: float, c: float) -> tuple[float, float]:
    """(E[f(u1) f(u2)], E[f'(u1) f'(u2)]) for u1, u2 ~ N(0, q) with correlation c."""
    x, w = _nodes(CORRELATION_POINTS)
    z1, z2 = np.meshgrid(x, x, indexing="ij")
    weights = np.outer(w, w).ravel()
    s = math.sqrt(q)
    y1, d1 = f(s * z1)
    y2, d2 = f(s * (c * z1 + math.sqrt(max(1 - c * c, 0.0)) * z2))
    return float(weights @ (y1 * y2)), float(weights @ (d1 * d2))


def mean_field(
    function: str, sigma_w2: float, sigma_b2: float, params: dict | None = None
) -> MeanField:
    """q*, chi_1, c*, chi_c and xi_c for a deep chain of random dense layers with `function`
    (any of the engine's activations, `params` its own parameters such as a leaky slope).

    Where the variance has no positive finite fixed point (without bias it may shrink to 0;
    ReLU above the critical line grows it without bound), the figures are those of its limit
    (q -> 0 or q -> inf), the correlation normalised by the next layer's variance."""
    f = _Activation(function, params)
    q_star, chi1 = _chi1(f, sigma_w2, sigma_b2)
    q = min(max(q_star, Q_TINY), Q_HUGE)
    # Normalised by the same quadrature at c = 1, so that c = 1 maps to 1 to rounding.
    q_next = sigma_w2 * _pair_moments(f, q, 1.0)[0] + sigma_b2  # = q at a true fixed point

    def c_map(c: float) -> float:
        return (sigma_w2 * _pair_moments(f, q, c)[0] + sigma_b2) / q_next

    c_star = 1.0
    below = 1.0 - 1e-4
    if chi1 > 1 and c_map(below) < below:  # c = 1 repels: the stable point lies below it
        if c_map(0.0) <= 0.0:
            c_star = 0.0  # an odd function without bias: inputs end up uncorrelated
        else:
            c_star = float(brentq(lambda c: c_map(c) - c, 0.0, below, xtol=1e-12))
    chi_c = sigma_w2 * _pair_moments(f, q, c_star)[1] if c_star < 1 else chi1
    xi_c = -1.0 / math.log(chi_c) if 0 < chi_c < 1 else (math.inf if chi_c >= 1 else 0.0)
    return MeanField(function, sigma_w2, sigma_b2, q_star, chi1, c_star, chi_c, xi_c)


def critical_sigma_w2(
    function: str, sigma_b2: float, params: dict | None = None, upper: float = 100.0
) -> float:
    """The weight variance at which chi_1 = 1 for this bias variance (the order-to-chaos
    line); NaN if chi_1 does not cross 1 below `upper`."""

    f = _Activation(function, params)

    def gap(sigma_w2: float) -> float:
        return _chi1(f, sigma_w2, sigma_b2)[1] - 1.0

    lo, hi = 1e-3, 1.0
    while gap(hi) < 0:
        lo, hi = hi, hi * 2
        if hi > upper:
            return math.nan
    return float(brentq(gap, lo, hi, xtol=1e-10))
