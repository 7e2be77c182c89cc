"""The timeline bar: it follows the run, asks for past steps, and branches from the one shown."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from vgsim.app.timeline_bar import BIG_STEP, TimelineBar

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def bar_of(qtbot, steps: int) -> tuple[TimelineBar, list, list]:
    bar = TimelineBar()
    qtbot.addWidget(bar)
    moved, branched = [], []
    bar.moved.connect(moved.append)
    bar.branch_requested.connect(branched.append)
    bar.set_steps(steps)
    return bar, moved, branched


def test_it_follows_the_run_at_the_present(qtbot):
    bar, moved, _ = bar_of(qtbot, 10)
    bar.set_steps(200)
    assert bar.at is None and bar.slider.value() == 199 and bar.slider.maximum() == 199
    assert moved == []  # following is not a request
    assert not bar.branch_button.isEnabled()


def test_dragging_asks_for_past_steps_and_the_end_is_the_present(qtbot):
    bar, moved, _ = bar_of(qtbot, 300)
    bar.slider.setValue(120)
    bar.slider.setValue(299)
    assert moved == [120, None]
    bar.slider.setValue(5)
    bar.set_steps(300)  # a frame arrives: the bar stays where the student put it
    assert bar.at == 5 and bar.slider.value() == 5 and "step 6 of 300" in bar.label.text()


def test_keys_step_back_and_forth_clamped_to_the_run(qtbot):
    bar, moved, _ = bar_of(qtbot, 300)
    bar.show()
    bar.activateWindow()
    bar.slider.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is bar.slider)

    def press(key: Qt.Key) -> None:
        qtbot.keyClick(QApplication.focusWidget(), key)

    press(Qt.Key.Key_Comma)
    press(Qt.Key.Key_Comma)
    press(Qt.Key.Key_Period)
    assert moved == [298, 297, 298]
    press(Qt.Key.Key_Less)
    assert moved[-1] == 298 - BIG_STEP
    bar.step_by(-10_000)
    assert moved[-1] == 0
    bar.step_by(10_000)
    assert moved[-1] is None


def test_branch_from_here_continues_after_the_step_shown(qtbot):
    bar, _, branched = bar_of(qtbot, 300)
    bar.show_step(41)
    assert bar.branch_button.isEnabled()
    qtbot.mouseClick(bar.branch_button, Qt.MouseButton.LeftButton)
    assert branched == [42]


def test_a_new_run_takes_the_bar_back_to_the_present(qtbot):
    bar, moved, _ = bar_of(qtbot, 300)
    bar.show_step(100)
    bar.set_steps(0)
    assert bar.at is None and not bar.slider.isEnabled()
    bar.step_by(-1)
    assert moved == [100]
