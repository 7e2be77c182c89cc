"""Two cells of a trainability map side by side: Shift-click one and click another (or
right-click ▸ Compare with…), and the comparison window trains both cells' networks; the map,
the canvas and the window's run stay as they are."""

from __future__ import annotations

import pytest
import shiboken6
from PySide6.QtCore import QPointF, Qt
from test_sweep_window import tanh_chain

from vgsim.app.compare.plots import key_names
from vgsim.app.sweep.window import TrainabilityMapWindow

SHIFT = Qt.KeyboardModifier.ShiftModifier
NONE = Qt.KeyboardModifier.NoModifier


def cells_known(qtbot, map_window: TrainabilityMapWindow) -> None:
    """A 2 × 1 map started and stopped once its cells are known (no run needs to finish)."""
    map_window.x_axis.values.setText("1, 3")
    map_window.y_axis.values.setText("2")
    map_window.steps.setValue(20)
    map_window.workers.setValue(1)
    assert map_window.run()
    qtbot.waitUntil(lambda: map_window.sweep is not None, timeout=60_000)
    map_window.cancel()


def click(qtbot, map_window, cell, modifiers=NONE) -> None:
    """A real click on the cell's centre, through the plot's scene."""
    scene = map_window.map.plot.getViewBox().mapViewToScene(QPointF(*cell))
    assert map_window.cell_under(scene) == cell
    at = map_window.plot_widget.mapFromScene(scene)
    qtbot.mouseClick(map_window.plot_widget.viewport(), Qt.MouseButton.LeftButton, modifiers, at)


def test_shift_click_then_click_opens_two_cells_side_by_side(window, qtbot):
    window.editor.load(tanh_chain(), None)
    window.actions["trainability_map"].trigger()
    map_window = window.maps.windows[-1]
    cells_known(qtbot, map_window)
    document = window.editor.model.snapshot().to_dict()
    run = window.training.run
    click(qtbot, map_window, (0, 0), SHIFT)
    assert map_window._chosen == (0, 0) and "Marked" in map_window.status.text()
    assert not window.side_by_side.windows
    assert "compare it side by side" in map_window.describe((1, 0))
    click(qtbot, map_window, (1, 0))
    qtbot.waitUntil(lambda: len(window.side_by_side.windows) == 1, timeout=20_000)
    compared = window.side_by_side.windows[0]
    assert compared.worker.comparison.labels == ["sigma_w2=1 · depth=2", "sigma_w2=3 · depth=2"]
    qtbot.waitUntil(lambda: compared.frame is not None, timeout=20_000)
    assert key_names(compared.frame.data.runs) == ["sigma_w2=1", "sigma_w2=3"]  # the plots' keys
    gains = [
        next(n for n in run.network.nodes if n.type == "dense").params["init"]["gain"] ** 2
        for run in compared.worker.comparison.runs
    ]
    assert gains == pytest.approx([1.0, 3.0])
    marked, _ = map_window._chosen_mark.getData()
    assert map_window._chosen is None and (marked is None or len(marked) == 0)
    # Neither the canvas nor the window's run changed.
    assert window.editor.model.snapshot().to_dict() == document
    assert window.training.run == run
    compared.close()
    map_window.close()


def test_a_click_opens_a_cell_a_marked_cell_can_be_let_go_and_the_menu_compares(qtbot):
    opened, compared = [], []
    map_window = TrainabilityMapWindow(
        tanh_chain, opened.append, compare=lambda nets, labels: compared.append(labels)
    )
    qtbot.addWidget(map_window)
    map_window.resize(820, 860)
    map_window.show()
    cells_known(qtbot, map_window)
    click(qtbot, map_window, (1, 0), SHIFT)
    click(qtbot, map_window, (1, 0))  # the same cell again: no comparison
    assert map_window._chosen is None and not compared and not opened
    map_window.choose((0, 0))
    qtbot.keyClick(map_window, Qt.Key.Key_Escape)
    assert map_window._chosen is None
    click(qtbot, map_window, (1, 0))
    assert [net.name for net in opened] == ["chain (sigma_w2 3, depth 2)"] and not compared
    # Right-click ▸ Compare with…, then a click on another cell.
    menu = map_window._cell_menu((1, 0))
    texts = [action.text() for action in menu.actions()]
    assert texts == ["Open in the main window", "Compare with… (then click another cell)"]
    menu.actions()[1].trigger()
    assert map_window._chosen == (1, 0)
    click(qtbot, map_window, (0, 0))
    assert compared == [["sigma_w2=3 · depth=2", "sigma_w2=1 · depth=2"]] and len(opened) == 1
    if shiboken6.isValid(map_window):
        map_window.close()
