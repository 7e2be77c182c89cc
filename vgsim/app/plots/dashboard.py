"""All the live plots in one GraphicsLayoutWidget, created once and fed with setData."""

from __future__ import annotations

import pyqtgraph as pg

from .activations import ActivationRidgePlot, UnitHealthPlot
from .boundary import DecisionBoundaryPlot
from .data import PlotData
from .gradients import GradientFlowPlot, GradientHeatmap
from .training import AccuracyPlot, LossPlot, UpdateRatioPlot, WeightNormPlot

LAYOUT = (
    (GradientFlowPlot, GradientHeatmap, ActivationRidgePlot),
    (LossPlot, AccuracyPlot, DecisionBoundaryPlot),
    (WeightNormPlot, UpdateRatioPlot, UnitHealthPlot),
)


class Dashboard(pg.GraphicsLayoutWidget):
    def __init__(self, parent=None):  # noqa: ANN001
        super().__init__(parent)
        self.ci.setContentsMargins(4, 4, 4, 4)
        self.ci.setSpacing(6)
        self.plots: dict[str, object] = {}
        for r, row in enumerate(LAYOUT):
            for c, cls in enumerate(row):
                plot = self.addPlot(row=r, col=c)
                self.plots[cls.key] = cls(plot)
        self._layers_of: tuple | None = None
        self._frame = 0

    def show_data(self, data: PlotData, stats=None, hist=None,  # noqa: ANN001
                  everything: bool = False) -> None:
        """Draw a snapshot. `stats`/`hist` override the newest step's (a step in progress).

        The gradient plots redraw every frame; the other plots take turns, half of them each
        frame (so each still refreshes 15 times a second at 30 frames a second), which halves
        the cost of a frame. `everything` redraws all of them (paused, exporting).
        """
        layers = (tuple(data.node_ids), tuple(data.types))
        if layers != self._layers_of:
            self._layers_of = layers
            everything = True
            for plot in self.plots.values():
                plot.set_layers(data)
        stats = stats if stats is not None else data.node_stats
        hist = hist if hist is not None else data.histograms
        p = self.plots
        self._frame += 1
        turn = self._frame % 2
        p["gradient-flow"].update(data, stats)
        p["gradient-history"].update(data)
        if everything or turn == 0:
            p["activations"].update(data, hist, data.hist_ranges, stats)
            p["unit-health"].update(data, stats)
            p["loss"].update(data)
            p["accuracy"].update(data)
        if everything or turn == 1:
            for key in ("weight-norms", "update-ratio", "decision-boundary"):
                p[key].update(data)
