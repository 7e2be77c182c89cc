"""Runs a compiled plan: one row of `ops` per node, in topological order, over flat buffers.

A whole training step is one call (`train_steps`) so a small network pays Python's call cost
once; the window's micro-steps call the same node functions one at a time, so both paths do
exactly the same arithmetic. All offsets are absolute element offsets into the flat buffers.

The kernels of the other modules are compiled into these functions, but Numba's on-disk cache
checks only this file's date and size: the package's __init__ clears the cache when any kernel
source changes.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

from .activations import PRELU, RELU, act_backward, act_forward, relu_f_dead, saturated_count
from .arrays import add_into, add_scaled, copy_into, fill
from .images import CONV, FLATTEN, K_C, K_H, K_NW, K_W, image_backward, image_forward
from .lanes import as_2d, sum_squares2
from .layers import batchnorm_backward, batchnorm_forward, dense_backward, dense_forward
from .losses import compute_loss
from .optim import CLIP_NORM, H_CLIP, H_L2, H_TELEMETRY, clip_gradients, sum_squares, update_segment
from .stats import (
    S_DEAD,
    S_GRAD,
    S_MAX,
    S_MEAN,
    S_MIN,
    S_PGRAD,
    S_RATIO,
    S_SAT,
    S_STD,
    S_WNORM,
    dead_units,
    scratch_size,
    stats_and_histogram,
    value_stats,
)

# Node kinds and the columns of `ops`.
INPUT, DENSE, ACT, BATCHNORM, OUTPUT = range(5)
(
    K_KIND,
    K_WIN,
    K_WOUT,
    K_IN,
    K_OUT,
    K_DIN,
    K_DOUT,
    K_NPRED,
    K_PRED0,
    K_SUMIN,
    K_SCATTER,
    K_ZERO,
    K_FN,
    K_PW,
    K_PB,
    K_PA,
    K_PBETA,
    K_XHAT,
    K_INVSTD,
    K_RUN,
    K_NEEDDX,
    K_LOSS,
    K_PSTART,
    K_PEND,
    K_L2,
    K_DEADSTAT,
) = range(26)
N_COLS = 26
# Columns of `fpar`: activation parameter (or dropout's rate), batch-norm momentum and eps,
# histogram range, the training seed.
F_A, F_MOMENTUM, F_EPS, F_LO, F_HI, F_SEED = range(6)
# Entries of `glob`, the step's scalar results.
(
    G_LOSS,
    G_DATA_LOSS,
    G_PENALTY,
    G_CORRECT,
    G_CLIP_FIRED,
    G_NORM_BEFORE,
    G_NORM_AFTER,
    G_BAD_NODE,
    G_BAD_QTY,
    G_TRAIN_LOSS,
    G_TRAIN_CORRECT,
    G_TEST_LOSS,
    G_TEST_CORRECT,
) = range(13)
N_GLOB = 13
# What train_steps is given, in bundles built by name: a bundle cannot be passed for another (each
# has its own arity and types), nor can two arrays of the same dtype be swapped at a call site.
# They reach the kernel as plain tuples (`tuple(Rows(...))`), unpacked there in field order:
# Numba types a NamedTuple argument about three times slower, on every call.


class Samples(NamedTuple):
    """Rows of a data set: inputs, class labels (classification) and targets (regression)."""

    X: np.ndarray
    labels: np.ndarray
    targets: np.ndarray


class Rows(NamedTuple):
    """Buffers laid out for a number of rows (the plan's layout for a batch, or for an
    evaluation chunk): `ops` for that layout, each node's input and output values, their
    gradients, and batch norm's saved figures."""

    ops: np.ndarray
    acts: np.ndarray
    grads: np.ndarray
    aux: np.ndarray


class Graph(NamedTuple):
    """What the compiled plan fixes besides its layout: per-node float parameters (`fpar`), the
    flattened predecessor lists, the output node, and whether the task is classification."""

    fpar: np.ndarray
    preds: np.ndarray
    out_idx: int
    classify: bool


class State(NamedTuple):
    """What training changes: the parameters, their gradients, batch norm's running
    statistics, the optimiser's moments; `steps` (params' size) is the update's work space;
    `lab_buf`/`tgt_buf` receive the rows' labels and targets."""

    params: np.ndarray
    pgrads: np.ndarray
    bn_run: np.ndarray
    opt_m: np.ndarray
    opt_v: np.ndarray
    steps: np.ndarray
    lab_buf: np.ndarray
    tgt_buf: np.ndarray


class Optimiser(NamedTuple):
    """The optimiser (optim.CODES), the clip mode (optim.CLIP_CODES) and the hyper-parameters
    (optim.H_*), read afresh at every step."""

    opt: int
    clip_mode: int
    hyper: np.ndarray


class Figures(NamedTuple):
    """Where steps record: per-step node figures (step × node × STAT_NAMES), the last step's
    histograms (node × bins), per-step scalars (step × N_GLOB)."""

    stats_block: np.ndarray
    hist: np.ndarray
    glob_block: np.ndarray


class Evaluation(NamedTuple):
    """The test set, the evaluation buffers and rows per chunk, and when to evaluate: every
    `every` steps, counted from step number `first` of the block (0: never)."""

    test: tuple  # Samples
    rows_eval: tuple  # Rows
    chunk: int
    every: int
    first: int


# What went non-finite first.
Q_ACTIVATION, Q_LOSS, Q_GRADIENT, Q_PARAM_GRADIENT, Q_WEIGHT = range(5)
QUANTITIES = ("activation", "loss", "gradient", "weight gradient", "weight")
_opts = {"cache": True, "nogil": True}


# Small helpers are inlined where they are called: each compiled function costs the cold
# compile a fixed price, and _bad would be compiled once per literal quantity.
@njit(inline="always", **_opts)
def _view(buf, off, n, w):
    return as_2d(buf[off : off + n * w], n, w)


@njit(**_opts)
def gather_batch(X, labels, targets, idx, acts, in_off, lab_buf, tgt_buf):
    n = idx.size
    w = X.shape[1]
    x = _view(acts, in_off, n, w)
    for i in range(n):
        r = idx[i]
        for j in range(w):
            x[i, j] = X[r, j]
        lab_buf[i] = labels[r]
        for j in range(targets.shape[1]):
            tgt_buf[i, j] = targets[r, j]


@njit(inline="always", **_opts)
def _bad(glob, node, qty):
    glob[G_BAD_NODE] = node
    glob[G_BAD_QTY] = qty
    return False


@njit(inline="always", **_opts)
def forward_node(
    i,
    ops,
    fpar,
    preds,
    acts,
    aux,
    params,
    bn_run,
    stats,
    hist,
    n,
    training,
    t,
    glob,
    detail,
    scratch,
):
    """Compute node i's output (batch norm and dropout in training or evaluation mode; `t`, the
    step number, picks dropout's masks). `detail`: 0 records nothing, 1 its figures, 2 its
    figures and histogram. With figures, returns False if the output holds NaN or infinity.
    `scratch`: uint64 work space of stats.scratch_size entries. Every caller passes every
    argument: each other combination would be compiled anew."""
    kind = ops[i, K_KIND]
    win = ops[i, K_WIN]
    wout = ops[i, K_WOUT]
    if ops[i, K_SUMIN]:
        # Several incoming edges: the node receives their element-wise sum.
        dst = acts[ops[i, K_IN] : ops[i, K_IN] + n * win]
        for k in range(ops[i, K_NPRED]):
            p = preds[ops[i, K_PRED0] + k]
            src = acts[ops[p, K_OUT] : ops[p, K_OUT] + n * win]
            if k == 0:
                copy_into(dst, src)
            else:
                add_into(dst, src)
    # Flat views for element-wise work; 2-D ones where rows matter.
    xf = acts[ops[i, K_IN] : ops[i, K_IN] + n * win]
    yf = acts[ops[i, K_OUT] : ops[i, K_OUT] + n * wout]
    x = as_2d(xf, n, win)
    y = as_2d(yf, n, wout)
    if kind == DENSE:
        W = _view(params, ops[i, K_PW], win, wout)
        b = params[ops[i, K_PB] : ops[i, K_PB] + wout]
        dense_forward(x, W, b, ops[i, K_PB] >= 0, y)
    elif kind == ACT:
        fn = ops[i, K_FN]
        a = params[ops[i, K_PA]] if fn == PRELU else fpar[i, F_A]
        if not (detail > 0 and fn == RELU and ops[i, K_DEADSTAT]):
            act_forward(fn, xf, yf, a)
    elif kind == BATCHNORM:
        # Per channel, over the batch and (for images) every position: rows of c values.
        c = ops[i, K_C]
        rows = n * ops[i, K_H] * ops[i, K_W]
        gamma = params[ops[i, K_PA] : ops[i, K_PA] + c]
        beta = params[ops[i, K_PBETA] : ops[i, K_PBETA] + c]
        batchnorm_forward(
            as_2d(xf, rows, c),
            gamma,
            beta,
            as_2d(yf, rows, c),
            _view(aux, ops[i, K_XHAT], rows, c),
            aux[ops[i, K_INVSTD] : ops[i, K_INVSTD] + c],
            bn_run[ops[i, K_RUN] : ops[i, K_RUN] + c],
            bn_run[ops[i, K_RUN] + c : ops[i, K_RUN] + 2 * c],
            fpar[i, F_MOMENTUM],
            fpar[i, F_EPS],
            training,
        )
    elif kind >= CONV and ops[i, K_OUT] != ops[i, K_IN]:  # a flatten's output is its input
        image_forward(
            kind,
            ops[i],
            xf,
            yf,
            params,
            ops[i, K_PW],
            ops[i, K_PB],
            aux,
            n,
            fpar[i, F_A],
            t if training else 0,
            fpar[i, F_SEED],
            i,
        )
    if detail == 0:
        return True
    if kind == FLATTEN and ops[i, K_NPRED] == 1:  # its input's values, binned alike
        p = preds[ops[i, K_PRED0]]
        for col in (S_MEAN, S_STD, S_MIN, S_MAX):
            stats[i, col] = stats[p, col]
        if detail == 2:
            hist[i, :] = hist[p, :]
        return True
    work = scratch
    dead = -1
    if kind == ACT and ops[i, K_FN] == RELU and ops[i, K_DEADSTAT]:
        dead = relu_f_dead(x, y, work)  # ReLU and its dead units in one pass
    if detail == 2:
        mean, std, lo, hi, finite = stats_and_histogram(
            yf, fpar[i, F_LO], fpar[i, F_HI], hist[i], work
        )
    else:
        mean, std, lo, hi, finite = value_stats(yf)
    stats[i, S_MEAN] = mean
    stats[i, S_STD] = std
    stats[i, S_MIN] = lo
    stats[i, S_MAX] = hi
    if kind == ACT:
        sat = saturated_count(ops[i, K_FN], yf)
        if sat >= 0:
            stats[i, S_SAT] = sat / y.size
    if ops[i, K_DEADSTAT]:
        stats[i, S_DEAD] = (dead if dead >= 0 else dead_units(x, work)) / wout
    if not finite:
        return _bad(glob, i, Q_ACTIVATION)
    return True


@njit(inline="always", **_opts)
def begin_backward(ops, out_idx, acts, grads, params, labels, targets, classify, n, hyper, glob):
    """The loss, its gradient at the output, and zeroed buffers that gradients add into."""
    for i in range(ops.shape[0]):
        if ops[i, K_ZERO]:
            fill(grads[ops[i, K_DOUT] : ops[i, K_DOUT] + n * ops[i, K_WOUT]], 0.0)
    w = ops[out_idx, K_WOUT]
    z = _view(acts, ops[out_idx, K_OUT], n, w)
    dz = _view(grads, ops[out_idx, K_DOUT], n, w)
    loss, correct = compute_loss(ops[out_idx, K_LOSS], z, labels, targets, classify, dz)
    penalty = 0.0
    l2 = hyper[H_L2]
    if l2 > 0:
        for i in range(ops.shape[0]):
            if ops[i, K_L2]:
                pw = ops[i, K_PW]
                penalty += sum_squares(params[pw : pw + ops[i, K_NW]])
        penalty *= l2
    glob[G_DATA_LOSS] = loss
    glob[G_PENALTY] = penalty
    glob[G_LOSS] = loss + penalty
    glob[G_CORRECT] = correct
    if not np.isfinite(loss + penalty):
        return _bad(glob, out_idx, Q_LOSS)
    return True


@njit(inline="always", **_opts)
def backward_node(
    i, ops, fpar, preds, acts, grads, aux, params, pgrads, stats, n, hyper, glob, work
):
    """Pass the gradient at node i's output back to its input and its parameters. `work`:
    scratch of params' size and dtype (the update's `steps` buffer, free until the update)."""
    kind = ops[i, K_KIND]
    win = ops[i, K_WIN]
    wout = ops[i, K_WOUT]
    dyf = grads[ops[i, K_DOUT] : ops[i, K_DOUT] + n * wout]
    if hyper[H_TELEMETRY] != 0:
        g2 = sum_squares(dyf)
        stats[i, S_GRAD] = np.sqrt(g2)
        if not np.isfinite(g2):
            return _bad(glob, i, Q_GRADIENT)
    need_dx = ops[i, K_NEEDDX] != 0
    xf = acts[ops[i, K_IN] : ops[i, K_IN] + n * win]
    yf = acts[ops[i, K_OUT] : ops[i, K_OUT] + n * wout]
    dxf = grads[ops[i, K_DIN] : ops[i, K_DIN] + n * win]
    x = as_2d(xf, n, win)
    dy = as_2d(dyf, n, wout)
    dx = as_2d(dxf, n, win)
    if kind == DENSE:
        pw = ops[i, K_PW]
        W = _view(params, pw, win, wout)
        dW = _view(pgrads, pw, win, wout)
        pb = ops[i, K_PB]
        db = pgrads[pb : pb + wout] if pb >= 0 else pgrads[0:0]
        dense_backward(x, W, dy, dW, db, pb >= 0, dx, need_dx, work[pw : pw + win * wout])
        l2 = hyper[H_L2]
        if l2 > 0:
            add_scaled(pgrads[pw : pw + win * wout], 2 * l2, params[pw : pw + win * wout])
    elif kind == ACT:
        fn = ops[i, K_FN]
        a = params[ops[i, K_PA]] if fn == PRELU else fpar[i, F_A]
        if need_dx or fn == PRELU:
            dalpha = act_backward(fn, xf, yf, dyf, dxf, a)
            if fn == PRELU:
                pgrads[ops[i, K_PA]] = dalpha
    elif kind == BATCHNORM:
        c = ops[i, K_C]
        rows = n * ops[i, K_H] * ops[i, K_W]
        pg = ops[i, K_PA]
        pbeta = ops[i, K_PBETA]
        batchnorm_backward(
            as_2d(dyf, rows, c),
            params[pg : pg + c],
            _view(aux, ops[i, K_XHAT], rows, c),
            aux[ops[i, K_INVSTD] : ops[i, K_INVSTD] + c],
            as_2d(dxf, rows, c),
            pgrads[pg : pg + c],
            pgrads[pbeta : pbeta + c],
        )
    elif kind >= CONV and ops[i, K_DIN] != ops[i, K_DOUT]:  # a flatten's are one block
        image_backward(
            kind,
            ops[i],
            xf,
            dyf,
            dxf,
            need_dx,
            params,
            pgrads,
            ops[i, K_PW],
            ops[i, K_PB],
            aux,
            n,
            hyper[H_L2],
        )
    elif kind == OUTPUT and need_dx and ops[i, K_DIN] != ops[i, K_DOUT]:
        copy_into(dxf, dyf)
    if need_dx and ops[i, K_SCATTER]:
        # dx is this node's own buffer: add it into every predecessor's gradient.
        src = grads[ops[i, K_DIN] : ops[i, K_DIN] + n * win]
        for k in range(ops[i, K_NPRED]):
            p = preds[ops[i, K_PRED0] + k]
            add_into(grads[ops[p, K_DOUT] : ops[p, K_DOUT] + n * win], src)
    return True


@njit(inline="always", **_opts)
def update(ops, params, pgrads, opt_m, opt_v, opt, clip_mode, hyper, t, stats, glob, steps):
    """Record each node's gradient norm, clip, then update every node's parameters and
    record their norms and update-to-weight ratios (without telemetry, only the norm that
    clipping by norm needs)."""
    figures = hyper[H_TELEMETRY] != 0
    total = 0.0
    old2 = np.full(ops.shape[0], -1.0)  # squared norms of the weights before the update
    for i in range(ops.shape[0]):
        p0 = ops[i, K_PSTART]
        p1 = ops[i, K_PEND]
        if p1 > p0 and (figures or clip_mode == CLIP_NORM):
            g2, old2[i] = sum_squares2(pgrads[p0:p1], params[p0:p1])
            stats[i, S_PGRAD] = np.sqrt(g2)
            if not np.isfinite(g2):
                return _bad(glob, i, Q_PARAM_GRADIENT)
            total += g2
    before = np.sqrt(total)
    fired, after = clip_gradients(pgrads, clip_mode, hyper[H_CLIP], before)
    glob[G_CLIP_FIRED] = fired
    glob[G_NORM_BEFORE] = before
    glob[G_NORM_AFTER] = after
    ok = True
    for i in range(ops.shape[0]):
        p0 = ops[i, K_PSTART]
        p1 = ops[i, K_PEND]
        if p1 <= p0:
            continue
        dw2, w2, new2 = update_segment(
            opt, params, pgrads, opt_m, opt_v, hyper, t, p0, p1, steps, old2[i], figures
        )
        if not figures:
            continue
        stats[i, S_WNORM] = np.sqrt(new2)
        stats[i, S_RATIO] = np.sqrt(dw2 / w2) if w2 > 0 else np.inf if dw2 > 0 else 0.0
        if ok and not np.isfinite(new2):
            ok = _bad(glob, i, Q_WEIGHT)
    return ok


@njit(**_opts)
def train_steps(data, batches, graph, rows, state, optimiser, t0, figures, evaluation, out):
    """Mini-batches of the training set `data`, one row of `batches` each: forward, loss,
    backward, clip, update, on the buffers `rows` and `state`; the optimiser counts steps from
    t0. Every step's figures go to `stats_block[s]` and `glob_block[s]` (`figures`); histograms
    for the last step only. After each step whose number is a multiple of the evaluation's
    `every`, the whole training set and the test set run forward in evaluation mode (on the
    evaluation buffers, `chunk` rows at a time): mean loss and correct count in that step's
    G_TRAIN_* and G_TEST_* columns. Returns the number of steps run: it stops after a step
    that went non-finite (its glob row names the node and the quantity).

    Without batches it trains nothing and evaluates now, into glob_block[0]; if `out` has rows
    it evaluates `data` only and leaves the network's last values there (predictions: labels and
    targets may then be zeros). `out` is always passed (an empty (0, 0) array when unused): an
    omitted argument is one more compiled version.

    One function and one loop for all of it: each level of calls makes Numba link and
    optimise the whole tree again, and forward_node, inlined, is called in one place only (a
    second call would be a second copy to compile). Evaluating here, not between calls, also
    lets a window's training thread run hundreds of steps between two waits for the GIL."""
    # Each bundle in its NamedTuple's field order (test_kernel_bundles.py checks these lines).
    X, labels, targets = data
    fpar, preds, out_idx, classify = graph
    ops, acts, grads, aux = rows
    params, pgrads, bn_run, opt_m, opt_v, steps, lab_buf, tgt_buf = state
    opt, clip_mode, hyper = optimiser
    stats_block, hist, glob_block = figures
    test, rows_eval, chunk, every, first = evaluation
    X_test, labels_test, targets_test = test
    ops_e, acts_e, grads_e, aux_e = rows_eval
    widest = 1
    for i in range(ops.shape[0]):
        widest = max(widest, ops[i, K_WIN], ops[i, K_WOUT])
    scratch = np.empty(scratch_size(hist.shape[1], widest, batches.shape[1]), np.uint64)
    n_batches = batches.shape[0]
    predicting = out.shape[0] > 0
    telemetry = 1 if hyper[H_TELEMETRY] != 0 else 0
    w = ops[out_idx, K_WOUT]
    split = -1 if n_batches > 0 else 0  # -1: training; 0: the training set; 1: the test set
    s = 0  # steps done
    at = 0  # the glob row evaluation results go to
    row = 0  # the next row of the split being evaluated
    loss_sum = 0.0
    correct = 0
    while True:
        training = split < 0
        if training:
            if s == n_batches:
                break
            n = batches.shape[1]
            stats, glob = stats_block[s], glob_block[s]
            fill(stats.ravel(), np.nan)
            fill(glob, np.nan)
            Xr, lr, tr, rows = X, labels, targets, batches[s]
            ops_r, acts_r, grads_r, aux_r = ops, acts, grads, aux
            detail = telemetry + (telemetry if s == n_batches - 1 else 0)
        else:
            Xr, lr, tr = (X, labels, targets) if split == 0 else (X_test, labels_test, targets_test)
            n = min(chunk, Xr.shape[0] - row)
            stats, glob = stats_block[0], glob_block[0]  # evaluation mode records nothing
            rows = np.arange(row, row + n)
            ops_r, acts_r, grads_r, aux_r = ops_e, acts_e, grads_e, aux_e
            detail = 0
        if n > 0:
            gather_batch(Xr, lr, tr, rows, acts_r, ops_r[0, K_OUT], lab_buf, tgt_buf)
        ok = True
        for i in range(ops.shape[0] if n > 0 else 0):
            if ok and not forward_node(
                i,
                ops_r,
                fpar,
                preds,
                acts_r,
                aux_r,
                params,
                bn_run,
                stats,
                hist,
                n,
                training,
                t0 + s,
                glob,
                detail,
                scratch,
            ):
                ok = False
        if not training:
            if n > 0:
                z = _view(acts_r, ops_r[out_idx, K_OUT], n, w)
                if predicting:
                    for r in range(n):
                        for j in range(w):
                            out[row + r, j] = z[r, j]
                loss, right = compute_loss(
                    ops_r[out_idx, K_LOSS],
                    z,
                    lab_buf,
                    tgt_buf,
                    classify,
                    _view(grads_r, ops_r[out_idx, K_DOUT], n, w),
                )
                loss_sum += loss * n
                correct += right
                row += n
            if row >= Xr.shape[0]:  # this split is done
                total = Xr.shape[0]
                glob_block[at, G_TRAIN_LOSS + 2 * split] = loss_sum / total if total else np.nan
                glob_block[at, G_TRAIN_CORRECT + 2 * split] = correct
                loss_sum = 0.0
                correct = 0
                row = 0
                split = 1 if split == 0 and not predicting else -1
                if split < 0 and n_batches == 0:
                    break
            continue
        ok = ok and begin_backward(
            ops, out_idx, acts, grads, params, lab_buf, tgt_buf, classify, n, hyper, glob
        )
        for i in range(ops.shape[0] - 1, 0, -1):
            if ok and not backward_node(
                i, ops, fpar, preds, acts, grads, aux, params, pgrads, stats, n, hyper, glob, steps
            ):
                ok = False
        ok = ok and update(
            ops, params, pgrads, opt_m, opt_v, opt, clip_mode, hyper, t0 + s, stats, glob, steps
        )
        if not ok:
            return s + 1
        if every > 0 and (first + s) % every == 0:
            split = 0
            at = s
        s += 1
    return s
