"""What keeps a live frame cheap: each frame is painted once, and no axis moves the layout."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication
from windows import wait_frame

from vgsim.app.plots.style import TICK_TEXT_WIDTH, SteadyAxis


class PaintCounter(QObject):
    def __init__(self, widget):
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, _obj, event):
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def test_a_shown_frame_is_painted_once_even_when_its_axes_move(window, qtbot):
    dash = window.dashboard
    window.training.step()
    first = wait_frame(qtbot, window, lambda f: f.step_count == 1)
    window.training.timer.stop()  # from here only this test draws
    dash.show_data(window.training.plot_data(first), everything=True)
    worker = window.training.worker
    window.training.run_until("steps", 600)
    qtbot.waitUntil(
        lambda: (
            worker.latest() is not None
            and worker.latest().step_count == 601
            and not worker.latest().playing
        ),
        timeout=20000,
    )
    settle(PaintCounter(dash.viewport()))
    before = dash.plots["loss"].plot.viewRange()
    counter = PaintCounter(dash.viewport())
    dash.show_data(window.training.plot_data(worker.latest()), everything=True)
    qtbot.waitUntil(lambda: counter.count >= 1, timeout=5000)
    settle(counter)  # a second paint, had the first left anything behind, would come here
    assert dash.plots["loss"].plot.viewRange()[0] != before[0]  # the step axis moved
    assert counter.count == 1


def settle(counter: PaintCounter, rounds: int = 10) -> None:
    """Let Qt deliver everything queued (layout requests, updates and the paints they cause)
    until `rounds` turns of the event loop in a row paint nothing: counted in turns, not
    milliseconds, so a busy machine makes it slower but not different."""
    app = QApplication.instance()
    quiet = 0
    while quiet < rounds:
        seen = counter.count
        app.sendPostedEvents()
        app.processEvents()
        quiet = quiet + 1 if counter.count == seen else 0


def test_an_axis_keeps_its_room_when_its_labels_get_shorter(qtbot):
    widget = pg.PlotWidget(axisItems={"left": SteadyAxis("left")})
    qtbot.addWidget(widget)
    widget.resize(300, 200)
    widget.show()
    qtbot.waitExposed(widget)
    axis = widget.getPlotItem().getAxis("left")
    assert axis.textWidth >= TICK_TEXT_WIDTH
    widget.getPlotItem().setYRange(0, 123456789.0, padding=0)  # long labels
    qtbot.waitUntil(lambda: axis.textWidth > TICK_TEXT_WIDTH, timeout=5000)
    qtbot.waitUntil(lambda: axis.width() >= axis.textWidth, timeout=5000)
    wide = axis.width()
    widget.getPlotItem().setYRange(0, 1, padding=0)  # short labels
    qtbot.waitUntil(lambda: axis.range == [0, 1], timeout=5000)
    settle(PaintCounter(widget.viewport()))  # the labels measured, the axis resized had it shrunk
    assert axis.width() >= wide  # (a label measured late may still widen it a little)
