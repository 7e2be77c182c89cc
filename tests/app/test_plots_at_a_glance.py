"""Plots that read at a glance: one point per layer in the gradient flow (every block on request),
the theory set against the profile measured at step 0, and activation histograms whose
saturated mass at the ends is unmistakable."""

from __future__ import annotations

import numpy as np
import pytest
from windows import trainer, wait_frame

from vgsim.app.files import RESOURCES
from vgsim.app.plots.activations import RIDGE_HEIGHT
from vgsim.engine.kernels.stats import S_GRAD, S_MEAN
from vgsim.engine.spec import read_network


def legend_texts(plot) -> list[str]:
    return [label.text for _, label in plot.legend.items]


def test_gradient_flow_has_one_point_per_layer_and_every_block_on_request(window, qtbot):
    window.actions["step"].trigger()
    frame = wait_frame(qtbot, window, lambda f: f.step_count == 1)
    ids, types = frame.nodes[0], frame.nodes[1]
    dense = [i for i, kind in enumerate(types) if kind == "dense"]
    flow = window.dashboard.plots["gradient-flow"]
    x, y = flow.signal.getData()
    assert list(x) == list(range(len(dense)))  # no dense/activation sawtooth
    grads = frame.record.node_stats[dense, S_GRAD]
    np.testing.assert_allclose(10**y, grads, rtol=1e-5)  # the axis is log10
    ticks = [label for level in flow.plot.getAxis("bottom")._tickLevels for _, label in level]
    assert set(ticks) <= {ids[i] for i in dense} and ids[dense[0]] in ticks
    window.actions["every_block"].trigger()  # View ▸ Gradient flow: every block
    x, y = flow.signal.getData()
    assert len(x) == len(ids) - 1  # every block after the input
    assert window.dashboard.plots["gradient-history"].image.image.shape[0] == len(ids) - 1
    window.actions["every_block"].trigger()
    assert len(flow.signal.getData()[0]) == len(dense)


def test_the_theory_is_set_against_the_profile_measured_at_step_0(window, qtbot):
    window.training.run_until("steps", 40)
    frame = wait_frame(qtbot, window, lambda f: f.step_count >= 40 and not f.playing)
    assert frame.plot.theory is not None and frame.plot.start_grad is not None
    flow = window.dashboard.plots["gradient-flow"]
    dense = flow.layers
    _, _, stats = trainer(window).history.long()
    x, y = flow.start.getData()
    np.testing.assert_allclose(10**y, stats[0, dense, S_GRAD], rtol=1e-5)  # step 0, measured
    assert not np.allclose(y, flow.signal.getData()[1])  # not the current step
    assert len(flow.theory.getData()[0]) == len(dense)
    assert {"theory", "step 0"} <= set(legend_texts(flow))
    window.dashboard.show_theory(False)  # the two go together
    assert not flow.theory.isVisible() and not flow.start.isVisible()


def ridges(item) -> dict[int, tuple[float, float, float]]:
    """Per layer row: (left end, right end, top) of the filled outlines of `item`."""
    rows: dict[int, list] = {}
    for polygon in item.path().toSubpathPolygons():
        xs = [p.x() for p in polygon]
        ys = [p.y() for p in polygon]
        rows.setdefault(round(min(ys)), []).append((min(xs), max(xs), max(ys) - min(ys)))
    return {
        row: (min(p[0] for p in parts), max(p[1] for p in parts), max(p[2] for p in parts))
        for row, parts in rows.items()
    }


def test_a_saturated_layer_shows_its_mass_at_the_ends(window, qtbot):
    net = read_network(RESOURCES / "lessons" / "03-xavier-initialisation.json")
    window.editor.load(net, None)
    window.actions["step"].trigger()
    frame = wait_frame(qtbot, window, lambda f: f.step_count == 1 and f.nodes[0][1] == "dense1")
    ridge = window.dashboard.plots["activations"]
    hist = frame.record.histograms[ridge.layers]
    at_ends = hist[:, 0] + hist[:, -1]
    ends, body = ridges(ridge.ends), ridges(ridge.body)
    lo, hi = frame.plot.hist_ranges[ridge.layers[0]]
    saturated = [row for row, mass in enumerate(at_ends) if mass > 0.5]
    assert len(saturated) >= 5  # N(0, 1) weights and tanh: most layers pinned at -1 and +1
    for row in saturated:  # a full-height bar at each end, in the saturation colour
        left, right, top = ends[row]
        assert (left, right, top) == pytest.approx((lo, hi, RIDGE_HEIGHT))
        assert body[row][2] < 0.3 * RIDGE_HEIGHT  # the middle is nearly empty
    healthy = int(np.argmin(at_ends))
    assert at_ends[healthy] < 0.1 and ends[healthy][2] < 0.3 * RIDGE_HEIGHT
    assert body[healthy][2] == pytest.approx(RIDGE_HEIGHT)  # its hump is what stands out
    assert ridge.body.brush().color().alpha() > 0 and ridge.ends.brush().color().alpha() > 0
    # The mean and ±1 std sit on each baseline, under the ridge, not over it.
    _, spread_y = ridge.spread.getData()
    assert np.allclose(spread_y[np.isfinite(spread_y)].reshape(-1, 2)[:, 0] % 1, 0)
    assert ridge.spread.zValue() < ridge.body.zValue()
    means_x, means_y = ridge.means.getData()
    np.testing.assert_allclose(means_x, frame.record.node_stats[ridge.layers, S_MEAN], rtol=1e-6)
    assert np.allclose(means_y % 1, 0)


def test_gradient_history_and_weight_curves_show_the_whole_run_not_its_last_steps(window, qtbot):
    window.run_until("steps", 900)  # beyond the 600 steps the plots get in full
    frame = wait_frame(qtbot, window, lambda f: not f.playing and f.step_count >= 900, 60000)
    last = frame.step_count - 1
    heat = window.dashboard.plots["gradient-history"]
    older, recent = heat.older.mapRectToParent(heat.older.boundingRect()), heat.image
    assert older.left() == 0  # from the first step, coarser
    assert heat.older.lut is not None and np.array_equal(heat.older.lut, heat.image.lut)  # colours
    assert recent.mapRectToParent(recent.boundingRect()).right() == last + 1  # to the newest
    assert abs(older.right() - recent.mapRectToParent(recent.boundingRect()).left()) < 1e-9
    for key in ("weight-norms", "update-ratio"):
        steps, _ = window.dashboard.plots[key].curves[0].getData()
        assert steps[0] == 0 and steps[-1] == last and np.all(np.diff(steps) > 0), key
        assert window.dashboard.plots[key].plot.viewRange()[0][0] <= 0
