"""Live training in the window: controls, worker hand-over, plots and canvas following telemetry."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication
from windows import trainer, wait_frame

from vgsim.app.panels.diagnosis import ElidingButton
from vgsim.app.theme import gradient_colour
from vgsim.engine.builders import mlp
from vgsim.engine.kernels.stats import S_GRAD, S_MEAN, S_STD
from vgsim.engine.schema import training_defaults
from vgsim.engine.train import Trainer


def test_step_action_trains_one_mini_batch_and_the_plots_follow(window, qtbot):
    window.actions["step"].trigger()
    frame = wait_frame(qtbot, window, lambda f: f.step_count == 1)
    assert frame.record is not None and frame.record.step == 0
    dense = [i for i, kind in enumerate(frame.nodes[1]) if kind == "dense"]  # one per layer
    flow = window.dashboard.plots["gradient-flow"]
    x, y = flow.signal.getData()
    assert flow.layers == dense and len(x) == len(dense) and np.isfinite(y).all()
    heat = window.dashboard.plots["gradient-history"]
    assert heat.image.image.shape[0] == len(dense)
    ridge = window.dashboard.plots["activations"]
    assert len(ridge.layers) == 4  # the four tanh layers
    stats = frame.record.node_stats[ridge.layers]
    bar_x, _ = ridge.spread.getData()  # mean - std, mean + std, gap; per layer
    np.testing.assert_allclose(
        bar_x.reshape(-1, 3)[:, :2],
        np.column_stack([stats[:, S_MEAN] - stats[:, S_STD], stats[:, S_MEAN] + stats[:, S_STD]]),
    )
    before = y.copy()
    window.actions["step"].trigger()
    wait_frame(qtbot, window, lambda f: f.step_count == 2)
    assert not np.array_equal(flow.signal.getData()[1], before, equal_nan=True)
    assert "step 2" in window.progress_label.text()


def test_every_plot_shows_the_networks_layers_and_moves_with_training(window, qtbot):
    plots = window.dashboard.plots

    def snapshot() -> dict:
        return {
            "gradient-flow": plots["gradient-flow"].signal.getData()[1],
            "gradient-history": plots["gradient-history"].image.image,
            "activations": np.array(
                [(p.x(), p.y()) for p in plots["activations"].body.path().toFillPolygon()]
            ),
            "loss": plots["loss"].batch.getData()[1],
            "accuracy": plots["accuracy"].batch.getData()[1],
            "decision-boundary": plots["decision-boundary"].image.image,
            "weight-norms": plots["weight-norms"].curves[0].getData()[1],
            "update-ratio": plots["update-ratio"].curves[-1].getData()[1],
            "unit-health": plots["unit-health"].spread.getData()[1],
        }

    window.actions["step"].trigger()
    wait_frame(qtbot, window, lambda f: f.step_count == 1)
    before = {k: None if v is None else np.array(v, copy=True) for k, v in snapshot().items()}
    assert len(plots["weight-norms"].curves) == 5  # four hidden dense layers and the head
    assert len(plots["unit-health"].spread.getData()[0]) == 4  # the four tanh layers
    window.training.run_until("steps", 300)
    wait_frame(qtbot, window, lambda f: f.step_count == 301 and not f.playing)
    qtbot.waitUntil(
        lambda: all(
            before[k] is None
            or v is None
            or v.shape != before[k].shape
            or not np.array_equal(v, before[k], equal_nan=True)
            for k, v in snapshot().items()
        ),
        timeout=5000,
    )
    assert all(v is not None for v in snapshot().values())


def test_canvas_tint_follows_the_gradient_reaching_each_block(window, qtbot):
    key = window.view.gradient_key
    # At step 0 already: the figures step 0 will record, drawn before any step.
    qtbot.waitUntil(key.isVisible, timeout=5000)
    window.actions["step"].trigger()
    frame = wait_frame(qtbot, window, lambda f: f.step_count == 1)
    ids = list(frame.nodes[0])
    for row, node_id in enumerate(ids):
        expected = gradient_colour(float(frame.record.node_stats[row, S_GRAD]))
        tint = window.scene.nodes[node_id].tint
        assert (tint is None) == (expected is None), node_id
        if expected is not None:
            assert tint.name() == expected.name()
            assert "gradient reaching it" in window.scene.nodes[node_id].toolTip()
    assert key.isVisible()  # the colour scale's key, under the canvas: over no block
    assert not key.geometry().intersects(window.view.geometry())


def test_edges_thicken_with_the_signal_they_carry(window, qtbot):
    from vgsim.engine.kernels.stats import S_STD

    window.actions["step"].trigger()
    frame = wait_frame(qtbot, window, lambda f: f.step_count == 1)
    row = {node_id: i for i, node_id in enumerate(frame.nodes[0])}
    widths = []
    for (a, _b), edge in window.scene.edges.items():
        spread = float(np.clip(frame.record.node_stats[row[a], S_STD], 0.0, 2.0))
        assert edge.pen().widthF() == pytest.approx(2.0 + 3.0 * spread, abs=0.15), a
        widths.append(edge.pen().widthF())
    assert max(widths) > min(widths) + 0.5  # the signal differs along this network


def test_a_micro_step_sends_a_pulse_along_the_edges_into_the_block(window, qtbot):
    from PySide6.QtWidgets import QGraphicsEllipseItem

    from vgsim.app.canvas.scene import PULSE_MS

    def dots() -> list:
        return [i for i in window.scene.items() if isinstance(i, QGraphicsEllipseItem)]

    for _ in range(2):  # the input block, then the first dense block (an edge comes into it)
        before = window.training.frame.serial
        window.actions["micro"].trigger()
        wait_frame(qtbot, window, lambda f, b=before: f.serial > b)
    assert window.training.frame.node == "dense1"
    edge = window.scene.edges[("in", "dense1")]
    along = edge.sceneBoundingRect().adjusted(-8, -8, 8, 8)
    qtbot.waitUntil(lambda: len(dots()) == 1 and along.contains(dots()[0].pos()), timeout=2000)
    dot = dots()[0]
    first = dot.pos().x()
    qtbot.waitUntil(lambda: dot.scene() is None or dot.pos().x() > first + 1, timeout=2000)
    assert dot.scene() is None or along.contains(dot.pos())  # forward: left to right on it
    qtbot.waitUntil(lambda: not dots(), timeout=PULSE_MS + 2000)  # gone once it arrives


def test_micro_steps_walk_forward_then_back_and_end_where_step_ends(window, qtbot):
    reference = Trainer(window.training.network)
    reference.step()
    phases = []
    n = len(trainer(window).node_ids)
    for _ in range(2 * n + 1):
        before = window.training.frame.serial
        window.actions["micro"].trigger()
        frame = wait_frame(qtbot, window, lambda f, b=before: f.serial > b)
        phases.append((frame.phase, frame.node))
    kinds = [p for p, _ in phases]
    assert kinds[:n] == ["forward"] * n and kinds[n] == "loss"
    assert kinds[n + 1 : 2 * n] == ["backward"] * (n - 1) and kinds[-1] == "update"
    assert [node for _, node in phases[:n]] == trainer(window).node_ids
    wait_frame(qtbot, window, lambda f: f.step_count == 1)
    assert trainer(window).params.tobytes() == reference.params.tobytes()
    assert "Update" in window.phase_label.text()


def test_play_pause_and_reset(window, qtbot):
    window.actions["play"].trigger()
    wait_frame(qtbot, window, lambda f: f.playing and f.step_count > 20)
    assert window.actions["play"].text() == "Pause"
    window.actions["play"].trigger()
    frame = wait_frame(qtbot, window, lambda f: not f.playing)
    paused_at = frame.step_count
    qtbot.wait(200)
    assert trainer(window).step_count == paused_at
    window.actions["reset"].trigger()
    wait_frame(qtbot, window, lambda f: f.step_count == 0 and not f.playing)
    fresh = Trainer(window.training.network)
    assert trainer(window).params.tobytes() == fresh.params.tobytes()


def test_run_until_steps_stops_there(window, qtbot):
    window.menus.run_until.kind.setCurrentIndex(0)
    window.menus.run_until.value.setValue(37)
    window.menus.run_until.button.click()
    wait_frame(qtbot, window, lambda f: not f.playing and f.step_count == 37)


def test_run_until_an_epoch_stops_at_its_first_step(window, qtbot):
    until = window.menus.run_until
    until.kind.setCurrentIndex(until.kind.findData("epochs"))
    until.value.setValue(2)
    until.button.click()
    per_epoch = trainer(window).steps_per_epoch
    frame = wait_frame(qtbot, window, lambda f: not f.playing and f.step_count > 0)
    assert frame.epoch == 2 and frame.step_count == 2 * per_epoch + 1


def test_run_until_the_loss_is_below_a_value_stops_at_the_first_step_below(window, qtbot):
    window.training.run_until("loss", 1.0)
    frame = wait_frame(qtbot, window, lambda f: not f.playing and f.step_count > 0)
    _, losses = trainer(window).history.scalar("loss")
    assert len(losses) == frame.step_count
    assert losses[-1] < 1.0 and np.all(losses[:-1] >= 1.0)


def worker_clock(window) -> tuple[float, int]:
    """(time, steps done) read on the training thread itself, between two of its blocks."""
    return window.training.call(lambda t: (time.perf_counter(), t.step_count)).result(20)


def test_a_speed_limit_sets_the_pace_and_the_status_bar_shows_it(window, qtbot):
    window.menus.speed.setCurrentIndex(window.menus.speed.findData(20.0))
    window.actions["play"].trigger()
    wait_frame(qtbot, window, lambda f: f.playing and f.step_count > 0)
    start, first = worker_clock(window)
    wait_frame(qtbot, window, lambda f: f.step_count >= first + 40, timeout=60000)
    end, last = worker_clock(window)
    # Never faster than the limit (a busy machine may make it slower): one step a block, the
    # next block 1/20 s after the last one began.
    assert (last - first) / (end - start) <= 20 * 1.05 + 1 / (end - start)
    qtbot.waitUntil(lambda: "steps/s" in window.progress_label.text())
    frame = window.training.frame
    window.actions["play"].trigger()  # pause
    assert 0 < frame.steps_per_second <= 30


def test_pause_is_not_held_up_by_a_slow_speed(window, qtbot):
    window.training.set_speed(0.1)  # a step every 10 s
    window.actions["play"].trigger()
    wait_frame(qtbot, window, lambda f: f.playing and f.step_count >= 1)
    sent = time.perf_counter()
    window.actions["play"].trigger()  # pause, a moment after a step: the next is ~10 s away
    frame = wait_frame(qtbot, window, lambda f: not f.playing)
    # Paused at once, not after waiting out the speed limit's pause and taking that step.
    assert frame.step_count == 1 and time.perf_counter() - sent < 9


def test_run_until_counts_whole_steps_and_takes_a_fractional_loss(window):
    until = window.menus.run_until
    assert until.value.text() == "500"
    until.kind.setCurrentIndex(until.kind.findData("loss"))
    until.value.setValue(0.05)
    assert until.value.value() == pytest.approx(0.05)
    until.kind.setCurrentIndex(until.kind.findData("steps"))
    assert until.value.text() == "500"


def test_learning_rate_changes_live_and_an_edit_starts_a_fresh_run(window, qtbot):
    window.actions["step"].trigger()
    wait_frame(qtbot, window, lambda f: f.step_count == 1)
    run = trainer(window)
    training = dict(window.editor.model.network.training, lr=0.01)
    window.editor.set_section("training", training)
    qtbot.waitUntil(lambda: trainer(window).hyper[0] == pytest.approx(0.01))
    assert trainer(window) is run and window.training.frame.step_count == 1
    node = window.editor.model.node("dense2")
    window.editor.set_params("dense2", dict(node.params, units=8))
    frame = wait_frame(  # the new trainer's frame, not the one announcing its build
        qtbot,
        window,
        lambda f: f.network.node("dense2").params["units"] == 8 and not f.building,
    )
    assert frame.step_count == 0 and trainer(window) is not run
    assert trainer(window).plan.width_out[trainer(window).node_ids.index("dense2")] == 8


def test_clipping_and_l2_change_mid_run_without_a_reset(window, qtbot):
    from vgsim.engine.kernels.optim import CLIP_CODES, H_CLIP, H_L2

    window.actions["play"].trigger()
    before = wait_frame(qtbot, window, lambda f: f.playing and f.step_count > 50)
    training = dict(
        window.editor.model.network.training, l2=0.002, clip={"mode": "norm", "threshold": 0.5}
    )
    window.editor.set_section("training", training)
    t = trainer(window)
    qtbot.waitUntil(
        lambda: (
            t.hyper[H_L2] == pytest.approx(0.002)
            and t.hyper[H_CLIP] == pytest.approx(0.5)
            and t.clip_mode == CLIP_CODES["norm"]
        )
    )
    later = wait_frame(qtbot, window, lambda f: f.step_count > before.step_count + 50)
    window.actions["play"].trigger()  # pause
    assert later.playing and trainer(window) is t  # the same run went on
    assert "Reset" not in window.phase_label.text()


def test_keyboard_shortcuts_step_micro_step_play_and_reset(window, qtbot):
    from PySide6.QtCore import Qt

    window.activateWindow()
    window.view.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None)

    def press(key) -> None:
        qtbot.keyClick(QApplication.focusWidget(), key)

    press(Qt.Key.Key_N)
    wait_frame(qtbot, window, lambda f: f.step_count == 1)
    press(Qt.Key.Key_Right)
    wait_frame(qtbot, window, lambda f: f.step_count == 2)
    press(Qt.Key.Key_M)
    wait_frame(qtbot, window, lambda f: f.phase == "forward")
    press(Qt.Key.Key_Space)
    wait_frame(qtbot, window, lambda f: f.playing and f.step_count > 10)
    press(Qt.Key.Key_Space)
    wait_frame(qtbot, window, lambda f: not f.playing)
    press(Qt.Key.Key_R)
    wait_frame(qtbot, window, lambda f: f.step_count == 0 and not f.playing)


def test_a_diverged_run_says_where_and_when(window, qtbot):
    net = mlp(
        6,
        16,
        3,
        activation="relu",
        init={"name": "normal", "std": 8.0},
        training={"optimizer": "sgd", "lr": 5.0, "batch_size": 16},
    )
    window.editor.load(net, None)
    wait_frame(
        qtbot,
        window,
        lambda f: f.step_count == 0 and f.record is None and len(f.nodes[0]) == len(net.nodes),
    )
    window.actions["play"].trigger()
    frame = wait_frame(
        qtbot, window, lambda f: f.record is not None and f.record.divergence is not None
    )
    d = frame.record.divergence
    qtbot.waitUntil(lambda: "diverged" in window.phase_label.text())
    assert d.node in window.phase_label.text() and str(d.step) in window.phase_label.text()
    assert window.scene.nodes[d.node].highlight
    assert window.play_reason.text().startswith("Diverged")  # not "Ready to train"
    # The step axes shrink to the steps taken: the planned run's would hide them on the edge.
    for key in ("gradient-history", "loss", "accuracy", "weight-norms", "update-ratio"):
        x0, x1 = window.dashboard.plots[key].plot.viewRange()[0]
        assert x0 <= 1 and x1 <= d.step + 2, (key, x0, x1, d.step)
    # The step that blew up has no gradient profile: the plot keeps the last one with numbers.
    flow = window.dashboard.plots["gradient-flow"]
    label = flow.legend.getLabel(flow.signal).text
    assert label.startswith("backprop (step ") and int(label[len("backprop (step ") : -1]) < d.step
    assert len(flow.signal.getData()[1]) > 0
    qtbot.waitUntil(lambda: "diverged" in [f.kind for f in window.diagnosis.findings])
    assert window.diagnosis.buttons["clip"].full_text == "Clip the gradients"  # a remedy
    window.actions["reset"].trigger()
    qtbot.waitUntil(lambda: "Ready to train" in window.play_reason.text(), timeout=5000)
    qtbot.waitUntil(lambda: flow.legend.getLabel(flow.signal).text == "backprop")
    planned = training_defaults(net.training)["steps"]
    assert window.dashboard.plots["loss"].plot.viewRange()[0][1] >= planned  # the new run's


@pytest.mark.slow  # 3 s of clicking, then waits for the worker: about 10 s
def test_random_clicking_never_deadlocks(window, qtbot):
    rng = random.Random(7)
    keys = ["play", "step", "micro", "reset", "play"]
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    for _ in range(200):  # clicks, not seconds: a busy machine clicks as often, only slower
        window.actions[rng.choice(keys)].trigger()
        qtbot.wait(rng.randint(0, 15))
    timer.stop()
    assert window.training.worker.alive
    before = window.training.frame.serial if window.training.frame else -1
    window.actions["step"].trigger()
    wait_frame(qtbot, window, lambda f: f.serial > before)
    assert len(ticks) > 20  # the event loop kept running between the clicks


class _Emitter(QObject):
    fired = Signal(bool)


def test_two_hundred_thousand_signal_emits_do_not_crash():
    """PySide6 6.12.0 lost a reference to True on every emit and died after a few hundred
    frames; pyproject.toml excludes it. This fails (or crashes) on such a build."""
    emitter = _Emitter()
    count = [0]
    emitter.fired.connect(lambda value: count.__setitem__(0, count[0] + value))
    for _ in range(200_000):
        emitter.fired.emit(True)
    QApplication.processEvents()
    assert count[0] == 200_000


def test_diagnosis_names_vanishing_and_a_remedy_is_one_undoable_click(window, qtbot):
    net = mlp(
        8,
        32,
        3,
        activation="sigmoid",
        init="standard",
        training={"optimizer": "sgd", "lr": 0.5, "batch_size": 32},
    )
    window.editor.load(net, None)
    wait_frame(qtbot, window, lambda f: f.record is None and len(f.nodes[0]) == len(net.nodes))
    window.menus.run_until.value.setValue(80)
    window.menus.run_until.button.click()
    wait_frame(
        qtbot,
        window,
        lambda f: (
            not f.playing and f.step_count == 80 and any(x.kind == "vanishing" for x in f.findings)
        ),
    )
    qtbot.waitUntil(lambda: "non_saturating" in window.diagnosis.buttons)
    before = window.editor.model.network.to_dict()
    window.diagnosis.buttons["non_saturating"].click()
    functions = {n.params.get("function") for n in window.editor.model.network.nodes}
    assert "sigmoid" not in functions and "relu" in functions
    wait_frame(
        qtbot,
        window,
        lambda f: (
            f.network is not None
            and f.step_count == 0
            and "relu" in {n.params.get("function") for n in f.network.nodes}
        ),
    )
    window.editor.undo.undo()
    assert window.editor.model.network.to_dict() == before


def test_a_slow_build_shows_that_kernels_are_being_prepared(window, qtbot):
    from vgsim.app.worker import Frame

    building = Frame(10**9, None, 0, 0, False, 0.0, building=True)
    window.training.frame = building
    window._show_frame(building)
    qtbot.waitUntil(window.preparing.isVisible, timeout=2000)
    assert window.statusBar().currentMessage().startswith("Preparing the training kernels")
    assert window.play_reason.text().startswith("Preparing")  # not "Ready to train"
    window.training.frame = None
    window.actions["step"].trigger()
    wait_frame(qtbot, window, lambda f: f.step_count == 1)
    qtbot.waitUntil(lambda: not window.preparing.isVisible(), timeout=2000)
    assert "Ready to train" in window.play_reason.text()


def test_the_collector_waits_while_kernels_compile_then_freezes_what_they_left():
    import gc

    from vgsim.app.training import MainThreadCollector

    compiling = [True]
    collector = MainThreadCollector(hold=lambda: compiling[0], interval_ms=10**6)
    try:
        frozen = gc.get_freeze_count()
        leftovers = [[i] for i in range(1000)]
        collector.collect()
        assert gc.get_freeze_count() == frozen  # nothing walked or frozen while compiling
        compiling[0] = False
        collector.collect()
        assert gc.get_freeze_count() >= frozen + len(leftovers)
    finally:
        collector.stop()


def test_gradient_flow_shows_the_mean_field_prediction_for_plain_chains_only(window, qtbot):
    window.actions["step"].trigger()
    wait_frame(qtbot, window, lambda f: f.step_count == 1 and f.plot.theory is not None)
    flow = window.dashboard.plots["gradient-flow"]
    x, y = flow.theory.getData()
    assert len(x) == len(flow.layers)  # one point per layer
    assert flow._drawn["theory"] is not None
    from vgsim.engine.builders import residual_mlp

    window.editor.load(residual_mlp(2, 8, 3, training={"batch_size": 16}), None)
    wait_frame(
        qtbot,
        window,
        lambda f: (
            f.step_count == 0 and f.nodes[0] and f.nodes[1][1] == "dense" and len(f.nodes[0]) > 8
        ),
    )
    window.actions["step"].trigger()
    frame = wait_frame(qtbot, window, lambda f: f.step_count == 1)
    assert frame.plot.theory is None
    assert len(flow.theory.getData()[0] or []) == 0 and flow._drawn["theory"] is None


def test_plots_of_an_earlier_network_are_marked_while_the_canvas_has_problems(window, qtbot):
    window.actions["step"].trigger()
    wait_frame(qtbot, window, lambda f: f.step_count == 1)
    assert not window.stale_banner.isVisible()
    window.editor.delete(["head"], [])
    assert window.editor.model.problems()
    assert window.stale_banner.isVisible()
    window.editor.undo.undo()
    assert not window.editor.model.problems() and not window.stale_banner.isVisible()


def panel_text(panel) -> str:
    from PySide6.QtWidgets import QLabel

    widgets = [panel.column.itemAt(i).widget() for i in range(panel.column.count())]
    return " ".join(w.text() for w in widgets if isinstance(w, QLabel))


def test_a_healthy_run_is_called_healthy_once_it_has_trained(qtbot):
    from vgsim.app.panels.diagnosis import DiagnosisPanel

    panel = DiagnosisPanel()
    qtbot.addWidget(panel)
    panel.show_findings((), trained=False)
    assert "Train a few steps" in panel_text(panel)
    panel.show_findings((), trained=True)
    assert "Healthy" in panel_text(panel) and "Train a few steps" not in panel_text(panel)


def test_no_verdict_before_the_diagnosis_has_seen_enough_steps(window, qtbot):
    from vgsim.engine.diagnose import MIN_STEPS

    for count in range(1, MIN_STEPS):
        window.actions["step"].trigger()
        wait_frame(qtbot, window, lambda f, c=count: f.step_count == c)
        assert "Healthy" not in panel_text(window.diagnosis)
    window.actions["step"].trigger()
    wait_frame(qtbot, window, lambda f: f.step_count == MIN_STEPS)
    assert "Healthy" in panel_text(window.diagnosis)  # a 4-layer tanh net, Xavier init


def test_empty_log_plots_show_whole_decades_and_regression_axes_say_x_and_y(window, qtbot):
    from vgsim.app.plots.dashboard import Dashboard

    empty = Dashboard()
    qtbot.addWidget(empty)
    for key in ("gradient-flow", "loss", "weight-norms", "update-ratio"):
        assert empty.plots[key].plot.viewRange()[1] == [-3, 1], key
    net = mlp(
        2,
        8,
        1,
        activation="tanh",
        init="xavier_uniform",
        loss="mse",
        data={"name": "sine", "samples": 200},
        training={"batch_size": 16},
    )
    window.editor.load(net, None)
    wait_frame(qtbot, window, lambda f: f.step_count == 0 and len(f.nodes[0]) == len(net.nodes))
    window.actions["step"].trigger()
    wait_frame(
        qtbot,
        window,
        lambda f: (
            f.step_count == 1 and f.plot.boundary is not None and f.plot.boundary["kind"] == "curve"
        ),
    )
    qtbot.wait(100)
    axis = window.dashboard.plots["decision-boundary"].plot.getAxis("left")
    assert "prediction" in axis.labelText


def test_a_remedy_button_narrower_than_its_title_ends_in_an_ellipsis(qtbot):
    button = ElidingButton("Switch to Leaky ReLU (or PReLU, ELU, SELU)")
    qtbot.addWidget(button)
    button.resize(400, 30)
    button.show()
    qtbot.waitExposed(button)
    assert button.text() == button.full_text
    button.resize(120, 30)
    qtbot.waitUntil(lambda: button.text() != button.full_text)
    assert button.text().endswith("…")
    assert button.fontMetrics().horizontalAdvance(button.text()) <= 120 - button.PADDING


def test_the_view_menu_hides_faded_steps_and_theory_and_sets_the_loss_scale(window, qtbot):
    window.training.run_until("steps", 20)
    wait_frame(qtbot, window, lambda f: f.step_count == 20 and not f.playing)
    flow, loss = window.dashboard.plots["gradient-flow"], window.dashboard.plots["loss"]
    assert all(curve.isVisible() for curve in flow.faded) and flow.theory.isVisible()
    window.actions["faded_steps"].trigger()
    window.actions["theory"].trigger()
    assert not any(curve.isVisible() for curve in flow.faded)
    assert not flow.theory.isVisible()
    assert loss.log_y and loss.plot.viewRange()[1][1] < 2  # log10 units
    window.actions["log_loss"].trigger()
    low, high = loss.plot.viewRange()[1]
    assert not loss.log_y and low == 0 and high > 1.0  # three classes start near ln 3
    assert loss.plot.getAxis("left").labelText == "loss"
    assert loss.plot.getViewBox().state["autoRange"] == [False, False]  # no axis moving alone
    loss.plot.ctrl.logYCheck.setChecked(True)  # the plot's own menu, paused
    assert window.actions["log_loss"].isChecked()
    assert loss.plot.viewRange()[1][1] < 2
    assert loss.plot.getViewBox().state["autoRange"] == [False, False]
    flow.theory.setVisible(True)  # as a click on its legend entry does
    assert window.actions["theory"].isChecked()
