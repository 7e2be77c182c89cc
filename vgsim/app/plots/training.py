"""Curves over training: loss, accuracy, weight norms and update-to-weight ratios."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from ...experiments.plot_data import T_RATIO, T_WNORM, PlotData
from .style import (
    TAIL_HEADROOM,
    TEST,
    THIN,
    TRAIN,
    KeyRow,
    depth_pen,
    follow_steps,
    linear_range,
    log_range,
    positive,
    settle_y,
    style_plot,
)

RANGE_EVERY = 10  # frames between axis range updates (auto-ranging every frame is slow)
MAX_CURVES = 12  # per-layer plots show at most this many layers, spread over the depth


class _Curves:
    def __init__(self, plot: pg.PlotItem):
        self.plot = plot
        self._frames = 0
        # Draw at most about one point per pixel, and only what is in view.
        plot.setDownsampling(auto=True, mode="peak")
        plot.setClipToView(True)

    def settle_next(self) -> None:
        """Check the ranges at the next update, not a few frames later."""
        self._frames = 0

    def _due(self, steps: np.ndarray) -> bool:
        """Ranges are checked every few frames, and at once when the data leaves the view."""
        self._frames += 1
        if len(steps) and not (
            self.plot.viewRange()[0][0] <= steps[-1] <= self.plot.viewRange()[0][1]
        ):
            return True
        return self._frames % RANGE_EVERY == 1

    def _add_key(self, columns: int = 3) -> None:
        self.legend = KeyRow(self.plot, columns)

    def _x_range(self, steps: np.ndarray) -> None:
        if len(steps):
            follow_steps(self.plot, float(steps[0]), float(steps[-1]))


class LossPlot(_Curves):
    title = "Loss"
    key = "loss"

    def __init__(self, plot: pg.PlotItem):
        super().__init__(plot)
        style_plot(plot, self.title, "step", "loss (log scale)", log_y=True)
        self._add_key()
        self.batch = plot.plot(pen=pg.mkPen((26, 115, 232, 90), width=1), name="batch")
        self.train = plot.plot(pen=pg.mkPen(TRAIN, width=THIN), name="train set")
        self.test = plot.plot(pen=pg.mkPen(TEST, width=THIN), name="test set")
        # On or off from the View menu or the plot's own menu (Plot options ▸ Transforms).
        plot.ctrl.logYCheck.toggled.connect(self._scale_changed)
        self._data: PlotData | None = None  # the last drawn

    @property
    def log_y(self) -> bool:
        return self.plot.ctrl.logYCheck.isChecked()

    def _scale_changed(self, log_y: bool) -> None:
        label = "loss (log scale)" if log_y else "loss"
        self.plot.getAxis("left").setLabel(label, **{"font-size": "8pt"})
        # pyqtgraph turns auto-ranging on with the scale: an axis that moves every frame is
        # redrawn every frame. Ranges are this plot's to set.
        self.plot.getViewBox().disableAutoRange()
        self._frames = 0  # the next update sets the y range for the new scale: now, if paused
        if self._data is not None:
            self.update(self._data)

    def set_layers(self, data: PlotData) -> None:
        self._frames = 0
        self._data = None  # a scale change redraws the new run's data, not the old

    def update(self, data: PlotData) -> None:
        self._data = data
        steps, batch = data.scalar("data_loss")
        _, train = data.scalar("train_loss")
        _, test = data.scalar("test_loss")
        shown = positive if self.log_y else np.asarray
        self.batch.setData(steps, shown(batch), connect="finite")
        self.train.setData(steps, shown(train), connect="finite")
        self.test.setData(steps, shown(test), connect="finite")
        if self._due(steps):
            self._x_range(steps)
            values = np.concatenate([batch, train, test])
            if self.log_y:
                settle_y(self.plot, log_range(values))
            else:  # from 0: the largest loss (the first steps') seldom changes
                settle_y(self.plot, linear_range(values), slack=0.0)


class AccuracyPlot(_Curves):
    title = "Accuracy"
    key = "accuracy"

    def __init__(self, plot: pg.PlotItem):
        super().__init__(plot)
        style_plot(plot, self.title, "step", "accuracy")
        self._add_key()
        self.batch = plot.plot(pen=pg.mkPen((26, 115, 232, 90), width=1), name="batch")
        self.train = plot.plot(pen=pg.mkPen(TRAIN, width=THIN), name="train set")
        self.test = plot.plot(pen=pg.mkPen(TEST, width=THIN), name="test set")
        plot.setYRange(0, 1.02, padding=0)

    def set_layers(self, data: PlotData) -> None:
        self._frames = 0

    def update(self, data: PlotData) -> None:
        steps, batch = data.scalar("accuracy")
        _, train = data.scalar("train_accuracy")
        _, test = data.scalar("test_accuracy")
        for curve, values in ((self.batch, batch), (self.train, train), (self.test, test)):
            curve.setData(steps, values, connect="finite")
        if self._due(steps):
            self._x_range(steps)


class _PerLayer(_Curves):
    """One curve per layer (dense or convolution) over recent steps, coloured by depth (dark =
    near input)."""

    figure = T_WNORM
    title = ""
    y_label = ""

    def __init__(self, plot: pg.PlotItem):
        super().__init__(plot)
        style_plot(plot, self.title, "step", self.y_label, log_y=True)
        self._add_key(columns=2)

    def set_layers(self, data: PlotData) -> None:
        layers = data.weighted_layers()
        picks = np.unique(np.linspace(0, len(layers) - 1, min(len(layers), MAX_CURVES)).round())
        self.layers = [layers[int(k)] for k in picks] if layers else []
        n = len(self.layers)
        names = [f"{data.node_ids[self.layers[i]]} ({w})" for i, w in ((0, "first"), (-1, "last"))]
        self._frames = 0
        if len(getattr(self, "curves", [])) == n and getattr(self, "_names", None) == names:
            return  # the same layers (a reset, the same network again): the curves stay
        for curve in getattr(self, "curves", []):
            self.plot.removeItem(curve)
        self.curves = [
            self.plot.plot(pen=depth_pen(k, n, width=THIN), antialias=False) for k in range(n)
        ]
        self._names = names if n else []
        self.legend.clear()
        if n:
            self.legend.addItem(self.curves[0], names[0])
            self.legend.addItem(self.curves[-1], names[1])

    def update(self, data: PlotData) -> None:
        if len(data.tail_steps) == 0 or not self.layers:
            return
        older, figures = data.older()  # the run before the tail, decimated
        steps = np.concatenate([older, data.tail_steps])
        values = np.concatenate([figures, data.tail_figures])[:, self.layers, self.figure]
        for k, curve in enumerate(self.curves):
            curve.setData(steps, positive(values[:, k]), connect="finite")
        if self._due(steps):
            follow_steps(self.plot, float(steps[0]), float(steps[-1]), TAIL_HEADROOM)
            settle_y(self.plot, log_range(values.ravel()))


class WeightNormPlot(_PerLayer):
    title = "Weight norms"
    key = "weight-norms"
    figure = T_WNORM
    y_label = "‖W‖ per layer (log)"


class UpdateRatioPlot(_PerLayer):
    title = "Update / weight ratio"
    key = "update-ratio"
    figure = T_RATIO
    y_label = "‖ΔW‖ / ‖W‖ per layer (log)"

    def __init__(self, plot: pg.PlotItem):
        super().__init__(plot)
        # A common rule of thumb: healthy layers change by about 1e-3 of their size per step.
        dashed = pg.mkPen("#9aa0a6", style=Qt.PenStyle.DashLine)
        plot.addItem(pg.InfiniteLine(pos=-3, angle=0, pen=dashed))
