"""Figures without a window: the dashboard drawn offscreen and exported, for scripts and CI.

`vgsim run --plots` and `vgsim export-plots` come here; the window's "Export all plots…" calls
the same `export_all` on its own dashboard, so both write the same set of files.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtWidgets import QApplication

from .plots.dashboard import Dashboard
from .plots.data import PlotData
from .plots.export import FORMATS, ImageOptions, export_all, file_stem

FIGURE_SIZE = (1500, 960)  # the dashboard's size: each plot about 490 × 310 before scaling


def ensure_app() -> QApplication:
    """The running QApplication, or a new offscreen one (no display needed)."""
    app = QApplication.instance()
    if app is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QApplication(["vgsim"])
    return app  # type: ignore[return-value]


def render_plots(data: PlotData, folder: str | Path, formats: tuple[str, ...] = FORMATS,
                 options: ImageOptions | None = None,
                 progress: Callable[[int, int], bool] | None = None) -> list[Path]:
    """Draw `data` on a dashboard that is never shown and export every plot to `folder`."""
    app = ensure_app()
    dashboard = Dashboard()
    try:
        dashboard.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)
        dashboard.resize(*FIGURE_SIZE)
        dashboard.show()  # lays the plots out; nothing appears on a screen
        app.processEvents()
        dashboard.show_data(data, everything=True)
        dashboard.fit_steps()
        app.processEvents()
        return export_all(dashboard.plot_items(), folder, file_stem(data.name, data.step),
                          formats, options, progress)
    finally:
        # A pyqtgraph widget left alive at interpreter exit can crash it: delete it now.
        dashboard.close()
        dashboard.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
