"""The plots of an image network: its convolutions are layers, one point (or curve) each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from windows import wait_frame

from vgsim.engine.kernels.stats import S_GRAD

CONV_SMALL = Path(__file__).resolve().parents[1] / "engine" / "networks" / "conv_small.json"


def test_convolutions_are_layers_in_the_depth_plots(window, qtbot):
    assert window.files.open_preset(CONV_SMALL)
    wait_frame(qtbot, window, lambda f: "c1" in f.nodes[0] and f.step_count == 0)
    window.actions["step"].trigger()
    frame = wait_frame(qtbot, window, lambda f: "c1" in f.nodes[0] and f.step_count == 1)
    ids, types = frame.nodes[0], frame.nodes[1]
    layers = [i for i, kind in enumerate(types) if kind in ("conv2d", "dense")]
    assert [ids[i] for i in layers] == ["c1", "c2", "c3", "proj", "d1"]
    flow = window.dashboard.plots["gradient-flow"]
    assert flow.layers == layers
    x, y = flow.signal.getData()
    np.testing.assert_allclose(10**y, frame.record.node_stats[layers, S_GRAD], rtol=1e-5)
    assert window.dashboard.plots["gradient-history"].image.image.shape[0] == len(layers)
    for key in ("weight-norms", "update-ratio"):
        assert window.dashboard.plots[key].layers == layers, key
