"""The comparison's overlay plots without a window, for `vgsim compare --plots` and scripts:
the same dashboard the window shows, drawn offscreen and exported with `export_all`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QApplication

from ...experiments.comparison_data import ComparisonData
from ..headless import offscreen
from ..plots.export import FORMATS, ImageOptions, export_all, fit_x_to_data
from .plots import ComparisonDashboard

STEP_PLOTS = ("loss", "first-layer-gradient")  # against the step: end the axis at the data
FIGURE_SIZE = (1100, 700)  # each plot about 540 × 340 before scaling, as in `vgsim run`


def comparison_stem(data: ComparisonData) -> str:
    """`comparison-step300`: the step the figures show."""
    return f"comparison-step{data.step}"


def render_comparison_plots(
    data: ComparisonData,
    folder: str | Path,
    formats: tuple[str, ...] = FORMATS,
    options: ImageOptions | None = None,
    progress: Callable[[int, int], bool] | None = None,
) -> list[Path]:
    """Draw `data` on a dashboard that is never shown and export every plot to `folder` as
    `comparison-step<N>-<plot key>.<format>`."""
    with offscreen(ComparisonDashboard, FIGURE_SIZE) as dashboard:
        dashboard.show_data(data, everything=True)
        for key in STEP_PLOTS:
            fit_x_to_data(dashboard.plot_items()[key])
        QApplication.processEvents()
        return export_all(
            dashboard.plot_items(), folder, comparison_stem(data), formats, options, progress
        )
