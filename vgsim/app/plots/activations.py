"""Activation histograms per layer (a ridge, as in Glorot & Bengio's figures) and unit health."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from ...engine.kernels.stats import S_DEAD, S_MEAN, S_SAT, S_STD
from ...experiments.plot_data import PlotData
from .gradients import depth_ticks
from .style import THIN, KeyRow, finite_points, style_plot

RIDGE_HEIGHT = 0.9
TOP = 1.08  # the unit-health plot's y range: fractions up to 1, a spread a little over


def activation_layers(data: PlotData) -> list[int]:
    """The activation blocks (what a layer outputs); dense blocks if there are none."""
    return data.of_type("activation") or data.of_type("dense")


class ActivationRidgePlot:
    """One histogram per layer, stacked from input (bottom) to output (top)."""

    title = "Activations"
    key = "activations"

    def __init__(self, plot: pg.PlotItem):
        self.plot = plot
        style_plot(plot, self.title, "activation value", "layer")
        self.legend = KeyRow(plot)
        self.curve = plot.plot(pen=pg.mkPen("#1a73e8", width=THIN))
        self.baseline = plot.plot(pen=pg.mkPen("#dadce0", width=1))
        # Each layer's mean, and a bar one standard deviation either side of it.
        self.spread = plot.plot(pen=pg.mkPen((217, 48, 37, 110), width=2), name="± 1 std")
        self.means = plot.plot(pen=None, symbol="|", symbolSize=9, symbolPen="#d93025", name="mean")

    def set_layers(self, data: PlotData) -> None:
        self.layers = activation_layers(data)
        depth_ticks(self.plot, [data.node_ids[i] for i in self.layers], axis="left", most=10)
        self.plot.setYRange(-0.2, len(self.layers) + 0.2, padding=0)
        self._xrange = None

    def update(
        self,
        data: PlotData,
        hist: np.ndarray | None,
        ranges: np.ndarray | None,
        stats: np.ndarray | None,
    ) -> None:
        if hist is None or ranges is None or not self.layers:
            return
        bins = hist.shape[1]
        xs, ys, base_x, base_y = [], [], [], []
        for row, i in enumerate(self.layers):
            lo, hi = ranges[i]
            centres = lo + (np.arange(bins) + 0.5) * (hi - lo) / bins
            h = hist[i]
            peak = h.max()
            xs.append(np.concatenate([centres, [np.nan]]))
            ys.append(
                np.concatenate([row + RIDGE_HEIGHT * h / (peak if peak > 0 else 1.0), [np.nan]])
            )
            base_x.append([lo, hi, np.nan])
            base_y.append([row, row, np.nan])
        self.curve.setData(np.concatenate(xs), np.concatenate(ys), connect="finite")
        self.baseline.setData(np.concatenate(base_x), np.concatenate(base_y), connect="finite")
        if stats is not None:
            rows = np.arange(len(self.layers)) + 0.05
            means, spreads = stats[self.layers, S_MEAN], stats[self.layers, S_STD]
            keep = np.isfinite(means)
            self.means.setData(means[keep], rows[keep])
            gaps = np.full(len(rows), np.nan)
            self.spread.setData(
                np.column_stack([means - spreads, means + spreads, gaps]).ravel(),
                np.column_stack([rows, rows, gaps]).ravel(),
                connect="finite",
            )
        span = (float(ranges[self.layers, 0].min()), float(ranges[self.layers, 1].max()))
        if span != self._xrange:
            self._xrange = span
            self.plot.setXRange(*span, padding=0.02)


class UnitHealthPlot:
    """Per layer: the fraction of saturated units (sigmoid/tanh) and of dead units (ReLU family),
    with each layer's activation spread (std) as a line."""

    title = "Saturated and dead units"
    key = "unit-health"

    def __init__(self, plot: pg.PlotItem):
        self.plot = plot
        style_plot(plot, self.title, "layer", "fraction of units")
        self.legend = KeyRow(plot)
        self.saturated = pg.BarGraphItem(
            x=[], height=[], width=0.4, brush="#f9ab00", name="saturated"
        )
        self.dead = pg.BarGraphItem(x=[], height=[], width=0.4, brush="#d93025", name="dead")
        plot.addItem(self.saturated)
        plot.addItem(self.dead)
        dashed = pg.mkPen("#5f6368", width=1.5, style=Qt.PenStyle.DashLine)
        self.spread = plot.plot(pen=dashed, symbol="o", symbolSize=4, name="activation std")
        plot.setYRange(0, TOP, padding=0)
        plot.getAxis("left").setTicks([[(v, f"{v:g}") for v in (0, 0.25, 0.5, 0.75, 1)]])

    def set_layers(self, data: PlotData) -> None:
        self.layers = activation_layers(data)
        self.plot.setXRange(-0.6, len(self.layers) - 0.4, padding=0)
        depth_ticks(self.plot, [data.node_ids[i] for i in self.layers], most=4)

    def update(self, data: PlotData, stats: np.ndarray | None) -> None:
        if stats is None or not self.layers:
            return
        x = np.arange(len(self.layers), dtype=float)
        sat = np.nan_to_num(stats[self.layers, S_SAT])
        dead = np.nan_to_num(stats[self.layers, S_DEAD])
        self.saturated.setOpts(x=x - 0.2, height=sat)
        self.dead.setOpts(x=x + 0.2, height=dead)
        spread = finite_points(x, np.clip(stats[self.layers, S_STD], 0, 1.05))
        self.spread.setData(*spread)
