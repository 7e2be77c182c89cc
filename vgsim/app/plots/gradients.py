"""Gradient flow against depth (the plot that shows vanishing and exploding) and its history."""

from __future__ import annotations

from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from ...engine.kernels.stats import S_GRAD, S_PGRAD
from ...experiments.comparisons import last_finite_row
from ...experiments.plot_data import T_GRAD, T_PGRAD, PlotData
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
LAYER_AXIS = "layer (input → output)"
BLOCK_AXIS = "block (input → output)"


def depth_ticks(plot: pg.PlotItem, labels: list[str], axis: str = "bottom", most: int = 6) -> None:
    every = max(1, int(np.ceil(len(labels) / most)))
    plot.getAxis(axis).setTicks([[(i, labels[i]) for i in range(0, len(labels), every)], []])


def depth_nodes(data: PlotData, every_node: bool = False) -> list[int]:
    """The nodes a depth profile shows: one per layer (its dense or convolution block, whose
    gradient sets its weights' update) or, `every_node`, every block after the input. A layer
    and its activation differ by the activation's derivative, so plotting both makes a
    sawtooth."""
    layers = data.weighted_layers()
    return layers if layers and not every_node else data.layer_nodes()


class GradientFlowPlot:
    """Gradient norm reaching each layer, input on the left, output on the right (log scale).
    Falls to the left: vanishing. Rises to the left: exploding. With the theory it is set
    against the profile measured at step 0, the one the theory predicts."""

    title = "Gradient flow"
    key = "gradient-flow"

    def __init__(self, plot: pg.PlotItem):
        self.plot = plot
        style_plot(plot, self.title, LAYER_AXIS, "gradient norm", log_y=True)
        self.legend = KeyRow(plot, columns=4)
        self.legend.reserve(["theory", "step 0"])
        self.every_node = False
        self.faded = [
            plot.plot(pen=pg.mkPen((26, 115, 232, 40 + 25 * k), width=1))
            for k in range(FADED_STEPS)
        ]
        self.signal = plot.plot(
            pen=pg.mkPen(BACKPROP, width=2.5),
            symbol="o",
            symbolSize=5,
            symbolBrush=BACKPROP,
            name="backprop",
            antialias=True,
        )
        self.weights = plot.plot(
            pen=None, symbol="s", symbolSize=6, symbolBrush=WEIGHT_GRAD, name="weight gradient"
        )
        # Mean-field prediction at initialisation (plain chains only): in the legend when shown.
        self.theory = pg.PlotDataItem(pen=pg.mkPen(THEORY, width=1.5, style=Qt.PenStyle.DashLine))
        plot.addItem(self.theory)
        grey = pg.mkColor(THEORY)
        self.start = pg.PlotDataItem(
            pen=pg.mkPen(grey, width=1),
            symbol="o",
            symbolSize=6,
            symbolPen=pg.mkPen(grey, width=1.2),
            symbolBrush=None,
        )
        plot.addItem(self.start)
        # What each step-0 curve shows now (values, not arrays: every frame brings a new copy).
        self._drawn: dict[str, np.ndarray | None] = {"theory": None, "start": None}
        self._data: PlotData | None = None
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
        """The prediction and the step-0 profile it predicts, together."""
        self.theory.setVisible(on)  # its legend entry stays, marked hidden
        self.start.setVisible(on)

    def show_every_node(self, on: bool) -> None:
        """Every block (dense and activation apart) instead of one point per layer."""
        self.every_node = on
        self.plot.getAxis("bottom").setLabel(
            BLOCK_AXIS if on else LAYER_AXIS, **{"font-size": "8pt"}
        )
        if self._data is not None:
            self.set_layers(self._data)
            self.settle_next()

    def set_layers(self, data: PlotData) -> None:
        self._data = data
        self.layers = depth_nodes(data, self.every_node)
        self.plot.setXRange(-0.5, len(self.layers) - 0.5, padding=0)
        depth_ticks(self.plot, [data.node_ids[i] for i in self.layers], most=4)
        self._previous.clear()
        for name in self._drawn:
            self._draw_start(name, None)

    def _draw_start(self, name: str, values: np.ndarray | None) -> None:
        """A step-0 curve (the theory, or the profile measured then), redrawn only when its
        values change, with its legend entry only while it has any."""
        old = self._drawn[name]
        if values is None and old is None:
            return
        if values is not None and old is not None and np.array_equal(values, old, equal_nan=True):
            return
        item, label = {
            "theory": (self.theory, "theory"),
            "start": (self.start, "step 0"),
        }[name]
        if values is None:
            item.setData([], [])
            self.legend.removeItem(item)
        else:
            x = np.arange(len(self.layers), dtype=float)
            item.setData(*finite_points(x, positive(values[self.layers])))
            if old is None:
                self.legend.addItem(item, label)
        self._drawn[name] = None if values is None else np.array(values)

    def _name_backprop(self, drawn_at: int | None) -> None:
        """The backprop curve's key names the step it shows when that is not the newest."""
        # Short: a longer key wraps to more rows and takes them from the plot at 1280 × 720.
        last = f"backprop (step {drawn_at})"
        self.legend.rename(self.signal, "backprop" if drawn_at is None else last)

    def update(self, data: PlotData, stats: np.ndarray | None) -> None:
        self._data = data
        if stats is None:
            return
        x = np.arange(len(self.layers), dtype=float)
        signal = positive(stats[self.layers, S_GRAD])
        weight = positive(stats[self.layers, S_PGRAD])
        drawn_at = None
        blew_up = not np.isfinite(stats[self.layers, S_GRAD]).all()  # zeros alone do not count
        if blew_up and not np.isfinite(signal).any() and len(data.tail_steps):
            # A step that blew up has no profile: show the last one that had numbers.
            grads = data.tail_figures[:, self.layers, T_GRAD]
            row = last_finite_row(data.tail_steps, positive(grads), data.step)
            if row is not None:
                drawn_at = int(data.tail_steps[row])
                signal = positive(grads[row])
                weight = positive(data.tail_figures[row, self.layers, T_PGRAD])
        self._name_backprop(drawn_at)
        self.signal.setData(*finite_points(x, signal))
        self.weights.setData(*finite_points(x, weight))
        self._draw_start("theory", data.theory)
        self._draw_start("start", data.start_grad)
        if data.step != self._last_step:
            self._previous.append(signal)
            self._last_step = data.step
        for curve, old in zip(self.faded, list(self._previous)[:-1], strict=False):
            curve.setData(x, old, connect="finite")
        self._frames += 1
        if self._frames % 10 == 1:
            shown = [signal, weight]
            if self.theory.isVisible():  # the step-0 curves stay in view too
                for start in (data.theory, data.start_grad):
                    if start is not None:
                        shown.append(positive(start[self.layers]))
            settle_y(self.plot, log_range(np.concatenate(shown)))


class GradientHeatmap:
    """Layer × step, colour = log10 of the gradient reaching the layer, with a colour bar."""

    title = "Gradient history"
    key = "gradient-history"
    extra_width = 82  # pixels: the colour bar and its axis, right of the data

    def __init__(self, plot: pg.PlotItem):
        self.plot = plot
        self.every_node = False
        self._data: PlotData | None = None
        style_plot(plot, self.title, "step", "layer (input at bottom)")
        self.image = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self.image)
        # The run before the tail, decimated (one column every few steps), left of the tail.
        self.older = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self.older)
        self.bar = pg.ColorBarItem(
            values=GRADIENT_LEVELS,
            colorMap=GRADIENT_MAP,
            width=12,
            label="log10 gradient norm",
            interactive=False,
        )
        self.bar.setImageItem([self.image, self.older], insert_in=plot)  # one colour map

    def show_every_node(self, on: bool) -> None:
        self.every_node = on
        self.plot.getAxis("left").setLabel(
            "block (input at bottom)" if on else "layer (input at bottom)", **{"font-size": "8pt"}
        )
        if self._data is not None:
            self.set_layers(self._data)
            self.update(self._data)

    def set_layers(self, data: PlotData) -> None:
        self._data = data
        self.layers = depth_nodes(data, self.every_node)
        depth_ticks(self.plot, [data.node_ids[i] for i in self.layers], axis="left", most=8)
        self.plot.setYRange(-0.5, len(self.layers) - 0.5, padding=0)

    def update(self, data: PlotData) -> None:
        self._data = data
        steps = data.tail_steps
        if len(steps) == 0:
            return
        first, last = float(steps[0]), float(steps[-1]) + 1
        self._draw(self.image, data.tail_figures, first, last)
        older, figures = data.older()
        if len(older):
            self._draw(self.older, figures, float(older[0]), first)
            first = float(older[0])
        else:
            self.older.clear()
        follow_steps(self.plot, first, last, TAIL_HEADROOM)

    def _draw(self, item: pg.ImageItem, figures: np.ndarray, first: float, end: float) -> None:
        """Evenly spaced steps' gradients as columns from step `first` to `end`."""
        grads = figures[:, self.layers, T_GRAD].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            image = np.log10(grads).T  # rows: layers (input first), columns: steps
        image[~np.isfinite(image)] = GRADIENT_LEVELS[0]
        item.setImage(image, autoLevels=False, levels=GRADIENT_LEVELS)
        item.setRect(first, -0.5, max(end - first, 1.0), len(self.layers))
