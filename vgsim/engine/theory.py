"""What theory predicts for the gradient flow at initialisation (mean-field, as in Glorot & Bengio
2010 and He et al. 2015), for a plain chain of dense layers and activations.

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

import math

import numpy as np

from .kernels import activations
from .kernels.plan import F_A
from .train import Trainer

QUADRATURE_POINTS = 121


def _moments(code: int, a: float, q: float, dtype: np.dtype) -> tuple[float, float]:
    """(E[f(z)^2], E[f'(z)^2]) for z ~ N(0, q). f and f' in the network's precision: the
    kernels its training uses, already compiled (a mean-field estimate needs no more)."""
    x, w = np.polynomial.hermite_e.hermegauss(QUADRATURE_POINTS)
    w = w / math.sqrt(2 * math.pi)
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

    x = trainer.data.X_train.astype(np.float64)
    second = {0: float(np.mean(x * x))}  # E[a^2] of each block's output
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
