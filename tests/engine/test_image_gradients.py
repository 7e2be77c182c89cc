"""Convolution, pooling, flatten and dropout: every kernel against central finite differences in
float64 and against the plainly written references in tests/naive.py, then whole image networks
through Trainer.forward_backward (every parameter and input entry, every node's activation and
gradient), as test_gradients.py does for the dense engine."""

from __future__ import annotations

import naive
import numpy as np
import pytest
from numba import config
from test_gradients import BATCH, assert_close, assert_fd, central_diff, kink_margin

from vgsim.engine.kernels import conv, dropout, gemm, pool
from vgsim.engine.shapes import conv_output_size, same_pad
from vgsim.engine.spec import Network
from vgsim.engine.train import Trainer

pytestmark = pytest.mark.kernels
KINK_MARGIN = 1e-4
# These kernels are linear in each input (max pool piecewise, with pieces 0.01 apart here): a
# central difference is exact up to rounding, which a larger step makes smaller.
LINEAR_H = 1e-3


# ================================================================================================
# Convolution kernels
# ================================================================================================
# (n, h, w, c, f, kernel, stride, padding, bias): strides, both paddings, even and 1 × 1 kernels,
# channel and filter counts that are not whole vectors, a kernel as large as the image.
CONVS = [
    (3, 6, 6, 2, 3, 3, 1, "same", True),
    (2, 7, 5, 3, 4, 3, 2, "same", True),
    (2, 8, 8, 3, 5, 3, 2, "valid", False),
    (2, 6, 7, 2, 3, 4, 1, "same", True),
    (2, 6, 6, 2, 3, 2, 2, "valid", True),
    (2, 8, 8, 4, 6, 1, 2, "same", False),
    (2, 5, 5, 4, 9, 1, 1, "same", True),
    (2, 5, 5, 1, 2, 5, 1, "valid", True),
    (2, 4, 4, 2, 3, 5, 3, "same", True),
    (2, 6, 6, 16, 16, 3, 1, "same", True),
    # Channels in whole vectors and few filters: the weight gradient by wgrad_gemm (float64).
    (2, 6, 6, 8, 5, 3, 1, "same", True),
    (2, 7, 6, 8, 6, 3, 2, "valid", False),
    # One vector of filters, rows of 8 outputs, stride 1: row_blocks forward and backward.
    (2, 4, 8, 4, 4, 3, 1, "same", False),
    (2, 5, 10, 3, 4, 3, 1, "valid", True),
    # dx of "same" from dy without a padded copy: one row (the kernel rows above and below left
    # out at once), two and three blocks of outputs per row (a first, a last, a middle one).
    (2, 1, 16, 4, 4, 3, 1, "same", True),
    (1, 3, 24, 4, 4, 3, 1, "same", False),
    # Winograd forward and for dx (float64: 4 lanes), over three chunks of tiles, the last part
    # full, and an odd number of vectors of filters.
    (3, 6, 6, 8, 12, 3, 1, "same", True),
]
# 8 channels and 8 filters: row_blocks and wgrad_gemm in float32 (gather_gemm in float64); the
# fourth has more positions than one chunk of the weight gradient.
CONVS_FLOAT32 = [
    (2, 5, 8, 8, 8, 3, 1, "same", True),
    (3, 7, 7, 8, 8, 3, 2, "valid", False),
    (3, 8, 8, 8, 8, 3, 1, "same", True),
    (2, 2, 16, 8, 8, 3, 1, "same", True),
    (2, 6, 4, 8, 16, 3, 1, "same", True),  # Winograd in float32
]


def _conv(x, W, b, stride, padding, dtype=np.float64):
    """The engine's forward pass: (y as (n, oh, ow, f), padded-input buffer, geometry)."""
    n, h, w, c = x.shape
    k, f = W.shape[0], W.shape[3]
    oh, ow = (conv_output_size(s, k, stride, padding) for s in (h, w))
    pad = same_pad(k) if padding == "same" else 0
    geo = (n, h, w, c, oh, ow, f, k, stride, pad)
    xp = np.full(max(conv.padded_input_size(n, h, w, c, oh, ow, k, stride, pad), 1), np.nan, dtype)
    y = np.full(n * oh * ow * f, np.nan, dtype)
    bias = np.zeros(f, dtype) if b is None else b.astype(dtype)
    scratch = np.full(conv.scratch_size(n, h, w, c, f, k), np.nan, dtype)
    conv.conv_forward(
        x.astype(dtype).ravel(), W.astype(dtype).ravel(), bias, b is not None, y, xp, scratch, *geo
    )
    return y.reshape(n, oh, ow, f), xp, geo


def _conv_backward(x, W, b, dy, xp, geo, need_dx=True, dtype=np.float64):
    n, h, w, c, oh, ow, f, k, stride, pad = geo
    dW = np.full(W.size, np.nan, dtype)
    db = np.full(f, np.nan, dtype)
    dx = np.full(x.size, 7.0, dtype)  # a stale value where dx is not computed
    scratch = np.full(conv.scratch_size(n, h, w, c, f, k), np.nan, dtype)
    conv.conv_backward(
        x.astype(dtype).ravel(),
        W.astype(dtype).ravel(),
        dy.astype(dtype).ravel(),
        dW,
        db,
        b is not None,
        dx,
        need_dx,
        xp,
        scratch,
        *geo,
    )
    return dx.reshape(x.shape), dW.reshape(W.shape), db


def _conv_inputs(n, h, w, c, f, k, bias, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, h, w, c))
    W = rng.normal(size=(k, k, c, f)) / np.sqrt(k * k * c)
    b = rng.normal(size=f) if bias else None
    return x, W, b, rng


@pytest.mark.parametrize(
    "case", CONVS, ids=[f"{c[1]}x{c[2]}x{c[3]}-k{c[5]}s{c[6]}-{c[7]}" for c in CONVS]
)
def test_conv_forward_backward_match_naive_and_fd(case):
    n, h, w, c, f, k, stride, padding, bias = case
    x, W, b, rng = _conv_inputs(n, h, w, c, f, k, bias)
    y, xp, geo = _conv(x, W, b, stride, padding)
    assert_close(y, naive.conv2d_forward(x, W, b, stride, padding), "conv y", rtol=1e-12)
    w_out = rng.normal(size=y.shape)  # loss = sum(w_out * y)
    dx, dW, db = _conv_backward(x, W, b, w_out, xp, geo)
    ndx, ndW, ndb = naive.conv2d_backward(x, W, w_out, stride, padding)
    assert_close(dx, ndx, "conv dx", rtol=1e-12)
    assert_close(dW, ndW, "conv dW", rtol=1e-12)
    if bias:
        assert_close(db, ndb, "conv db", rtol=1e-12)

    def loss():
        return float((w_out * _conv(x, W, b, stride, padding)[0]).sum())

    arrays = [(x, dx, "dx"), (W, dW, "dW")] + ([(b, db, "db")] if bias else [])
    for arr, grad, what in arrays:
        # Every entry matches the naive pass above; differences check 400 of each at most
        # (the 16-channel case has 3,500: 12 s as plain Python).
        picks = np.arange(arr.size) if arr.size <= 400 else rng.choice(arr.size, 400, False)
        fd = central_diff(loss, arr, picks, h=LINEAR_H)
        assert_fd(grad.ravel()[picks], fd, f"conv {what}")


def test_conv_backward_leaves_dx_alone_without_need_dx():
    x, W, b, rng = _conv_inputs(2, 5, 5, 3, 4, 3, True)
    y, xp, geo = _conv(x, W, b, 1, "same")
    dx, dW, _ = _conv_backward(x, W, b, rng.normal(size=y.shape), xp, geo, need_dx=False)
    assert (dx == 7.0).all()
    assert np.isfinite(dW).all()


@pytest.mark.parametrize("case", CONVS[:4] + CONVS[-6:] + CONVS_FLOAT32)
def test_conv_float32_agrees_with_float64(case):
    n, h, w, c, f, k, stride, padding, bias = case
    x, W, b, rng = _conv_inputs(n, h, w, c, f, k, bias, seed=1)
    y64, xp64, geo = _conv(x, W, b, stride, padding)
    y32, xp32, _ = _conv(x, W, b, stride, padding, np.float32)
    assert y32.dtype == np.float32
    assert_close(y32, y64, "conv y float32", rtol=1e-5, atol=1e-5)
    dy = rng.normal(size=y64.shape)
    for got, want, what in zip(
        _conv_backward(x, W, b, dy, xp32, geo, dtype=np.float32),
        _conv_backward(x, W, b, dy, xp64, geo),
        ("dx", "dW", "db"),
        strict=True,
    ):
        if b is not None or what != "db":
            assert_close(got, want, f"conv {what} float32", rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("rows", "inner", "cols"), [(1, 3, 1), (13, 7, 5), (37, 20, 16), (50, 9, 19)]
)
def test_gather_gemm_is_a_matrix_product_for_any_block_overhang(dtype, rows, inner, cols):
    """Rows not a multiple of either block height and columns not a whole number of vectors:
    every block that overhangs the matrix must still give exact entries, and nothing else."""
    rng = np.random.default_rng(rows)
    A = rng.normal(size=(rows, inner)).astype(dtype)
    B = rng.normal(size=(inner, cols)).astype(dtype)
    lanes = 32 // np.dtype(dtype).itemsize
    ld = -(-cols // lanes) * lanes
    Bp = np.zeros((inner, ld), dtype)
    Bp[:, :cols] = B
    init = np.zeros(ld, dtype)
    init[:cols] = rng.normal(size=cols)
    out = np.full(rows * cols + 5, np.nan, dtype)  # 5 sentinels after the result
    row_starts = np.zeros(rows + gemm.ROW_ROOM, np.int64)
    row_starts[:rows] = np.arange(rows) * inner
    gemm.gather_gemm(
        A.ravel(),
        row_starts,
        rows,
        np.arange(inner, dtype=np.int64),
        inner,
        Bp.ravel(),
        ld,
        cols,
        init,
        out,
        cols,
        np.empty(gemm.ROW_ROOM * ld, dtype),
    )
    want = A.astype(np.float64) @ B + init[:cols]
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert_close(out[: rows * cols].reshape(rows, cols), want, "gather_gemm", rtol=tol, atol=tol)
    assert np.isnan(out[rows * cols :]).all()


# ================================================================================================
# Pooling
# ================================================================================================
POOLS = [(2, 6, 6, 3, 2, 2), (2, 7, 5, 2, 3, 2), (2, 5, 5, 2, 2, 1), (1, 4, 6, 5, 4, 4)]


def _pool(kind, x, size, stride):
    n, h, w, c = x.shape
    oh, ow = (h - size) // stride + 1, (w - size) // stride + 1
    y = np.full(n * oh * ow * c, np.nan)
    where = np.full(y.size, np.nan)
    geo = (n, h, w, c, oh, ow, size, stride)
    if kind == "max":
        pool.maxpool_forward(x.ravel(), y, where, *geo)
    else:
        pool.avgpool_forward(x.ravel(), y, *geo)
    return y.reshape(n, oh, ow, c), where, geo


def _pool_backward(kind, dy, where, geo):
    n, h, w, c = geo[:4]
    dx = np.full(n * h * w * c, np.nan)
    if kind == "max":
        pool.maxpool_backward(dy.ravel(), where, dx, *geo)
    else:
        pool.avgpool_backward(dy.ravel(), dx, *geo)
    return dx.reshape(n, h, w, c)


def _distinct(shape, seed):
    """Values at least 0.01 apart: no window's maximum is within reach of a runner-up."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape))) * 0.01 - 1.0).reshape(shape)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(
    "case", POOLS, ids=[f"{c[1]}x{c[2]}-size{c[4]}-stride{c[5]}" for c in POOLS]
)
def test_pool_forward_backward_match_naive_and_fd(kind, case):
    n, h, w, c, size, stride = case
    x = _distinct((n, h, w, c), seed=size)
    y, where, geo = _pool(kind, x, size, stride)
    forward = naive.maxpool_forward if kind == "max" else naive.avgpool_forward
    backward = naive.maxpool_backward if kind == "max" else naive.avgpool_backward
    assert_close(y, forward(x, size, stride), f"{kind}pool y", rtol=1e-14)
    w_out = np.random.default_rng(1).normal(size=y.shape)
    dx = _pool_backward(kind, w_out, where, geo)
    assert_close(dx, backward(x, w_out, size, stride), f"{kind}pool dx", rtol=1e-14)

    def loss():
        return float((w_out * _pool(kind, x, size, stride)[0]).sum())

    fd = central_diff(loss, x, range(x.size), h=LINEAR_H)
    assert_fd(dx.ravel(), fd, f"{kind}pool dx")


def test_maxpool_gives_ties_to_the_first_entry_and_keeps_nan():
    """As PyTorch: of equal maxima (ReLU's zeros) the first in reading order takes the
    gradient; a NaN in a window wins, so a blow-up stays visible."""
    x = np.zeros((1, 2, 4, 1))
    x[0, 1, 3, 0] = np.nan
    y, where, geo = _pool("max", x, 2, 2)
    assert y[0, 0, 0, 0] == 0.0 and np.isnan(y[0, 0, 1, 0])
    dx = _pool_backward("max", np.ones_like(y), where, geo)
    assert dx[0, 0, 0, 0] == 1.0 and dx[0, :, :2].sum() == 1.0  # top-left of the first window
    assert dx[0, 1, 3, 0] == 1.0  # the NaN's place


def test_global_avgpool_matches_naive_and_fd():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 4, 5, 6))
    w_out = rng.normal(size=(3, 6))

    def forward():
        y = np.empty(3 * 6)
        pool.global_avgpool_forward(x.ravel(), y, 3, 20, 6)
        return y.reshape(3, 6)

    assert_close(forward(), x.mean(axis=(1, 2)), "global average", rtol=1e-14)
    dx = np.full(x.size, np.nan)
    pool.global_avgpool_backward(w_out.ravel(), dx, 3, 20, 6)

    def loss():
        return float((w_out * forward()).sum())

    assert_fd(dx, central_diff(loss, x, range(x.size), h=LINEAR_H), "global_avgpool dx")


# ================================================================================================
# Dropout
# ================================================================================================
def _mask(rate, seed, t, node, size=20000, dtype=np.float64):
    x = np.ones(size, dtype)
    y, mask = np.empty_like(x), np.empty_like(x)
    dropout.dropout_forward(x, y, mask, rate, dropout.dropout_key(seed, t, node))
    return y, mask


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 0.9])
def test_dropout_keeps_one_minus_rate_and_scales_the_kept(rate):
    y, mask = _mask(rate, 0, 1, 3)
    kept = mask != 0
    assert abs(kept.mean() - (1 - rate)) < 4 * np.sqrt(rate * (1 - rate) / kept.size) + 1e-12
    assert np.all(mask[kept] == 1 / (1 - rate)) and np.all(y == mask)
    assert abs(y.mean() - 1.0) < 0.05  # inverted dropout keeps the expected value


def test_dropout_mask_depends_on_seed_step_and_node_only():
    _, base = _mask(0.5, 7, 3, 2)
    _, again = _mask(0.5, 7, 3, 2)
    np.testing.assert_array_equal(base, again)
    _, single = _mask(0.5, 7, 3, 2, dtype=np.float32)
    np.testing.assert_array_equal(base != 0, single != 0)  # the same draws in either precision
    for other in (_mask(0.5, 8, 3, 2), _mask(0.5, 7, 4, 2), _mask(0.5, 7, 3, 5)):
        agree = ((other[1] != 0) == (base != 0)).mean()
        assert 0.45 < agree < 0.55  # independent masks agree on half the entries


def test_dropout_backward_multiplies_by_the_mask_and_matches_fd():
    rng = np.random.default_rng(2)
    x = rng.normal(size=300)
    key = dropout.dropout_key(1, 2, 3)
    mask = np.empty_like(x)
    w_out = rng.normal(size=300)

    def loss():
        y = np.empty_like(x)
        dropout.dropout_forward(x, y, mask, 0.3, key)
        return float((w_out * y).sum())

    loss()
    dx = np.empty_like(x)
    dropout.dropout_backward(w_out, mask, dx)
    assert_close(dx, w_out * mask, "dropout dx", rtol=0, atol=0)
    assert_fd(dx, central_diff(loss, x, range(x.size), h=LINEAR_H), "dropout dx")


# ================================================================================================
# Whole image networks through Trainer.forward_backward
# ================================================================================================
DIGITS = {"name": "digits", "shape": "image", "samples": 200}
STRIPES = {"name": "stripes", "samples": 120, "side": 8}


def net(nodes: list[dict], edges: list[tuple[str, str]], data: dict = DIGITS, l2=0.0) -> dict:
    return {
        "format": "vgsim.network/1",
        "name": "image gradcheck",
        "data": data,
        "nodes": [{"id": "in", "type": "input"}, *nodes, {"id": "out", "type": "output"}],
        "edges": [{"from": a, "to": b} for a, b in edges],
        "training": {"dtype": "float64", "batch_size": BATCH, "l2": l2, "seed": 3},
    }


def chain(*ids: str) -> list[tuple[str, str]]:
    return list(zip(ids[:-1], ids[1:], strict=True))


def conv2d(i: str, filters: int, **kw) -> dict:
    return {"id": i, "type": "conv2d", "filters": filters, **kw}


def act(i: str, fn: str) -> dict:
    return {"id": i, "type": "activation", "function": fn}


def dense(i: str, units: int) -> dict:
    return {"id": i, "type": "dense", "units": units}


def node(i: str, kind: str, **kw) -> dict:
    return {"id": i, "type": kind, **kw}


NETWORKS = {
    "conv_same_and_strided": net(
        [
            conv2d("c1", 3),
            act("a1", "tanh"),
            conv2d("c2", 5, stride=2),
            act("a2", "elu"),
            node("f", "flatten"),
            dense("d", 10),
        ],
        chain("in", "c1", "a1", "c2", "a2", "f", "d", "out"),
    ),
    "conv_valid_even_kernels_no_bias": net(
        [
            conv2d("c1", 3, kernel=4, padding="valid", bias=False),
            act("a1", "tanh"),
            conv2d("c2", 4, kernel=2, stride=2, padding="valid"),
            act("a2", "swish"),
            node("f", "flatten"),
            dense("d", 10),
        ],
        chain("in", "c1", "a1", "c2", "a2", "f", "d", "out"),
        l2=0.02,
    ),
    "pools": net(
        [
            conv2d("c1", 4, kernel=3),
            act("a1", "softplus"),
            node("mp", "maxpool", size=3, stride=2),
            node("ap", "avgpool", size=2, stride=1),
            node("f", "flatten"),
            dense("d", 10),
        ],
        chain("in", "c1", "a1", "mp", "ap", "f", "d", "out"),
    ),
    "batchnorm2d_relu_maxpool": net(
        [
            conv2d("c1", 4, bias=False),
            node("bn1", "batchnorm"),
            act("a1", "relu"),
            node("mp", "maxpool"),
            conv2d("c2", 6),
            node("bn2", "batchnorm", eps=1e-3, momentum=0.3),
            act("a2", "leaky_relu"),
            node("g", "global_avgpool"),
            dense("d", 10),
        ],
        chain("in", "c1", "bn1", "a1", "mp", "c2", "bn2", "a2", "g", "d", "out"),
    ),
    # An identity skip around two convolutions, then a 1×1 projection with stride 2 on the
    # skip around a strided convolution; the sums go into activations.
    "residual_conv": net(
        [
            conv2d("c0", 4),
            act("a0", "tanh"),
            conv2d("c1", 4),
            act("a1", "tanh"),
            conv2d("c2", 4),
            act("a2", "tanh"),
            conv2d("c3", 6, stride=2),
            conv2d("proj", 6, kernel=1, stride=2, bias=False),
            act("a3", "elu"),
            node("g", "global_avgpool"),
            dense("d", 10),
        ],
        chain("in", "c0", "a0", "c1", "a1", "c2", "a2", "c3", "a3", "g", "d", "out")
        + [("a0", "a2"), ("a2", "proj"), ("proj", "a3")],
        l2=0.01,
    ),
    "dropout_flat_and_image": net(
        [
            conv2d("c1", 4),
            act("a1", "tanh"),
            node("dr1", "dropout", rate=0.3),
            node("f", "flatten"),
            dense("d1", 12),
            act("a2", "tanh"),
            node("dr2", "dropout", rate=0.6),
            dense("d", 10),
        ],
        chain("in", "c1", "a1", "dr1", "f", "d1", "a2", "dr2", "d", "out"),
    ),
    "stripes": net(
        [
            conv2d("c1", 3, kernel=5, stride=2),
            act("a1", "sigmoid"),
            node("ap", "avgpool", size=2),
            node("f", "flatten"),
            dense("d", 4),
        ],
        chain("in", "c1", "a1", "ap", "f", "d", "out"),
        STRIPES,
    ),
}


def build(spec: dict, seed: int = 0) -> Trainer:
    """A float64 trainer with its parameters shaken (no term hides behind a 0 or a 1) and its
    images jittered: the digits' blank background would give every max pool window ties."""
    tr = Trainer(Network.from_dict(spec))
    assert tr.params.dtype == np.float64
    rng = np.random.default_rng(seed)
    tr.params += rng.normal(0.0, 0.2, tr.params.size)
    tr.X_train += rng.normal(0.0, 0.1, tr.X_train.shape)
    return tr


def max_margin(spec: dict, state: dict) -> float:
    """Smallest gap between a max pool window's largest and second largest input, leaving out
    windows of ReLU's exact zeros (whose inputs kink_margin keeps on the flat side)."""
    margin = np.inf
    for n in spec["nodes"]:
        if n["type"] != "maxpool":
            continue
        x = sum(state[f"act/{e['from']}"] for e in spec["edges"] if e["to"] == n["id"])
        size, stride = n.get("size", 2), n.get("stride", n.get("size", 2))
        for _, _, rows, cols in naive._windows(x.shape[1], x.shape[2], size, stride):
            top = np.sort(x[:, rows, cols, :].reshape(len(x), -1, x.shape[3]), axis=1)
            gap = top[:, -1] - top[:, -2]
            gap[(top[:, -1] == 0) & (top[:, -2] == 0)] = np.inf
            margin = min(margin, float(gap.min()))
    return margin


def pick_batch(tr: Trainer, spec: dict) -> tuple[np.ndarray, dict]:
    """A batch whose ReLU inputs and max pool windows all stay clear of their kinks."""
    perm = np.random.default_rng(11).permutation(tr.X_train.shape[0])
    for start in range(0, perm.size - BATCH + 1, BATCH):
        idx = np.ascontiguousarray(perm[start : start + BATCH], dtype=np.int64)
        state = tr.forward_backward(idx)
        if min(kink_margin(spec, state), max_margin(spec, state)) > KINK_MARGIN:
            return idx, state
    raise AssertionError("no batch keeps every kink at a distance")


@pytest.mark.skipif(config.DISABLE_JIT, reason="a minute per network as plain Python")
@pytest.mark.parametrize("name", list(NETWORKS))
def test_image_network_gradients(name):
    spec = NETWORKS[name]
    tr = build(spec)
    before = (tr.params.copy(), tr.bn_run.copy(), tr.step_count)
    idx, state = pick_batch(tr, spec)
    assert bool(state["finite"])
    # Every node's value and gradient against the naive network (same weights, batch, masks).
    masks = {k: v for k, v in state.items() if k.startswith("mask/")}
    params = {k: v for k, v in state.items() if k.startswith("param/")}
    ref = naive.network(spec, params, state["x"], state["y"], l2=tr.cfg["l2"], masks=masks)
    assert float(state["loss"]) == pytest.approx(ref["loss"], rel=1e-12)
    keys = [f"{kind}/{i}" for i in tr.node_ids for kind in ("act", "dact")]
    keys += [f"grad/{s.node_id}/{s.name}" for s in tr.plan.params]
    for key in keys:
        assert state[key].shape == np.shape(ref[key]), key
        scale = max(float(np.abs(ref[key]).max()), 1e-3)
        assert_close(state[key], ref[key], key, rtol=1e-9, atol=1e-11 * scale)

    # Every parameter entry and every input entry against central differences.
    def loss() -> float:
        return float(tr.forward_backward(idx)["loss"])

    assert loss() == float(state["loss"])  # the same masks each time: nothing changes
    for slot in tr.plan.params:
        key = f"grad/{slot.node_id}/{slot.name}"
        view = tr.params[slot.offset : slot.offset + slot.size]
        assert_fd(state[key].ravel(), central_diff(loss, view, range(slot.size)), key)
    fd_x = np.stack([central_diff(loss, tr.X_train[r], range(tr.X_train.shape[1])) for r in idx])
    assert_fd(state["dact/in"].reshape(BATCH, -1), fd_x, "dact/in")
    assert np.abs(fd_x).max() > 1e-6
    np.testing.assert_array_equal(tr.params, before[0])
    np.testing.assert_array_equal(tr.bn_run, before[1])
    assert tr.step_count == before[2]
