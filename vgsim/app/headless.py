"""Figures without a window: the dashboard drawn offscreen and exported, for scripts and CI.

`vgsim run --plots` and `vgsim export-plots` come here; the window's "Export all plots…" calls
the same `export_all` on its own dashboard, so both write the same set of files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtWidgets import QApplication, QWidget

from ..engine.errors import VgsimError
from ..engine.theory import predicted_gradient_flow
from ..engine.train import Trainer
from ..experiments.plot_data import PlotData
from ..experiments.plot_sources import from_trainer
from .plots.animation import Animation
from .plots.dashboard import FIGURE_SIZE, Dashboard
from .plots.export import FORMATS, ImageOptions, export_all, file_stem


def ensure_app() -> QApplication:
    """The running QApplication, or a new offscreen one (no display needed)."""
    app = QApplication.instance()
    if app is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QApplication(["vgsim"])
    return app  # type: ignore[return-value]


@contextmanager
def offscreen(widget_class: type[QWidget], size: tuple[int, int]) -> Iterator[QWidget]:
    """A widget laid out at `size` but never shown on a screen, deleted afterwards."""
    app = ensure_app()
    widget = widget_class()
    try:
        widget.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)
        widget.resize(*size)
        widget.show()  # lays it out; nothing appears on a screen
        app.processEvents()
        yield widget
    finally:
        # A pyqtgraph widget left alive at interpreter exit can crash it: delete it now.
        widget.close()
        widget.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def render_plots(
    data: PlotData,
    folder: str | Path,
    formats: tuple[str, ...] = FORMATS,
    options: ImageOptions | None = None,
    progress: Callable[[int, int], bool] | None = None,
) -> list[Path]:
    """Draw `data` on a dashboard that is never shown and export every plot to `folder`."""
    with offscreen(Dashboard, FIGURE_SIZE) as dashboard:
        dashboard.show_data(data, everything=True)
        dashboard.fit_steps()
        QApplication.processEvents()
        return export_all(
            dashboard.plot_items(),
            folder,
            file_stem(data.name, data.step),
            formats,
            options,
            progress,
        )


def animate(
    trainer: Trainer,
    steps: int,
    path: str | Path,
    plot: str = "gradient-flow",
    frames: int = 60,
    scale: float = 1.0,
    name: str = "",
) -> Path:
    """Train `steps` steps, drawing `plot` `frames` times along the way (evenly spaced, the
    first before any step), and save the frames as a looping GIF."""
    with offscreen(Dashboard, FIGURE_SIZE) as dashboard:
        items = dashboard.plot_items()
        if plot not in items:
            raise VgsimError(f"No plot called {plot!r}: choose one of {', '.join(items)}.")
        movie = Animation(items[plot], scale)
        relative = predicted_gradient_flow(trainer)  # from the starting weights, drawn throughout
        marks = np.unique(np.linspace(0, steps, max(2, frames)).round().astype(int))
        for mark in marks:
            while trainer.step_count < mark and not trainer.diverged:
                trainer.run_block(mark - trainer.step_count)
            if trainer.step_count > 0:
                dashboard.show_data(from_trainer(trainer, name, relative), everything=True)
                QApplication.processEvents()
                movie.capture(force=True)
            if trainer.diverged:
                break
        return movie.save(path)
