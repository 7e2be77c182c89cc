"""Decision boundary for 2-D data sets, or predictions against targets for regression."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from ...experiments.plot_data import PlotData
from ...experiments.plot_sources import GRID
from ..theme import CLASS_COLOURS
from .style import set_title, style_plot


def class_image(outputs: np.ndarray, classes: int) -> np.ndarray:
    """GRID × GRID × 4 colours: the predicted class, paler where the network is unsure."""
    outputs = np.nan_to_num(outputs, nan=0.0, posinf=50.0, neginf=-50.0)  # a diverged run
    if outputs.shape[1] == 1:  # one logit: binary
        p1 = 1 / (1 + np.exp(-np.clip(outputs[:, 0], -50, 50)))
        probs = np.column_stack([1 - p1, p1])
    else:
        z = outputs - outputs.max(axis=1, keepdims=True)
        e = np.exp(z)
        probs = e / e.sum(axis=1, keepdims=True)
    winner = probs.argmax(axis=1)
    confidence = probs.max(axis=1)
    palette = np.array(
        [QColor(CLASS_COLOURS[c % len(CLASS_COLOURS)]).getRgb() for c in range(max(classes, 2))],
        dtype=np.float64,
    )
    rgba = palette[winner].copy()
    floor = 1.0 / max(classes, 2)
    rgba[:, 3] = 40 + 140 * (confidence - floor) / (1 - floor + 1e-9)
    return rgba.reshape(GRID, GRID, 4).astype(np.uint8)


class DecisionBoundaryPlot:
    title = "Decision boundary"
    key = "decision-boundary"

    def __init__(self, plot: pg.PlotItem):
        self.plot = plot
        style_plot(plot, self.title, "x₁", "x₂")
        self.image = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self.image)
        self.points = pg.ScatterPlotItem(size=5, pen=pg.mkPen("w", width=0.5))
        plot.addItem(self.points)
        self.curve = plot.plot(pen=pg.mkPen("#d93025", width=2.5))
        self.note = pg.TextItem("", color="#5f6368", anchor=(0.5, 0.5))
        plot.addItem(self.note)
        self._shown = None
        self._fixed: tuple | None = None  # (kind, test points) the fixed parts were drawn for

    def _axes(self, x_label: str, y_label: str) -> None:
        for side, text in (("bottom", x_label), ("left", y_label)):
            self.plot.getAxis(side).setLabel(text, **{"font-size": "8pt"})

    def set_layers(self, data: PlotData) -> None:
        self._shown = self._fixed = None
        self.note.setText("")

    def update(self, data: PlotData) -> None:
        b = data.boundary
        if b is None or b.get("serial") == self._shown:
            return
        self._shown = b.get("serial")
        # Titles, labels, the test points and the ranges stay while the trainer does: only
        # the predictions change from one update to the next.
        fixed = (b["kind"], b.get("points"))
        new = self._fixed is None or fixed[0] != self._fixed[0] or fixed[1] is not self._fixed[1]
        self._fixed = fixed
        if b["kind"] == "none":
            set_title(self.plot, "Predictions")
            self.image.clear()
            self.points.clear()
            self.curve.setData([], [])
            self.note.setText(b.get("text", ""))
            self.note.setPos(0.5, 0.5)
            self.plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            return
        self.note.setText("")
        if b["kind"] == "classes":
            self.image.setImage(class_image(b["outputs"], b["classes"]), autoLevels=False)
            if new:
                set_title(self.plot, self.title)
                self._axes("x₁", "x₂")
                x0, x1, y0, y1 = b["extent"]
                self.image.setRect(x0, y0, x1 - x0, y1 - y0)
                brushes = [
                    pg.mkBrush(CLASS_COLOURS[int(c) % len(CLASS_COLOURS)]) for c in b["labels"]
                ]
                self.points.setData(b["points"][:, 0], b["points"][:, 1], brush=brushes)
                self.curve.setData([], [])
                self.plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        elif b["kind"] == "parity":  # regression on several features: a perfect fit is y = x
            set_title(self.plot, "Predictions vs targets")
            self._axes("target", "prediction (exact on the line)")
            self.image.clear()
            self.points.setData(b["targets"], b["prediction"], brush=pg.mkBrush("#1a73e8"))
            values = np.concatenate([b["targets"], b["prediction"]])
            values = values[np.isfinite(values)]
            lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
            self.curve.setData([lo, hi], [lo, hi])
            self.plot.setRange(xRange=(lo, hi), yRange=(lo, hi), padding=0.05)
        else:  # regression on one feature: the fitted curve over the data
            set_title(self.plot, "Predictions vs targets")
            self._axes("x (input)", "y: target (dots), prediction (line)")
            self.image.clear()
            self.points.setData(b["points"], b["targets"], brush=pg.mkBrush("#1a73e8"))
            self.curve.setData(b["x"], b["prediction"])
            lo = float(min(np.min(b["targets"]), np.min(b["prediction"])))
            hi = float(max(np.max(b["targets"]), np.max(b["prediction"])))
            self.plot.setRange(
                xRange=(float(b["x"][0]), float(b["x"][-1])), yRange=(lo, hi), padding=0.05
            )
