"""A flatten node passes its input's values on unchanged: it shares its input's buffers (no copy
either way) and its figures are its input's, binned over its input's range."""

from __future__ import annotations

import numpy as np
import pytest

from vgsim.engine import Network, Trainer
from vgsim.engine.compile import RANGE_KEEPING
from vgsim.engine.kernels import plan as k
from vgsim.engine.kernels.stats import S_MAX, S_MEAN, S_MIN, S_STD

SMALL_CONV = [
    {"id": "in", "type": "input"},
    {"id": "c1", "type": "conv2d", "filters": 4},
    {"id": "a1", "type": "activation", "function": "relu"},
    {"id": "f", "type": "flatten"},
    {"id": "d", "type": "dense", "units": 10},
    {"id": "out", "type": "output"},
]


def trainer(nodes: list[dict], edges: list[tuple[str, str]]) -> Trainer:
    return Trainer(
        Network.from_dict(
            {
                "format": "vgsim.network/1",
                "name": "flatten",
                "data": {"name": "digits", "shape": "image", "samples": 200},
                "nodes": nodes,
                "edges": [{"from": a, "to": b} for a, b in edges],
                "training": {"batch_size": 16, "eval_every": 10**6, "seed": 2},
            }
        )
    )


def chain() -> list[tuple[str, str]]:
    ids = [n["id"] for n in SMALL_CONV]
    return list(zip(ids[:-1], ids[1:], strict=True))


def test_a_flatten_reads_and_writes_its_input_blocks() -> None:
    t = trainer(SMALL_CONV, chain())
    f, a1 = t.node_ids.index("f"), t.node_ids.index("a1")
    assert t.ops[f, k.K_OUT] == t.ops[f, k.K_IN] == t.ops[a1, k.K_OUT]
    assert t.ops[f, k.K_DOUT] == t.ops[f, k.K_DIN] == t.ops[a1, k.K_DOUT]
    _, state = t.step_with_state()
    assert state["act/f"].shape == (16, 8 * 8 * 4)
    np.testing.assert_array_equal(state["act/f"], state["act/a1"].reshape(16, -1))
    np.testing.assert_array_equal(state["dact/f"], state["dact/a1"].reshape(16, -1))


@pytest.mark.parametrize("micro", [False, True])
def test_a_flatten_records_its_input_figures_over_its_input_range(micro: bool) -> None:
    t = trainer(SMALL_CONV, chain())
    f, a1 = t.node_ids.index("f"), t.node_ids.index("a1")
    t.step()
    if micro:
        record = None
        while record is None:
            record = t.micro_step().record
    else:
        record = t.step()
    assert "flatten" in RANGE_KEEPING
    assert tuple(record.hist_ranges[f]) == tuple(record.hist_ranges[a1]) == (0.0, 4.0)
    cols = [S_MEAN, S_STD, S_MIN, S_MAX]
    assert not np.isnan(record.node_stats[f, cols]).any()
    np.testing.assert_array_equal(record.node_stats[f, cols], record.node_stats[a1, cols])
    np.testing.assert_array_equal(record.histograms[f], record.histograms[a1])
    assert record.histograms[f].sum() == pytest.approx(1.0)


def test_a_flatten_beside_another_branch_passes_every_gradient_back() -> None:
    # a1 feeds the flatten and a pooling branch; the flatten feeds two dense layers: its
    # input gradient is its own block, summed from both, then added into a1's.
    nodes = [
        *SMALL_CONV[:4],
        {"id": "d1", "type": "dense", "units": 10},
        {"id": "d2", "type": "dense", "units": 10},
        {"id": "g", "type": "global_avgpool"},
        {"id": "d3", "type": "dense", "units": 10},
        {"id": "out", "type": "output"},
    ]
    edges = [("in", "c1"), ("c1", "a1"), ("a1", "f"), ("f", "d1"), ("f", "d2")]
    edges += [("a1", "g"), ("g", "d3"), ("d1", "out"), ("d2", "out"), ("d3", "out")]
    t = trainer(nodes, edges)
    t.step()
    _, state = t.step_with_state()
    W1, W2 = state["param/d1/W"], state["param/d2/W"]
    dout = state["dact/out"]
    through_flatten = (dout @ W1.T + dout @ W2.T).reshape(state["act/a1"].shape)
    through_pool = (dout @ state["param/d3/W"].T / 64.0)[:, None, None, :]
    np.testing.assert_allclose(
        state["dact/f"].reshape(through_flatten.shape), through_flatten, rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(
        state["dact/a1"], through_flatten + through_pool, rtol=1e-5, atol=1e-7
    )
