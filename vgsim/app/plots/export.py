"""Plots to files and the clipboard: PNG at any scale, SVG, and the whole dashboard.

The window and the headless `vgsim run --plots` both come here, so a figure looks the same
whichever made it. Files are written through a temporary file and renamed: never half a file.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter, SVGExporter
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPoint, QSize
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication, QGraphicsItem, QWidget

from ...engine.errors import VgsimError
from ...engine.files import write_bytes

if TYPE_CHECKING:
    from xml.dom.minidom import Element

FORMATS = ("png", "svg")
DEFAULT_SCALE = 2.0  # sharp on slides and in reports
CHROME = "vgsim_chrome"  # an attribute set on buttons that belong on screen, not in a figure


class ExportError(VgsimError):
    """An export that could not be written; the message says why in the user's terms."""


@dataclass(frozen=True)
class ImageOptions:
    scale: float = DEFAULT_SCALE
    transparent: bool = False

    def background(self) -> QColor:
        return QColor(0, 0, 0, 0) if self.transparent else QColor("white")


def fit_x_to_data(item: pg.PlotItem) -> None:
    """End a step axis at the data: live plots keep room ahead for the steps to come, a figure
    should not."""
    # From the x data itself: dataBounds is (None, None) where y holds no finite value, as on
    # a log axis after a divergence.
    xs = [d.getData()[0] for d in item.listDataItems()]
    spans = [(np.min(x), np.max(x)) for x in xs if x is not None and len(x)]
    spans += [
        (i.mapRectToParent(i.boundingRect()).left(), i.mapRectToParent(i.boundingRect()).right())
        for i in item.items
        if isinstance(i, pg.ImageItem) and i.image is not None
    ]
    spans = [s for s in spans if s is not None and None not in s and np.all(np.isfinite(s))]
    if spans:
        lo, hi = min(s[0] for s in spans), max(s[1] for s in spans)
        item.setXRange(lo, max(hi, lo + 1), padding=0.01)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def file_stem(network_name: str, step: int) -> str:
    """`deep-sigmoid-step1200`: the network and the step the figures show."""
    return f"{slug(network_name) or 'network'}-step{step}"


def pixel_size(item: pg.PlotItem, scale: float) -> QSize:
    rect = item.sceneBoundingRect()
    width = round(rect.width() * scale)
    return QSize(width, int(width * rect.height() / rect.width()))  # as ImageExporter does


def plot_image(item: pg.PlotItem, options: ImageOptions | None = None) -> QImage:
    options = options or ImageOptions()
    exporter = ImageExporter(item)
    exporter.params["background"] = options.background()
    with _figure_mode(item, options.scale):
        exporter.params["width"] = pixel_size(item, options.scale).width()  # height follows
        return exporter.export(toBytes=True)


def plot_svg(item: pg.PlotItem, options: ImageOptions | None = None) -> bytes:
    options = options or ImageOptions()
    _tolerate_closed_paths()
    exporter = SVGExporter(item)
    exporter.params["background"] = options.background()
    with _figure_mode(item, 1.0):
        return exporter.export(toBytes=True)


def widget_image(widget: QWidget, options: ImageOptions | None = None) -> QImage:
    """A whole widget (the canvas and the plots) drawn at `scale`, text and lines re-rendered
    rather than enlarged pixels."""
    options = options or ImageOptions()
    size = widget.size() * options.scale
    image = QImage(size, QImage.Format.Format_ARGB32)
    image.setDevicePixelRatio(options.scale)
    image.fill(options.background())
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        widget.render(painter, QPoint(0, 0))
    finally:
        painter.end()
    return image


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise ExportError("The image could not be encoded as PNG (is it empty?).")
    buffer.close()
    return bytes(data.data())


def write_file(path: str | Path, data: bytes) -> Path:
    """Write atomically; any OS failure becomes an ExportError naming the path and the cause."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, data)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ExportError(f"Cannot write {path}: {reason}. Nothing was written there.") from exc
    return path


def export_plot(item: pg.PlotItem, path: str | Path, options: ImageOptions | None = None) -> Path:
    """One plot to a .png or .svg file (chosen by the suffix)."""
    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind == "png":
        return write_file(path, png_bytes(plot_image(item, options)))
    if kind == "svg":
        return write_file(path, plot_svg(item, options))
    raise ExportError(
        f"Cannot export a plot as '{path.suffix or path.name}': choose a .png or .svg file."
    )


def copy_plot(item: pg.PlotItem, options: ImageOptions | None = None) -> None:
    QApplication.clipboard().setImage(plot_image(item, options))


def export_all(
    plots: dict[str, pg.PlotItem],
    folder: str | Path,
    stem: str,
    formats: tuple[str, ...] = FORMATS,
    options: ImageOptions | None = None,
    progress: Callable[[int, int], bool] | None = None,
) -> list[Path]:
    """Every plot in every format, as `<stem>-<plot key>.<format>`. `progress(done, total)`
    is called before each file; returning False stops (the files already written stay)."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ExportError(
            f"Unknown image format {', '.join(unknown)}: choose from {', '.join(FORMATS)}."
        )
    jobs = [(key, fmt) for key in plots for fmt in formats]
    written: list[Path] = []
    for done, (key, fmt) in enumerate(jobs):
        if progress is not None and progress(done, len(jobs)) is False:
            break
        written.append(export_plot(plots[key], Path(folder) / f"{stem}-{key}.{fmt}", options))
    if progress is not None:
        progress(len(written), len(jobs))
    return written


@contextmanager
def _figure_mode(item: pg.PlotItem, scale: float) -> Iterator[None]:
    """For the length of an export: hide on-screen buttons, and enlarge the items that ignore
    the view's scaling (legends, text labels), which would otherwise stay screen-sized."""
    hidden: list[QGraphicsItem] = []
    scaled: list[tuple[QGraphicsItem, float]] = []
    view = item.getViewBox()
    border = view.border
    view.setBorder(None)  # a lesson's highlight frame is not part of the figure
    stack = list(item.childItems())
    while stack:
        child = stack.pop()
        if getattr(child, CHROME, False) and child.isVisible():
            child.hide()
            hidden.append(child)
            continue
        if child.flags() & QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations:
            scaled.append((child, child.scale()))
            child.setScale(child.scale() * scale)
        stack.extend(child.childItems())
    try:
        yield
    finally:
        for child, old in scaled:
            child.setScale(old)
        for child in hidden:
            child.show()
        view.setBorder(border)


def _tolerate_closed_paths() -> None:
    """pyqtgraph 0.14's SVG exporter fails on the "Z" (close path) that Qt 6 writes for a
    view's frame (pyqtgraph issue 3495). Close such paths after its coordinate pass instead."""
    module = sys.modules[SVGExporter.__module__]
    original = module.correctCoordinates
    if getattr(original, "tolerates_closed_paths", False):
        return

    def correct(
        node: Element, defs: list[Element], item: QGraphicsItem, options: dict[str, object]
    ) -> None:
        closed = []
        for path in node.getElementsByTagName("path"):
            tokens = path.getAttribute("d").split()
            if "Z" in tokens:
                path.setAttribute("d", " ".join(t for t in tokens if t != "Z"))
                closed.append(path)
        original(node, defs, item, options)
        for path in closed:
            path.setAttribute("d", path.getAttribute("d").rstrip() + " Z")

    correct.tolerates_closed_paths = True  # type: ignore[attr-defined]
    module.correctCoordinates = correct
