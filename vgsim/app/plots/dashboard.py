"""All the live plots in one GraphicsLayoutWidget, created once and fed with setData."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap

from ...experiments.plot_data import PlotData
from .activations import ActivationRidgePlot, UnitHealthPlot
from .boundary import DecisionBoundaryPlot
from .export import CHROME, fit_x_to_data
from .gradients import GradientFlowPlot, GradientHeatmap
from .style import steady_axes
from .training import AccuracyPlot, LossPlot, UpdateRatioPlot, WeightNormPlot

LAYOUT = (
    (GradientFlowPlot, GradientHeatmap, ActivationRidgePlot),
    (LossPlot, AccuracyPlot, DecisionBoundaryPlot),
    (WeightNormPlot, UpdateRatioPlot, UnitHealthPlot),
)


EXPORT_BUTTON = 16  # pixels
EMPHASIS = pg.mkPen("#f29900", width=2.5)  # the frame around the plots a lesson points at
# Plots against the step: live they keep room ahead for new steps; a figure ends at the data.
STEP_PLOTS = ("gradient-history", "loss", "accuracy", "weight-norms", "update-ratio")


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

    def __init__(self, parent=None):
        super().__init__(parent)
        self.ci.setContentsMargins(4, 4, 4, 4)
        self.ci.setSpacing(6)
        self.plots: dict[str, object] = {}
        self.export_buttons: dict[str, pg.ButtonItem] = {}
        for r, row in enumerate(LAYOUT):
            for c, cls in enumerate(row):
                plot = self.addPlot(row=r, col=c, axisItems=steady_axes())
                self.plots[cls.key] = cls(plot)
                self._add_export_controls(cls.key, cls.title, plot)
        self._layers_of: tuple | None = None
        self._shown: tuple | None = None
        self._frame = 0

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

    def fit_steps(self) -> None:
        """Step axes end at the last step (no room kept for the steps to come): for figures."""
        for key in STEP_PLOTS:
            fit_x_to_data(self.plots[key].plot)

    def show_faded_steps(self, on: bool) -> None:
        self.plots["gradient-flow"].show_faded(on)

    def show_theory(self, on: bool) -> None:
        self.plots["gradient-flow"].show_theory(on)

    def log_loss(self, on: bool) -> None:
        self.plots["loss"].plot.setLogMode(y=on)  # the plot redraws itself for the new scale

    def refresh_all(self) -> None:
        """Redraw every plot from the newest data (before an export: none may lag a frame)."""
        if self._shown is not None:
            self.show_data(*self._shown, everything=True)

    def show_data(self, data: PlotData, stats=None, hist=None, everything: bool = False) -> None:
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
        p["gradient-flow"].update(data, stats)
        p["gradient-history"].update(data)
        # The halves cost about the same: the per-layer curve plots are the dearest.
        if everything or turn == 0:
            p["activations"].update(data, hist, data.hist_ranges, stats)
            p["unit-health"].update(data, stats)
            for key in ("loss", "accuracy", "decision-boundary"):
                p[key].update(data)
        if everything or turn == 1:
            for key in ("weight-norms", "update-ratio"):
                p[key].update(data)
        # Move the views now, not at the start of the paint: pyqtgraph moves them there, and
        # the items they move are painted a second time, in a paint of their own.
        self.scene().prepareForPaint()
