"""The cells of a trainability map: hovering one shows its figures, clicking it opens its network
in the main window, and two cells open side by side in the comparison window (Shift-click one,
then the other; or right-click ▸ Compare with…, then a click on the other).

Mixed into TrainabilityMapWindow, which has map, data, sweep, _tasks, plot_widget, status,
open_network and compare.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from pyqtgraph.GraphicsScene.mouseEvents import MouseClickEvent
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QCursor, QKeyEvent
from PySide6.QtWidgets import QLabel, QMenu, QToolTip

from ...engine.spec import Network
from ...experiments.sweeps import Sweep
from ...experiments.sweeps.grid import MapData
from ...experiments.sweeps.spec import Task
from .map_plot import MapPlot

Cell = tuple[int, int]
CHOSEN_PEN = pg.mkPen("#d93025", width=3)
# Opens networks side by side: (networks, their labels).
Compare = Callable[[list[Network], list[str]], object]


class MapCells:
    map: MapPlot
    data: MapData | None
    sweep: Sweep | None
    _tasks: list
    plot_widget: pg.GraphicsLayoutWidget
    status: QLabel
    open_network: Callable[[Network], object] | None
    compare: Compare | None
    _chosen: Cell | None = None  # the first cell of a comparison, waiting for the second
    _chosen_mark: pg.PlotDataItem | None = None

    def cell_under(self, scene_pos: QPointF) -> Cell | None:
        view = self.map.plot.getViewBox()
        if not view.sceneBoundingRect().contains(scene_pos):
            return None
        point = view.mapSceneToView(scene_pos)
        return self.map.cell_at(point.x(), point.y())

    def describe(self, cell: Cell) -> str:
        data = self.data
        if data is None:
            return ""
        col, row = cell
        x, y = _text(data.x_values[col]), _text(data.y_values[row])
        lines = [f"{data.x_name} = {x}, {data.y_name} = {y}"]
        found = data.cells.get(cell, [])
        lines.append(f"{len(found)} of {data.planned[row, col]} runs finished")
        for record in sorted(found, key=lambda r: r.get("seed", 0)):
            acc = record.get("test_accuracy")
            ratio = record.get("grad_ratio_start")
            lines.append(
                f"seed {record.get('seed')}: {record.get('status')}, test accuracy "
                f"{'-' if acc is None else f'{acc:.3f}'}, gradient ratio at step 0 "
                f"{'-' if ratio is None else f'{ratio:.2g}'}"
                + (f", {record['findings']}" if record.get("findings") else "")
            )
        if self._chosen is not None and self._chosen != cell:
            lines.append("Click to compare it side by side with the cell marked.")
        elif found and self.open_network is not None:
            lines.append("Click to open this network in the main window.")
            if self.compare is not None:
                lines.append("Shift-click it, then another cell, to compare the two side by side.")
        return "\n".join(lines)

    def _hover(self, scene_pos: QPointF) -> None:
        cell = self.cell_under(scene_pos)
        if cell is None:
            QToolTip.hideText()
            return
        QToolTip.showText(QCursor.pos(), self.describe(cell), self.plot_widget)

    def _click(self, event: MouseClickEvent) -> None:
        cell = self.cell_under(event.scenePos())
        if event.button() == Qt.MouseButton.RightButton:
            if cell is not None:
                self._cell_menu(cell).popup(QCursor.pos())
            return
        if cell is not None:
            self.click_cell(cell, event.modifiers())

    def click_cell(self, cell: Cell, modifiers: Qt.KeyboardModifier) -> bool:
        """A click on `cell`: the second cell of a comparison (with the one marked), the first
        one (Shift), or the network opened in the main window. False if nothing opened."""
        if self._chosen is not None:
            first = self._chosen
            self.choose(None)
            return first != cell and self.compare_cells(first, cell)
        if modifiers & Qt.KeyboardModifier.ShiftModifier and self.compare is not None:
            return self.choose(cell)
        return self.open_cell(cell)

    def _cell_menu(self, cell: Cell) -> QMenu:
        menu = QMenu(self.plot_widget)
        menu.addAction("Open in the main window", lambda: self.open_cell(cell))
        if self.compare is not None:
            menu.addAction("Compare with… (then click another cell)", lambda: self.choose(cell))
        return menu

    def choose(self, cell: Cell | None) -> bool:
        """Mark `cell` as the first of a comparison (None: no cell marked)."""
        if cell is not None and self.network_of(cell) is None:
            cell = None
        self._chosen = cell
        if self._chosen_mark is None:
            self._chosen_mark = pg.PlotDataItem(pen=CHOSEN_PEN)
            self.map.plot.addItem(self._chosen_mark)
        if cell is None:
            self._chosen_mark.setData([], [])
            return False
        col, row = cell
        x = np.array([-0.5, 0.5, 0.5, -0.5, -0.5]) + col
        y = np.array([-0.5, -0.5, 0.5, 0.5, -0.5]) + row
        self._chosen_mark.setData(x, y)
        self.status.setText(
            "Marked for a comparison: click another cell to open both side by side "
            "(Esc, or a click on the same cell, cancels)."
        )
        return True

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self._chosen is not None:
            self.choose(None)
            self.status.setText("No cell marked for a comparison.")
            return
        super().keyPressEvent(event)  # type: ignore[misc]

    def network_of(self, cell: Cell) -> Network | None:
        """The network a cell trains (its first seed's), as the main window would open it."""
        task = self._task_of(cell)
        if task is None or self.sweep is None:
            return None
        net = Network.from_dict(task.network, self.sweep.network.base_dir)
        net.name = f"{net.name} ({self.describe_values(task.values)})"
        return net

    def _task_of(self, cell: Cell) -> Task | None:
        """The cell's first run (its first seed's)."""
        for task in self._tasks if self.sweep is not None else []:
            if task.index[:2] == cell or (len(task.index) == 1 and (task.index[0], 0) == cell):
                return task
        return None

    def describe_values(self, values: tuple) -> str:
        assert self.sweep is not None
        return ", ".join(
            f"{a.name} {_text(v)}" for a, v in zip(self.sweep.axes, values, strict=True)
        )

    def open_cell(self, cell: Cell) -> bool:
        net = self.network_of(cell)
        if net is None or self.open_network is None:
            return False
        self.open_network(net)
        return True

    def compare_cells(self, first: Cell, second: Cell) -> bool:
        """The two cells' networks (each its first seed's) side by side, labelled by their
        axis values; the map and the main window stay as they are."""
        nets = [self.network_of(cell) for cell in (first, second)]
        if self.compare is None or nets[0] is None or nets[1] is None:
            return False
        # "sigma_w2=1 · depth=6": the plots' keys leave out the words both labels share, and
        # keep each axis's name with its value ("sigma_w2=1" beside "sigma_w2=4").
        tasks = [self._task_of(cell) for cell in (first, second)]
        labels = [
            " · ".join(
                f"{a.name}={_text(v)}" for a, v in zip(self.sweep.axes, t.values, strict=True)
            )
            for t in tasks
            if t is not None and self.sweep is not None
        ]
        self.compare([n for n in nets if n is not None], labels)
        return True


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
