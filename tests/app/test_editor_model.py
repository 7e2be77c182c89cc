"""The editor over the graph model: pasting a fragment that cannot be wired as it says, and
views the model no longer calls once they are gone."""

from __future__ import annotations

import gc
import json
import os
import weakref

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from vgsim.app.editor import FRAGMENT_FORMAT, Editor
from vgsim.app.panels.inspector import Inspector
from vgsim.engine.builders import mlp


@pytest.fixture
def editor(qtbot):
    ed = Editor(mlp(2, 4, 3, data={"name": "spiral", "samples": 300}))
    messages: list[str] = []
    ed.message.connect(messages.append)
    ed.messages = messages
    yield ed
    ed.undo.clear()


def fragment(edges: object) -> str:
    nodes = [
        {"id": "x1", "type": "dense", "units": 4, "pos": [0, 0]},
        {"id": "y1", "type": "activation", "function": "relu", "pos": [50, 0]},
    ]
    return json.dumps({"format": FRAGMENT_FORMAT, "nodes": nodes, "edges": edges})


def test_a_fragment_with_a_cycle_pastes_without_it_and_undoes_in_one_step(editor):
    before = editor.model.network.to_dict()
    edges = [{"from": "x1", "to": "y1"}, {"from": "y1", "to": "x1"}, {"from": "x1", "to": "y1"}]
    pasted = editor.paste_fragment(fragment(edges))
    assert len(pasted) == 2
    a, b = pasted
    assert editor.model.incoming(b) == [a] and editor.model.incoming(a) == []
    assert "2 connection(s)" in editor.messages[-1] and "cycle" in editor.messages[-1]
    # The macro is closed: one undoable command, and the next edit is a command of its own.
    assert editor.undo.count() == 1 and editor.undo.canUndo()
    editor.undo.undo()
    assert editor.model.network.to_dict() == before
    editor.undo.redo()
    editor.move({a: ((40.0, 40.0), (10.0, 10.0))})
    assert editor.undo.count() == 2


@pytest.mark.parametrize("edges", ["x1->y1", [["x1", "y1"]], 7])
def test_a_fragment_with_malformed_edges_pastes_nothing(editor, edges):
    before = editor.model.network.to_dict()
    assert editor.paste_fragment(fragment(edges)) == []
    assert editor.messages[-1] == "The clipboard holds no vgsim blocks."
    assert editor.model.network.to_dict() == before and editor.undo.count() == 0


def test_a_deleted_inspector_is_neither_kept_nor_called_by_the_model(qtbot, editor):
    inspector = Inspector(editor)
    inspector.show_node("dense1")
    gone = weakref.ref(inspector)
    inspector.deleteLater()
    qtbot.wait(10)  # the event loop deletes the widget
    del inspector
    gc.collect()
    assert gone() is None
    editor.set_params("dense1", {"units": 6})  # the model emits into no dead widget
    editor.model.replace(mlp(1, 2, 3))


def test_undo_and_redo_say_what_they_did_so_no_message_outlives_its_edit(editor):
    said = editor.messages
    editor.apply_remedy("l2", "Add L2 regularisation")
    assert said[-1].startswith("Applied: Add L2 regularisation")
    editor.undo.undo()
    assert said[-1].startswith("Undone: Add L2 regularisation")
    editor.undo.redo()
    assert said[-1] == "Redone: Add L2 regularisation."
    editor.undo.undo()
    count = len(said)
    params = dict(editor.model.network.node("dense1").params, units=5)
    editor.set_params("dense1", params)  # a new edit in place of the undone one: no "Redone"
    assert len(said) == count
