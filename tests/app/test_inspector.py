"""The inspector: its forms edit the model through undo commands and follow it back."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from vgsim.app.blocks import BLOCKS
from vgsim.app.editor import Editor
from vgsim.app.panels.inspector import Inspector
from vgsim.engine.builders import mlp


@pytest.fixture
def editor(qtbot):
    net = mlp(
        3, 8, 3, activation="sigmoid", init="standard", data={"name": "spiral", "samples": 300}
    )
    ed = Editor(net)
    yield ed
    # Editor forwards cleanChanged from a lambda; a stack destroyed while unclean would emit
    # it into the half-deleted editor (RuntimeError printed at teardown).
    ed.undo.clear()


@pytest.fixture
def insp(qtbot, editor):
    w = Inspector(editor)
    qtbot.addWidget(w)
    return w


def shown(insp: Inspector, key: str) -> bool:
    return insp.fields[key].isVisibleTo(insp)


def type_into(qtbot, box, text: str) -> None:
    """Type as a student does: select all, type, press Enter."""
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), text)
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)


def problems_at(editor: Editor, where: set[str]) -> list[str]:
    return [p.message for p in editor.model.problems() if p.where in where]


def test_dense_units_edit_pushes_command_and_follows_undo(insp, editor):
    insp.show_node("dense1")
    units = insp.fields["block.units"]
    assert insp.shown_node == "dense1" and units.value() == 8
    assert shown(insp, "block.units") and not shown(insp, "block.function")
    units.setValue(16)
    assert editor.model.node("dense1").params["units"] == 16
    assert editor.undo.count() == 1
    editor.undo.undo()
    assert units.value() == 8
    assert editor.model.node("dense1").params["units"] == 8
    # refreshing the form must not push a command (that would drop the redo step)
    assert editor.undo.count() == 1 and editor.undo.canRedo()
    editor.undo.redo()
    assert units.value() == 16


def test_initialiser_parameters_accept_small_and_scientific_values(qtbot, insp, editor):
    insp.show_node("dense1")
    assert not shown(insp, "block.std")
    insp.fields["block.init"].setCurrentText("normal")
    assert editor.model.node("dense1").params["init"] == "normal"
    assert shown(insp, "block.std") and shown(insp, "block.mean") and shown(insp, "block.gain")
    assert not shown(insp, "block.limit")
    type_into(qtbot, insp.fields["block.std"], "0.001")
    assert editor.model.node("dense1").params["init"] == {"name": "normal", "std": 0.001}
    assert insp.fields["block.std"].text() == "0.001"
    type_into(qtbot, insp.fields["block.std"], "10")
    assert editor.model.node("dense1").params["init"]["std"] == 10.0
    insp.fields["block.init"].setCurrentText("uniform")
    assert editor.model.node("dense1").params["init"] == "uniform"  # std dropped
    assert shown(insp, "block.limit") and not shown(insp, "block.std")
    insp.fields["block.bias"].setChecked(False)
    assert editor.model.node("dense1").params["bias"] is False


def test_activation_function_change_shows_its_parameters(insp, editor):
    insp.show_node("act1")
    assert not shown(insp, "block.slope") and not shown(insp, "block.units")
    assert insp.help.text() == BLOCKS["sigmoid"].tooltip
    insp.fields["block.function"].setCurrentText("leaky_relu")
    assert editor.model.node("act1").params == {"function": "leaky_relu"}
    assert shown(insp, "block.slope") and not shown(insp, "block.alpha")
    assert insp.fields["block.slope"].value() == pytest.approx(0.01)
    assert insp.help.text() == BLOCKS["leaky_relu"].tooltip
    insp.fields["block.slope"].setValue(0.2)
    assert editor.model.node("act1").params == {"function": "leaky_relu", "slope": 0.2}
    insp.fields["block.function"].setCurrentText("elu")
    assert editor.model.node("act1").params == {"function": "elu"}  # slope dropped
    assert shown(insp, "block.alpha") and not shown(insp, "block.slope")
    assert insp.fields["block.alpha"].value() == pytest.approx(1.0)
    editor.undo.undo()
    assert insp.fields["block.function"].currentText() == "leaky_relu"
    assert shown(insp, "block.slope") and insp.fields["block.slope"].value() == pytest.approx(0.2)


def test_training_settings_edit_the_network(qtbot, insp, editor):
    insp.show_node(None)
    assert shown(insp, "training.lr") and not insp.block_group.isVisibleTo(insp)
    insp.fields["training.lr"].setValue(0.05)
    assert editor.model.network.training["lr"] == pytest.approx(0.05)
    assert not shown(insp, "training.beta1") and not shown(insp, "training.threshold")
    insp.fields["training.optimizer"].setCurrentText("adam")
    assert editor.model.network.training["optimizer"] == "adam"
    assert shown(insp, "training.beta1") and shown(insp, "training.eps")
    assert not shown(insp, "training.momentum")
    type_into(qtbot, insp.fields["training.eps"], "1e-6")
    assert editor.model.network.training["eps"] == pytest.approx(1e-6)
    insp.fields["training.clip_mode"].setCurrentText("norm")
    assert editor.model.network.training["clip"] == {"mode": "norm", "threshold": 1.0}
    assert shown(insp, "training.threshold")
    insp.fields["training.batch_size"].setValue(64)
    assert editor.model.network.training["batch_size"] == 64
    name = insp.fields["network.name"]
    name.setText("deep sigmoid")
    name.editingFinished.emit()
    assert editor.model.network.name == "deep sigmoid"
    assert editor.undo.count() == 6


def test_problem_label_shows_the_engines_message(insp, editor):
    insp.show_node(None)
    assert not insp.problem_label.isVisibleTo(insp)
    insp.fields["data.samples"].setValue(10)
    insp.fields["data.classes"].setValue(10)
    found = problems_at(editor, {"data"})
    assert found and "at least 2 per class" in found[0]
    assert found[0] in insp.problem_label.text()
    assert insp.problem_label.isVisibleTo(insp)
    assert insp.data_error.text()  # no preview either, and no exception
    editor.undo.undo()
    assert not insp.problem_label.isVisibleTo(insp)


def test_output_problem_on_a_regression_data_set(insp, editor):
    insp.show_node(None)
    insp.fields["data.name"].setCurrentText("sine")
    insp.show_node("out")
    found = problems_at(editor, {"out"})
    assert found and "use the mse loss" in found[0]
    assert found[0] in insp.problem_label.text()
    insp.fields["block.loss"].setCurrentText("mse")
    assert editor.model.node("out").params["loss"] == "mse"
    assert "use the mse loss" not in insp.problem_label.text()


def test_preview_follows_the_data_set(insp, editor):
    insp.show_node(None)
    assert len(insp.scatter.getData()[0]) == 300
    insp.fields["data.name"].setCurrentText("moons")
    assert editor.model.network.data == {"name": "moons"}
    assert not shown(insp, "data.classes") and shown(insp, "data.noise")
    assert len(insp.scatter.getData()[0]) == 600
    assert insp.preview.isVisibleTo(insp)
    editor.undo.undo()  # the form follows without editing back (which would drop samples)
    assert editor.model.network.data == {"name": "spiral", "samples": 300}
    assert editor.undo.canRedo() and insp.fields["data.samples"].value() == 300
    assert len(insp.scatter.getData()[0]) == 300
    editor.undo.redo()
    insp.fields["data.name"].setCurrentText("sine")
    assert len(insp.scatter.getData()[0]) == 0 and len(insp.curve.getData()[0]) == 400
    insp.fields["data.name"].setCurrentText("digits")
    assert not insp.preview.isVisibleTo(insp)
    assert insp.preview_note.text() == "64 features: no 2-D preview"


def test_csv_browse_sets_the_path_and_previews(insp, editor, tmp_path, monkeypatch):
    csv = tmp_path / "points.csv"
    csv.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)))
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", staticmethod(lambda *_a, **_k: (str(csv), ""))
    )
    insp.show_node(None)
    insp.fields["data.name"].setCurrentText("csv")
    assert shown(insp, "data.path") and shown(insp, "data.target")
    assert "data.path is required" in insp.problem_label.text()
    insp._browse()
    assert editor.model.network.data["path"] == str(csv)
    assert len(insp.scatter.getData()[0]) == 20
    target = insp.fields["data.target"]
    target.setText("missing")
    target.editingFinished.emit()
    assert editor.model.network.data["target"] == "missing"
    assert "not found" in insp.data_error.text()
    target.setText("2")
    target.editingFinished.emit()
    assert editor.model.network.data["target"] == 2
    assert insp.data_error.text() == ""


def test_removing_or_replacing_the_shown_node_falls_back_to_the_network(insp, editor):
    insp.show_node("dense2")
    assert insp.block_group.isVisibleTo(insp)
    editor.delete(["dense2"], [])
    assert insp.shown_node is None
    assert insp.data_group.isVisibleTo(insp) and not insp.block_group.isVisibleTo(insp)
    insp.show_node("act1")
    editor.load(mlp(1, 4, 3), None)  # act1 still exists: stays
    assert insp.shown_node == "act1"
    assert insp.fields["block.function"].currentText() == "relu"
    editor.load(mlp(0, 4, 3), None)  # act1 is gone
    assert insp.shown_node is None


def test_a_deleted_inspector_stops_following_the_model(qtbot, editor):
    import shiboken6

    w = Inspector(editor)
    w.show_node("dense1")
    shiboken6.delete(w)
    editor.set_params("dense1", {"units": 5, "init": "standard"})  # would raise into a dead form
    editor.set_section("training", {"lr": 0.3})
    assert editor.model.node("dense1").params["units"] == 5
