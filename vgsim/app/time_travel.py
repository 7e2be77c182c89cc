"""The window's timeline: the bar under the dashboard and the frames of past steps.

The worker records the run as it trains (app/worker_past.py). Moving the bar back asks it for
that step; the window then draws only frames of the step the bar is at, so a frame of the
present that was on its way is never drawn over the past. Training again (Play, Step,
Micro-step, Run until) goes on from the present.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMainWindow, QMenu

from .frames import Frame
from .timeline_bar import TimelineBar

MARKED_PLOTS = ("loss", "accuracy")  # curves that mark the step shown
MARKER_PEN = pg.mkPen("#5f6368", width=1, style=pg.QtCore.Qt.PenStyle.DashLine)


class TimeTravel(QObject):
    def __init__(self, window: QMainWindow):
        super().__init__(window)
        self.window = window
        self.bar = TimelineBar()
        self.bar.moved.connect(self._moved)
        self.bar.branch_button.setVisible(False)
        self._run: int | None = None
        self._markers: dict[str, pg.InfiniteLine] = {}

    def add_actions(self, menu: QMenu) -> None:
        """The bar's keys, listed in the Train menu."""
        menu.addSeparator()
        for action in self.bar.actions.values():
            menu.addAction(action)

    # --- frames -------------------------------------------------------------------------------
    def accepts(self, frame: Frame) -> bool:
        """Whether the window draws `frame`: a frame of the step the bar is at (of the present
        when it is there). A new run takes the bar back to the present."""
        if frame.run != self._run:
            self._run = frame.run
            self.bar.follow()
        return frame.at == self.bar.at

    def shown(self, frame: Frame) -> None:
        """After the window drew `frame`: the bar's span, and the step marked on the curves."""
        self.bar.set_steps(frame.recorded)
        self.bar.set_pending(not frame.exact)
        for key in MARKED_PLOTS:
            marker = self._marker(key)
            if marker is None:
                continue
            marker.setVisible(frame.at is not None)
            if frame.at is not None:
                marker.setValue(frame.at)

    def _marker(self, key: str) -> pg.InfiniteLine | None:
        if key not in self._markers:
            plot = getattr(self.window.dashboard, "plots", {}).get(key)
            if plot is None:
                return None
            line = pg.InfiniteLine(angle=90, movable=False, pen=MARKER_PEN)
            line.setZValue(10)
            plot.plot.addItem(line, ignoreBounds=True)
            self._markers[key] = line
        return self._markers[key]

    # --- what the student does ----------------------------------------------------------------
    def _moved(self, step: int | None) -> None:
        self.window.training.scrub(step)

    def to_present(self) -> None:
        """Training again: it goes on from the present."""
        self.bar.follow()
