"""Every gradient the engine computes, checked against central finite differences in float64
and against the plainly written references in tests/naive.py.

Kernels are checked one at a time (each activation, dense, batch norm, each loss), then whole
networks through Trainer.forward_backward: the loss's derivative with respect to every parameter
entry and every input entry of the batch, and every node's activation and gradient (`act/<id>`,
`dact/<id>`) against a naive forward/backward pass over the same description.
"""

from __future__ import annotations

import naive
import numpy as np
import pytest

from vgsim.engine.kernels import activations as A
from vgsim.engine.kernels import layers, losses
from vgsim.engine.spec import Network
from vgsim.engine.train import Trainer

# Also run as plain Python, with the JIT off, in .ci/run.
pytestmark = pytest.mark.kernels

H = 1e-6  # finite-difference step
FD_TOL = 1e-6  # relative error allowed between analytic and finite-difference gradients
# Below this magnitude the relative error's denominator stops shrinking: a central difference
# with step H carries ~1e-10 of rounding noise for losses of order one (one ulp of the loss over
# 2H), so tiny entries (e.g. the bias before a batch norm, whose gradient is 0) are held to
# |a - b| < FD_TOL * FD_FLOOR = 1e-9 instead.
FD_FLOOR = 1e-3
RELU_FAMILY = ("relu", "leaky_relu", "prelu", "elu", "selu")
KINK_MARGIN = 1e-4  # 100 H: closer to a relu-family kink, a central difference straddles it


def rel_err(a, b, tiny: float = FD_FLOOR) -> float:
    """Largest entrywise |a - b| / max(|a| + |b|, tiny)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), tiny)))


def assert_fd(analytic, numeric, what: str, tol: float = FD_TOL) -> None:
    err = rel_err(analytic, numeric)
    assert err < tol, (
        f"{what}: relative error {err:.3g} vs finite differences\n"
        f"analytic={np.asarray(analytic).ravel()[:8]}\n"
        f"numeric ={np.asarray(numeric).ravel()[:8]}"
    )


def assert_close(actual, expected, what: str, rtol: float = 1e-10, atol: float = 1e-12):
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64),
        np.asarray(expected, dtype=np.float64),
        rtol=rtol,
        atol=atol,
        err_msg=what,
    )


def central_diff(fun, arr: np.ndarray, positions, h: float = H) -> np.ndarray:
    """d fun() / d arr.flat[p] for each p, perturbing `arr` in place (restored afterwards)."""
    flat = arr.reshape(-1)
    assert np.shares_memory(flat, arr)
    out = np.empty(len(positions))
    for k, p in enumerate(positions):
        old = flat[p]
        flat[p] = old + h
        up = fun()
        flat[p] = old - h
        down = fun()
        flat[p] = old
        out[k] = (up - down) / (2 * h)
    return out


# ================================================================================================
# Activations
# ================================================================================================
# (name, parameter): leaky slope, prelu alpha and elu alpha away from their defaults, so a kernel
# that ignores its parameter fails.
ACTS = [
    ("identity", 0.0),
    ("sigmoid", 0.0),
    ("tanh", 0.0),
    ("relu", 0.0),
    ("leaky_relu", 0.05),
    ("prelu", 0.3),
    ("elu", 0.7),
    ("elu", 1.0),
    ("selu", 0.0),
    ("softplus", 0.0),
    ("swish", 0.0),
]


def _act_inputs(seed: int = 0, n: int = 400) -> np.ndarray:
    """Values in [-3, 3] with |z| >= 0.01 (away from the relu family's kink), plus landmarks."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.01, 3.0, n) * rng.choice([-1.0, 1.0], n)
    return np.concatenate([z, [-2.5, -0.5, -0.01, 0.01, 0.5, 2.5]])


def engine_f(name: str, z: np.ndarray, a: float) -> np.ndarray:
    y = np.empty_like(z)
    A.act_forward(A.CODES[name], z, y, a)
    return y


def engine_df(name: str, z: np.ndarray, dy: np.ndarray, a: float) -> tuple[np.ndarray, float]:
    y = engine_f(name, z, a)
    dz = np.full_like(z, np.nan)
    dalpha = A.act_backward(A.CODES[name], z, y, dy, dz, a)
    return dz, dalpha


@pytest.mark.parametrize(("name", "a"), ACTS, ids=[f"{n}-{a}" for n, a in ACTS])
def test_activation_forward_matches_naive(name, a):
    z = _act_inputs()
    assert_close(engine_f(name, z, a), naive.act_f(name, z, a), f"{name} f", rtol=1e-13)


@pytest.mark.parametrize(("name", "a"), ACTS, ids=[f"{n}-{a}" for n, a in ACTS])
def test_activation_derivative_matches_naive_and_fd(name, a):
    z = _act_inputs(1)
    dy = np.random.default_rng(2).normal(size=z.size)
    dz, dalpha = engine_df(name, z, dy, a)
    assert_close(dz, dy * naive.act_df(name, z, a), f"{name} f'", rtol=1e-12)
    # Elementwise function: perturbing every entry at once is the same as one at a time.
    fd = dy * (engine_f(name, z + H, a) - engine_f(name, z - H, a)) / (2 * H)
    assert_fd(dz, fd, f"{name} dz")
    if name != "prelu":
        assert dalpha == 0.0


def test_prelu_dalpha_matches_naive_and_fd():
    z = _act_inputs(3)
    dy = np.random.default_rng(4).normal(size=z.size)
    alpha = 0.3
    _, dalpha = engine_df("prelu", z, dy, alpha)

    def loss(al):
        return float(np.dot(dy, engine_f("prelu", z, al)))

    fd = (loss(alpha + H) - loss(alpha - H)) / (2 * H)
    assert abs(dalpha) > 1.0  # a real signal, not two zeros agreeing
    assert_fd(dalpha, fd, "prelu d/d alpha")
    assert dalpha == pytest.approx(naive.prelu_dalpha(z, dy), rel=1e-12)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus", "swish", "elu", "selu"])
def test_activation_extremes_stay_finite(name):
    """Large |z| must neither overflow nor produce NaN (sigmoid of -800 is 0, not NaN)."""
    z = np.array([-800.0, -60.0, 60.0, 800.0])
    a = 1.0
    y = engine_f(name, z, a)
    dz, _ = engine_df(name, z, np.ones_like(z), a)
    assert np.isfinite(y).all() and np.isfinite(dz).all(), (y, dz)
    limits = {
        "sigmoid": [0, 0, 1, 1],
        "tanh": [-1, -1, 1, 1],
        "softplus": [0, 0, 60, 800],
        "swish": [0, 0, 60, 800],
        "elu": [-1, -1, 60, 800],
        "selu": [-naive.SELU_SCALE * naive.SELU_ALPHA] * 2
        + [naive.SELU_SCALE * 60, naive.SELU_SCALE * 800],
    }
    assert_close(y, limits[name], name, rtol=1e-12, atol=1e-20)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("width", [1, 7, 33, 130])
def test_relu_with_dead_units_is_relu_and_counts_the_columns_never_positive(dtype, width):
    rng = np.random.default_rng(width)
    z = rng.normal(0.0, 1.0, (9, width)).astype(dtype)
    z[:, ::3] = -np.abs(z[:, ::3])  # every third column never positive
    z[:, ::3][0] = 0.0  # zero is not positive either
    z[4, 1::5] = np.nan  # NaN neither kills nor saves a column
    y = np.empty_like(z)
    alive = np.full(width, 7, np.uint64)  # scratch left dirty by an earlier node
    dead = A.relu_f_dead(z, y, alive)
    expected = engine_f("relu", z.ravel(), 0.0).reshape(z.shape)
    assert y.tobytes() == expected.tobytes()
    assert dead == int((~(z > 0).any(axis=0)).sum())


# ================================================================================================
# Dense and batch norm
# ================================================================================================
def test_dense_forward_backward_matches_naive_and_fd():
    rng = np.random.default_rng(5)
    x, W, b = rng.normal(size=(6, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)
    w_out = rng.normal(size=(6, 3))  # loss = sum(w_out * y)

    def forward():
        y = np.empty((6, 3))
        layers.dense_forward(x, W, b, True, y)
        return y

    y = forward()
    assert_close(y, naive.dense_forward(x, W, b), "dense y", rtol=1e-13)
    dW, db, dx = np.empty_like(W), np.empty_like(b), np.empty_like(x)
    layers.dense_backward(x, W, w_out, dW, db, True, dx, True)
    ndx, ndW, ndb = naive.dense_backward(x, W, w_out)
    for got, want, what in ((dx, ndx, "dx"), (dW, ndW, "dW"), (db, ndb, "db")):
        assert_close(got, want, f"dense {what}", rtol=1e-13)

    def loss():
        return float((w_out * forward()).sum())

    for arr, grad, what in ((x, dx, "dx"), (W, dW, "dW"), (b, db, "db")):
        assert_fd(grad.ravel(), central_diff(loss, arr, range(arr.size)), f"dense {what}")
    # Without a bias: no bias added, db untouched; without need_dx: dx untouched.
    y2 = np.empty((6, 3))
    layers.dense_forward(x, W, b, False, y2)
    assert_close(y2, naive.dense_forward(x, W, None), "dense y without bias", rtol=1e-13)
    dx2 = np.full_like(x, 7.0)
    layers.dense_backward(x, W, w_out, dW, np.empty(0), False, dx2, False)
    assert (dx2 == 7.0).all()
    assert_close(dW, ndW, "dense dW without bias", rtol=1e-13)


def _bn_inputs(seed=6, n=7, m=4):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, m)) * [1.0, 3.0, 0.2, 1.0] + [0.0, 2.0, -1.0, 0.5]
    gamma = rng.uniform(0.5, 2.0, m) * rng.choice([-1.0, 1.0], m)
    beta = rng.normal(size=m)
    return x, gamma, beta, rng.normal(size=(n, m))


def _bn_forward(x, gamma, beta, run_mean=None, run_var=None, momentum=0.1, eps=1e-5, training=True):
    n, m = x.shape
    y, xhat = np.empty((n, m)), np.empty((n, m))
    invstd = np.empty(m)
    run_mean = np.zeros(m) if run_mean is None else run_mean
    run_var = np.ones(m) if run_var is None else run_var
    layers.batchnorm_forward(
        x, gamma, beta, y, xhat, invstd, run_mean, run_var, momentum, eps, training
    )
    return y, xhat, invstd, run_mean, run_var


def test_batchnorm_forward_matches_naive():
    x, gamma, beta, _ = _bn_inputs()
    rm0, rv0 = np.array([0.5, -1.0, 0.0, 2.0]), np.array([2.0, 0.5, 1.0, 3.0])
    y, xhat, invstd, rm, rv = _bn_forward(
        x, gamma, beta, rm0.copy(), rv0.copy(), momentum=0.3, eps=1e-3
    )
    ny, cache, nrm, nrv = naive.batchnorm_forward(x, gamma, beta, rm0, rv0, 0.3, 1e-3)
    assert_close(y, ny, "bn y")
    assert_close(xhat, cache[5], "bn xhat")
    assert_close(invstd, 1 / np.sqrt(x.var(axis=0) + 1e-3), "bn invstd")
    assert_close(rm, nrm, "bn running mean")
    assert_close(rv, nrv, "bn running var (unbiased batch variance)")
    # Evaluation mode: normalises with the running statistics and leaves them alone.
    ye, _, _, rm2, rv2 = _bn_forward(x, gamma, beta, rm.copy(), rv.copy(), eps=1e-3, training=False)
    assert_close(ye, gamma * (x - rm) / np.sqrt(rv + 1e-3) + beta, "bn eval y")
    assert_close(rm2, rm, "bn eval keeps running mean", rtol=0, atol=0)
    assert_close(rv2, rv, "bn eval keeps running var", rtol=0, atol=0)


def test_batchnorm_backward_matches_naive_and_fd():
    x, gamma, beta, w_out = _bn_inputs()
    y, xhat, invstd, _, _ = _bn_forward(x, gamma, beta)
    dx, dgamma, dbeta = np.empty_like(x), np.empty_like(gamma), np.empty_like(beta)
    layers.batchnorm_backward(w_out, gamma, xhat, invstd, dx, dgamma, dbeta)
    _, cache, _, _ = naive.batchnorm_forward(x, gamma, beta, np.zeros(4), np.ones(4))
    ndx, ndgamma, ndbeta = naive.batchnorm_backward(w_out, cache)
    assert_close(dx, ndx, "bn dx")
    assert_close(dgamma, ndgamma, "bn dgamma")
    assert_close(dbeta, ndbeta, "bn dbeta")

    def loss():
        return float((w_out * _bn_forward(x, gamma, beta)[0]).sum())

    for arr, grad, what in ((x, dx, "dx"), (gamma, dgamma, "dgamma"), (beta, dbeta, "dbeta")):
        assert_fd(grad.ravel(), central_diff(loss, arr, range(arr.size)), f"batchnorm {what}")


# ================================================================================================
# Losses
# ================================================================================================
LOSS_CASES = [  # (id, loss, outputs, classify)
    ("softmax_ce", "softmax_cross_entropy", 4, True),
    ("mse_regression", "mse", 2, False),
    ("mse_onehot", "mse", 3, True),
    ("bce_1_output", "binary_cross_entropy", 1, True),
    ("bce_several", "binary_cross_entropy", 3, True),
]


def _engine_loss(code, z, labels, targets, classify):
    dz = np.full_like(z, np.nan)
    loss, correct = losses.compute_loss(code, z, labels, targets, classify, dz)
    return loss, correct, dz


@pytest.mark.parametrize(
    ("loss_name", "k", "classify"), [c[1:] for c in LOSS_CASES], ids=[c[0] for c in LOSS_CASES]
)
def test_loss_matches_naive_and_fd(loss_name, k, classify):
    rng = np.random.default_rng(7)
    n = 6
    z = rng.normal(size=(n, k)) * 2
    labels = rng.integers(0, max(k, 2), n).astype(np.int64)
    labels[:2] = [0, 1]
    targets = rng.normal(size=(n, k)) if not classify else np.zeros((n, 0))
    code = losses.CODES[loss_name]
    loss, correct, dz = _engine_loss(code, z, labels, targets, classify)
    nloss, ndz = naive.loss_and_grad(loss_name, z, labels if classify else targets)
    assert loss == pytest.approx(nloss, rel=1e-13)
    assert_close(dz, ndz, f"{loss_name} dz", rtol=1e-12)
    if classify:
        assert correct == naive.correct_count(loss_name, z, labels)
    else:
        assert correct == -1

    def fun():
        return _engine_loss(code, z, labels, targets, classify)[0]

    assert_fd(dz.ravel(), central_diff(fun, z, range(z.size)), f"{loss_name} dz")


@pytest.mark.parametrize("loss_name", ["softmax_cross_entropy", "binary_cross_entropy"])
def test_loss_is_stable_for_huge_logits(loss_name):
    z = np.array([[800.0, -800.0], [-800.0, 800.0]])
    labels = np.array([0, 0], dtype=np.int64)
    loss, _, dz = _engine_loss(losses.CODES[loss_name], z, labels, np.zeros((2, 0)), True)
    # Sample 1 is right with certainty (loss 0); sample 2 wrong by a margin of 1600 (CE) or
    # 800 per output (BCE).
    expected = 800.0 if loss_name == "softmax_cross_entropy" else 400.0
    assert loss == pytest.approx(expected, rel=1e-12)
    assert np.isfinite(dz).all()


# ================================================================================================
# Whole networks through Trainer.forward_backward
# ================================================================================================
BATCH = 8


def make_net(nodes: list[dict], edges: list[tuple[str, str]], data: dict, l2: float = 0.0) -> dict:
    return {
        "format": "vgsim.network/1",
        "name": "gradcheck",
        "data": data,
        "nodes": [{"id": "in", "type": "input"}, *nodes],
        "edges": [{"from": a, "to": b} for a, b in edges],
        "training": {"dtype": "float64", "batch_size": BATCH, "l2": l2, "seed": 3},
    }


def chain(*ids: str) -> list[tuple[str, str]]:
    return list(zip(ids[:-1], ids[1:], strict=True))


def dense(i: str, units: int, **kw) -> dict:
    return {"id": i, "type": "dense", "units": units, **kw}


def act(i: str, fn: str, **kw) -> dict:
    return {"id": i, "type": "activation", "function": fn, **kw}


def output(loss: str = "softmax_cross_entropy") -> dict:
    return {"id": "out", "type": "output", "loss": loss}


SPIRAL = {"name": "spiral", "classes": 3, "samples": 300}
ACT_PARAMS = {"leaky_relu": {"slope": 0.1}, "elu": {"alpha": 0.7}, "prelu": {"alpha": 0.2}}


def mlp(
    fn: str,
    data: dict = SPIRAL,
    loss: str = "softmax_cross_entropy",
    n_out: int = 3,
    l2: float = 0.0,
) -> dict:
    p = ACT_PARAMS.get(fn, {})
    nodes = [
        dense("d1", 6),
        act("a1", fn, **p),
        dense("d2", 5),
        act("a2", fn, **p),
        dense("d3", n_out),
        output(loss),
    ]
    return make_net(nodes, chain("in", "d1", "a1", "d2", "a2", "d3", "out"), data, l2)


def _networks() -> dict[str, dict]:
    nets = {f"mlp_{fn}": mlp(fn) for fn in A.CODES}
    nets["batchnorm"] = make_net(
        [
            dense("d1", 6),
            {"id": "bn1", "type": "batchnorm"},
            act("a1", "tanh"),
            dense("d2", 6, bias=False),
            {"id": "bn2", "type": "batchnorm", "eps": 1e-3},
            act("a2", "relu"),
            dense("d3", 3),
            output(),
        ],
        chain("in", "d1", "bn1", "a1", "d2", "bn2", "a2", "d3", "out"),
        SPIRAL,
    )
    # Identity skip: a3 receives d3 + a1 (a1 feeds two nodes).
    nets["residual_identity"] = make_net(
        [
            dense("d1", 6),
            act("a1", "tanh"),
            dense("d2", 6),
            act("a2", "tanh"),
            dense("d3", 6),
            act("a3", "tanh"),
            dense("d4", 3),
            output(),
        ],
        chain("in", "d1", "a1", "d2", "a2", "d3", "a3", "d4", "out") + [("a1", "a3")],
        SPIRAL,
    )
    # Projection shortcut: a dense node on the skip path, summed into an activation.
    nets["residual_projection"] = make_net(
        [
            dense("d1", 6),
            act("a1", "elu"),
            dense("d2", 5),
            act("a2", "swish"),
            dense("d3", 5),
            dense("proj", 5, bias=False),
            act("a3", "softplus"),
            dense("d4", 3),
            output(),
        ],
        chain("in", "d1", "a1", "d2", "a2", "d3", "a3", "d4", "out")
        + [("a1", "proj"), ("proj", "a3")],
        SPIRAL,
    )
    # The input itself on the skip path: a2 = tanh(d2 + x).
    nets["skip_from_input"] = make_net(
        [
            dense("d1", 6),
            act("a1", "tanh"),
            dense("d2", 2),
            act("a2", "tanh"),
            dense("d3", 3),
            output(),
        ],
        chain("in", "d1", "a1", "d2", "a2", "d3", "out") + [("in", "a2")],
        SPIRAL,
    )
    # The output node sums two edges: the main path and a projection of the input.
    nets["output_sums_projection"] = make_net(
        [dense("d1", 6), act("a1", "sigmoid"), dense("d2", 3), dense("proj", 3), output()],
        chain("in", "d1", "a1", "d2", "out") + [("in", "proj"), ("proj", "out")],
        SPIRAL,
    )
    # Sums into a batch norm (two edges) and into a dense node (three edges), with the nodes
    # listed in the file out of order: the engine must sort them.
    nets["sums_into_dense_and_batchnorm"] = make_net(
        [
            output(),
            dense("d3", 3),
            act("a2", "relu"),
            {"id": "bn", "type": "batchnorm"},
            dense("d2", 4),
            act("a1", "tanh"),
            dense("d1", 4),
        ],
        chain("in", "d1", "a1", "d2", "bn", "a2", "d3", "out")
        + [("d1", "bn"), ("a1", "d3"), ("d1", "d3")],
        SPIRAL,
    )
    nets["l2_mlp"] = mlp("relu", l2=0.01)
    nets["l2_batchnorm_residual"] = make_net(
        [
            dense("d1", 5),
            {"id": "bn1", "type": "batchnorm"},
            act("a1", "prelu", alpha=0.1),
            dense("d2", 5),
            act("a2", "prelu"),
            dense("d3", 3),
            output(),
        ],
        chain("in", "d1", "bn1", "a1", "d2", "a2", "d3", "out") + [("a1", "a2")],
        SPIRAL,
        l2=0.05,
    )
    nets["prelu"] = mlp("prelu")
    nets["loss_mse_regression"] = mlp("tanh", {"name": "sine", "samples": 200}, "mse", 1)
    nets["loss_mse_classification"] = mlp("tanh", loss="mse")
    nets["loss_bce_1_output"] = mlp(
        "tanh", {"name": "moons", "samples": 200}, "binary_cross_entropy", 1
    )
    nets["loss_bce_several"] = mlp("swish", loss="binary_cross_entropy")
    return nets


NETWORKS = _networks()


def build(net: dict, seed: int = 0) -> Trainer:
    """A float64 trainer whose parameters are shaken off their initial values (non-zero
    biases, gamma != 1, prelu alpha unlike its initial value) so no term hides behind a 0 or 1."""
    tr = Trainer(Network.from_dict(net))
    assert tr.params.dtype == np.float64
    rng = np.random.default_rng(seed)
    tr.params += rng.normal(0.0, 0.2, tr.params.size)
    return tr


def kink_margin(net: dict, state: dict) -> float:
    """Smallest |pre-activation| at a relu-family node in this batch (inf if there is none)."""
    margin = np.inf
    for node in net["nodes"]:
        if node["type"] == "activation" and node["function"] in RELU_FAMILY:
            z = sum(state[f"act/{e['from']}"] for e in net["edges"] if e["to"] == node["id"])
            margin = min(margin, float(np.abs(z).min()))
    return margin


def pick_batch(tr: Trainer, net: dict) -> tuple[np.ndarray, dict]:
    """The first batch of a fixed permutation whose relu-family inputs all stay clear of 0."""
    perm = np.random.default_rng(11).permutation(tr.X_train.shape[0])
    for start in range(0, perm.size - BATCH + 1, BATCH):
        idx = np.ascontiguousarray(perm[start : start + BATCH], dtype=np.int64)
        state = tr.forward_backward(idx)
        if kink_margin(net, state) > KINK_MARGIN:
            return idx, state
    raise AssertionError("no batch keeps every relu-family input away from its kink")


def params_of(state: dict) -> dict[str, np.ndarray]:
    return {key: v for key, v in state.items() if key.startswith("param/")}


def check_network_fd(tr: Trainer, net: dict, idx: np.ndarray, state: dict) -> float:
    """Every parameter entry and every input entry of the batch against central differences.
    Returns the largest relative error seen."""
    worst = 0.0

    def loss() -> float:
        return float(tr.forward_backward(idx)["loss"])

    assert loss() == float(state["loss"])  # forward_backward is repeatable: it changes nothing
    for slot in tr.plan.params:
        key = f"grad/{slot.node_id}/{slot.name}"
        view = tr.params[slot.offset : slot.offset + slot.size]
        fd = central_diff(loss, view, range(slot.size))
        assert_fd(state[key].ravel(), fd, key)
        worst = max(worst, rel_err(state[key].ravel(), fd))
    rows = tr.X_train[idx]
    fd_x = np.empty_like(rows)
    for r, row in enumerate(idx):
        fd_x[r] = central_diff(loss, tr.X_train[row], range(tr.X_train.shape[1]))
    key = f"dact/{net['nodes'][0]['id']}"
    assert_fd(state[key], fd_x, key)
    assert np.abs(fd_x).max() > 1e-6  # the input really moves the loss
    return max(worst, rel_err(state[key], fd_x))


def check_network_naive(tr: Trainer, net: dict, state: dict) -> None:
    """Loss, every node's activation and gradient, every parameter gradient vs tests/naive.py."""
    ref = naive.network(net, params_of(state), state["x"], state["y"], l2=tr.cfg["l2"])
    assert float(state["loss"]) == pytest.approx(ref["loss"], rel=1e-12)
    keys = [f"{kind}/{i}" for i in tr.node_ids for kind in ("act", "dact")]
    keys += [f"grad/{s.node_id}/{s.name}" for s in tr.plan.params]
    assert sorted(tr.node_ids) == sorted(ref["order"])
    for key in keys:
        scale = max(float(np.abs(ref[key]).max()), 1e-3)
        assert_close(state[key], ref[key], key, rtol=1e-9, atol=1e-11 * scale)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_network_gradients(name):
    net = NETWORKS[name]
    tr = build(net)
    before = (tr.params.copy(), tr.bn_run.copy(), tr.step_count, tr.X_train.copy())
    idx, state = pick_batch(tr, net)
    assert bool(state["finite"])
    check_network_naive(tr, net, state)
    check_network_fd(tr, net, idx, state)
    # Nothing changed: parameters, running statistics, the step count, the data.
    np.testing.assert_array_equal(tr.params, before[0])
    np.testing.assert_array_equal(tr.bn_run, before[1])
    assert tr.step_count == before[2]
    np.testing.assert_array_equal(tr.X_train, before[3])


def test_network_l2_penalty_is_in_loss_and_weight_gradients_only():
    """L2 adds lambda * sum(W^2) over dense weights: not over biases, gamma, beta or alpha."""
    net = NETWORKS["l2_batchnorm_residual"]
    tr = build(net)
    idx, state = pick_batch(tr, net)
    tr.set_live(l2=0.0)
    plain = tr.forward_backward(idx)
    lam = 0.05
    weights = [s for s in tr.plan.params if s.name == "W"]
    penalty = lam * sum(float((state[f"param/{s.node_id}/W"] ** 2).sum()) for s in weights)
    assert float(state["loss"]) == pytest.approx(float(plain["loss"]) + penalty, rel=1e-13)
    for s in tr.plan.params:
        key = f"grad/{s.node_id}/{s.name}"
        extra = 2 * lam * state[f"param/{s.node_id}/W"] if s.name == "W" else 0.0
        assert_close(state[key], plain[key] + extra, key, rtol=1e-12, atol=1e-15)


def test_prelu_uses_its_learned_alpha():
    """The slope in use is the parameter (which training changes), not the node's initial
    value."""
    net = NETWORKS["prelu"]
    tr = build(net)
    slot = next(s for s in tr.plan.params if s.node_id == "a1" and s.name == "alpha")
    tr.params[slot.offset] = 0.6
    idx, state = pick_batch(tr, net)
    z = state["act/d1"]
    assert (z < 0).any()
    assert_close(state["act/a1"], np.where(z > 0, z, 0.6 * z), "prelu uses alpha 0.6")
