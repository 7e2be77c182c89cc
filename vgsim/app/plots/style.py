"""The look shared by every plot: colours, axes, fixed ranges (the gradient colour scale, shared
with the canvas, is in app/theme.py)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QPainter
from PySide6.QtWidgets import QSizePolicy

BACKGROUND = "w"
FOREGROUND = "#202124"
BACKPROP = "#1a73e8"  # back-propagated signal
WEIGHT_GRAD = "#e8710a"  # weight gradient
THEORY = (32, 33, 36, 150)  # the mean-field prediction: dashed, faded grey
TRAIN = "#1a73e8"
TEST = "#d93025"

# Antialiasing is opted into per item: on thousands of points it costs most of a frame.
pg.setConfigOptions(antialias=False, background=BACKGROUND, foreground=FOREGROUND)
# Curves with many points use 1-pixel pens: wider ones cost several times more to draw.
THIN = 1.0
TICK_TEXT_WIDTH = 40  # pixels: "0.0001" and "1e+10" fit
TITLE_HEIGHT = 20  # pixels: a plot's title row


class SteadyAxis(pg.AxisItem):
    """An axis that keeps its drawing when its range did not change: pyqtgraph redraws both axes
    (ticks, text and all) when either range moves, which was most of a live frame.

    Its room for tick labels only grows: an axis that narrows or widens with its labels makes
    the layout move every plot in the dashboard, and every plot is then repainted."""

    def __init__(self, orientation: str) -> None:
        super().__init__(orientation)
        # Labels may run this far past the axis's ends (pyqtgraph drops the first label of a
        # bottom axis otherwise: "dense1" under the first layer is wider than its share).
        self.setStyle(autoReduceTextSpace=False, hideOverlappingLabels=24)
        self.textWidth = TICK_TEXT_WIDTH  # most labels fit from the start

    def setRange(self, mn: float, mx: float) -> None:
        if self.picture is not None and list(self.range) == [mn, mx]:
            return
        super().setRange(mn, mx)

    def generateDrawSpecs(self, p: QPainter) -> tuple[object, list, list] | None:
        """pyqtgraph always draws its first level of tick labels, crowded or not (in a short
        plot "0.01" lands on "0.0001"): keep a label only if it clears the ones kept before."""
        specs = super().generateDrawSpecs(p)
        if specs is None:
            return None
        axis, ticks, texts = specs
        return axis, ticks, apart(self._inside(texts))

    def _inside(self, texts: list) -> list:
        """The labels within the dashboard (or figure): one that would run past its edge is
        cut off there (the last step, "2000", read "200")."""
        plot = self.parentItem()
        if plot is None:
            return texts
        outer = plot.parentItem() or plot  # the grid of plots, if the plot is in one
        room = self.mapRectFromItem(outer, outer.boundingRect()).adjusted(-1, -1, 1, 1)
        return [spec for spec in texts if room.contains(spec[0])]


def apart(texts: list, gap: float = 2.0) -> list:
    """The tick labels (rect, flags, text) that do not overlap an earlier one, `gap` apart."""
    kept: list = []
    for spec in texts:
        room = spec[0].adjusted(-gap / 2, -gap / 2, gap / 2, gap / 2)
        if not any(room.intersects(other[0]) for other in kept):
            kept.append(spec)
    return kept


def steady_axes() -> dict[str, SteadyAxis]:
    return {"left": SteadyAxis("left"), "bottom": SteadyAxis("bottom")}


def set_title(plot: pg.PlotItem, title: str) -> None:
    label = plot.titleLabel
    if not getattr(label, "narrows", False):
        # Centred over the y axis and the view, not the view alone, so that a long title has
        # room on both sides. It must not widen the plot (the dashboard's three columns have to
        # fit beside the canvas on a laptop): pyqtgraph sets the label's least width to its
        # text's at every resize.
        plot.layout.removeItem(label)
        plot.layout.addItem(label, 0, 0, 1, 2)
        fit_text = label.updateMin

        def update_min() -> None:
            fit_text()
            label.setMinimumWidth(0)

        label.updateMin = update_min
        label.narrows = True
    plot.setTitle(title, size="9pt", bold=True)
    plot.layout.setRowFixedHeight(0, TITLE_HEIGHT)  # pyqtgraph keeps 30 pixels
    label.setMaximumHeight(TITLE_HEIGHT)


def style_plot(
    plot: pg.PlotItem, title: str, x_label: str, y_label: str, log_y: bool = False
) -> None:
    set_title(plot, title)
    font = QFont("DejaVu Sans", 8)
    for side, text in (("bottom", x_label), ("left", y_label)):
        axis = plot.getAxis(side)
        axis.setLabel(text, **{"font-size": "8pt"})
        axis.enableAutoSIPrefix(False)  # "(x0.001)" beside a log axis only confuses
        axis.setStyle(tickFont=font)
    # No grid: grid lines belong to the axes, so every curve update would repaint the axes'
    # text too, which costs most of a frame.
    plot.setLogMode(y=log_y)
    if log_y:  # before any data: whole decades (1e-3 … 10), not 2, 3, … 9 between 1 and 10
        plot.setYRange(-3, 1, padding=0)
    plot.setMenuEnabled(True)
    plot.hideButtons()
    plot.getViewBox().disableAutoRange()


def positive(values: np.ndarray) -> np.ndarray:
    """For log axes: non-positive and non-finite values become gaps."""
    out = np.asarray(values, dtype=np.float64).copy()
    out[~np.isfinite(out) | (out <= 0)] = np.nan
    return out


def finite_points(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Only the points with a finite y: items with symbols must not be given NaN."""
    keep = np.isfinite(y)
    return np.asarray(x)[keep], np.asarray(y)[keep]


def log_range(
    values: np.ndarray, pad: float = 0.3, floor: float = -12.0
) -> tuple[float, float] | None:
    """A log10 range covering the finite positive values, or None if there are none."""
    v = positive(values)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    lo, hi = np.log10(v.min()), np.log10(v.max())
    lo = max(lo, floor)
    if hi - lo < 2:  # at least two decades, so the axis shows decade ticks, not a crowd
        mid = (hi + lo) / 2
        lo, hi = mid - 1, mid + 1
    return lo - pad, hi + pad


def linear_range(values: np.ndarray, pad: float = 0.05) -> tuple[float, float] | None:
    """A linear range from 0 (or below, for negative values) to a little over the largest
    finite value, or None if there are none."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    lo, hi = min(0.0, float(v.min())), float(v.max())
    span = max(hi - lo, 1e-12)
    return lo - (pad * span if lo < 0 else 0.0), hi + pad * span


# A window of the last steps slides every frame: with this much room ahead its axis moves a few
# times a second rather than at every frame (an axis move redraws its text).
TAIL_HEADROOM = 0.6


def follow_steps(plot: pg.PlotItem, first: float, last: float, headroom: float = 0.25) -> None:
    """Keep [first, last] in view, moving the axis only when the data leaves it (with room
    ahead): an axis that moves every frame is redrawn, text and all, every frame."""
    (x0, x1), _ = plot.viewRange()
    if first < x0 - 0.5 or last > x1 or last < x0 or (first - x0) > 2 * (x1 - first + 1):
        span = max(last - first, 1.0)
        plot.setXRange(first, last + headroom * span, padding=0)


def settle_y(plot: pg.PlotItem, span: tuple[float, float] | None, slack: float = 0.3) -> None:
    """Set the y range only if the data left it or it is much too wide."""
    if span is None:
        return
    _, (y0, y1) = plot.viewRange()
    lo, hi = span
    outside = lo < y0 or hi > y1
    loose = (lo - y0) + (y1 - hi) > slack * (hi - lo) + 2 * slack
    if outside or loose:
        plot.setYRange(lo, hi, padding=0)


def depth_pen(i: int, n: int, width: float = 1.5) -> pg.mkPen:
    """Lower layers dark, upper layers light: one colour per depth."""
    colour = pg.colormap.get("plasma").map(0.1 + 0.8 * i / max(n - 1, 1), mode="qcolor")
    return pg.mkPen(colour, width=width)


SAMPLE_WIDTH, SAMPLE_HEIGHT = 20, 14  # pixels: a legend sample (pyqtgraph's are 20 tall)


class CompactSample(pg.ItemSample):
    """pyqtgraph's legend sample (a line, a symbol), in a row 14 pixels tall instead of 20."""

    def __init__(self, item: pg.GraphicsObject) -> None:
        super().__init__(item)
        self.setFixedHeight(SAMPLE_HEIGHT)

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, SAMPLE_WIDTH, SAMPLE_HEIGHT)

    def paint(self, p: QPainter, *args: object) -> None:
        p.translate(0, (SAMPLE_HEIGHT - 20) / 2)
        super().paint(p, *args)


class Swatch(CompactSample):
    """A legend sample for a filled area: a square in its colours."""

    def paint(self, p: QPainter, *args: object) -> None:
        if not self.item.isVisible():
            super().paint(p, *args)  # pyqtgraph's "hidden" eye
            return
        p.setPen(pg.mkPen(self.item.opts["pen"]))
        p.setBrush(pg.mkBrush(self.item.opts["fillBrush"]))
        p.drawRect(QRectF(4, 1, 12, 12))


class KeyRow(pg.LegendItem):
    """A plot's legend as a row under its x axis. Curves over the steps reach every corner of
    their plot as training goes on, so a legend inside it would always hide the newest part.
    A narrow plot wraps the row."""

    ROW = 4  # in the PlotItem's layout: title, top axis, view, bottom axis, then this

    def __init__(self, plot: pg.PlotItem, columns: int = 3):
        super().__init__(labelTextSize="8pt", colCount=columns, sampleType=CompactSample)
        self._plot = plot
        self._most_columns = columns
        self._fitted: tuple[float, int] | None = None  # (plot width, entries) last fitted to
        self.layout.setContentsMargins(0, 0, 0, 0)
        self.layout.setVerticalSpacing(0)
        self.layout.setHorizontalSpacing(3)  # pyqtgraph's 5 wrap a 300-pixel plot's key
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(0)  # never widens the plot: it wraps instead (fit_width)
        plot.layout.addItem(self, self.ROW, 0, 1, 3)
        plot.layout.setAlignment(self, Qt.AlignmentFlag.AlignHCenter)
        plot.legend = self  # curves plotted with a name join it
        plot.geometryChanged.connect(self.fit_width)

    def addItem(self, item: object, name: str) -> None:
        super().addItem(item, name)
        label = self.items[-1][1]
        label.item.document().setDocumentMargin(1)  # Qt's 4 make a row 21 pixels tall
        label.updateMin()
        self.fit_width()

    def removeItem(self, item: object) -> None:
        super().removeItem(item)
        self.fit_width()

    def rename(self, item: object, name: str) -> None:
        """Give an entry another text (and wrap the row again if it is now wider)."""
        label = self.getLabel(item)
        if label is None or label.text == name:
            return
        label.setText(name)
        label.updateMin()
        self._fitted = None
        self.fit_width()

    def updateSize(self) -> None:
        self.updateGeometry()  # the plot's layout sizes and places it: no geometry of its own

    def reserve(self, names: list[str]) -> None:
        """Entries that come and go (a prediction shown only for some networks): counted by
        `rows_for` even while absent, so that a page's layout need not change when they come."""
        self._reserved = list(names)

    def rows_for(self, width: float) -> int:
        """How many rows the key takes in a plot `width` pixels wide (as `fit_width` would
        wrap it), counting the reserved entries."""
        present = {label.text: label for _, label in self.items}
        font = QFontMetricsF(QFont(QFont().family(), 8))
        texts = [label.minimumWidth() for label in present.values()] + [
            font.horizontalAdvance(name) + 2
            for name in getattr(self, "_reserved", [])
            if name not in present
        ]
        if not texts:
            return 0
        gap = self.layout.horizontalSpacing()
        entries = [SAMPLE_WIDTH + gap + text for text in texts]
        for columns in range(max(1, min(self._most_columns, len(entries))), 0, -1):
            widest = [max(entries[j::columns]) for j in range(columns)]
            if sum(widest) + gap * (columns - 1) <= width:
                return -(-len(entries) // columns)
        return len(entries)

    def fit_width(self) -> None:
        """As many entries to a row as the plot's width holds."""
        width, count = self._plot.width(), len(self.items)
        if (width, count) == self._fitted:  # moved, not resized: nothing to do
            return
        self._fitted = (width, count)
        for columns in range(max(1, min(self._most_columns, count)), 0, -1):
            self.setColumnCount(columns)
            if self.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize).width() <= width:
                break
