"""The window shows and trains the network on the canvas, and nothing else.

After every way the document changes (new, open, an example, a lesson from the menu or the list,
Try the fix, each structural edit, undo and redo, Reset): the run is a fresh one at step 0, every
plot's layer labels are the canvas's blocks, the step axes start at 0 and fit the run, step 0's
figures are drawn before any Play, and Play trains the network on the canvas. Live settings
(learning rate, L2, clipping) change a run without restarting it.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox
from windows import trainer, wait_frame

from vgsim.app.files import RESOURCES
from vgsim.app.main_window import MainWindow
from vgsim.engine.builders import mlp
from vgsim.engine.lessons import list_lessons
from vgsim.engine.schema import training_defaults
from vgsim.engine.spec import Network, NodeSpec, read_network, save_network

LESSONS = list_lessons(RESOURCES / "lessons")
STEP_PLOTS = ("gradient-history", "loss", "accuracy", "weight-norms", "update-ratio")
DEPTH_AXES = (
    ("gradient-flow", "bottom"),
    ("gradient-history", "left"),
    ("activations", "left"),
    ("unit-health", "bottom"),
)
PLANNED = 40  # the test network's recommended run: a long run's axes must come back to it
TRAINED = 150


def small_network(name: str = "small") -> Network:
    return mlp(
        2,
        8,
        3,
        activation="tanh",
        init="xavier_uniform",
        name=name,
        training={"optimizer": "sgd", "lr": 0.1, "batch_size": 16, "steps": PLANNED},
    )


def structure(net: Network) -> dict:
    """What training depends on: everything but positions, labels, names and live settings."""
    d = net.to_dict()
    for node in d["nodes"]:
        node.pop("pos", None)
        node.pop("label", None)
    # eval_every: the window's runs evaluate more often (worker.for_the_window).
    d["training"] = {
        k: v
        for k, v in d["training"].items()
        if k not in ("lr", "l2", "clip", "steps", "eval_every")
    }
    for key in ("name", "description", "lesson"):
        d.pop(key, None)
    return d


def canvas(window: MainWindow) -> Network:
    return window.editor.model.network


def planned_steps(net: Network) -> int:
    lesson = net.lesson or {}
    return int(lesson.get("steps") or training_defaults(net.training)["steps"])


def layer_labels(window: MainWindow) -> dict[str, list[str]]:
    """The names each plot gives its layers: depth-axis ticks and per-layer legends."""
    plots = window.dashboard.plots
    out = {}
    for key, side in DEPTH_AXES:
        levels = plots[key].plot.getAxis(side)._tickLevels or []
        out[key] = [label for level in levels for _, label in level]
    for key in ("weight-norms", "update-ratio"):
        out[key] = [label.text.split(" (")[0] for _, label in plots[key].legend.items]
    return out


def drawn_from(values: np.ndarray, shown: np.ndarray) -> bool:
    """Every point drawn is one of `values` (on a log axis the plot holds their log10)."""
    known = values[np.isfinite(values) & (values > 0)]
    return all(
        np.isclose(known, y, rtol=1e-6).any() or np.isclose(np.log10(known), y, rtol=1e-6).any()
        for y in shown
    )


# The step axes are refitted at the window's pace, not the run's: on two busy cores (`-n 2`)
# that can take seconds, and 5 s was the shortest wait in this file's set-up.
AXES_TIMEOUT = 20000


def train_a_while(window: MainWindow, qtbot, steps: int = TRAINED) -> None:
    # Counted from where the run is paused now: a frame from before the command never passes.
    end = window.training.frame.step_count + steps
    window.run_until("steps", steps)
    frame = wait_frame(
        qtbot,
        window,
        lambda f: (
            not f.playing
            and (f.step_count >= end or (f.record is not None and f.record.divergence is not None))
        ),
        timeout=60000,
    )
    loss_axis = window.dashboard.plots["loss"].plot
    if frame.record is not None and frame.record.divergence is not None:
        # A run that ended early: its step axes fit the steps it took.
        stop = frame.step_count + 2
        qtbot.waitUntil(lambda: loss_axis.viewRange()[0][1] <= stop, timeout=AXES_TIMEOUT)
    else:
        qtbot.waitUntil(lambda: loss_axis.viewRange()[0][1] > 1.2 * PLANNED, timeout=AXES_TIMEOUT)


def assert_shows_the_canvas(window: MainWindow, qtbot, timeout: int = 30000) -> None:
    """A fresh run of the canvas's network at step 0, drawn; then Play trains that network."""
    net = canvas(window)
    assert not window.editor.model.problems()
    ids = {n.id for n in net.nodes}
    frame = wait_frame(
        qtbot,
        window,
        lambda f: (
            f.network is not None
            and structure(f.network) == structure(net)
            and set(f.nodes[0]) == ids
            and not f.building
        ),
        timeout=timeout,
    )
    assert frame.step_count == 0 and frame.record is None
    assert structure(window.training.network) == structure(net)
    qtbot.waitUntil(lambda: window.progress_label.text().startswith("step 0 "), timeout=5000)
    labels = layer_labels(window)
    for key, names in labels.items():
        assert names and set(names) <= ids, (key, names, sorted(ids))
    plots = window.dashboard.plots
    # Step 0's figures, at once: the gradient reaching every layer, the activations.
    _, grads = plots["gradient-flow"].signal.getData()
    assert grads is not None and len(grads) > 0 and np.all(np.isfinite(grads))
    assert not plots["activations"].body.path().isEmpty()
    # Nothing of an earlier run: no faded traces, no curves past step 0, no heat map.
    for curve in plots["gradient-flow"].faded:
        x, _ = curve.getData()
        assert x is None or len(x) == 0
    for key in STEP_PLOTS:
        for item in plots[key].plot.listDataItems():
            x, _ = item.getData()
            assert x is None or len(x) == 0 or np.nanmax(x) <= 0, key
    image = plots["gradient-history"].image.image
    assert image is None or image.size == 0
    horizon = planned_steps(net)
    for key in STEP_PLOTS:
        (x0, x1), y = plots[key].plot.viewRange()
        assert x0 == pytest.approx(0.0, abs=1e-6) and 0 < x1 <= 1.3 * horizon + 1, (key, x0, x1)
        if key != "gradient-history":  # nothing to show yet: not the last run's range either
            assert y == pytest.approx(window.dashboard.fresh_y[key]), key
    # The theory line, when there is one, is this network's.
    theory_y = plots["gradient-flow"].theory.getData()[1]
    if theory_y is not None and len(theory_y):
        assert frame.plot.theory is not None
        assert drawn_from(frame.plot.theory, theory_y)
    assert not window.stale_banner.isVisible()
    # Play trains it: its first record names the canvas's blocks, counted from step 0.
    window.actions["play"].trigger()
    first = wait_frame(qtbot, window, lambda f: f.record is not None, timeout=timeout)
    assert set(first.record.node_ids) == ids
    assert first.plot.long_steps[0] == 0
    assert structure(trainer(window).net) == structure(net)
    window.actions["play"].trigger()
    wait_frame(qtbot, window, lambda f: not f.playing)


def assert_nothing_stale(window: MainWindow, qtbot) -> None:
    """A network that cannot train: no plot, step or diagnosis of an earlier one is shown."""
    assert window.editor.model.problems()
    qtbot.waitUntil(
        lambda: window.training.frame is None or not window.training.frame.nodes[0],
        timeout=5000,
    )
    assert window.stale_banner.isVisible()
    assert not window.dashboard.isVisible()
    assert not window.progress_label.text().startswith("step ") or window.progress_label.text() in (
        "step –",
        "step 0",
    )
    assert not window.view.gradient_key.isVisible()
    assert all(item.tint is None for item in window.scene.nodes.values())


@pytest.fixture
def trained(window, qtbot):
    """The window with a small network that has trained past its planned steps."""
    window.editor.load(small_network(), None)
    wait_frame(
        qtbot,
        window,
        lambda f: f.network is not None and f.network.name == "small" and bool(f.nodes[0]),
    )
    train_a_while(window, qtbot)
    return window


# --- loading another document ---------------------------------------------------------------


def test_file_new_then_building_a_network(trained, qtbot):
    window = trained
    window.actions["new"].trigger()
    assert_nothing_stale(window, qtbot)
    e = window.editor
    hidden = e.add_block("dense", (150.0, 0.0))
    act = e.add_block("relu", (300.0, 0.0))
    head = e.add_block("dense", (450.0, 0.0))
    e.set_params(head, {"units": 3, "init": "xavier_uniform"})
    for a, b in (("in", hidden), (hidden, act), (act, head)):
        e.connect(a, b)
        assert_nothing_stale(window, qtbot)
    e.connect(head, "out")
    assert_shows_the_canvas(window, qtbot)


def test_open_a_file(trained, qtbot, tmp_path):
    path = tmp_path / "wide.json"
    other = mlp(3, 12, 3, activation="relu", init="he_normal", name="wide")
    other.training = {"steps": 70, "batch_size": 16}
    save_network(other, path)
    assert trained.files.open_path(path)
    assert_shows_the_canvas(trained, qtbot)


def test_an_example(trained, qtbot):
    trained.files.open_preset(RESOURCES / "examples" / "relu-he.json")
    assert_shows_the_canvas(trained, qtbot)


def test_the_same_network_again_starts_a_fresh_run(trained, qtbot):
    trained.editor.load(small_network(), None)
    assert_shows_the_canvas(trained, qtbot)


def test_the_theory_line_follows_the_example(window, qtbot):
    """Deep ReLU, then deep sigmoid: the dashed line is the sigmoid network's, at step 0."""
    window.files.open_preset(RESOURCES / "examples" / "relu-he.json")
    assert_shows_the_canvas(window, qtbot)
    relu = window.training.frame.plot.theory
    window.files.open_preset(RESOURCES / "examples" / "deep-sigmoid.json")
    frame = wait_frame(
        qtbot,
        window,
        lambda f: (
            f.network is not None and "sigmoid" in str(f.network.to_dict()) and not f.building
        ),
    )
    assert frame.plot.theory is not None and frame.step_count == 0
    flow = window.dashboard.plots["gradient-flow"]
    qtbot.waitUntil(lambda: flow.theory.getData()[1] is not None, timeout=5000)
    shown = flow.theory.getData()[1]
    assert len(shown) > 0
    assert drawn_from(frame.plot.theory, shown)
    assert relu is None or not np.allclose(relu[-3:], frame.plot.theory[-3:], equal_nan=True)
    assert_shows_the_canvas(window, qtbot)


def lessons_menu(window):
    return next(a.menu() for a in window.menuBar().actions() if a.text() == "&Lessons")


def test_a_lesson_from_the_menu(trained, qtbot):
    lessons_menu(trained).actions()[1].trigger()  # lesson 2: exploding gradients
    assert canvas(trained).name == read_network(LESSONS[1].path).name
    assert_shows_the_canvas(trained, qtbot)


def click_lesson(window, row: int, qtbot) -> None:
    window.lessons_dock.show()
    window.lessons_dock.raise_()
    listing = window.lessons.list
    qtbot.waitUntil(listing.isVisible, timeout=2000)
    rect = listing.visualItemRect(listing.item(row))
    qtbot.mouseClick(listing.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_a_lesson_from_the_list_loads_it_and_its_run_button_trains_it(trained, qtbot):
    window = trained
    click_lesson(window, 1, qtbot)  # lesson 2
    lesson = LESSONS[1]
    assert canvas(window).name == read_network(lesson.path).name
    assert window.lessons.current() == lesson
    assert_shows_the_canvas(window, qtbot)
    window.actions["reset"].trigger()
    wait_frame(qtbot, window, lambda f: f.step_count == 0 and f.record is None)
    window.lessons.run_button.click()
    frame = wait_frame(qtbot, window, lambda f: f.record is not None)
    assert structure(frame.network) == structure(read_network(lesson.path))
    window.actions["play"].trigger()  # pause (it is running its steps)
    wait_frame(qtbot, window, lambda f: not f.playing)


def test_a_lesson_list_choice_that_is_cancelled_keeps_the_document_and_its_lesson(window, qtbot):
    window.open_lesson(LESSONS[0])
    assert_shows_the_canvas(window, qtbot)
    e = window.editor
    e.set_params("dense1", {**canvas(window).node("dense1").params, "units": 20})
    assert e.modified
    window.files.ask = lambda _q: QMessageBox.StandardButton.Cancel
    click_lesson(window, 2, qtbot)
    assert canvas(window).node("dense1").params["units"] == 20  # kept
    assert window.lessons.current() == LESSONS[0]  # the list says what is on the canvas


def test_a_document_without_a_lesson_leaves_nothing_selected_in_the_list(window, qtbot):
    window.open_lesson(LESSONS[0])
    window.files.open_preset(RESOURCES / "examples" / "relu-he.json")
    assert window.lessons.current() is None
    assert not window.lessons.run_button.isEnabled()


def test_try_the_fix(trained, qtbot):
    window = trained
    lesson = LESSONS[1]  # exploding gradients: two fixes, side by side
    window.open_lesson(lesson)
    assert_shows_the_canvas(window, qtbot)
    train_a_while(window, qtbot, 60)
    window.lessons.fix_button.click()
    for side in list(window.side_by_side.windows):
        qtbot.addWidget(side)
    assert canvas(window).name == read_network(lesson.path).name
    assert_shows_the_canvas(window, qtbot)
    for side in list(window.side_by_side.windows):
        side.close()


def test_reset(trained, qtbot):
    trained.actions["reset"].trigger()
    assert_shows_the_canvas(trained, qtbot)


# --- edits, undo and redo -------------------------------------------------------------------


def _params(window, node_id: str, **changes) -> dict:
    return {**canvas(window).node(node_id).params, **changes}


def _training(window, **changes) -> dict:
    return {**canvas(window).training, **changes}


EDITS = {
    "insert a block": lambda w: w.editor.add_block("relu", (600.0, 60.0), ("act2", "head")),
    "connect a skip": lambda w: w.editor.connect("act1", "act2"),
    "units": lambda w: w.editor.set_params("dense1", _params(w, "dense1", units=12)),
    "activation": lambda w: w.editor.set_params("act1", {"function": "relu"}),
    "initialiser": lambda w: w.editor.set_params("dense2", _params(w, "dense2", init="he_normal")),
    "data": lambda w: w.editor.set_section("data", {"name": "spiral", "noise": 0.35}),
    "batch size": lambda w: w.editor.set_section("training", _training(w, batch_size=8)),
    "optimizer": lambda w: w.editor.set_section("training", _training(w, optimizer="adam")),
    "seed": lambda w: w.editor.set_section("training", _training(w, seed=3)),
    "dtype": lambda w: w.editor.set_section("training", _training(w, dtype="float64")),
    "remedy": lambda w: w.editor.apply_remedy("batchnorm", "Add batch normalisation"),
}


@pytest.mark.slow
def test_every_edit_its_undo_and_its_redo(trained, qtbot):
    """One window through every kind of edit (a window per edit cost 2 s of set-up each)."""
    window = trained
    for edit, make_edit in EDITS.items():
        before = structure(canvas(window))
        make_edit(window)
        assert structure(canvas(window)) != before, f"{edit}: the edit changed nothing"
        timeout = 180000 if edit == "dtype" else 30000  # float64 kernels may compile first
        assert_shows_the_canvas(window, qtbot, timeout)
        train_a_while(window, qtbot)
        window.actions["undo"].trigger()
        assert structure(canvas(window)) == before, edit
        assert_shows_the_canvas(window, qtbot, timeout)
        train_a_while(window, qtbot)
        window.actions["redo"].trigger()
        assert_shows_the_canvas(window, qtbot, timeout)
        window.actions["undo"].trigger()  # the next edit starts from the small network
        assert_shows_the_canvas(window, qtbot, timeout)


def test_deleting_a_block_shows_nothing_stale_and_undo_brings_a_fresh_run(trained, qtbot):
    window = trained
    window.editor.delete(["act2"], [])
    assert_nothing_stale(window, qtbot)
    window.actions["undo"].trigger()
    assert_shows_the_canvas(window, qtbot)
    window.actions["redo"].trigger()
    assert_nothing_stale(window, qtbot)


def test_moving_a_block_or_renaming_the_network_keeps_the_run(trained, qtbot):
    window = trained
    at = window.training.frame.step_count
    run = trainer(window)
    window.editor.move({"dense1": ((0.0, 0.0), (10.0, 250.0))})
    window.editor.set_section("name", "renamed")
    qtbot.wait(400)
    assert trainer(window) is run and window.training.frame.step_count == at


@pytest.mark.parametrize(
    "setting, value",
    [("lr", 0.02), ("l2", 0.001), ("clip", {"mode": "norm", "threshold": 0.5})],
)
def test_live_settings_change_the_run_without_restarting_it(trained, qtbot, setting, value):
    window = trained
    run = trainer(window)
    at = window.training.frame.step_count
    window.editor.set_section("training", _training(window, **{setting: value}))
    window.actions["step"].trigger()
    frame = wait_frame(qtbot, window, lambda f: f.step_count == at + 1)
    assert trainer(window) is run and frame.plot.long_steps[0] == 0
    expected = value if setting != "clip" else {**run.cfg["clip"], **value}
    assert run.cfg[setting] == expected
    window.actions["undo"].trigger()
    window.actions["step"].trigger()
    wait_frame(qtbot, window, lambda f: f.step_count == at + 2)
    assert trainer(window) is run
    assert run.cfg[setting] != expected


# --- the first start ------------------------------------------------------------------------


def test_first_start_says_ready_only_once_a_trainer_is_ready(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, open_default=True)
    qtbot.addWidget(window)
    window.show()
    assert not window.play_reason.text().startswith("✓")  # no trainer yet
    wait_frame(qtbot, window, lambda f: bool(f.nodes[0]) and not f.building)
    qtbot.waitUntil(lambda: window.play_reason.text() == "✓ Ready to train", timeout=5000)
    window.training.shutdown()


def test_the_preview_of_step_0_is_what_step_0_records(trained, qtbot):
    """The figures drawn before Play are the ones the first step then records."""
    from vgsim.engine.kernels.stats import S_GRAD

    window = trained
    window.actions["reset"].trigger()
    frame = wait_frame(qtbot, window, lambda f: f.step_count == 0 and f.record is None)
    before = window.dashboard.plots["gradient-flow"].signal.getData()[1].copy()
    window.actions["step"].trigger()
    after = wait_frame(qtbot, window, lambda f: f.step_count == 1)
    recorded = after.record.node_stats[:, S_GRAD]
    assert frame.plot.node_stats is not None
    np.testing.assert_allclose(frame.plot.node_stats[:, S_GRAD], recorded, rtol=1e-5)
    assert len(before) > 0


def test_a_new_network_of_another_shape_never_mixes_with_the_old(trained, qtbot):
    """Building node by node (each step a different network) ends with only the last one."""
    window = trained
    net = small_network("grown")
    net.nodes.insert(-2, NodeSpec("extra", "activation", {"function": "relu"}, pos=(900.0, 0.0)))
    net.edges = [(a, b) for a, b in net.edges if (a, b) != ("act2", "head")]
    net.edges += [("act2", "extra"), ("extra", "head")]
    window.editor.load(net, None)
    assert_shows_the_canvas(window, qtbot)
