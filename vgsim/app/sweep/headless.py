"""The map without a window, for `vgsim sweep --plots` and scripts: drawn offscreen and
exported through the plots' own export path (PNG at any scale, SVG)."""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtWidgets import QApplication

from ...experiments.sweeps.grid import MapData
from ..headless import offscreen
from ..plots.export import FORMATS, ImageOptions, export_plot
from .map_plot import MapPlot

FIGURE_SIZE = (760, 560)
MAP_STEM = "map"  # map.png, map.svg: the names `vgsim sweep` promises


class MapFigure(pg.GraphicsLayoutWidget):
    def __init__(self) -> None:
        super().__init__()
        self.map = MapPlot(self.addPlot())


def render_map(
    data: MapData,
    folder: str | Path,
    formats: tuple[str, ...] = FORMATS,
    options: ImageOptions | None = None,
    stem: str = MAP_STEM,
) -> list[Path]:
    """Write the map as `<stem>.<format>` into `folder`."""
    with offscreen(MapFigure, FIGURE_SIZE) as figure:
        figure.map.show(data)
        QApplication.processEvents()
        return [
            export_plot(figure.map.plot, Path(folder) / f"{stem}.{fmt}", options) for fmt in formats
        ]
