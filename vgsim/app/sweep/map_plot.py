"""The map: an image of one figure over two axes, with a colour bar, crosses on diverged cells
and the mean-field theory's lines on top. Draws MapData; computes nothing."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from ...experiments.sweeps.grid import HIGHER_IS_BETTER, MapData
from ..plots.style import KeyRow, style_plot

FIGURE_TITLES = {
    "test_accuracy": "test accuracy",
    "train_accuracy": "train accuracy",
    "train_loss": "train loss",
    "test_loss": "test loss",
    "grad_ratio_start": "log10 gradient ratio, step 0",
    "grad_ratio_end": "log10 gradient ratio, last step",
    "steps_to_target": "steps to the target loss",
    "diverged_step": "step of divergence",
    "wall_time_s": "wall time (s)",
}
LOG_FIGURES = ("grad_ratio_start", "grad_ratio_end")
EMPTY = (235, 235, 235)
CELL_PIXELS = 16  # a cell not run yet, or without a value
CRITICAL_PEN = pg.mkPen("#d93025", width=2, style=Qt.PenStyle.DashLine)
DEPTH_PEN = pg.mkPen("#ffffff", width=2.5)
DEPTH_EDGE = pg.mkPen("#202124", width=4.5)


def shown_values(data: MapData) -> np.ndarray:
    """The values as coloured: log10 for the gradient ratios."""
    values = data.values.astype(float)
    if data.figure in LOG_FIGURES:
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.log10(values)
    return values


def levels(data: MapData) -> tuple[float, float]:
    if data.figure.endswith("accuracy"):
        return 0.0, 1.0
    values = shown_values(data)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def _label(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class MapPlot:
    """One PlotItem showing a MapData; `show` may be called again as cells fill in."""

    key = "map"

    def __init__(self, plot: pg.PlotItem):
        self.plot = plot
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-10)
        plot.addItem(self.image)
        self.colour_map = pg.colormap.get("viridis")
        self.bar = pg.ColorBarItem(
            values=(0, 1), colorMap=self.colour_map, width=14, interactive=False
        )
        # Beside the view, where ColorBarItem.setImageItem would put it; not linked to the
        # image, which is coloured here (a linked bar would recolour the grey empty cells).
        plot.layout.addItem(self.bar, 2, 5)
        self.crosses = pg.ScatterPlotItem(
            symbol="x", size=12, pen=pg.mkPen("#d93025", width=2), brush=pg.mkBrush("#d93025")
        )
        plot.addItem(self.crosses)
        self.depth_edge = pg.PlotDataItem(pen=DEPTH_EDGE, connect="finite")
        self.depth = pg.PlotDataItem(
            pen=DEPTH_PEN, connect="finite", name="depth = 6 ξ_c (mean-field)"
        )
        self.critical = pg.PlotDataItem(pen=CRITICAL_PEN, name="critical line χ₁ = 1")
        for item in (self.depth_edge, self.depth, self.critical):
            plot.addItem(item)
        self.key_row = KeyRow(plot)
        self.data: MapData | None = None
        plot.setMenuEnabled(False)
        plot.getViewBox().setMouseEnabled(False, False)

    def show(self, data: MapData) -> None:
        first = self.data is None or (
            (self.data.x_values, self.data.y_values, self.data.figure, self.data.theory is None)
            != (data.x_values, data.y_values, data.figure, data.theory is None)
        )
        self.data = data
        if first:
            self._set_frame(data)
        values = shown_values(data)
        lo, hi = levels(data)
        known = np.isfinite(values)
        scaled = np.clip((np.where(known, values, lo) - lo) / (hi - lo), 0, 1)
        rgba = self.colour_map.map(scaled.ravel(), mode="byte").reshape(*values.shape, 4)
        rgba[~known] = (*EMPTY, 255)
        # Each cell a block of pixels: a scaled-up image is smoothed, which would blur cells.
        rgba = np.repeat(np.repeat(rgba, CELL_PIXELS, axis=0), CELL_PIXELS, axis=1)
        self.image.setImage(rgba, autoLevels=False)
        self.image.setRect(-0.5, -0.5, values.shape[1], values.shape[0])
        self.bar.setLevels((lo, hi))
        rows, cols = np.nonzero(data.diverged)
        self.crosses.setData(cols.astype(float), rows.astype(float))
        lines = data.theory_lines()
        none = (np.empty(0), np.empty(0))
        self.depth.setData(*lines.get("depth", none))
        self.depth_edge.setData(*lines.get("depth", none))
        self.critical.setData(*lines.get("critical", none))

    def _set_frame(self, data: MapData) -> None:
        title = f"{data.title}: {FIGURE_TITLES.get(data.figure, data.figure)}"
        if data.figure in HIGHER_IS_BETTER:
            title += " (median over seeds)"
        style_plot(self.plot, title, data.x_name, data.y_name)
        for side, values in (("bottom", data.x_values), ("left", data.y_values)):
            ticks = [(float(i), _label(v)) for i, v in enumerate(values)]
            step = max(1, math.ceil(len(ticks) / 12))
            self.plot.getAxis(side).setTicks([ticks[::step], []])
        self.plot.setXRange(-0.5, len(data.x_values) - 0.5, padding=0)
        self.plot.setYRange(-0.5, len(data.y_values) - 0.5, padding=0)
        self.bar.axis.setLabel(FIGURE_TITLES.get(data.figure, data.figure))
        self.key_row.clear()
        if data.theory is not None:
            self.key_row.addItem(self.critical, self.critical.name())
            self.key_row.addItem(self.depth, self.depth.name())
        self.key_row.addItem(self.crosses, "diverged (most seeds)")

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """The (column, row) under a point in the plot's coordinates."""
        if self.data is None:
            return None
        col, row = round(x), round(y)
        if 0 <= col < len(self.data.x_values) and 0 <= row < len(self.data.y_values):
            return col, row
        return None
