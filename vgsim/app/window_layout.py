"""The main window's layout: the canvas over tabs of plots, docks either side, a status bar.

The functions take the main window (typed as a QMainWindow, so that this module does not import
main_window, which imports it) and set the widgets it keeps as its attributes.

Sized for the screen it opens on: the window fits a 1280 × 720 laptop screen, the canvas takes a
share of the height that leaves the plots room (and can be hidden), and the palette dock is tall
enough to show every block."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QProgressBar,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from .canvas.key import GradientKey
from .plots.pages import PlotPages
from .screens import fit_to_screen

DEFAULT_SIZE = (1500, 950)  # on a screen that has the room
CANVAS_SHARE = 0.27  # of the height under the toolbars, at first: the plots take the rest
CANVAS_MOST = 420  # pixels: on a tall screen the plots get what is left over
PROBLEMS_LEAST = 90  # pixels: the Problems dock under the palette keeps a few lines


def build_layout(window: QMainWindow) -> None:
    """Make the window's widgets' places: the central splitter, the docks, the status bar."""
    _, height = fit_to_screen(window, *DEFAULT_SIZE)
    _central(window, height)
    _docks(window)
    _status_bar(window)


def wire_layout(window: QMainWindow) -> None:
    """Once the actions exist: Tidy layout, which moves every block, then shows them all."""
    window.actions["tidy"].triggered.connect(window.view.fit)


def _central(window: QMainWindow, height: int) -> None:
    window.canvas_box = QWidget()
    box = QVBoxLayout(window.canvas_box)
    box.setContentsMargins(0, 0, 0, 0)
    box.setSpacing(0)
    box.addWidget(window.view, 1)
    # The colour key lives under the canvas, never over a block.
    window.view.gradient_key = GradientKey()
    box.addWidget(window.view.gradient_key)
    window.splitter = QSplitter(Qt.Orientation.Vertical)
    window.splitter.setChildrenCollapsible(False)
    window.splitter.addWidget(window.canvas_box)
    # Over the plots when the canvas no longer matches them (the network has problems).
    window.stale_banner = QLabel(
        "⚠ This network cannot train yet: fix the problems listed on the left. "
        "Its plots appear as soon as it can train."
    )
    window.stale_banner.setStyleSheet("background: #fef7e0; color: #7a4f01; padding: 4px;")
    window.stale_banner.setWordWrap(True)  # never widens the window
    window.stale_banner.hide()
    window.plot_pages = PlotPages(window.dashboard)
    window.plot_pages.canvas_toggled.connect(window.canvas_box.setVisible)
    plots_box = QWidget()
    plots = QVBoxLayout(plots_box)
    plots.setContentsMargins(0, 0, 0, 0)
    plots.setSpacing(0)
    plots.addWidget(window.stale_banner, 0, Qt.AlignmentFlag.AlignTop)  # alone: at the top
    plots.addWidget(window.plot_pages)
    plots.addWidget(window.timeline.bar)  # the run's steps, under the plots
    window.splitter.addWidget(plots_box)
    central = max(height - 90, 300)  # under the menu bar, the toolbars and the status bar
    canvas = min(int(CANVAS_SHARE * central), CANVAS_MOST)
    window.splitter.setSizes([canvas, central - canvas])
    window.splitter.setStretchFactor(0, 1)
    window.splitter.setStretchFactor(1, 3)
    window.setCentralWidget(window.splitter)
    window.editor.undo.indexChanged.connect(window.view.keep_in_view)


def _docks(window: QMainWindow) -> None:
    left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
    window.palette_dock = dock(window, "Blocks", window.palette, left)
    window.inspector_dock = dock(window, "Inspector", window.inspector, right)
    window.problems_dock = dock(window, "Problems", window.problems, left)
    window.diagnosis_dock = dock(window, "Diagnosis", window.diagnosis, right)
    window.lessons_dock = dock(window, "Lessons", window.lessons, right)
    window.tabifyDockWidget(window.inspector_dock, window.diagnosis_dock)
    window.tabifyDockWidget(window.diagnosis_dock, window.lessons_dock)
    window.inspector_dock.raise_()
    window.palette_dock.setMinimumWidth(190)
    window.inspector_dock.setMinimumWidth(320)
    # Once the window is shown (docks have no height before): the palette as tall as its
    # entries, the Problems list the rest.
    QTimer.singleShot(0, lambda: fit_palette(window))


def fit_palette(window: QMainWindow) -> None:
    """Give the palette dock the height that shows every entry, if the column has it."""
    palette = window.palette
    need = palette.sizeHint().height()
    if palette.viewport().height() >= need - 2 * palette.frameWidth() - 4:
        return  # every entry shows already (as the user left it, maybe)
    column = window.palette_dock.height() + window.problems_dock.height()
    if column >= need + PROBLEMS_LEAST:
        window.resizeDocks(
            [window.palette_dock, window.problems_dock],
            [need, column - need],
            Qt.Orientation.Vertical,
        )


def dock(window: QMainWindow, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
    made = QDockWidget(title, window)
    made.setObjectName(title.replace(" ", "_").lower())
    made.setWidget(widget)
    window.addDockWidget(area, made)
    return made


def _status_bar(window: QMainWindow) -> None:
    window.phase_label = QLabel()
    window.preparing = QProgressBar()  # busy while a trainer is built (first run: compiling)
    window.preparing.setRange(0, 0)
    window.preparing.setMaximumWidth(160)
    window.preparing.setToolTip(
        "Preparing the training kernels: compiled once on the first "
        "run (about 15 s), then loaded from the cache"
    )
    window.preparing.hide()
    window.statusBar().addPermanentWidget(window.preparing)
    window.progress_label = QLabel("step 0")
    window.play_reason = QLabel()
    for label in (window.phase_label, window.progress_label, window.play_reason):
        window.statusBar().addPermanentWidget(label)
