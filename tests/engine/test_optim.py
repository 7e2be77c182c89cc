"""Optimizers and gradient clipping: the kernels against tests/naive.py (PyTorch's update rules)
over several steps, then whole training steps through the Trainer."""

from __future__ import annotations

import naive
import numpy as np
import pytest

from vgsim.engine.kernels import optim
from vgsim.engine.kernels import plan as k
from vgsim.engine.spec import Network
from vgsim.engine.train import Trainer

# Also run as plain Python, with the JIT off, in .ci/run.
pytestmark = pytest.mark.kernels

OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam", "rmsprop"]
# Away from the defaults, so a kernel reading the wrong hyper-parameter fails.
HYPER = {"lr": 0.05, "momentum": 0.8, "beta1": 0.85, "beta2": 0.97, "eps": 1e-3, "alpha": 0.9}


def hyper_array(
    lr=HYPER["lr"],
    momentum=HYPER["momentum"],
    beta1=HYPER["beta1"],
    beta2=HYPER["beta2"],
    eps=HYPER["eps"],
    alpha=HYPER["alpha"],
    l2=0.0,
    clip=1.0,
) -> np.ndarray:
    h = np.full(optim.N_HYPER, np.nan)
    h[optim.H_LR], h[optim.H_MOMENTUM], h[optim.H_BETA1] = lr, momentum, beta1
    h[optim.H_BETA2], h[optim.H_EPS], h[optim.H_ALPHA] = beta2, eps, alpha
    h[optim.H_L2], h[optim.H_CLIP] = l2, clip
    return h


def naive_optimizer(name: str, **over) -> naive.Optimizer:
    return naive.Optimizer(name, **{**HYPER, **over})


# The kernels' calling conventions, in one place.
def update(name_or_code, w, g, m, v, hyper, t, start, end) -> tuple[float, float, float]:
    """optim.update_segment: (sum of squared steps, of squared old and of squared new weights)."""
    code = optim.CODES[name_or_code] if isinstance(name_or_code, str) else name_or_code
    return optim.update_segment(code, w, g, m, v, hyper, t, start, end, np.zeros_like(w))


def clip(g: np.ndarray, mode: int, thr: float) -> tuple[bool, float, float]:
    """optim.clip_gradients, given the global norm as the trainer computes it: (fired, norm
    before, norm after)."""
    before = float(np.sqrt((g**2).sum()))
    fired, after = optim.clip_gradients(g, mode, thr, before)
    return bool(fired), before, float(after)


# ================================================================================================
# Kernels
# ================================================================================================
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_update_kernel_matches_naive_over_steps(name):
    """Four steps with changing gradients (Adam's bias correction at t = 1, 2, 3, 4); only the
    segment [start, end) moves; the returned sums of squares are the step's and old weights'."""
    rng = np.random.default_rng(0)
    n, start, end = 12, 2, 10
    w = rng.normal(size=n)
    m, v = np.zeros(n), np.zeros(n)
    ref = naive_optimizer(name)
    expected = w[start:end].copy()
    hyper = hyper_array()
    for t in range(1, 5):
        g = rng.normal(size=n) * (0.1 if t % 2 else 2.0)
        old = w.copy()
        dw2, w2, new2 = update(name, w, g, m, v, hyper, t, start, end)
        expected = ref.step(expected, g[start:end])
        np.testing.assert_allclose(
            w[start:end], expected, rtol=1e-13, atol=1e-15, err_msg=f"{name} step {t}"
        )
        np.testing.assert_array_equal(w[:start], old[:start])
        np.testing.assert_array_equal(w[end:], old[end:])
        assert dw2 == pytest.approx(((old - w) ** 2).sum(), rel=1e-12)
        assert w2 == pytest.approx((old[start:end] ** 2).sum(), rel=1e-12)
        assert new2 == pytest.approx((w[start:end] ** 2).sum(), rel=1e-12)


def test_adam_bias_correction_first_steps():
    """At t = 1 Adam's step is lr * g / (|g| + eps') for every entry, whatever the betas:
    the bias correction exactly undoes the zero start. Then t = 2, 3 by hand."""
    b1, b2, lr, eps = 0.9, 0.999, 0.01, 1e-8
    hyper = hyper_array(lr=lr, beta1=b1, beta2=b2, eps=eps)
    g1 = np.array([0.5, -2.0, 1e-3])
    w, m, v = np.zeros(3), np.zeros(3), np.zeros(3)
    update(optim.ADAM, w, g1, m, v, hyper, 1, 0, 3)
    np.testing.assert_allclose(w, -lr * g1 / (np.abs(g1) + eps), rtol=1e-12)
    mm, vv, ww = (1 - b1) * g1, (1 - b2) * g1**2, w.copy()
    for t, g in ((2, np.array([-0.5, 1.0, 3.0])), (3, np.array([0.2, 0.2, -1.0]))):
        update(optim.ADAM, w, g, m, v, hyper, t, 0, 3)
        mm, vv = b1 * mm + (1 - b1) * g, b2 * vv + (1 - b2) * g**2
        ww = ww - lr * (mm / (1 - b1**t)) / (np.sqrt(vv / (1 - b2**t)) + eps)
        np.testing.assert_allclose(m, mm, rtol=1e-12)
        np.testing.assert_allclose(v, vv, rtol=1e-12)
        np.testing.assert_allclose(w, ww, rtol=1e-12, err_msg=f"adam t={t}")


def test_momentum_first_step_is_plain_sgd_and_buffer_accumulates():
    hyper = hyper_array(lr=0.1, momentum=0.9)
    w, m, v = np.ones(2), np.zeros(2), np.zeros(2)
    g = np.array([1.0, -2.0])
    update(optim.MOMENTUM, w, g, m, v, hyper, 1, 0, 2)
    np.testing.assert_allclose(w, 1 - 0.1 * g, rtol=1e-13)
    update(optim.MOMENTUM, w, g, m, v, hyper, 2, 0, 2)
    np.testing.assert_allclose(m, 1.9 * g, rtol=1e-13)
    np.testing.assert_allclose(w, 1 - 0.1 * g - 0.1 * 1.9 * g, rtol=1e-13)


@pytest.mark.parametrize(("thr", "fires"), [(0.3, True), (5.0, False)])
def test_clip_by_value(thr, fires):
    g = np.array([0.1, -0.5, 0.29, 2.0, -0.31, 0.0])
    before = float(np.linalg.norm(g))
    want, nfired, nbefore, nafter = naive.clip_value(g, thr)
    fired, b, a = clip(g, optim.CLIP_VALUE, thr)
    assert (fired, nfired) == (fires, fires)
    np.testing.assert_array_equal(g, want)
    assert b == pytest.approx(before, rel=1e-14) and b == pytest.approx(nbefore, rel=1e-14)
    assert a == pytest.approx(nafter, rel=1e-14)
    assert a == pytest.approx(np.linalg.norm(g), rel=1e-14)
    if fires:
        assert a < b


@pytest.mark.parametrize(("thr", "fires"), [(0.5, True), (3.0, False)])
def test_clip_by_norm(thr, fires):
    g = np.array([1.0, -2.0, 0.5, 0.0, 1e-3])
    norm = float(np.linalg.norm(g))
    want, nfired, _, nafter = naive.clip_norm(g, thr)
    fired, b, a = clip(g, optim.CLIP_NORM, thr)
    assert (fired, nfired) == (fires, fires)
    assert b == pytest.approx(norm, rel=1e-14)
    np.testing.assert_allclose(g, want, rtol=1e-14)
    assert a == pytest.approx(nafter, rel=1e-14)
    # torch's coefficient thr / (norm + 1e-6): the norm after lands just below thr.
    assert a == pytest.approx(thr * norm / (norm + 1e-6) if fires else norm, rel=1e-13)
    if fires:
        assert a < thr


def test_clip_none_and_norm_at_threshold():
    g = np.array([3.0, 4.0])
    fired, b, a = clip(g, optim.CLIP_NONE, 0.1)
    assert (fired, b, a) == (False, 5.0, 5.0)
    np.testing.assert_array_equal(g, [3.0, 4.0])
    # Exactly at the threshold the 1e-6 makes the coefficient just below 1: torch scales.
    fired, b, a = clip(g, optim.CLIP_NORM, 5.0)
    assert fired and a == pytest.approx(5.0 * 5.0 / (5.0 + 1e-6), rel=1e-14)


# ================================================================================================
# Through the Trainer
# ================================================================================================
def tiny_net(optimizer: str, clip: dict | None = None, l2: float = 0.0) -> dict:
    """Every kind of parameter: dense W and b, batch-norm gamma and beta, prelu alpha."""
    ids = ("in", "d1", "bn", "a1", "d2", "a2", "d3", "out")
    return {
        "format": "vgsim.network/1",
        "name": "tiny",
        "data": {"name": "moons", "samples": 120},
        "nodes": [
            {"id": "in", "type": "input"},
            {"id": "d1", "type": "dense", "units": 5, "init": "he_normal"},
            {"id": "bn", "type": "batchnorm"},
            {"id": "a1", "type": "activation", "function": "prelu"},
            {"id": "d2", "type": "dense", "units": 4, "bias_init": 0.1},
            {"id": "a2", "type": "activation", "function": "tanh"},
            {"id": "d3", "type": "dense", "units": 1},
            {"id": "out", "type": "output", "loss": "binary_cross_entropy"},
        ],
        "edges": [{"from": a, "to": b} for a, b in zip(ids[:-1], ids[1:], strict=True)],
        "training": {
            "optimizer": optimizer,
            "dtype": "float64",
            "batch_size": 16,
            "seed": 7,
            "l2": l2,
            "clip": clip or {"mode": "none", "threshold": 1.0},
            **HYPER,
        },
    }


def flat(tr: Trainer, state: dict, prefix: str) -> np.ndarray:
    """The state's per-parameter arrays laid out like trainer.params."""
    out = np.full(tr.plan.n_params, np.nan)
    for s in tr.plan.params:
        out[s.offset : s.offset + s.size] = state[f"{prefix}/{s.node_id}/{s.name}"].ravel()
    assert not np.isnan(out).any()
    return out


CLIPS = [("none", 1.0), ("value", 0.02), ("norm", 0.05)]


@pytest.mark.parametrize(("mode", "thr"), CLIPS, ids=[c[0] for c in CLIPS])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_trainer_step_matches_naive_update(name, mode, thr):
    tr = Trainer(Network.from_dict(tiny_net(name, {"mode": mode, "threshold": thr}, l2=1e-3)))
    ref = naive_optimizer(name)
    w = tr.params.copy()
    fired_any = False
    for step in range(3):
        if step == 2:
            tr.set_live(lr=0.02)  # a live change is used from the next step on
            ref.lr = 0.02
        record, state = tr.step_with_state()
        assert record.divergence is None
        # The state is from before the update: the parameters the previous step left.
        np.testing.assert_array_equal(flat(tr, state, "param"), w)
        g = flat(tr, state, "grad")
        if mode == "value":
            g, fired, before, after = naive.clip_value(g, thr)
        elif mode == "norm":
            g, fired, before, after = naive.clip_norm(g, thr)
        else:
            fired, before = False, float(np.linalg.norm(g))
            after = before
        np.testing.assert_allclose(
            tr.params, ref.step(w, g), rtol=1e-12, atol=1e-14, err_msg=f"{name}/{mode} step {step}"
        )
        w = tr.params.copy()
        sc = record.scalars
        assert bool(sc["clip_fired"]) == fired
        assert sc["grad_norm_before_clip"] == pytest.approx(before, rel=1e-12)
        assert sc["grad_norm_after_clip"] == pytest.approx(after, rel=1e-12)
        fired_any |= fired
    assert fired_any == (mode != "none")  # the thresholds are chosen so that clipping acts


@pytest.mark.parametrize("name", ["nesterov", "adam"])
def test_step_micro_step_step_with_state_and_blocks_agree_bit_for_bit(name):
    """The four ways of stepping (one kernel call per step, one per phase, with the state
    captured, several steps per kernel call) do the same arithmetic."""
    net = Network.from_dict(tiny_net(name, {"mode": "norm", "threshold": 0.05}))
    a, b, c, d = Trainer(net), Trainer(net), Trainer(net), Trainer(net)
    losses = []
    for _ in range(4):
        ra = a.step()
        rb = b.step_with_state()[0]
        while (rc := c.micro_step().record) is None:
            pass
        for key in ("loss", "grad_norm_before_clip", "grad_norm_after_clip"):
            assert ra.scalars[key] == rb.scalars[key] == rc.scalars[key]
        losses.append(ra.scalars["loss"])
    block_losses = []
    while d.step_count < 4:  # blocks stop early at evaluation steps
        block = d.run_block(4 - d.step_count)
        block_losses += [r.scalars["loss"] for r in block.records()]
    assert block_losses == losses
    for other in (b, c, d):
        np.testing.assert_array_equal(a.params, other.params)
        np.testing.assert_array_equal(a.opt_m, other.opt_m)
        np.testing.assert_array_equal(a.opt_v, other.opt_v)
        np.testing.assert_array_equal(a.bn_run, other.bn_run)


def test_batchnorm_running_statistics_after_steps():
    """Running mean and variance follow PyTorch: momentum 0.1, unbiased batch variance."""
    tr = Trainer(Network.from_dict(tiny_net("sgd")))
    i = tr.node_ids.index("bn")
    off, width = int(tr.ops[i, k.K_RUN]), tr.plan.width_out[i]
    mean, var = np.zeros(width), np.ones(width)
    for _ in range(3):
        _, state = tr.step_with_state()
        z = state["act/d1"]
        mean = 0.9 * mean + 0.1 * z.mean(axis=0)
        var = 0.9 * var + 0.1 * z.var(axis=0, ddof=1)
        np.testing.assert_allclose(tr.bn_run[off : off + width], mean, rtol=1e-12)
        np.testing.assert_allclose(tr.bn_run[off + width : off + 2 * width], var, rtol=1e-12)
