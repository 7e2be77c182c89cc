"""The map's data: medians over seeds, diverged cells, and where the theory's lines fall."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vgsim.engine.builders import mlp
from vgsim.engine.theory import critical_sigma_w2, mean_field
from vgsim.experiments.sweeps import Sweep
from vgsim.experiments.sweeps.grid import map_data, theory_for


def chain(bias_init=None, activation="tanh"):
    net = mlp(2, 8, 3, activation=activation, data={"name": "spiral", "samples": 200})
    if bias_init is not None:
        for node in net.nodes:
            if node.type == "dense" and node.id != "head":
                node.params["bias_init"] = bias_init
    return net


def sweep(net, axes=None, seeds=(0, 1, 2)) -> Sweep:
    axes = axes or [
        {"path": "dense.sigma_w2", "name": "sigma_w2", "values": [1.0, 1.5, 2.0, 2.5]},
        {"path": "blocks", "name": "depth", "values": [10, 20, 30]},
    ]
    spec = {"format": "vgsim.sweep/1", "axes": axes, "seeds": list(seeds), "steps": 10}
    return Sweep.from_dict(spec, network=net)


def test_a_cell_shows_the_median_over_seeds_and_is_marked_when_most_diverged():
    s = sweep(chain())
    tasks = s.tasks()
    records = {}
    for t in tasks:
        col, row = t.index
        status = "diverged" if (col, row) == (3, 2) and t.seed < 2 else "ok"
        if (col, row) == (0, 0) and t.seed == 2:
            status = "failed"  # a failed run has no figures: left out
        records[t.key] = {"status": status, "test_accuracy": 0.1 * t.seed + col / 10}
    del records[next(t.key for t in tasks if t.index == (1, 1) and t.seed == 0)]
    m = map_data(s, records, tasks=tasks)
    assert m.values.shape == (3, 4)  # rows: depth; columns: sigma_w2
    assert m.values[2, 3] == pytest.approx(0.3 + 0.1)
    assert m.values[0, 0] == pytest.approx(0.05)  # the median of seeds 0 and 1
    assert m.values[1, 1] == pytest.approx(0.25)  # seeds 1 and 2 so far
    assert m.runs[1, 1] == 2 and m.planned[1, 1] == 3
    assert m.diverged[2, 3] and m.diverged.sum() == 1
    assert [r["status"] for r in m.cells[(3, 2)]].count("diverged") == 2
    empty = map_data(s, {}, tasks=tasks)
    assert np.isnan(empty.values).all() and not empty.diverged.any()


def test_the_theory_lines_fall_where_the_mean_field_puts_them():
    s = sweep(chain({"name": "normal", "std": math.sqrt(0.05)}))
    m = map_data(s, {})
    t = m.theory
    assert t is not None and t.activation == "tanh" and t.sigma_b2 == pytest.approx(0.05)
    assert t.critical == pytest.approx(critical_sigma_w2("tanh", 0.05))
    lines = m.theory_lines()
    x, y = lines["critical"]
    assert x[0] == pytest.approx((t.critical - 1.0) / 0.5)  # between the columns of 1.5 and 2
    assert list(y) == [-0.5, 2.5]  # across the whole map
    x, y = lines["depth"]
    depth_at_1 = 6 * mean_field("tanh", 1.0, 0.05).xi_c  # 21.8 layers
    assert x[0] == 0.0 and y[0] == pytest.approx((depth_at_1 - 10) / 10)
    assert np.isnan(y).any()  # near the critical line 6 xi_c leaves the map: a gap


@pytest.mark.parametrize(
    ("net", "axes"),
    [
        (chain(0.3), None),  # a constant bias is not the theory's random bias
        (
            chain(activation="relu").copy(),
            [
                {"path": "dense.sigma_w2", "values": [1.0, 2.0]},
                {"path": "training.lr", "values": [0.1, 0.2]},
            ],
        ),
        (
            chain(),
            [{"path": "blocks", "values": [2, 3]}, {"path": "dense.sigma_w2", "values": [1]}],
        ),
    ],
)
def test_no_theory_where_it_does_not_apply(net, axes):
    assert theory_for(sweep(net, axes)) is None


def test_depth_along_x_puts_the_theory_on_its_side():
    axes = [
        {"path": "blocks", "name": "depth", "values": [10, 20, 30]},
        {"path": "dense.sigma_w2", "name": "sigma_w2", "values": [1.0, 1.5, 2.0, 2.5]},
    ]
    m = map_data(sweep(chain(), axes), {})
    assert m.theory is not None and not m.theory.x_axis
    x, y = m.theory_lines()["critical"]
    assert list(x) == [-0.5, 2.5] and y[0] == pytest.approx((1.0 - 1.0) / 0.5, abs=1e-6)
