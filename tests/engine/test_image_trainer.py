"""Image networks in the Trainer: the dumps keep the image shape, dropout's masks are drawn from
the training seed and vanish in evaluation, convolutions use PyTorch's fans, the L2 penalty and
batch norm cover them, and the per-layer figures count every channel and position.
(Determinism, micro-steps and divergence run on tests/engine/networks/conv_small.json in
test_trainer.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vgsim.engine import Network, Trainer, read_network
from vgsim.engine.kernels.plan import K_RUN
from vgsim.engine.kernels.stats import STAT_NAMES

NETWORKS = Path(__file__).resolve().parent / "networks"


def conv_small(**training) -> Network:
    net = read_network(NETWORKS / "conv_small.json")
    net.training.update(training)
    return net


def image_net(nodes: list[dict], training: dict | None = None, data: dict | None = None):
    """in -> nodes in a chain -> output."""
    ids = ["in", *[n["id"] for n in nodes], "out"]
    return Network.from_dict(
        {
            "format": "vgsim.network/1",
            "data": data or {"name": "digits", "shape": "image", "samples": 300},
            "nodes": [{"id": "in", "type": "input"}, *nodes, {"id": "out", "type": "output"}],
            "edges": [{"from": a, "to": b} for a, b in zip(ids[:-1], ids[1:], strict=True)],
            "training": {"batch_size": 16, **(training or {})},
        }
    )


def test_dumps_keep_the_image_shape_and_the_dropout_mask():
    tr = Trainer(conv_small())
    _, st = tr.step_with_state()
    n = tr.batch_size
    assert st["x"].shape == (n, 8, 8, 1)
    np.testing.assert_array_equal(st["act/in"], st["x"])
    shapes = {
        "c1": (8, 8, 6),
        "a2": (8, 8, 6),
        "p1": (4, 4, 6),
        "c3": (2, 2, 8),
        "proj": (2, 2, 8),
        "drop": (2, 2, 8),
        "gap": (8,),
        "d1": (10,),
    }
    for node, shape in shapes.items():
        assert st[f"act/{node}"].shape == (n, *shape), node
        assert st[f"dact/{node}"].shape == (n, *shape), node
    assert st["param/c3/W"].shape == (3, 3, 6, 8) and st["param/c3/b"].shape == (8,)
    assert st["param/bn1/gamma"].shape == (6,)
    mask = st["mask/drop"]
    assert mask.shape == (n, 2, 2, 8) and set(np.unique(mask)) <= {0.0, 1.0}
    assert 0.5 < mask.mean() < 0.95  # rate 0.25
    np.testing.assert_allclose(st["act/drop"], st["act/a3"] * mask / 0.75, rtol=1e-6)
    np.testing.assert_allclose(st["dact/a3"], st["dact/drop"] * mask / 0.75, rtol=1e-6)
    assert not [k for k in st if k.startswith("mask/") and k != "mask/drop"]


def test_dropout_masks_follow_the_seed_and_the_step():
    def masks(seed: int, steps: int) -> list[np.ndarray]:
        tr = Trainer(conv_small(seed=seed))
        return [tr.step_with_state()[1]["mask/drop"] for _ in range(steps)]

    first, again, other = masks(4, 3), masks(4, 3), masks(5, 1)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)  # the same seed draws the same masks
    assert not np.array_equal(first[0], first[1])  # a new mask every step
    assert not np.array_equal(first[0], other[0])


def test_dropout_is_the_identity_in_evaluation():
    """Predictions and evaluations of a network with dropout equal those of the same weights
    without it."""
    with_drop = conv_small()
    without = conv_small()
    without.nodes = [n for n in without.nodes if n.id != "drop"]
    without.edges = [e for e in without.edges if "drop" not in e] + [("a3", "gap")]
    a, b = Trainer(with_drop), Trainer(without)
    for _ in range(5):
        a.step()
    b.params[:] = a.params
    b.bn_run[:] = a.bn_run
    X = a.data.X_test[:40]
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert a.evaluate() == b.evaluate()


@pytest.mark.parametrize(
    ("init", "expect"),
    [
        ("he_normal", ("std", np.sqrt(2 / (9 * 16)))),
        ("lecun_normal", ("std", np.sqrt(1 / (9 * 16)))),
        ("xavier_uniform", ("limit", np.sqrt(6 / (9 * 16 + 9 * 32)))),
        ("standard", ("limit", 1 / np.sqrt(9 * 16))),
    ],
)
def test_conv_initialisers_use_pytorchs_fans(init, expect):
    """fan-in = channels × kernel area, fan-out = filters × kernel area."""
    net = image_net(
        [
            {"id": "c0", "type": "conv2d", "filters": 16},
            {"id": "c1", "type": "conv2d", "filters": 32, "init": init},
            {"id": "f", "type": "flatten"},
            {"id": "d", "type": "dense", "units": 10},
        ]
    )
    W = Trainer(net).state_arrays()["param/c1/W"]
    assert W.shape == (3, 3, 16, 32)
    kind, value = expect
    if kind == "std":
        assert abs(W.std() / value - 1) < 0.03
    else:
        assert np.abs(W).max() <= value and np.abs(W).max() > 0.99 * value


def test_l2_covers_convolution_and_dense_weights_only():
    tr = Trainer(conv_small(l2=0.01))
    _, st = tr.step_with_state()
    weights = [k for k in st if k.startswith("param/") and k.endswith("/W")]
    assert {"param/c1/W", "param/proj/W", "param/d1/W"} <= set(weights)
    penalty = 0.01 * sum(float((st[k].astype(np.float64) ** 2).sum()) for k in weights)
    record = tr.history.latest
    assert record.scalars["l2_penalty"] == pytest.approx(penalty, rel=1e-5)


def test_dead_fraction_counts_every_channel_at_every_position():
    """A unit of an image layer is one channel at one position: dead when its input is <= 0
    for every sample of the batch."""
    net = image_net(
        [
            {"id": "c", "type": "conv2d", "filters": 5, "init": "he_normal", "bias_init": -0.3},
            {"id": "a", "type": "activation", "function": "relu"},
            {"id": "f", "type": "flatten"},
            {"id": "d", "type": "dense", "units": 10},
        ]
    )
    tr = Trainer(net)
    record, st = tr.step_with_state()
    z = st["act/c"]
    expected = float((z <= 0).all(axis=0).mean())
    assert 0 < expected < 1
    assert record.stat("dead")["a"] == pytest.approx(expected)


def test_batchnorm_after_a_convolution_normalises_each_channel():
    """BatchNorm2d: one mean and variance per channel over batch × height × width, in the
    output and in the running statistics."""
    net = image_net(
        [
            {"id": "c", "type": "conv2d", "filters": 4, "bias_init": 0.5},
            {"id": "bn", "type": "batchnorm", "momentum": 0.1},
            {"id": "f", "type": "flatten"},
            {"id": "d", "type": "dense", "units": 10},
        ],
        {"dtype": "float64"},
    )
    tr = Trainer(net)
    _, st = tr.step_with_state()
    y = st["act/bn"].reshape(-1, 4)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(y.var(axis=0), 1, rtol=1e-3)
    x = st["act/c"].reshape(-1, 4)
    i = tr.node_ids.index("bn")
    off = tr.ops[i, K_RUN]
    np.testing.assert_allclose(tr.bn_run[off : off + 4], 0.1 * x.mean(axis=0), rtol=1e-10)
    unbiased = x.var(axis=0, ddof=1)
    np.testing.assert_allclose(tr.bn_run[off + 4 : off + 8], 0.9 + 0.1 * unbiased, rtol=1e-10)


def test_every_image_node_reports_its_figures_and_histogram():
    tr = Trainer(conv_small())
    record = tr.step()
    col = {name: c for c, name in enumerate(STAT_NAMES)}
    for r, node in enumerate(tr.node_ids):
        stats = record.node_stats[r]
        assert np.isfinite(stats[col["act_mean"]]) and np.isfinite(stats[col["act_std"]]), node
        assert record.histograms[r].sum() == pytest.approx(1.0), node
        if node != "in":
            assert stats[col["grad_norm"]] > 0, node
    for node in ("c1", "c3", "proj", "bn1", "d1"):
        r = tr.node_ids.index(node)
        assert record.node_stats[r, col["param_grad_norm"]] > 0, node
        assert record.node_stats[r, col["update_ratio"]] > 0, node
    for node in ("a1", "a2"):
        assert 0 <= record.stat("dead")[node] <= 1
    assert np.isnan(record.stat("dead")["c1"]) and np.isnan(record.stat("saturated")["p1"])


def test_conv_network_learns_the_digits():
    tr = Trainer(conv_small())
    for _ in tr.run(300):
        pass
    result = tr.evaluate()  # guessing gets 0.1
    assert result["train_accuracy"] > 0.9 and result["test_accuracy"] > 0.75
