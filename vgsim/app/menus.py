"""The window's menus and toolbars: what each action is called, its shortcut and its slot.

`build_menus` reads the window through `MenuHost` (no import of the window's module) and returns
the menus and controls the window keeps; every action goes into `window.actions` by key.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMenu, QMenuBar, QToolBar

from .files import presets
from .panels.controls import RunUntil, SpeedBox

if TYPE_CHECKING:
    from collections.abc import Callable

    from .canvas.view import CanvasView
    from .editor import Editor
    from .exporting import ExportController
    from .files import FileController
    from .panels.lessons import LessonsPanel
    from .plots.dashboard import Dashboard
    from .plots.pages import PlotPages
    from .side_by_side import SideBySide
    from .time_travel import TimeTravel
    from .training import TrainingController


class MenuHost(Protocol):
    """What the menus reach in the window: its parts, its docks and its commands."""

    actions: dict[str, QAction]
    editor: Editor
    files: FileController
    exports: ExportController
    view: CanvasView
    dashboard: Dashboard
    plot_pages: PlotPages
    lessons: LessonsPanel
    side_by_side: SideBySide
    training: TrainingController
    timeline: TimeTravel
    palette_dock: QDockWidget
    inspector_dock: QDockWidget
    problems_dock: QDockWidget
    diagnosis_dock: QDockWidget
    lessons_dock: QDockWidget
    new_network: Callable[[], object]
    open_lesson: Callable[..., object]
    copy_selection: Callable[[], object]
    paste: Callable[[], object]
    delete_selection: Callable[[], object]
    select_all: Callable[[], object]
    add_pair: Callable[[], object]
    add_layers: Callable[[], object]
    open_trainability_map: Callable[[], object]
    wrap_residual: Callable[[], object]
    play: Callable[[], object]
    step: Callable[[], object]
    micro_step: Callable[[], object]
    reset_training: Callable[[], object]
    open_trainability_map: Callable[[], object]

    def menuBar(self) -> QMenuBar: ...

    def addToolBar(self, toolbar: QToolBar) -> None: ...

    def close(self) -> bool: ...


@dataclass
class Menus:
    """The menus and controls the window updates after they are built."""

    recent: QMenu
    train: QMenu
    toolbar: QToolBar
    speed: SpeedBox
    run_until: RunUntil


def make_action(
    window: MenuHost,
    key: str,
    text: str,
    slot: Callable[..., object],
    shortcut: str | QKeySequence.StandardKey | None = None,
    tip: str = "",
) -> QAction:
    action = QAction(text, window)  # type: ignore[call-overload]
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.setToolTip(tip or text.replace("&", "").replace("…", ""))
    action.setStatusTip(tip)
    action.triggered.connect(slot)
    window.actions[key] = action
    return action


def fill_recent(menu: QMenu, files: FileController) -> None:
    """The recent files, newest first, filled as the menu opens (files may have gone)."""
    menu.clear()
    for path in files.recent():
        menu.addAction(path, lambda p=path: files.open_path(p))
    if menu.isEmpty():
        menu.addAction("(none yet)").setEnabled(False)


def build_menus(window: MenuHost) -> Menus:
    """The menus and toolbars; every action is kept in `window.actions` by key."""
    a, K = partial(make_action, window), QKeySequence.StandardKey
    file_menu = window.menuBar().addMenu("&File")
    file_menu.addAction(a("new", "&New", window.new_network, K.New))
    file_menu.addAction(a("open", "&Open…", window.files.open_dialog, K.Open))
    recent = file_menu.addMenu("Open &Recent")
    recent.aboutToShow.connect(lambda: fill_recent(recent, window.files))
    for title, items in presets():
        if not items or title == "Lessons":  # the lessons have a menu of their own
            continue
        menu = file_menu.addMenu(title)
        for name, path in items:
            menu.addAction(name, lambda p=path: window.files.open_preset(p))
    file_menu.addSeparator()
    file_menu.addAction(a("save", "&Save", window.files.save, K.Save))
    file_menu.addAction(a("save_as", "Save &As…", window.files.save_as, K.SaveAs))
    file_menu.addSeparator()
    run_tip = "the network, every step's figures and the saved states (docs/checkpoints.md)"
    file_menu.addAction(
        a("save_run", "Save r&un…", window.timeline.save_run_dialog, tip="Save the run: " + run_tip)
    )
    file_menu.addAction(
        a(
            "open_run",
            "Open ru&n…",
            window.timeline.open_run_dialog,
            tip="Open a saved run to scrub, branch or train on: " + run_tip,
        )
    )
    file_menu.addSeparator()
    x = window.exports
    export = file_menu.addMenu("&Export")
    export.addAction(
        a(
            "export_all",
            "All &plots…",
            x.export_all_dialog,
            "Ctrl+E",
            "Every plot as PNG and SVG into a folder",
        )
    )
    export.addAction(
        a(
            "export_dashboard",
            "&Dashboard image…",
            x.export_dashboard_dialog,
            "Ctrl+Shift+E",
            "One image of the canvas and all the plots",
        )
    )
    record = a(
        "record",
        "&Record gradient flow (GIF)",
        x.record_toggled,
        tip="Capture the gradient-flow plot as it changes; uncheck to save a GIF",
    )
    record.setCheckable(True)
    export.addAction(record)
    export.addSeparator()
    export.addAction(
        a(
            "export_metrics",
            "&Metrics (CSV)…",
            x.export_metrics_dialog,
            tip="The run's per-step figures, the columns of `vgsim run`",
        )
    )
    export.addAction(
        a(
            "export_state",
            "&State (.npz)…",
            x.export_state_dialog,
            tip="Activations, gradients and weights now: the --dump-state keys",
        )
    )
    export.addAction(
        a(
            "export_network",
            "&Network (JSON)…",
            x.export_network_dialog,
            tip="The network on the canvas as a network file",
        )
    )
    file_menu.addSeparator()
    file_menu.addAction(a("quit", "&Quit", window.close, K.Quit))
    edit = window.menuBar().addMenu("&Edit")
    undo = window.editor.undo.createUndoAction(window, "&Undo")
    undo.setShortcut(QKeySequence("Ctrl+Z"))
    redo = window.editor.undo.createRedoAction(window, "&Redo")
    redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    window.actions["undo"], window.actions["redo"] = undo, redo
    edit.addActions([undo, redo])
    edit.addSeparator()
    edit.addAction(a("copy", "&Copy", window.copy_selection, K.Copy))
    edit.addAction(a("paste", "&Paste", window.paste, K.Paste))
    edit.addAction(a("delete", "&Delete", window.delete_selection, Qt.Key.Key_Delete))
    edit.addAction(a("select_all", "Select &All", window.select_all, K.SelectAll))
    build = window.menuBar().addMenu("&Build")
    build.addAction(
        a(
            "add_pair",
            "Add dense + activation",
            window.add_pair,
            "Ctrl+L",
            "Append a dense layer and an activation after the selected block",
        )
    )
    build.addAction(
        a(
            "add_layers",
            "Add &N layers…",
            window.add_layers,
            "Ctrl+Shift+L",
            "Add many identical layers at once (20 or 56 layers in one go)",
        )
    )
    build.addAction(
        a(
            "wrap_residual",
            "Wrap in &residual block",
            window.wrap_residual,
            "Ctrl+R",
            "Add a skip connection around the selected chain",
        )
    )
    build.addSeparator()
    build.addAction(
        a(
            "tidy",
            "&Tidy layout",
            window.editor.tidy,
            "Ctrl+T",
            "Main path in a line, skip connections arching over it",
        )
    )
    view = window.menuBar().addMenu("&View")
    view.addAction(a("fit", "&Fit network", window.view.fit, "Ctrl+0"))
    view.addAction(a("zoom_in", "Zoom &in", lambda: window.view.zoom_by(1.25), K.ZoomIn))
    view.addAction(a("zoom_out", "Zoom &out", lambda: window.view.zoom_by(0.8), K.ZoomOut))
    view.addSeparator()
    dash = window.dashboard
    for key, text, slot, tip in (
        (
            "faded_steps",
            "Gradient flow: last &steps, faded",
            dash.show_faded_steps,
            "The gradient profiles of the last few steps, fading with age",
        ),
        (
            "theory",
            "Gradient flow: &theory at step 0",
            dash.show_theory,
            "The mean-field prediction at initialisation, for plain chains",
        ),
        (
            "log_loss",
            "&Loss on a log scale",
            dash.log_loss,
            "Loss axis logarithmic (small losses stay visible) or linear",
        ),
    ):
        action = a(key, text, slot, tip=tip)
        action.setCheckable(True)
        action.setChecked(True)
        view.addAction(action)
    # The loss plot's own menu switches its scale too, and a click on the prediction's legend
    # entry hides it: the menu follows both.
    dash.plots["loss"].plot.ctrl.logYCheck.toggled.connect(window.actions["log_loss"].setChecked)
    dash.theory_toggled.connect(window.actions["theory"].setChecked)
    every = a(
        "every_block",
        "Gradient flow: &every block",
        dash.show_every_node,
        tip="A point for every block (dense and activation apart), not one per layer",
    )
    every.setCheckable(True)
    view.addAction(every)
    canvas = window.plot_pages.canvas_button  # the button over the plots, and this, agree
    shown = a("canvas", "&Canvas above the plots", canvas.toggle, "Ctrl+Shift+H")
    shown.setToolTip("Hide the canvas to give the plots the whole height")
    shown.setCheckable(True)
    shown.setChecked(canvas.isChecked())
    canvas.toggled.connect(shown.setChecked)
    view.addAction(shown)
    view.addSeparator()
    for dock in (
        window.palette_dock,
        window.inspector_dock,
        window.problems_dock,
        window.diagnosis_dock,
    ):
        view.addAction(dock.toggleViewAction())
    lessons = window.menuBar().addMenu("&Lessons")
    for lesson in window.lessons.lessons:
        lessons.addAction(
            f"&{lesson.order}. {lesson.title}"
            if lesson.order < 10
            else f"{lesson.order}. {lesson.title}",
            lambda chosen=lesson: window.open_lesson(chosen),
        )
    lessons.addSeparator()
    lessons.addAction(window.lessons_dock.toggleViewAction())
    train_menu = window.menuBar().addMenu("&Train")
    train_menu.addAction(
        a("play", "&Play", window.play, "Space", "Train continuously; again to pause (Space)")
    )
    step = a(
        "step",
        "Step",
        window.step,
        "N",
        "One mini-batch: forward, loss, backward, update (N or →)",
    )
    step.setShortcuts([QKeySequence("N"), QKeySequence(Qt.Key.Key_Right)])
    train_menu.addAction(step)
    train_menu.addAction(
        a(
            "micro",
            "Micro-step",
            window.micro_step,
            "M",
            "The next block of the forward or backward pass (M)",
        )
    )
    train_menu.addAction(
        a(
            "reset",
            "Reset",
            window.reset_training,
            "R",
            "Re-initialise the weights from the seed: a fresh run at step 0 (R)",
        )
    )
    train_menu.addSeparator()
    compare = window.side_by_side.compare_with_files
    train_menu.addAction(
        a(
            "compare",
            "&Compare with…",
            compare,
            "Ctrl+K",
            "Train this network and others side by side, in lockstep on the same data and batches",
        )
    )
    experiments = window.menuBar().addMenu("E&xperiments")
    experiments.addAction(
        a(
            "trainability_map",
            "&Trainability map…",
            window.open_trainability_map,
            None,
            "Sweep this network over two settings (e.g. weight scale x depth) and map where "
            "it trains, with the edge-of-chaos theory on top",
        )
    )
    bar = QToolBar("Training")
    bar.setObjectName("training_toolbar")
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    window.addToolBar(bar)
    for key in ("play", "step", "micro", "reset"):
        bar.addAction(window.actions[key])
    menus = Menus(recent, train_menu, bar, SpeedBox(), RunUntil())
    bar.addWidget(menus.speed)
    bar.addWidget(menus.run_until)
    bar = QToolBar("Edit")
    bar.setObjectName("edit_toolbar")
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    window.addToolBar(bar)
    # Fixed labels here: the menu's "Undo <command>" text would shift the toolbar.
    for key, stack_action in (("undo", window.editor.undo.undo), ("redo", window.editor.undo.redo)):
        button = a(f"tool_{key}", key.capitalize(), stack_action)
        source = window.actions[key]
        button.setEnabled(source.isEnabled())
        source.enabledChanged.connect(button.setEnabled)
        bar.addAction(button)
    for key in ("tidy", "fit", "add_layers", "wrap_residual"):
        bar.addAction(window.actions[key])
    return menus
