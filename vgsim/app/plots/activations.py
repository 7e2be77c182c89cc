"""Activation histograms per layer (a ridge, as in Glorot & Bengio's figures) and unit health."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainterPath
from PySide6.QtWidgets import QGraphicsPathItem

from ...engine.kernels.stats import S_DEAD, S_MEAN, S_SAT, S_STD
from ...experiments.plot_data import PlotData
from .gradients import depth_ticks
from .style import KeyRow, Swatch, finite_points, style_plot

RIDGE_HEIGHT = 0.8  # of the distance between two layers' baselines: ridges never touch
TOP = 1.08  # the unit-health plot's y range: fractions up to 1, a spread a little over
BOUNDED = ("sigmoid", "tanh")  # whose end bins hold the saturated units
SATURATED = "#f9ab00"  # as in the unit-health plot
BODY = "#1a73e8"


def activation_layers(data: PlotData) -> list[int]:
    """The activation blocks (what a layer outputs); the layers if there are none."""
    return data.of_type("activation") or data.weighted_layers()


class FilledPaths(QGraphicsPathItem):
    """Many filled outlines in one item (one path, one paint), in the plot's coordinates, with
    what pyqtgraph's legend needs to draw its sample."""

    def __init__(self, colour: str, alpha: int):
        super().__init__()
        fill = pg.mkColor(colour)
        fill.setAlpha(alpha)
        self.opts = {"pen": pg.mkPen(colour, width=1), "fillLevel": 0, "fillBrush": fill}
        self.setPen(self.opts["pen"])
        self.setBrush(pg.mkBrush(fill))

    def set_outlines(self, outlines: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """One path of all the outlines (`steps` rows: x and y, one outline per row), each a
        subpath that the fill closes: made in one call, a hundredth of a hundred calls."""
        outlines = [(x, y) for x, y in outlines if x.size]
        if not outlines:
            self.setPath(QPainterPath())
            return
        x = np.concatenate([o[0].ravel() for o in outlines])
        y = np.concatenate([o[1].ravel() for o in outlines])
        joined = np.concatenate([np.ones(o[0].shape, dtype=bool) for o in outlines], axis=None)
        ends = np.cumsum([o[0].shape[1] for o in outlines for _ in range(len(o[0]))]) - 1
        joined[ends] = False  # the last point of each outline
        self.setPath(pg.arrayToQPath(x, y, connect=joined))


class ActivationRidgePlot:
    """One filled histogram per layer, stacked from input (bottom) to output (top), each
    scaled to its own tallest bin. For sigmoid and tanh the end bins, where the saturated
    units pile up, are drawn in the saturation colour: a saturated layer stands out as two
    bars at the ends (as in Glorot & Bengio 2010, Figs. 3-4). For other functions the end
    bins (ReLU's zeros) are cut at the ridge's height so the rest keeps its shape. Each
    layer's mean and ±1 std sit on its baseline, under the ridge."""

    title = "Activations"
    key = "activations"

    def __init__(self, plot: pg.PlotItem):
        self.plot = plot
        style_plot(plot, self.title, "activation value", "layer")
        self.legend = KeyRow(plot)
        self.baseline = plot.plot(pen=pg.mkPen("#dadce0", width=1))
        self.spread = plot.plot(pen=pg.mkPen("#3c4043", width=2), name="mean ± std")
        self.means = plot.plot(pen=None, symbol="|", symbolSize=7, symbolPen="#3c4043")
        self.body = FilledPaths(BODY, 110)
        self.ends = FilledPaths(SATURATED, 230)
        for item in (self.body, self.ends):
            item.setZValue(1)  # over the baselines and the spreads
            plot.addItem(item)
        self.legend.addItem(Swatch(self.body), "histogram")
        self.legend.addItem(Swatch(self.ends), "saturated")

    def set_layers(self, data: PlotData) -> None:
        self.layers = activation_layers(data)
        self.bounded = [data.functions[i] in BOUNDED for i in self.layers]
        depth_ticks(self.plot, [data.node_ids[i] for i in self.layers], axis="left", most=10)
        self.plot.setYRange(-0.3, len(self.layers) - 1 + RIDGE_HEIGHT + 0.1, padding=0)
        self._xrange = None
        for item in (self.body, self.ends):  # nothing of another network's ridges stays
            item.set_outlines([])

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
        rows = np.arange(len(self.layers), dtype=float)
        lo, hi = ranges[self.layers, 0], ranges[self.layers, 1]
        edges = lo[:, None] + np.arange(bins + 1) * ((hi - lo) / bins)[:, None]
        h = np.nan_to_num(hist[self.layers].astype(np.float64))
        bounded = np.array(self.bounded)
        # Bounded functions: scaled to the tallest bin, so that saturation towers. Others: to
        # the tallest inner bin, the end bins (ReLU's zeros, outliers) cut at the top.
        inner = h[:, 1:-1] if bins >= 3 else h
        peak = np.where(bounded, h.max(axis=1), inner.max(axis=1))
        peak[peak <= 0] = 1.0
        heights = np.minimum(RIDGE_HEIGHT * h / peak[:, None], RIDGE_HEIGHT)
        b, u = bounded, ~bounded
        self.body.set_outlines(
            [
                steps(edges[b, 1:-1], heights[b, 1:-1], rows[b]),
                steps(edges[u], heights[u], rows[u]),
            ]
        )
        self.ends.set_outlines(
            [
                steps(edges[b, :2], heights[b, :1], rows[b]),
                steps(edges[b, -2:], heights[b, -1:], rows[b]),
            ]
        )
        gaps = np.full(len(rows), np.nan)
        self.baseline.setData(
            np.column_stack([lo, hi, gaps]).ravel(),
            np.column_stack([rows, rows, gaps]).ravel(),
            connect="finite",
        )
        if stats is not None:
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


def steps(
    edges: np.ndarray, heights: np.ndarray, base: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The outlines of histograms, one a row, each standing on its `base`: bins
    `edges[r, k]..edges[r, k+1]` of `heights[r, k]`, as closed staircases (x and y a row)."""
    x = np.repeat(edges, 2, axis=1)
    zeros = np.zeros((len(base), 1))
    y = np.hstack([zeros, np.repeat(heights, 2, axis=1), zeros]) + base[:, None]
    return x, y


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
        self.spread = plot.plot(pen=dashed, symbol="o", symbolSize=4, name="std")
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
