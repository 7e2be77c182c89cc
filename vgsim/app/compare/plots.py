"""The comparison's overlay plots: one curve per run, one colour per run (as its thumbnail),
created once and fed with setData; ranges move only when the data leaves them."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from ...experiments.comparison_data import ComparisonData, RunSeries
from ..plots.style import (
    THIN,
    KeyRow,
    finite_points,
    follow_steps,
    log_range,
    positive,
    settle_y,
    style_plot,
)
from ..theme import CLASS_COLOURS

RANGE_EVERY = 10  # frames between range checks (auto-ranging every frame is slow)


def run_colour(index: int) -> str:
    return CLASS_COLOURS[index % len(CLASS_COLOURS)]


def legend_name(run: RunSeries, label: str | None = None, drawn: bool = False) -> str:
    """A run's key entry; `drawn`: a plot of its gradient profile, which for a run that diverged
    is the last finite one, before the blow-up (the key says from which step)."""
    label = run.label if label is None else label
    if not run.diverged:
        return label
    at = run.profile.step
    shown = (
        "" if not drawn else ", nothing finite before it" if at is None else f", drawn at step {at}"
    )
    return f"{label} (diverged at step {run.diverged_at}{shown})"


def key_names(runs: list[RunSeries], drawn: bool = False) -> list[str]:
    """The runs' names as short as they stay apart: the words every name starts or ends with
    are left out (the cards above give the names whole), so the key fits under the plot."""
    words = [run.label.split() for run in runs]
    if len(words) > 1:
        lead = trail = 0
        while all(len(w) > lead + 1 for w in words) and len({w[lead] for w in words}) == 1:
            lead += 1
        while (
            all(len(w) > lead + trail + 1 for w in words)
            and len({w[-1 - trail] for w in words}) == 1
        ):
            trail += 1
        short = [" ".join(w[lead : len(w) - trail]) for w in words]
        if len(set(short)) == len(short):
            return [legend_name(run, name, drawn) for run, name in zip(runs, short, strict=True)]
    return [legend_name(run, drawn=drawn) for run in runs]


class _Overlay(ABC):
    """One curve per run; subclasses say what x and y are."""

    key = ""
    title = ""
    x_label = ""
    y_label = ""
    log_y = True
    width = THIN  # long series: 1-pixel pens draw several times faster
    symbols = False

    def __init__(self, plot: pg.PlotItem):
        self.plot = plot
        style_plot(plot, self.title, self.x_label, self.y_label, log_y=self.log_y)
        self.legend = KeyRow(plot, columns=5)
        self.curves: list[pg.PlotDataItem] = []
        self._names: list[str] = []
        self._frames = 0

    def set_runs(self, data: ComparisonData) -> None:
        for curve in self.curves:
            self.plot.removeItem(curve)
        self.curves = [self._curve(run) for run in data.runs]
        self._names = []
        self._frames = 0

    def _curve(self, run: RunSeries) -> pg.PlotDataItem:
        colour = run_colour(run.index)
        extra = (
            {
                "symbol": "o",
                "symbolSize": 5,
                "symbolBrush": colour,
                "symbolPen": None,
                "antialias": True,
            }
            if self.symbols
            else {}
        )
        return self.plot.plot(pen=pg.mkPen(colour, width=self.width), **extra)

    def names(self, data: ComparisonData) -> list[str]:
        return key_names(data.runs)

    def _legend(self, data: ComparisonData) -> None:
        names = self.names(data)
        if names != self._names:  # a run diverged, or new runs: relabel
            self._names = names
            self.legend.clear()
            for curve, name in zip(self.curves, names, strict=True):
                self.legend.addItem(curve, name)

    def update(self, data: ComparisonData, everything: bool = False) -> None:
        self._legend(data)
        for curve, run in zip(self.curves, data.runs, strict=True):
            x, y = self.xy(run)
            if self.symbols:  # items with symbols must not be given NaN
                curve.setData(*finite_points(x, y))
            else:
                curve.setData(x, y, connect="finite")
        self._frames += 1
        if everything or self._frames % RANGE_EVERY == 1:
            self.ranges(data)

    @abstractmethod
    def xy(self, run: RunSeries) -> tuple[np.ndarray, np.ndarray]:
        """The run's x and y values for this plot."""

    def _y_values(self, data: ComparisonData) -> np.ndarray:
        """What the y range covers: the runs still training (a diverged run's blow-up, 1e17,
        would flatten every other curve; its legend entry says it diverged)."""
        going = [run for run in data.runs if not run.diverged] or data.runs
        return np.concatenate([self.xy(run)[1] for run in going])

    def ranges(self, data: ComparisonData) -> None:
        settle_y(self.plot, log_range(self._y_values(data)))
        steps = [run.steps for run in data.runs if len(run.steps)]
        if steps:
            follow_steps(self.plot, 0.0, float(max(s[-1] for s in steps)))


class LossOverlay(_Overlay):
    key = "loss"
    title = "Training loss"
    x_label = "step"
    y_label = "loss on the training set (log)"

    def xy(self, run: RunSeries) -> tuple[np.ndarray, np.ndarray]:
        return run.steps, positive(run.train_loss)


class FirstGradientOverlay(_Overlay):
    """The gradient reaching the first block, over training: where vanishing shows first."""

    key = "first-layer-gradient"
    title = "Gradient at the first layer"
    x_label = "step"
    y_label = "gradient norm (log)"

    def xy(self, run: RunSeries) -> tuple[np.ndarray, np.ndarray]:
        return run.steps, positive(run.first_grad)


class FlowOverlay(_Overlay):
    """The newest gradient profile of each run against relative depth, so networks of
    different depths line up."""

    key = "gradient-flow"
    title = "Gradient flow"
    x_label = "relative depth (input 0 → output 1)"
    y_label = "gradient norm (log)"
    width = 2.0  # a few dozen points: wide pens cost nothing here
    symbols = True

    def __init__(self, plot: pg.PlotItem):
        super().__init__(plot)
        plot.setXRange(-0.03, 1.03, padding=0)

    def xy(self, run: RunSeries) -> tuple[np.ndarray, np.ndarray]:
        return run.profile.depth, positive(run.profile.grad_norm)

    def names(self, data: ComparisonData) -> list[str]:
        return key_names(data.runs, drawn=True)

    def _y_values(self, data: ComparisonData) -> np.ndarray:
        # Every run's: a diverged run's profile is its last finite one, not the blow-up.
        return np.concatenate([self.xy(run)[1] for run in data.runs])

    def ranges(self, data: ComparisonData) -> None:
        settle_y(self.plot, log_range(self._y_values(data)))


class DifferenceOverlay(FlowOverlay):
    """log10 of each run's gradient over the reference run's at the same relative depth: 0
    where they agree, −3 where a run gets a thousandth of the reference's gradient. The
    reference is the first run that has not diverged (see `reference_index`)."""

    key = "gradient-difference"
    title = "Where the gradients part"
    y_label = "log10(gradient / reference's)"
    log_y = False

    def __init__(self, plot: pg.PlotItem):
        super().__init__(plot)
        self._reference: int | None = None

    def set_runs(self, data: ComparisonData) -> None:
        super().set_runs(data)
        self._reference = None

    def update(self, data: ComparisonData, everything: bool = False) -> None:
        if data.reference != self._reference:  # a run diverged: another reference
            self._reference = data.reference
            for curve, run in zip(self.curves, data.runs, strict=True):
                self._style(curve, run)
            self._names = []  # relabel
        super().update(data, everything)

    def _style(self, curve: pg.PlotDataItem, run: RunSeries) -> None:
        colour = run_colour(run.index)
        if run.is_reference:
            # The reference against itself is 0 everywhere: a dashed line, no points.
            curve.setPen(pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine))
            curve.setSymbol(None)
        else:
            curve.setPen(pg.mkPen(colour, width=self.width))
            curve.setSymbol("o")

    def xy(self, run: RunSeries) -> tuple[np.ndarray, np.ndarray]:
        if run.is_reference:
            return np.array([0.0, 1.0]), np.zeros(2)
        return run.depth, np.asarray(run.difference, dtype=float)

    def names(self, data: ComparisonData) -> list[str]:
        return [
            name + _against(run, data)
            for name, run in zip(super().names(data), data.runs, strict=True)
        ]

    def ranges(self, data: ComparisonData) -> None:
        d = self._y_values(data)
        d = d[np.isfinite(d)]
        top = max(1.0, float(np.abs(d).max())) if d.size else 1.0
        settle_y(self.plot, (-top - 0.3, top + 0.3))  # symmetric: 0 stays in the middle


def _against(run: RunSeries, data: ComparisonData) -> str:
    """What a run's difference curve is taken over: the blocks where both it and the reference
    have a finite gradient; the key says so when there is none."""
    if run.is_reference:
        return " (reference)"
    reference = data.runs[data.reference].profile.step
    if run.profile.step is None or reference is None or np.isfinite(run.difference).any():
        return ""  # before the first step nothing is drawn, and nothing needs saying
    return ": no block with finite gradients in both"


LAYOUT = ((LossOverlay, FlowOverlay), (FirstGradientOverlay, DifferenceOverlay))


class ComparisonDashboard(pg.GraphicsLayoutWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.ci.setContentsMargins(4, 4, 4, 4)
        self.ci.setSpacing(6)
        self.plots: dict[str, _Overlay] = {}
        for r, row in enumerate(LAYOUT):
            for c, cls in enumerate(row):
                self.plots[cls.key] = cls(self.addPlot(row=r, col=c))
        self._labels: list[str] | None = None
        self._shown: ComparisonData | None = None

    def plot_items(self) -> dict[str, pg.PlotItem]:
        """The plots by key, in reading order: what `export_all` writes."""
        return {key: plot.plot for key, plot in self.plots.items()}

    def show_data(self, snapshot: ComparisonData, everything: bool = False) -> None:
        """Draw a snapshot; `everything` also fits every range now (paused, exporting)."""
        self._shown = snapshot
        if snapshot.labels != self._labels:
            self._labels = snapshot.labels
            everything = True
            for plot in self.plots.values():
                plot.set_runs(snapshot)
        for plot in self.plots.values():
            plot.update(snapshot, everything)

    def refresh_all(self) -> None:
        """Redraw from the newest snapshot, every range fitted (before an export)."""
        if self._shown is not None:
            self.show_data(self._shown, everything=True)
