"""The canvas window: drag and drop, connecting ports, skip connections, undo, files, validity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from vgsim.app.blocks import MIME_TYPE
from vgsim.app.files import RESOURCES
from vgsim.app.main_window import MainWindow
from vgsim.engine.builders import mlp
from vgsim.engine.spec import Network, read_network


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    w.files.ask = lambda _question: QMessageBox.StandardButton.Discard
    return w


def load(window: MainWindow, net: Network) -> None:
    window.editor.load(net, None)
    window.view.fit()
    QApplication.processEvents()


def graph(window: MainWindow) -> dict:
    return json.loads(window.editor.model.network.to_json())


def view_point(window: MainWindow, scene_pos: QPointF) -> QPoint:
    return window.view.mapFromScene(scene_pos)


def drop_block(window: MainWindow, name: str, scene_pos: QPointF) -> None:
    """Deliver real drag-enter, drag-move and drop events to the canvas viewport."""
    item = next(
        window.palette.item(i)
        for i in range(window.palette.count())
        if window.palette.item(i).data(Qt.ItemDataRole.UserRole) == name
    )
    mime: QMimeData = window.palette.mimeData([item])
    assert mime.hasFormat(MIME_TYPE)
    target = window.view.viewport()
    pos = QPointF(view_point(window, scene_pos))
    actions = Qt.DropAction.CopyAction
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    for event in (
        QDragEnterEvent(pos.toPoint(), actions, mime, buttons, mods),
        QDragMoveEvent(pos.toPoint(), actions, mime, buttons, mods),
        QDropEvent(pos, actions, mime, buttons, mods),
    ):
        QApplication.sendEvent(target, event)


def small_net() -> Network:
    net = mlp(2, 8, 3, activation="relu", init="he_normal")
    for k, node in enumerate(net.nodes):
        node.pos = (k * 200.0, 0.0)
    return net


def test_window_opens_with_the_deep_sigmoid_network_ready_to_play(window):
    net = window.editor.model.network
    assert any(n.params.get("function") == "sigmoid" for n in net.nodes)
    assert window.actions["play"].isEnabled()
    assert "vgsim" in window.windowTitle()


def test_dropping_a_palette_block_on_empty_canvas_adds_it(window, qtbot):
    load(window, small_net())
    before = len(window.editor.model.network.nodes)
    drop_block(window, "tanh", QPointF(300.0, 400.0))
    nodes = window.editor.model.network.nodes
    assert len(nodes) == before + 1
    assert nodes[-1].type == "activation" and nodes[-1].params["function"] == "tanh"
    assert nodes[-1].id in window.scene.nodes


def test_dropping_a_block_on_an_edge_inserts_it_into_that_edge(window):
    load(window, small_net())
    a, b = window.scene.nodes["dense1"], window.scene.nodes["act1"]
    middle = (a.out_port() + b.in_port()) / 2
    drop_block(window, "batchnorm", middle)
    model = window.editor.model
    new = model.network.nodes[-1].id
    assert model.network.nodes[-1].type == "batchnorm"
    assert ("dense1", "act1") not in model.network.edges
    assert ("dense1", new) in model.network.edges and (new, "act1") in model.network.edges
    window.editor.undo.undo()
    assert ("dense1", "act1") in model.network.edges and not model.has_node(new)


def test_dragging_from_an_output_port_to_a_block_connects_them(window, qtbot):
    net = small_net()
    net.edges.remove(("act2", "head"))
    load(window, net)
    assert window.editor.model.problems()
    source = window.scene.nodes["act2"].out_port()
    target = window.scene.nodes["head"].sceneBoundingRect().center()
    viewport = window.view.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=view_point(window, source))
    qtbot.mouseMove(viewport, view_point(window, (source + target) / 2))
    qtbot.mouseMove(viewport, view_point(window, target))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=view_point(window, target))
    assert ("act2", "head") in window.editor.model.network.edges
    assert window.editor.model.problems() == []


def test_a_second_incoming_edge_is_a_skip_connection(window, qtbot):
    load(window, small_net())
    assert window.editor.connect("act1", "act2")
    edge = window.scene.edges[("act1", "act2")]
    assert edge.is_skip
    assert not window.scene.edges[("dense2", "act2")].is_skip
    assert window.scene.nodes["act2"].n_inputs == 2
    assert window.editor.model.problems() == []


def test_a_cycle_is_refused_with_a_message(window):
    load(window, small_net())
    assert not window.editor.connect("act2", "dense1")
    assert "cycle" in window.statusBar().currentMessage()
    assert ("act2", "dense1") not in window.editor.model.network.edges


def test_undo_redo_restores_the_exact_graph(window, qtbot):
    load(window, small_net())
    states = [graph(window)]
    window.editor.add_block("sigmoid", (10.0, 300.0))
    states.append(graph(window))
    window.editor.connect("act1", "act2")
    states.append(graph(window))
    window.editor.delete(["dense2"], [])
    states.append(graph(window))
    window.editor.insert_layers("act1", 3, 16, "tanh", "xavier_uniform", batchnorm=True)
    states.append(graph(window))
    window.editor.move({"in": ((0.0, 0.0), (5.0, 80.0))})
    states.append(graph(window))
    for expected in reversed(states[:-1]):
        window.editor.undo.undo()
        assert graph(window) == expected
    for expected in states[1:]:
        window.editor.undo.redo()
        assert graph(window) == expected


def test_dragging_several_blocks_is_one_undo_step(window, qtbot):
    load(window, small_net())
    for node_id in ("dense1", "act1", "dense2"):
        window.scene.nodes[node_id].setSelected(True)
    start = window.scene.nodes["act1"].sceneBoundingRect().center()
    end = start + QPointF(60.0, 90.0)
    viewport = window.view.viewport()
    before = window.editor.undo.count()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=view_point(window, start))
    qtbot.mouseMove(viewport, view_point(window, (start + end) / 2))
    qtbot.mouseMove(viewport, view_point(window, end))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=view_point(window, end))
    assert window.editor.undo.count() == before + 1
    moved = {n.id: n.pos for n in window.editor.model.network.nodes}
    assert moved["dense1"] != (200.0, 0.0) and moved["dense2"] != (600.0, 0.0)
    window.editor.undo.undo()
    assert window.editor.model.node("dense1").pos == (200.0, 0.0)


def test_delete_key_removes_the_selection(window, qtbot):
    load(window, small_net())
    window.scene.nodes["act1"].setSelected(True)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Delete)
    assert not window.editor.model.has_node("act1")
    assert any("no incoming edge" in p.message for p in window.editor.model.problems())


def test_copy_paste_duplicates_blocks_and_their_edges(window):
    load(window, small_net())
    for node_id in ("dense1", "act1"):
        window.scene.nodes[node_id].setSelected(True)
    window.copy_selection()
    window.paste()
    ids = window.scene.selected_node_ids()
    assert len(ids) == 2 and all(window.editor.model.has_node(i) for i in ids)
    a, b = sorted(ids)  # the copy of dense1 feeds the copy of act1
    assert (b, a) in window.editor.model.network.edges


def test_invalid_network_disables_play_and_lists_every_problem(window):
    net = small_net()
    net.node("dense1").params["units"] = 0
    net.edges.remove(("act2", "head"))
    load(window, net)
    problems = window.editor.model.problems()
    assert len(problems) >= 3
    assert not window.actions["play"].isEnabled()
    assert "Cannot train" in window.actions["play"].toolTip()
    listed = [window.problems.item(i).text() for i in range(window.problems.count())]
    for p in problems:
        assert any(p.message in text for text in listed)
    assert window.scene.nodes["dense1"].problems


def test_a_malformed_file_shows_an_error_and_keeps_the_document(window, tmp_path, monkeypatch):
    load(window, small_net())
    before = graph(window)
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert not window.files.open_path(bad)
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"format": "other/9", "nodes": []}))
    assert not window.files.open_path(foreign)
    assert len(shown) == 2 and "JSON" in shown[0] and "other/9" in shown[1]
    assert graph(window) == before


@pytest.mark.parametrize(
    "preset",
    sorted((RESOURCES / "examples").glob("*.json"))
    + sorted((RESOURCES / "lessons").glob("*.json")),
    ids=lambda p: p.stem,
)
def test_save_then_open_round_trips_every_preset(window, tmp_path, preset: Path):
    assert window.files.open_preset(preset)
    target = tmp_path / preset.name
    window.editor.save(target)
    assert not window.editor.modified
    reopened = read_network(target)
    original = read_network(preset)
    assert reopened.to_dict() == original.to_dict() or (
        {k: v for k, v in reopened.to_dict().items() if k != "nodes"}
        == {k: v for k, v in original.to_dict().items() if k != "nodes"}
    )
    strip = [{k: v for k, v in n.to_dict().items() if k != "pos"} for n in reopened.nodes]
    assert strip == [{k: v for k, v in n.to_dict().items() if k != "pos"} for n in original.nodes]


def test_modified_document_shows_a_star_and_asks_before_discarding(window):
    load(window, small_net())
    window.editor.add_block("relu", (0.0, 300.0))
    assert "*" in window.windowTitle()
    asked: list[str] = []
    window.files.ask = lambda q: asked.append(q) or QMessageBox.StandardButton.Cancel
    window.new_network()
    assert asked and window.editor.model.has_node("relu1")


def test_add_layers_and_wrap_residual_with_projection(window):
    load(window, small_net())
    created = window.editor.insert_layers("act2", 20, 16, "relu", "he_normal")
    assert len(created) == 40
    assert window.editor.model.problems() == []
    # act2 is 8 wide, the new block ends 16 wide: the skip needs a projection.
    assert window.editor.wrap_residual(created[:4])
    proj = [n for n in window.editor.model.network.nodes if n.id.startswith("proj")]
    assert len(proj) == 1 and proj[0].params["units"] == 16
    assert window.editor.model.problems() == []


def test_window_state_persists(window, tmp_path, qtbot):
    # The offscreen screen is 800 wide, and restoring clamps a window to its screen and then to
    # its minimum width (over 800 px): a window saved at its minimum width comes back as it was.
    window.resize(window.minimumWidth(), 503)
    size = (window.width(), window.height())
    window.save_state()
    again = MainWindow(window.settings, open_default=False)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert (again.size().width(), again.size().height()) == size
