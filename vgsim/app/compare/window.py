"""Side by side: one window training two or more networks in lockstep (same data, seed and
batches), a card per network (see cards.py) and the overlay plots. Training runs in a
`ComparisonWorker`; a timer draws its newest frame."""

from __future__ import annotations

import gc
from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...engine.spec import Network
from ...experiments.comparison_data import ComparisonData
from ...experiments.comparisons import Comparison
from ...experiments.sides import Side
from ..plots.export import ExportError, export_all
from ..screens import fit_to_screen
from ..threads import FramePacer
from ..training import BUSY_SHARE, FRAME_MS, MainThreadCollector
from .cards import CARD_HEIGHT, RunCard
from .headless import comparison_stem
from .plots import ComparisonDashboard
from .worker import CompareFrame, ComparisonWorker


class ComparisonWindow(QMainWindow):
    def __init__(self, comparison: Comparison, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Compare: " + " vs ".join(comparison.labels))
        # Collect garbage on this thread only (see MainThreadCollector); the main window's
        # collector, if there is one, has already switched the automatic one off. No parent:
        # it must outlive the window if the thread does (see _retire).
        self.collector = MainThreadCollector() if gc.isenabled() else None
        self.cards = [RunCard(i, run.label, run.network) for i, run in enumerate(comparison.runs)]
        self.dashboard = ComparisonDashboard()
        self._seed = comparison.seed
        # Sides from a past step of a run (a branch and the run it left) start from its state.
        self._from = max(side.start_step for side in comparison.sides)
        self._build()
        self.frame: CompareFrame | None = None
        self._pacer = FramePacer(BUSY_SHARE)
        # From here on only the worker thread touches the comparison.
        self.worker = ComparisonWorker(comparison)
        # Deleted with its parent (no closeEvent then): the thread must not train on unseen.
        self.destroyed.connect(lambda *_, w=self.worker, c=self.collector: _retire(w, c))
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._poll)
        self.timer.start()
        self._poll()

    def _build(self) -> None:
        bar = self.addToolBar("Training")
        bar.setMovable(False)
        self.actions: dict[str, QAction] = {}
        for key, text, shortcut, slot in (
            ("play", "Play", "Space", self.toggle_play),
            ("step", "Step", "N", self.step),
            ("reset", "Reset", "R", self.reset),
            ("export", "Export plots…", "Ctrl+E", self.export_plots),
        ):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(slot)
            bar.addAction(action)
            self.actions[key] = action
        self.progress_label = QLabel("step 0")
        self.progress_label.setContentsMargins(12, 0, 0, 0)
        bar.addWidget(self.progress_label)
        cards = QWidget()
        column = QVBoxLayout(cards)
        column.setContentsMargins(4, 4, 4, 4)
        column.setSpacing(4)
        for card in self.cards:
            column.addWidget(card)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(cards)
        scroll.setMinimumHeight(CARD_HEIGHT + 12)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(scroll)
        splitter.addWidget(self.dashboard)
        shown = min(len(self.cards), 4)  # more runs than that scroll
        splitter.setSizes([shown * (CARD_HEIGHT + 4) + 12, 700])
        splitter.setStretchFactor(1, 1)
        self.setCentralWidget(splitter)
        fit_to_screen(self, 1400, 900)

    # --- commands -----------------------------------------------------------------------------
    def toggle_play(self) -> None:
        playing = self.frame is not None and self.frame.playing
        self.worker.send("pause" if playing else "play")

    def step(self) -> None:
        self.worker.send("step", 1)

    def reset(self) -> None:
        self.worker.send("reset")

    def export_plots(self) -> None:
        if self.frame is None:
            return
        folder = QFileDialog.getExistingDirectory(self, "Export the comparison's plots to")
        if not folder:
            return
        self.dashboard.refresh_all()
        try:
            written = export_all(
                self.dashboard.plot_items(), folder, comparison_stem(self.frame.data)
            )
        except ExportError as exc:
            QMessageBox.warning(self, "Export plots", str(exc))
            return
        self.statusBar().showMessage(f"Wrote {len(written)} files to {folder}", 5000)

    def shutdown(self) -> None:
        """Stop drawing and training; the worker thread ends."""
        self.timer.stop()
        _retire(self.worker, self.collector)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    # --- frames -------------------------------------------------------------------------------
    def _poll(self) -> None:
        self._pacer.poll(self.worker, self._draw)

    def _draw(self, frame: CompareFrame) -> None:
        self.frame = frame
        self.show_frame(frame)

    def show_frame(self, frame: CompareFrame) -> None:
        data: ComparisonData = frame.data
        self.dashboard.show_data(data, everything=not frame.playing)
        for card, run in zip(self.cards, data.runs, strict=True):
            card.show_run(run)
        self.actions["play"].setText("Pause" if frame.playing else "Play")
        rate = f" · {frame.steps_per_second:,.0f} steps/s" if frame.playing else ""
        same = "" if self._seed is None else f" · seed {self._seed} and the same batches for all"
        if self._from:
            same = f" · all from step {self._from:,}'s state, with the same batches"
        self.progress_label.setText(f"step {data.step}{rate}{same}")
        if frame.error:
            self.statusBar().showMessage(frame.error)


def _retire(worker: ComparisonWorker, collector: MainThreadCollector | None) -> None:
    """Stop the thread. Automatic collection comes back only once it has ended (a round
    still compiling kernels can outlast the wait): run on that thread, it can deadlock."""
    worker.stop()
    if collector is not None and collector.timer.isActive() and not worker.alive:
        collector.stop()


def open_comparison(
    networks: Sequence[Network | Side],
    labels: Sequence[str] | None = None,
    parent: QWidget | None = None,
    seed: int | None = None,
) -> ComparisonWindow:
    """Open a window comparing `networks` (or sides starting at a past step: their saved states
    hold their batch order) in lockstep with one seed (default: the first network's) so all of
    them start alike and see the same batches. Raises `ComparisonError` (different data, fewer
    than two), `NetworkError` (an invalid network, named by label) or `StateError` (a side's
    state that does not fit its network)."""
    if seed is None:
        first = networks[0] if networks else None
        first = first.network if isinstance(first, Side) else first
        seed = int(first.training.get("seed", 0)) if first is not None else 0
    window = ComparisonWindow(Comparison(list(networks), labels=labels, seed=seed), parent)
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window.show()
    return window
