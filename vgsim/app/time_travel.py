"""The window's timeline: the bar under the dashboard, the frames of past steps, and a change at
a past step made a branch.

The worker records the run as it trains (app/worker_past.py). Moving the bar back asks it for
that step; the window then draws only frames of the step the bar is at, so a frame of the
present that was on its way is never drawn over the past. At a past step, a change the run
depends on (a live setting, or the network) continues the run from there as a new run, a
branch; the run it leaves stays in the loss and gradient plots, faded, and Compare with
original… opens both side by side in a comparison window. Training again (Play, Step,
Micro-step, Run until) goes on from the present.
"""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox

from ..engine.errors import NetworkError, NetworkFileError
from ..engine.spec import Network, read_network
from ..engine.validate import validate
from ..experiments.plot_data import ReferenceData
from .frames import Frame
from .plots.style import positive
from .timeline_bar import TimelineBar

MARKED_PLOTS = ("loss", "accuracy")  # curves that mark the step shown
MARKER_PEN = pg.mkPen("#5f6368", width=1, style=pg.QtCore.Qt.PenStyle.DashLine)
REFERENCE_PLOTS = ("loss", "gradient-flow")  # where the run a branch left stays, faded
REFERENCE_PEN = pg.mkPen((95, 99, 104, 110), width=2)


class TimeTravel(QObject):
    sides_ready = Signal(object, int)  # a branch's sides (or the error), the run they are of

    def __init__(self, window: QMainWindow):
        super().__init__(window)
        self.window = window
        self.bar = TimelineBar()
        self.bar.moved.connect(self._moved)
        self.bar.branch_requested.connect(self.branch_here)
        self.bar.compare_requested.connect(self.compare_with_original)
        self.sides_ready.connect(self._open_sides)  # queued: sent from the worker thread
        self.bar.message.connect(self._show_message)  # queued: sent from the worker thread
        self._run: int | None = None
        self._markers: dict[str, pg.InfiniteLine] = {}
        self._references: dict[str, pg.PlotDataItem] = {}
        self._keyed: dict[str, str | None] = {}  # each reference's entry in its plot's key
        self.show_errors = True  # tests read the status bar instead of a message box

    def add_actions(self, menu: QMenu) -> None:
        """The bar's keys, listed in the Train menu, and Compare with original…"""
        menu.addSeparator()
        for action in self.bar.actions.values():
            menu.addAction(action)
        menu.addAction(self.bar.compare_action)

    # --- frames -------------------------------------------------------------------------------
    def accepts(self, frame: Frame) -> bool:
        """Whether the window draws `frame`: a frame of the step the bar is at (of the present
        when it is there). A new run takes the bar back to the present."""
        if frame.run != self._run:
            self._run = frame.run
            self.bar.follow()
        return frame.at == self.bar.at

    def clear(self) -> None:
        """A new run, or none: the bar holds no step of the run before, no step is marked and no
        branch's reference is drawn."""
        self._run = None
        self.bar.follow()
        self.bar.set_steps(0)
        self.bar.set_branch(False)
        for marker in self._markers.values():
            marker.setVisible(False)
        self._draw_reference(None)

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
        reference = frame.plot.reference if frame.plot is not None else None
        self.bar.set_branch(reference is not None)
        self._draw_reference(reference)

    def _draw_reference(self, ref: ReferenceData | None) -> None:
        """The run a branch left, faded, with an entry in the plot's key: its loss curve, and
        its gradient flow at the step shown."""
        plots = getattr(self.window.dashboard, "plots", {})
        for key in REFERENCE_PLOTS:
            if key not in plots:
                continue
            curve = self._reference_curve(key, plots[key].plot)
            curve.setVisible(ref is not None)
            self._key(key, plots[key].plot, curve, None if ref is None else ref.label)
            if ref is None:
                continue
            if key == "loss":
                log_y = getattr(plots[key], "log_y", True)
                curve.setData(ref.loss_steps, positive(ref.loss) if log_y else ref.loss)
            else:
                layers = list(getattr(plots[key], "layers", []))
                x = np.arange(len(layers), dtype=float)
                curve.setData(x, positive(ref.gradient[layers]), connect="finite")

    def _reference_curve(self, key: str, plot: pg.PlotItem) -> pg.PlotDataItem:
        if key not in self._references:
            curve = pg.PlotDataItem(pen=REFERENCE_PEN)
            curve.setZValue(-5)  # under the run's own curves
            plot.addItem(curve)
            self._references[key] = curve
        return self._references[key]

    def _key(self, key: str, plot: pg.PlotItem, curve: pg.PlotDataItem, name: str | None) -> None:
        """The reference's entry in the key under the plot (a label inside it would sit on the
        data), `name` or none."""
        legend = getattr(plot, "legend", None)
        if legend is None or self._keyed.get(key) == name:
            return
        if self._keyed.get(key) is not None:
            legend.removeItem(curve)
        if name is not None:
            legend.addItem(curve, name)
        self._keyed[key] = name

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

    def branch_here(self, step_count: int) -> None:
        """Branch from here: the run continues after `step_count` steps with the document's
        network and settings, as a new run."""
        model = self.window.editor.model
        if model.problems():
            self.window.statusBar().showMessage(
                "Fix the network's problems first: a branch trains the network on the canvas.",
                8000,
            )
            return
        self._branch(step_count, model.snapshot())

    def branch_if_past(self, net: Network) -> bool:
        """At a past step, a change the run depends on (a live setting, the network) makes a
        branch from there: True if it did."""
        training = self.window.training
        at = self.bar.at
        if at is None or training.network is None:
            return False
        if not (training.needs_rebuild(net) or training.live_changes(net)):
            return False  # a move, a name: nothing to branch for
        self._branch(at + 1, net)
        return True

    def _branch(self, step_count: int, net: Network) -> None:
        self.window.training.branch(step_count, net)
        self.bar.follow()
        self.window.statusBar().showMessage(
            f"Branched at step {step_count:,}: the run so far stays in the loss and gradient "
            "plots, faded",
            8000,
        )

    # --- Compare with original… ---------------------------------------------------------------
    def compare_with_original(self) -> None:
        """The branch and the run it left, side by side in a comparison window (taken from the
        worker's record: the window's run and document stay as they are)."""
        run = self.window.training.run
        future = self.window.training.worker.branch_sides()
        future.add_done_callback(lambda done: self._sides_taken(done, run))

    def _sides_taken(self, done: Future, run: int) -> None:
        # On the worker thread: only the sides cross over, through a queued signal.
        error = done.exception()
        self.sides_ready.emit(error if error is not None else done.result(), run)

    def _open_sides(self, sides: object, run: int) -> None:
        if run != self.window.training.run:
            return  # the window has left that run meanwhile
        if isinstance(sides, BaseException):
            self._show_message(f"Cannot compare with the original: {sides}")
            return
        self.window.side_by_side.open_comparison(sides)

    # --- File ▸ Save run… / Open run… -----------------------------------------------------------
    def save_run_dialog(self) -> None:
        start = str(self.window.settings.value("last_run_folder", str(Path.home())))
        folder = QFileDialog.getExistingDirectory(
            self.window, "Save run into a folder (an empty one, or a run saved before)", start
        )
        if folder:
            self.save_run(folder)

    def save_run(self, folder: str | Path) -> None:
        """Write the run (network, figures, saved states: docs/checkpoints.md) into `folder`;
        the status bar says when it is written, or why not."""
        future = self.window.training.worker.save_run(folder)
        future.add_done_callback(lambda done: self._saved(done, Path(folder)))

    def _saved(self, done: object, folder: Path) -> None:
        # On the worker thread: only a message crosses over, through the bar's signal.
        error = done.exception()
        text = f"Cannot save the run: {error}" if error else f"Run saved in {folder}"
        self.bar.message.emit(text)

    def _show_message(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 10000)

    def open_run_dialog(self) -> None:
        if not self.window.files.maybe_discard():
            return
        start = str(self.window.settings.value("last_run_folder", str(Path.home())))
        folder = QFileDialog.getExistingDirectory(self.window, "Open a saved run", start)
        if folder:
            self.open_run(folder)

    def open_run(self, folder: str | Path) -> bool:
        """Open the run saved in `folder`: its network becomes the document (untitled) and its
        run the window's, to scrub, branch or train on."""
        path = Path(folder) / "network.json"
        try:
            net = read_network(path)
            problems = validate(net)
            if problems:
                raise NetworkError(problems)
        except (NetworkFileError, NetworkError) as exc:
            text = f"{folder} holds no run vgsim can open:\n{exc}"
            self.window.statusBar().showMessage(text.replace("\n", " "), 10000)
            if self.show_errors:
                QMessageBox.warning(
                    self.window,
                    "Cannot open this run",
                    text + "\n\nThe network you had open is unchanged.",
                )
            return False
        self.window.settings.setValue("last_run_folder", str(Path(folder).parent))
        self.window.editor.load(net, None)
        self.window.training.open_run(str(folder), net)
        self.bar.follow()
        return True
