"""Experiments ▸ Trainability map…: sweep the canvas's network over two axes and watch the map
fill in, cell by cell, as the runs finish in worker processes.

The window asks for the axes, seeds and steps, starts the sweep on a `SweepThread` (the
window's process only waits: every run trains in another process), and redraws the map from
the thread's newest progress on a timer. Hovering a cell shows its figures; clicking it opens
that cell's network in the main window, and two cells open side by side (cells.py).
"""

from __future__ import annotations

import html
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...engine.errors import VgsimError
from ...engine.spec import Network
from ...experiments.sweeps import Progress, Sweep
from ...experiments.sweeps.grid import MapData, map_data
from ...experiments.sweeps.progress import duration, summary
from ...experiments.sweeps.spec import FORMAT, MAP_FIGURES
from ..screens import fit_to_screen
from .cells import Compare, MapCells, _text
from .map_plot import FIGURE_TITLES, MapPlot
from .runner import SweepThread

POLL_MS = 200
# Paths offered in the axis boxes (any other path may be typed; docs/sweeps.md lists them).
AXIS_PATHS = (
    "dense.sigma_w2",
    "blocks",
    "dense.sigma_b2",
    "training.lr",
    "training.optimizer",
    "activation.function",
    "dense.units",
    "batchnorm",
    "skip",
    "training.batch_size",
)
DEFAULT_AXES = (
    ("dense.sigma_w2", "1, 1.5, 2, 2.5, 3, 3.5, 4"),
    ("blocks", "2, 4, 8, 16"),
)


def parse_values(text: str) -> list:
    """ "1, 1.5, relu, true" -> [1, 1.5, "relu", True]."""
    out: list = []
    for token in (t.strip() for t in text.split(",")):
        if not token:
            continue
        lowered = token.lower()
        if lowered in ("true", "false"):
            out.append(lowered == "true")
            continue
        try:
            out.append(int(token))
            continue
        except ValueError:
            pass
        try:
            number = float(token)
            out.append(number if math.isfinite(number) else token)
        except ValueError:
            out.append(token)
    return out


class AxisRow(QWidget):
    def __init__(self, path: str, values: str):
        super().__init__()
        self.path = QComboBox()
        self.path.setEditable(True)
        self.path.addItems(AXIS_PATHS)
        self.path.setCurrentText(path)
        self.values = QLineEdit(values)
        self.values.setPlaceholderText("values, separated by commas")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.path, 2)
        row.addWidget(self.values, 3)

    def spec(self) -> dict:
        path = self.path.currentText().strip()
        name = {"dense.sigma_w2": "sigma_w2", "dense.sigma_b2": "sigma_b2", "blocks": "depth"}
        return {
            "path": path,
            "name": name.get(path, path),
            "values": parse_values(self.values.text()),
        }


class TrainabilityMapWindow(MapCells, QMainWindow):
    def __init__(
        self,
        current: Callable[[], Network],
        open_network: Callable[[Network], object] | None = None,
        parent: QWidget | None = None,
        compare: Compare | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Trainability map")
        self.current, self.open_network, self.compare = current, open_network, compare
        self.thread: SweepThread | None = None
        # Deleted with the main window (no closeEvent then): its runs must stop too.
        holder: list[SweepThread] = []
        self._holder = holder
        self.destroyed.connect(lambda *_: [t.cancel() for t in holder])
        self.sweep: Sweep | None = None
        self.data: MapData | None = None
        self._seen = -1
        self._folder: str | None = None
        self._tasks: list = []
        self._name: str | None = None  # the map's title, from a sweep file
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._poll)

    # --- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        form = QFormLayout()
        self.x_axis = AxisRow(*DEFAULT_AXES[0])
        self.y_axis = AxisRow(*DEFAULT_AXES[1])
        self.seeds = QLineEdit("0")
        self.steps = QSpinBox()
        self.steps.setRange(1, 1_000_000)
        self.steps.setValue(int(self.current().training.get("steps", 500)))
        self.workers = QSpinBox()
        self.workers.setRange(1, 256)
        self.workers.setValue(os.cpu_count() or 1)
        self.figure = QComboBox()
        for key in MAP_FIGURES:
            self.figure.addItem(FIGURE_TITLES.get(key, key), key)
        self.figure.currentIndexChanged.connect(self._redraw)
        form.addRow("x axis", self.x_axis)
        form.addRow("y axis", self.y_axis)
        form.addRow("Seeds", self.seeds)
        form.addRow("Steps per run", self.steps)
        form.addRow("Worker processes", self.workers)
        form.addRow("Colour", self.figure)
        self.base = QLabel()
        self.base.setWordWrap(True)
        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m runs")
        self.status = QLabel("Choose the axes and press Run.")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)
        self.plot_widget = pg.GraphicsLayoutWidget()
        self.map = MapPlot(self.plot_widget.addPlot())
        self.plot_widget.scene().sigMouseMoved.connect(self._hover)
        self.plot_widget.scene().sigMouseClicked.connect(self._click)
        box = QVBoxLayout()
        box.addLayout(form)
        box.addWidget(self.base)
        box.addLayout(buttons)
        box.addWidget(self.status)
        box.addWidget(self.plot_widget, 1)
        central = QWidget()
        central.setLayout(box)
        self.setCentralWidget(central)
        fit_to_screen(self, 820, 860)
        self._show_base(self.current())

    def _show_base(self, net: Network) -> None:
        self.base.setText(
            f"Base network: <b>{net.name}</b> — the canvas as it is when you press Run; "
            "each cell trains a copy with the axes' values."
        )

    # --- running ----------------------------------------------------------------------------
    def spec(self) -> dict:
        named = {"name": self._name} if self._name else {}
        return {
            "format": FORMAT,
            **named,
            "axes": [self.x_axis.spec(), self.y_axis.spec()],
            "seeds": parse_values(self.seeds.text()),
            "steps": self.steps.value(),
            "map": {"figure": self.figure.currentData()},
        }

    def set_spec(self, spec: dict) -> None:
        """Fill the form from a sweep file's content (its first two axes)."""
        self._name = str(spec["name"]) if isinstance(spec.get("name"), str) else None
        for row, axis in zip((self.x_axis, self.y_axis), spec.get("axes", []), strict=False):
            row.path.setCurrentText(str(axis.get("path", "")))
            row.values.setText(", ".join(_text(v) for v in axis.get("values", [])))
        self.seeds.setText(", ".join(str(s) for s in spec.get("seeds", [0])))
        if isinstance(spec.get("steps"), int):
            self.steps.setValue(spec["steps"])
        figure = spec.get("map", {}).get("figure")
        if figure in MAP_FIGURES:
            self.figure.setCurrentIndex(MAP_FIGURES.index(figure))

    def run(self) -> bool:
        """Start a sweep of the canvas's network; False (and the reason shown) if it cannot."""
        if self.running:
            return False
        net = self.current()
        self._show_base(net)
        spec = self.spec()
        try:
            Sweep.check(spec)  # what the form says; each network is checked on the thread
        except VgsimError as exc:
            self._error(str(exc))
            return False
        self._discard_folder()
        self._folder = tempfile.mkdtemp(prefix="vgsim-sweep-")
        self.sweep, self._tasks = None, []
        self.progress.setRange(0, 0)  # busy until the runs are counted
        self.status.setText("Checking every network of the sweep…")
        self.thread = SweepThread(spec, net, Path(self._folder), self.workers.value())
        self._holder[:] = [self.thread]
        self._seen = -1
        self.thread.start()
        self.timer.start()
        self._set_running(True)
        return True

    def _error(self, text: str) -> None:
        self.status.setText(f"<span style='color:#c62828'>{html.escape(text)}</span>")

    def _started(self, thread: SweepThread) -> None:
        """The sweep is built: an empty map of its axes."""
        assert thread.sweep is not None
        self.sweep, self._tasks = thread.sweep, thread.tasks
        self.data = map_data(self.sweep, {}, tasks=self._tasks, theory=thread.theory)
        self.map.data = None  # a new frame: axes and titles
        self.map.show(self.data)
        self.progress.setRange(0, len(self._tasks))
        self.progress.setValue(0)
        self.status.setText(
            f"Starting {len(self._tasks)} runs on {self.workers.value()} processes…"
        )

    @property
    def running(self) -> bool:
        return self.thread is not None and not self.thread.done.is_set()

    def cancel(self) -> None:
        if self.thread is not None:
            self.thread.cancel()
            self.status.setText("Cancelling: stopping the runs in flight…")
            self.cancel_button.setEnabled(False)

    def _set_running(self, on: bool) -> None:
        self.run_button.setEnabled(not on)
        self.cancel_button.setEnabled(on)
        for widget in (self.x_axis, self.y_axis, self.seeds, self.steps, self.workers):
            widget.setEnabled(not on)

    def _poll(self) -> None:
        thread = self.thread
        if thread is None:
            return
        if self.sweep is None and thread.ready.is_set():
            self._started(thread)
        version, state = thread.snapshot()
        ended = thread.done.is_set()
        if state is not None and version != self._seen and self.sweep is not None:
            self._seen = version
            self._show_progress(state)
            if ended:
                self._show_end(thread, state)
        if ended and self.run_button.isEnabled() is False:
            self._set_running(False)
            self._show_end(thread, state)
        if ended and not thread.theory_pending:
            self.timer.stop()  # the theory's lines, when they come after the runs, are drawn

    def _show_end(self, thread: SweepThread, state: Progress | None) -> None:
        if thread.error:
            self.progress.setRange(0, 1)
            self._error(thread.error)
        elif state is not None:
            ending = "Cancelled. " if thread.cancelled else "Done. "
            self.status.setText(ending + summary(state))

    def _show_progress(self, state: Progress) -> None:
        assert self.sweep is not None
        self.data = self._map(state.records)
        self.map.show(self.data)
        self.progress.setValue(state.done)
        extra = f", {state.diverged} diverged" if state.diverged else ""
        extra += f", {state.failed} failed" if state.failed else ""
        self.status.setText(
            f"{state.done} of {state.total} runs{extra}; elapsed {duration(state.elapsed_s)}, "
            f"left {duration(state.left_s)}"
        )

    def _map(self, records: dict) -> MapData:
        assert self.sweep is not None and self.thread is not None
        figure = self.figure.currentData()
        return map_data(self.sweep, records, figure, self._tasks, theory=self.thread.theory)

    def _redraw(self) -> None:
        if self.sweep is None or self.thread is None:
            return
        _, state = self.thread.snapshot()
        records = state.records if state is not None else {}
        self.data = self._map(records)
        self.map.data = None
        self.map.show(self.data)

    # --- closing ----------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self.timer.stop()
        if self.thread is not None:
            self.thread.cancel()
            self.thread.join(10)
        self._discard_folder()
        super().closeEvent(event)

    def _discard_folder(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
