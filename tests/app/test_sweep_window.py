"""Experiments ▸ Trainability map…: the window sweeps the canvas's network in worker processes,
fills the map as runs finish, stays responsive, cancels, and opens a cell's network."""

from __future__ import annotations

import math
import time

import pytest
from PySide6.QtCore import QTimer

from vgsim.app.sweep.window import TrainabilityMapWindow, parse_values
from vgsim.engine.builders import mlp


def tanh_chain():
    net = mlp(2, 8, 3, activation="tanh", data={"name": "spiral", "samples": 200}, name="chain")
    for node in net.nodes:
        if node.type == "dense" and node.id != "head":
            node.params["bias_init"] = {"name": "normal", "std": math.sqrt(0.05)}
    net.training.update(batch_size=16, steps=30)
    return net


def test_values_are_read_as_numbers_flags_or_names():
    assert parse_values("1, 1.5, relu , true, False,, 1e-3") == [1, 1.5, "relu", True, False, 1e-3]


@pytest.mark.slow  # a sweep of 3,000-step runs: about 15 s
def test_the_map_fills_in_while_the_window_stays_responsive(qtbot):
    opened = []
    window = TrainabilityMapWindow(tanh_chain, opened.append)
    qtbot.addWidget(window)
    window.x_axis.values.setText("1, 2.5")
    window.y_axis.values.setText("1, 3")
    window.seeds.setText("0, 1")
    window.steps.setValue(3000)
    window.workers.setValue(2)
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    fills = []
    window.map.show = _recording(window.map.show, fills)
    started = time.perf_counter()
    assert window.run()
    assert not window.run_button.isEnabled() and window.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: window.thread.done.is_set(), timeout=180_000)
    qtbot.waitUntil(lambda: not window.timer.isActive(), timeout=5_000)
    timer.stop()
    sweep_s = time.perf_counter() - started
    assert window.data.runs.sum() == 8 and window.progress.value() == 8
    # Filled cell by cell: the map was redrawn with ever more finished runs.
    # (3,000 steps a run spread the 8 runs over about a second, several polls, even when quiet.)
    assert fills == sorted(fills) and fills[0] == 0 and fills[-1] == 8
    assert any(0 < n < 8 for n in fills), fills
    # The theory's lines come from a process of their own, and join the map when ready.
    qtbot.waitUntil(lambda: window.thread.theory is not None, timeout=120_000)
    qtbot.waitUntil(lambda: window.data.theory is not None, timeout=5_000)
    assert "Done. 8 runs: 8 finished" in window.status.text()
    # The window's thread never waited on a run (or on the sweep's checks or its theory): a
    # 20 ms timer kept ticking through the whole sweep. (1 s allows for others' load on a
    # shared machine; a window that waited would stall for the whole sweep.)
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert sweep_s > 2 and ticks[-1] - ticks[0] > 0.9 * sweep_s and max(gaps) < 1.0, max(gaps)
    assert window.run_button.isEnabled() and not window.cancel_button.isEnabled()
    text = window.describe((1, 1))
    assert "sigma_w2 = 2.5, depth = 3" in text and "2 of 2 runs finished" in text
    assert "seed 0:" in text and "test accuracy" in text
    assert window.open_cell((1, 1))
    net = opened[-1]
    assert net.name == "chain (sigma_w2 2.5, depth 3)"
    hidden = [n for n in net.nodes if n.type == "dense"][:-1]
    assert len(hidden) == 3 and hidden[0].params["init"]["gain"] == math.sqrt(2.5)


def _recording(show, fills):
    def record(data):
        fills.append(int(data.runs.sum()))
        show(data)

    return record


def test_cancel_stops_the_runs_and_a_bad_axis_is_explained(qtbot):
    window = TrainabilityMapWindow(tanh_chain)
    qtbot.addWidget(window)
    window.x_axis.path.setCurrentText("weights.scale")
    assert not window.run()
    assert "unknown axis path" in window.status.text()
    window.x_axis.path.setCurrentText("dense.sigma_w2")
    window.x_axis.values.setText("1, 1.5, 2, 2.5")
    window.y_axis.values.setText("2, 4, 6, 8")
    window.steps.setValue(2000)
    window.workers.setValue(1)
    assert window.run()
    qtbot.waitUntil(lambda: window.sweep is not None, timeout=60_000)
    started = time.perf_counter()
    window.cancel()
    qtbot.waitUntil(lambda: window.thread.done.is_set(), timeout=30_000)
    assert time.perf_counter() - started < 15
    qtbot.waitUntil(lambda: "Cancelled." in window.status.text(), timeout=5_000)
    assert window.data is None or window.data.runs.sum() < 16


def test_lesson_12_opens_its_map_running_over_the_lesson_network(window, qtbot):
    from pathlib import Path

    from vgsim.engine.lessons import list_lessons

    lessons = Path(__file__).resolve().parents[2] / "resources" / "lessons"
    lesson = next(lesson for lesson in list_lessons(lessons) if lesson.order == 12)
    assert window.open_lesson(lesson)
    assert len(window.maps.windows) == 1
    map_window = window.maps.windows[0]
    assert map_window.running and map_window.x_axis.path.currentText() == "dense.sigma_w2"
    assert map_window.spec()["name"] == "The edge of chaos"
    assert window.editor.model.network.name == map_window.thread.network.name
    qtbot.waitUntil(lambda: map_window.sweep is not None, timeout=60_000)
    assert map_window.data.x_values == [1.0, 1.5, 2.0, 3.0, 4.0]
    map_window.cancel()
    qtbot.waitUntil(lambda: map_window.thread.done.is_set(), timeout=30_000)
    map_window.close()


def test_the_experiments_menu_opens_a_map_of_the_canvas_and_a_cell_opens_as_the_document(
    window, qtbot
):
    window.actions["trainability_map"].trigger()
    map_window = window.maps.windows[-1]
    assert not map_window.running
    assert window.editor.model.network.name in map_window.base.text()
    cell_net = tanh_chain()
    cell_net.name = "a cell"
    window.open_network_from_map(cell_net)
    assert window.editor.model.network.name == "a cell"
    map_window.close()
