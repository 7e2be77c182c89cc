"""All the live plots in one GraphicsLayoutWidget, created once and fed with setData.

Every plot exists once; `arrange` chooses which of them are laid out (a page of the window's
plot tabs) and where. Plots that are not laid out are hidden and only redrawn when a whole
frame is asked for (paused, a step, an export), so a live frame costs only what is shown."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsPathItem, QWidget

from ...experiments.plot_data import PlotData
from .activations import ActivationRidgePlot, UnitHealthPlot
from .boundary import DecisionBoundaryPlot
from .export import CHROME, fit_x_to_data
from .gradients import GradientFlowPlot, GradientHeatmap
from .style import TITLE_HEIGHT, steady_axes
from .training import AccuracyPlot, LossPlot, UpdateRatioPlot, WeightNormPlot

LAYOUT = (
    (GradientFlowPlot, GradientHeatmap, ActivationRidgePlot),
    (LossPlot, AccuracyPlot, DecisionBoundaryPlot),
    (WeightNormPlot, UpdateRatioPlot, UnitHealthPlot),
)


# Around a plot's data area (measured): its x axis with tick labels and name, a row of its key,
# its y axis with tick labels and name.
AXIS_HEIGHT, KEY_ROW_HEIGHT, AXIS_WIDTH = 40, 15, 64
CELL_GAP = 8
PLOT_SPACING = 6  # pixels between plots
FIGURE_SIZE = (1500, 960)  # exported figures: the nine plots laid out 3 × 3 at this size
EXPORT_BUTTON = 16  # pixels
EMPHASIS = pg.mkPen("#f29900", width=2.5)  # the frame around the plots a lesson points at
# Plots against the step: live they keep room ahead for new steps; a figure ends at the data.
STEP_PLOTS = ("gradient-history", "loss", "accuracy", "weight-norms", "update-ratio")


@dataclass(frozen=True)
class Cell:
    """Where a plot goes in the dashboard's grid."""

    key: str
    row: int
    col: int
    rows: int = 1
    cols: int = 1


def grid_cells(layout: tuple[tuple[type, ...], ...] = LAYOUT) -> list[Cell]:
    return [Cell(cls.key, r, c) for r, row in enumerate(layout) for c, cls in enumerate(row)]


def resize_axes(item: pg.PlotItem) -> None:
    """Give a plot's axes their room again: pyqtgraph sizes an axis to nothing when its label
    or ticks change while it is hidden (a plot on another tab), and leaves it so."""
    stack = list(item.childItems())
    while stack:
        child = stack.pop()
        if isinstance(child, pg.AxisItem):
            child.setStyle(showValues=child.style["showValues"])  # sizes it again
        stack.extend(child.childItems())


def export_glyph(size: int = 32) -> QPixmap:
    """An arrow into a tray: "save this plot"."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(
        QPen(
            QColor("#5f6368"),
            size / 10,
            Qt.PenStyle.SolidLine,
            Qt.PenCapStyle.RoundCap,
            Qt.PenJoinStyle.RoundJoin,
        )
    )
    s = size
    p.drawLine(QPointF(s / 2, s * 0.12), QPointF(s / 2, s * 0.62))
    p.drawPolyline(
        [QPointF(s * 0.3, s * 0.42), QPointF(s / 2, s * 0.62), QPointF(s * 0.7, s * 0.42)]
    )
    p.drawPolyline(
        [
            QPointF(s * 0.15, s * 0.65),
            QPointF(s * 0.15, s * 0.85),
            QPointF(s * 0.85, s * 0.85),
            QPointF(s * 0.85, s * 0.65),
        ]
    )
    p.end()
    return pixmap


class Dashboard(pg.GraphicsLayoutWidget):
    export_requested = Signal(str)  # a plot's key: "Export image…"
    copy_requested = Signal(str)  # a plot's key: "Copy image"
    reveal_requested = Signal(str)  # a plot's key: it should be on screen
    emphasised = Signal(list)  # the keys a lesson frames (may be empty)
    theory_toggled = Signal(bool)  # the gradient-flow prediction shown or hidden (its key too)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.ci.setContentsMargins(4, 4, 4, 4)
        self.ci.setSpacing(PLOT_SPACING)
        self.plots: dict[str, object] = {}
        self.export_buttons: dict[str, pg.ButtonItem] = {}
        for row in LAYOUT:
            for cls in row:
                plot = pg.PlotItem(axisItems=steady_axes())
                # Rows and columns share the room as `arrange` says, whatever a plot would like.
                plot.setPreferredSize(1, 1)
                self.plots[cls.key] = cls(plot)
                self._add_export_controls(cls.key, cls.title, plot)
        self._layers_of: tuple | None = None
        self._shown: tuple | None = None
        self._frame = 0
        self.plots["gradient-flow"].theory.visibleChanged.connect(self._theory_visibility)
        # What a fresh run's step axes show on the other axis before it has data (start_run).
        self.fresh_y = {key: self.plots[key].plot.viewRange()[1] for key in STEP_PLOTS}
        self.cells: list[Cell] = []
        self._stretched = (0, 0)  # rows and columns given a stretch factor by `arrange`
        self.arrange(grid_cells())

    def arrange(self, cells: list[Cell]) -> None:
        """Lay out these plots (and hide the others) in equal rows and columns; a plot that
        appears is redrawn at once."""
        grid = self.ci.layout
        items = self.plot_items()
        before = {c.key for c in self.cells}
        while grid.count():
            grid.removeAt(0)
        rows, cols = self._stretched
        for r in range(rows):
            grid.setRowStretchFactor(r, 0)
        for c in range(cols):
            grid.setColumnStretchFactor(c, 0)
        shown = {c.key for c in cells}
        for key, item in items.items():
            item.setVisible(key in shown)
            if key in shown and key not in before:
                resize_axes(item)
        for cell in cells:
            item = items[cell.key]
            if item.parentItem() is not self.ci:
                item.setParentItem(self.ci)
            grid.addItem(item, cell.row, cell.col, cell.rows, cell.cols)
        rows = max((c.row + c.rows for c in cells), default=0)
        cols = max((c.col + c.cols for c in cells), default=0)
        for r in range(rows):  # equal rows and columns, whatever each plot would like
            grid.setRowStretchFactor(r, 1)
        for c in range(cols):
            grid.setColumnStretchFactor(c, 1)
        # The grid keeps the spacing after rows and columns it no longer uses (a page of five
        # rows, then one of two, lost three spacings of height): none after the last one.
        for r in range(max(rows, self._stretched[0])):
            grid.setRowSpacing(r, PLOT_SPACING if r < rows - 1 else 0)
        for c in range(max(cols, self._stretched[1])):
            grid.setColumnSpacing(c, PLOT_SPACING if c < cols - 1 else 0)
        self._stretched = (rows, cols)
        self.cells = list(cells)
        if self._shown is not None and shown - before:
            self.show_data(*self._shown, everything=True)

    def _theory_visibility(self) -> None:
        # Its own flag, not whether its plot is on the tab shown.
        theory = self.plots["gradient-flow"].theory
        self.theory_toggled.emit(theory.isVisibleTo(theory.parentItem()))

    def chrome(self, key: str, width: float) -> tuple[float, float]:
        """What a plot `width` pixels wide spends around its data area: its title, x axis and
        key rows (height), its y axis and any colour bar (width)."""
        plot = self.plots[key]
        beside = AXIS_WIDTH + getattr(plot, "extra_width", 0)
        legend = getattr(plot, "legend", None)
        # The plot is a little narrower than its cell: the layout's margins and spacing.
        rows = legend.rows_for(width - CELL_GAP) if legend is not None else 0
        return TITLE_HEIGHT + AXIS_HEIGHT + rows * KEY_ROW_HEIGHT, beside

    def shown_keys(self) -> list[str]:
        return [c.key for c in self.cells]

    @contextmanager
    def every_plot(self, size: tuple[int, int] = FIGURE_SIZE) -> Iterator[None]:
        """All nine plots laid out 3 × 3 at `size` and drawn from the newest data, for as
        long as an export needs them (the scene is drawn offscreen; the screen keeps its page)."""
        cells, geometry = self.cells, self.ci.geometry()
        self.setUpdatesEnabled(False)
        try:
            self.arrange(grid_cells())
            self._lay_out(QRectF(0, 0, *size))
            self.refresh_all()
            yield
        finally:
            self.arrange(cells)
            self._lay_out(geometry)
            self.setUpdatesEnabled(True)

    def _lay_out(self, rect: QRectF) -> None:
        """Place every plot and what is inside it now (a plot never shown before has its axes
        sized only when its own layout requests are handled)."""
        self.ci.setGeometry(rect)
        for _ in range(3):
            QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
            self.ci.layout.activate()

    def _add_export_controls(self, key: str, title: str, item: pg.PlotItem) -> None:
        menu = item.getViewBox().menu
        menu.addSeparator()
        menu.addAction("Export image…", lambda: self.export_requested.emit(key))
        menu.addAction("Copy image", lambda: self.copy_requested.emit(key))
        button = pg.ButtonItem(pixmap=export_glyph(), width=EXPORT_BUTTON, parentItem=item)
        setattr(button, CHROME, True)  # on screen only: exports leave it out
        button.setToolTip(f"Export “{title}” as an image (PNG or SVG)")
        button.clicked.connect(lambda _button: self.export_requested.emit(key))
        item.geometryChanged.connect(
            lambda: button.setPos(item.size().width() - EXPORT_BUTTON - 4, 3)
        )
        self.export_buttons[key] = button

    def plot_items(self) -> dict[str, pg.PlotItem]:
        """The plots by key, in reading order: what "Export all plots" writes."""
        return {key: plot.plot for key, plot in self.plots.items()}

    def emphasise(self, keys: list[str]) -> None:
        """Frame the plots a lesson points at (none: clear the frames)."""
        for key, item in self.plot_items().items():
            item.getViewBox().setBorder(EMPHASIS if key in keys else None)
        self.emphasised.emit(list(keys))

    def reveal(self, key: str) -> None:
        """Ask for `key` to be laid out (the window's plot tabs decide where)."""
        if key not in self.shown_keys():
            self.reveal_requested.emit(key)

    def fit_steps(self) -> None:
        """Step axes end at the last step (no room kept for the steps to come): for figures."""
        for key in STEP_PLOTS:
            fit_x_to_data(self.plots[key].plot)

    def show_faded_steps(self, on: bool) -> None:
        self.plots["gradient-flow"].show_faded(on)

    def show_theory(self, on: bool) -> None:
        self.plots["gradient-flow"].show_theory(on)

    def show_every_node(self, on: bool) -> None:
        """Gradient flow and history: every block, or one row per layer (the default)."""
        for key in ("gradient-flow", "gradient-history"):
            self.plots[key].show_every_node(on)
        self.refresh_all()

    def log_loss(self, on: bool) -> None:
        self.plots["loss"].plot.setLogMode(y=on)  # the plot redraws itself for the new scale

    def start_run(self, data: PlotData | None, steps: int = 0) -> None:
        """A new run (or none): nothing of the last one stays, whatever its network was (curves,
        images, faded traces, the theory line, ranges). With `data`, the plots take its layers
        and the step axes span 0 to `steps`, the run's planned length."""
        for item in self.plot_items().values():
            for child in item.items:
                _clear(child)
        self._shown = None
        self._layers_of = None
        for key, (y0, y1) in self.fresh_y.items():  # not the last run's (a diverged loss)
            self.plots[key].plot.setYRange(y0, y1, padding=0)
        if data is None:
            return
        self._layers_of = (tuple(data.node_ids), tuple(data.types))
        for plot in self.plots.values():
            plot.set_layers(data)
            if hasattr(plot, "settle_next"):
                plot.settle_next()
        for key in STEP_PLOTS:
            self.plots[key].plot.setXRange(0, max(steps, 1), padding=0)

    def refresh_all(self) -> None:
        """Redraw every plot from the newest data (before an export: none may lag a frame)."""
        if self._shown is not None:
            self.show_data(*self._shown, everything=True)

    def show_data(
        self,
        data: PlotData,
        stats: np.ndarray | None = None,
        hist: np.ndarray | None = None,
        everything: bool = False,
    ) -> None:
        """Draw a snapshot. `stats`/`hist` override the newest step's (a step in progress).

        The gradient plots redraw every frame; the other plots take turns, half of them each
        frame (so each still refreshes 15 times a second at 30 frames a second), which halves
        the cost of a frame. `everything` redraws all of them (paused, exporting).
        """
        self._shown = (data, stats, hist)
        layers = (tuple(data.node_ids), tuple(data.types))
        if layers != self._layers_of:
            self._layers_of = layers
            everything = True
            for plot in self.plots.values():
                plot.set_layers(data)
        stats = stats if stats is not None else data.node_stats
        hist = hist if hist is not None else data.histograms
        p = self.plots
        if everything:  # paused or exporting: ranges and legends fit this frame, now
            for plot in p.values():
                if hasattr(plot, "settle_next"):
                    plot.settle_next()
        self._frame += 1
        turn = self._frame % 2
        shown = set(p) if everything else set(self.shown_keys())
        draw = {
            "gradient-flow": lambda plot: plot.update(data, stats),
            "activations": lambda plot: plot.update(data, hist, data.hist_ranges, stats),
            "unit-health": lambda plot: plot.update(data, stats),
        }
        # The gradient plots every frame, the others in two halves that cost about the same
        # (the per-layer curve plots are the dearest).
        due = ["gradient-flow", "gradient-history"]
        if everything or turn == 0:
            due += ["activations", "unit-health", "loss", "accuracy", "decision-boundary"]
        if everything or turn == 1:
            due += ["weight-norms", "update-ratio"]
        for key in due:
            if key in shown:
                draw.get(key, lambda plot: plot.update(data))(p[key])
        # Move the views now, not at the start of the paint: pyqtgraph moves them there, and
        # the items they move are painted a second time, in a paint of their own.
        self.scene().prepareForPaint()


def _clear(item: object) -> None:
    """Empty one item of a plot, keeping it (and its style) for the next run's data."""
    if isinstance(item, pg.PlotDataItem | pg.ScatterPlotItem):
        item.setData([], [])
    elif isinstance(item, pg.ImageItem):
        item.clear()
    elif isinstance(item, pg.BarGraphItem):
        item.setOpts(x=[], height=[])
    elif isinstance(item, pg.TextItem):
        item.setText("")
    elif isinstance(item, QGraphicsPathItem):
        item.setPath(QPainterPath())
