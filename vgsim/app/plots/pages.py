"""The dashboard in pages: tabs of plots sized to the room there is, so that every plot a
student sees is readable on a laptop screen.

Each page names its plots; `choose_cells` lays them out in the grid that makes the smallest
plot largest, the lesson's first framed plot larger than the rest. A page that cannot give
each plot MIN_VIEW_HEIGHT scrolls rather than squash them."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QMenu,
    QScrollArea,
    QTabBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .dashboard import LAYOUT, Cell, Dashboard

MIN_VIEW_HEIGHT = 120  # pixels: the least height of a plot's data area
# What a layout aims at: the grid does not share rows exactly equally (each plot's preferred
# height counts a little), and a key may wrap a few pixels differently than estimated.
TARGET_HEIGHT = MIN_VIEW_HEIGHT + 8
# Without a dashboard to ask (Dashboard.chrome): a plot's title, x axis and a key row around
# its data area, and its y axis beside it.
CHROME = (75.0, 64.0)
ASPECT = 1.3  # a data area this much wider than tall reads best; narrower counts as smaller
FEATURE_BONUS = 1.1  # a lesson's page prefers its first plot larger if that costs < 10%

ALL = [cls.key for row in LAYOUT for cls in row]
TITLES = {cls.key: cls.title for row in LAYOUT for cls in row}
LESSON, EVERYTHING, CHOSEN = "lesson", "all", "chosen"
PAGES: dict[str, tuple[str, list[str]]] = {
    EVERYTHING: ("All plots", ALL),
    "gradients": (
        "Gradients",
        ["gradient-flow", "gradient-history", "update-ratio", "weight-norms"],
    ),
    "activations": ("Activations", ["activations", "unit-health"]),
    "training": ("Training", ["loss", "accuracy", "decision-boundary"]),
}
DEFAULT_CHOSEN = ["gradient-flow", "loss"]


@dataclass(frozen=True)
class Arrangement:
    cells: list[Cell]
    height: int  # what the cells need: more than the room there is when the page scrolls
    smallest: float  # the smallest plot's data area height


def fill_rows(cells: list[Cell], cols: int) -> list[Cell]:
    """A short last row's last plot stretches over the rest of it: no empty cell."""
    if not cells:
        return cells
    last = cells[-1]
    rest = cols - (last.col + last.cols)
    if rest <= 0:
        return cells
    return cells[:-1] + [Cell(last.key, last.row, last.col, last.rows, last.cols + rest)]


Chrome = Callable[[str, float], tuple[float, float]]  # (key, plot width) → (height, width)


def smallest_view(
    cells: list[Cell],
    cols: int,
    width: float,
    height: float,
    chrome: Chrome | None = None,
) -> float:
    """The smallest data area of these cells (equal rows and columns), in "height" units:
    narrow areas count less."""
    row = height / max(c.row + c.rows for c in cells)
    smallest = math.inf
    for c in cells:
        cell_width = c.cols * width / cols
        around, beside = chrome(c.key, cell_width) if chrome else CHROME
        view_height = c.rows * row - around
        smallest = min(smallest, view_height, (cell_width - beside) / ASPECT)
    return smallest


def _grid(keys: list[str], cols: int, top: int = 0, left: int = 0) -> list[Cell]:
    return fill_rows(
        [Cell(k, top + i // cols, left + i % cols) for i, k in enumerate(keys)], left + cols
    )


def _candidates(keys: list[str], featured: bool) -> list[tuple[list[Cell], int, bool]]:
    """Grids for these plots: (cells, columns, whether the first plot is larger)."""
    n = len(keys)
    out = [(_grid(keys, cols), cols, False) for cols in range(1, n + 1)]
    if featured and n >= 2:
        first, rest = keys[0], keys[1:]
        for cols in range(1, len(rest) + 1):
            rows = math.ceil(len(rest) / cols)
            # The first plot in a column of its own, as tall as the rest together ...
            if rows > 1:
                out.append(
                    ([Cell(first, 0, 0, rows, 1)] + _grid(rest, cols, left=1), cols + 1, True)
                )
            # ... or in a row of its own, as wide as the rest together and two rows tall.
            lower = _grid(rest, cols, top=2)
            out.append(([Cell(first, 0, 0, 2, cols)] + lower, cols, True))
    return out


def two_tiers(framed: list[str], others: list[str]) -> tuple[list[Cell], int]:
    """The framed plots in a row over a lower row of the others, 3 : 2 of the height (five
    equal grid rows: the grid shares equal rows exactly, unequal ones by its own rule)."""
    cols = math.lcm(len(framed), len(others))
    top, low = cols // len(framed), cols // len(others)
    cells = [Cell(k, 0, i * top, 3, top) for i, k in enumerate(framed)]
    cells += [Cell(k, 3, i * low, 2, low) for i, k in enumerate(others)]
    return cells, cols


def choose_cells(
    keys: list[str],
    width: int,
    height: int,
    featured: bool = False,
    others: list[str] | None = None,
    chrome: Chrome | None = None,
) -> Arrangement:
    """The grid for `keys` in width × height pixels that makes the smallest plot largest (with
    `featured`, preferring the first plot larger). `others` join in a lower row, smaller,
    when there is room for them too. `chrome(key, width)` says what a plot spends around its
    data area."""
    if not keys:
        return Arrangement([], 0, 0.0)

    def smallest(cells: list[Cell], cols: int, room: float) -> float:
        return smallest_view(cells, cols, width, room, chrome)

    if others:
        cells, cols = two_tiers(keys, others)
        framed = smallest(cells[: len(keys)], cols, height)
        least = smallest(cells, cols, height)
        if least >= TARGET_HEIGHT and framed >= 2 * TARGET_HEIGHT:
            return Arrangement(cells, height, least)
    best = None
    for cells, cols, larger in _candidates(keys, featured):
        score = smallest(cells, cols, height) * (FEATURE_BONUS if larger else 1.0)
        if best is None or score > best[0]:
            best = (score, cells, cols)
    _, cells, cols = best
    least = smallest(cells, cols, height)
    if least >= TARGET_HEIGHT:
        return Arrangement(cells, height, least)
    # Not enough room: as many columns as keep plots wide enough, rows tall enough; scroll.
    cols = 1
    while cols < len(keys) and smallest(_grid(keys, cols + 1), cols + 1, 1e6) >= TARGET_HEIGHT:
        cols += 1
    cells = _grid(keys, cols)
    rows = math.ceil(len(keys) / cols)
    need = float(height)
    while smallest(cells, cols, need) < TARGET_HEIGHT and need < rows * 1000:
        need += 10
    return Arrangement(cells, int(need), smallest(cells, cols, need))


class PlotPages(QWidget):
    """Tabs over the dashboard: the lesson's plots, all of them, or a group; a menu picks the
    plots of the last tab; a button hides the canvas to give the plots the whole height."""

    canvas_toggled = Signal(bool)  # True: show the canvas

    def __init__(self, dashboard: Dashboard, parent: QWidget | None = None):
        super().__init__(parent)
        self.dashboard = dashboard
        self.lesson_keys: list[str] = []
        self.chosen = list(DEFAULT_CHOSEN)
        self.picked_by_user = False  # once the student picks a tab, it stays picked
        self.tabs = QTabBar()
        self.tabs.setDrawBase(False)
        self.tabs.setExpanding(False)
        self.tabs.setDocumentMode(True)
        self.tabs.setUsesScrollButtons(True)
        self.picker = QToolButton()
        self.picker.setText("Plots…")
        self.picker.setToolTip("Choose the plots the “Chosen” tab shows")
        self.picker.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.picker.setMenu(self._picker_menu())
        self.canvas_button = QToolButton()
        self.canvas_button.setCheckable(True)
        self.canvas_button.setChecked(True)
        self.canvas_button.toggled.connect(self._canvas_toggled)
        self._canvas_toggled(True)
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 0)
        bar.setSpacing(6)
        bar.addWidget(self.tabs, 1)
        bar.addWidget(self.picker)
        bar.addWidget(self.canvas_button)
        self.scroll = QScrollArea()
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(dashboard)
        dashboard.viewport().installEventFilter(self)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addLayout(bar)
        column.addWidget(self.scroll, 1)
        column.addStretch(0)  # the tabs stay at the top while the plots are hidden (problems)
        self._fill_tabs()
        self.tabs.currentChanged.connect(self._tab_changed)
        self._relayout = QTimer(self, singleShot=True, interval=0)
        self._relayout.timeout.connect(self.relayout)
        dashboard.reveal_requested.connect(self.reveal)
        dashboard.emphasised.connect(self.set_lesson)
        self.arrangement = Arrangement([], 0, 0.0)

    # --- pages --------------------------------------------------------------------------------
    def page(self) -> str:
        return str(self.tabs.tabData(self.tabs.currentIndex()) or EVERYTHING)

    def keys(self, page: str | None = None) -> list[str]:
        page = page or self.page()
        if page == LESSON:
            return list(self.lesson_keys)
        if page == CHOSEN:
            return [k for k in ALL if k in self.chosen]
        return list(PAGES[page][1])

    def show_page(self, page: str) -> None:
        """Show this tab, as a click on it does: it stays until another is picked."""
        self.picked_by_user = True
        self._select(page)
        self._lay_out()

    def _select(self, page: str) -> None:
        for i in range(self.tabs.count()):
            if self.tabs.tabData(i) == page:
                self.tabs.blockSignals(True)  # not a click: `_tab_changed` is for clicks
                self.tabs.setCurrentIndex(i)
                self.tabs.blockSignals(False)
                return

    def set_lesson(self, keys: list[str]) -> None:
        """The plots a lesson frames: their own tab, shown first (and chosen again when a new
        lesson comes, whatever tab the student was on)."""
        self.lesson_keys = [k for k in keys if k in TITLES]
        self._fill_tabs()
        if self.lesson_keys:
            self.picked_by_user = False
        self.relayout()

    def reveal(self, key: str) -> None:
        """Make sure `key` is on screen (e.g. a recording of it starts)."""
        if key not in self.keys():
            self.show_page(next(p for p in (LESSON, EVERYTHING) if key in self.keys(p)))

    def _fill_tabs(self) -> None:
        page = self.page() if self.tabs.count() else None
        self.tabs.blockSignals(True)
        while self.tabs.count():
            self.tabs.removeTab(0)
        names = []
        if self.lesson_keys:
            names.append((LESSON, "Lesson"))
        names += [(key, title) for key, (title, _) in PAGES.items()]
        names.append((CHOSEN, "Chosen"))
        for key, title in names:
            index = self.tabs.addTab(title)
            self.tabs.setTabData(index, key)
            self.tabs.setTabToolTip(index, ", ".join(TITLES[k] for k in self.keys(key)))
        self.tabs.blockSignals(False)
        if page is not None:
            self._select(page)

    def _default_page(self) -> str:
        """Until the student picks a tab: the lesson's plots if any; else all the plots if
        they fit, else the gradients (what the lecture is about)."""
        if self.lesson_keys:
            return LESSON
        width, height = self._room()
        fits = choose_cells(ALL, width, height, chrome=self.dashboard.chrome).height <= height
        return EVERYTHING if fits else "gradients"

    def _tab_changed(self, _index: int) -> None:
        self.picked_by_user = True
        self._lay_out()

    def _picker_menu(self) -> QMenu:
        menu = QMenu(self)
        for key in ALL:
            action = QAction(TITLES[key], menu, checkable=True)
            action.setChecked(key in self.chosen)
            action.toggled.connect(lambda on, k=key: self._pick(k, on))
            menu.addAction(action)
        return menu

    def _pick(self, key: str, on: bool) -> None:
        self.chosen = [k for k in ALL if (k == key and on) or (k != key and k in self.chosen)]
        self._fill_tabs()
        self.show_page(CHOSEN)

    # --- layout -------------------------------------------------------------------------------
    def _room(self) -> tuple[int, int]:
        viewport = self.scroll.viewport()
        width = viewport.width()
        if self.scroll.verticalScrollBar().isVisible():
            width += self.scroll.verticalScrollBar().width()  # the room without the bar
        return width, viewport.height()

    def relayout(self) -> None:
        """Lay out the tab for the room there is (until the student picks a tab, the tab too
        follows the room: `_default_page`)."""
        if not self.picked_by_user:
            self._select(self._default_page())
        self._lay_out()

    def _lay_out(self) -> None:
        width, height = self._room()
        if width <= 1 or height <= 1:
            return
        keys = self.keys()
        lesson = self.page() == LESSON
        others = [k for k in ALL if k not in keys] if lesson else None
        chrome = self.dashboard.chrome
        arrangement = choose_cells(keys, width, height, lesson, others, chrome)
        if arrangement.height > height:  # it scrolls: the bar takes some of the width
            bar = self.scroll.verticalScrollBar().sizeHint().width()
            arrangement = choose_cells(keys, width - bar, height, chrome=chrome)
        self.arrangement = arrangement
        self.dashboard.setMinimumHeight(arrangement.height if arrangement.height > height else 0)
        if arrangement.cells != self.dashboard.cells:
            self.dashboard.arrange(arrangement.cells)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._relayout.start()  # a timer of this widget's: it dies with it

    def scrolls(self) -> bool:
        return self.arrangement.height > self.scroll.viewport().height()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # While the page scrolls the wheel scrolls it (Ctrl + wheel still zooms a plot).
        if (
            event.type() == QEvent.Type.Wheel
            and self.scrolls()
            and not event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            self.scroll.verticalScrollBar().event(event)
            return True
        return super().eventFilter(watched, event)

    # --- the canvas -----------------------------------------------------------------------------
    def _canvas_toggled(self, shown: bool) -> None:
        self.canvas_button.setText("Canvas ▴" if shown else "Canvas ▾")
        self.canvas_button.setToolTip(
            "Hide the network canvas: the plots take the whole height"
            if shown
            else "Show the network canvas above the plots again"
        )
        self.canvas_toggled.emit(shown)
