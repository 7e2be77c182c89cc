"""Gradient flow against depth (the plot that shows vanishing and exploding) and its history."""

from __future__ import annotations

from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from ...engine.kernels.stats import S_GRAD, S_PGRAD
from ...experiments.plot_data import T_GRAD, PlotData
from ..theme import GRADIENT_LEVELS, GRADIENT_MAP
from .style import (
    BACKPROP,
    TAIL_HEADROOM,
    THEORY,
    WEIGHT_GRAD,
    KeyRow,
    finite_points,
    follow_steps,
    log_range,
    positive,
    settle_y,
    style_plot,
)

FADED_STEPS = 5


def depth_ticks(plot: pg.PlotItem, labels: list[str], axis: str = "bottom", most: int = 6) -> None:
    every = max(1, int(np.ceil(len(labels) / most)))
    plot.getAxis(axis).setTicks([[(i, labels[i]) for i in range(0, len(labels), every)], []])


class GradientFlowPlot:
    """Gradient norm reaching each block, input on the left, output on the right (log scale).
    Falls to the left: vanishing. Rises to the left: exploding."""

    title = "Gradient flow"
    key = "gradient-flow"

    def __init__(self, plot: pg.PlotItem):
        self.plot = plot
        style_plot(plot, self.title, "depth (input → output)", "gradient norm", log_y=True)
        self.legend = KeyRow(plot)
        self.faded = [
            plot.plot(pen=pg.mkPen((26, 115, 232, 40 + 25 * k), width=1))
            for k in range(FADED_STEPS)
        ]
        self.signal = plot.plot(
            pen=pg.mkPen(BACKPROP, width=2.5),
            symbol="o",
            symbolSize=5,
            symbolBrush=BACKPROP,
            name="back-propagated",
            antialias=True,
        )
        self.weights = plot.plot(
            pen=None, symbol="s", symbolSize=6, symbolBrush=WEIGHT_GRAD, name="weight gradient"
        )
        # Mean-field prediction at initialisation (plain chains only): in the legend when shown.
        self.theory = pg.PlotDataItem(pen=pg.mkPen(THEORY, width=1.5, style=Qt.PenStyle.DashLine))
        plot.addItem(self.theory)
        self._theory_named = False
        self._previous: deque[np.ndarray] = deque(maxlen=FADED_STEPS)
        self._last_step = -1
        self._frames = 0

    def settle_next(self) -> None:
        """Fit the range at the next update, not a few frames later."""
        self._frames = 0

    def show_faded(self, on: bool) -> None:
        """The last steps' profiles, fading with age: how the gradient profile moves."""
        for curve in self.faded:
            curve.setVisible(on)

    def show_theory(self, on: bool) -> None:
        self.theory.setVisible(on)  # its legend entry stays, marked hidden

    def set_layers(self, data: PlotData) -> None:
        self.layers = data.layer_nodes()
        self.plot.setXRange(-0.5, len(self.layers) - 0.5, padding=0)
        depth_ticks(self.plot, [data.node_ids[i] for i in self.layers], most=4)
        self._previous.clear()
        self.theory.setData([], [])
        if self._theory_named:
            self.legend.removeItem(self.theory)
            self._theory_named = False

    def update(self, data: PlotData, stats: np.ndarray | None) -> None:
        if stats is None:
            return
        x = np.arange(len(self.layers), dtype=float)
        signal = positive(stats[self.layers, S_GRAD])
        weight = positive(stats[self.layers, S_PGRAD])
        self.signal.setData(*finite_points(x, signal))
        self.weights.setData(*finite_points(x, weight))
        if data.theory is not None and not self._theory_named:
            self.theory.setData(*finite_points(x, positive(data.theory[self.layers])))
            self.legend.addItem(self.theory, "theory (step 0)")
            self._theory_named = True
        if data.step != self._last_step:
            self._previous.append(signal)
            self._last_step = data.step
        for curve, old in zip(self.faded, list(self._previous)[:-1], strict=False):
            curve.setData(x, old, connect="finite")
        self._frames += 1
        if self._frames % 10 == 1:
            shown = [signal, weight]
            if data.theory is not None and self.theory.isVisible():  # it stays in view too
                shown.append(positive(data.theory[self.layers]))
            settle_y(self.plot, log_range(np.concatenate(shown)))


class GradientHeatmap:
    """Layer × step, colour = log10 of the gradient reaching the layer, with a colour bar."""

    title = "Gradient history"
    key = "gradient-history"

    def __init__(self, plot: pg.PlotItem):
        self.plot = plot
        style_plot(plot, self.title, "step", "layer (input at bottom)")
        self.image = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self.image)
        self.bar = pg.ColorBarItem(
            values=GRADIENT_LEVELS,
            colorMap=GRADIENT_MAP,
            width=12,
            label="log10 gradient norm",
            interactive=False,
        )
        self.bar.setImageItem(self.image, insert_in=plot)

    def set_layers(self, data: PlotData) -> None:
        self.layers = data.layer_nodes()
        depth_ticks(self.plot, [data.node_ids[i] for i in self.layers], axis="left", most=8)
        self.plot.setYRange(-0.5, len(self.layers) - 0.5, padding=0)

    def update(self, data: PlotData) -> None:
        steps = data.tail_steps
        if len(steps) == 0:
            return
        grads = data.tail_figures[:, self.layers, T_GRAD].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            image = np.log10(grads).T  # rows: layers (input first), columns: steps
        image[~np.isfinite(image)] = GRADIENT_LEVELS[0]
        self.image.setImage(image, autoLevels=False, levels=GRADIENT_LEVELS)
        first, last = float(steps[0]), float(steps[-1]) + 1
        self.image.setRect(first, -0.5, max(last - first, 1.0), len(self.layers))
        follow_steps(self.plot, first, last, TAIL_HEADROOM)
