"""The main window: layout and wiring only. Editing lives in Editor; files in FileController."""

from __future__ import annotations

import time

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QProgressBar,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ..engine.lessons import Lesson
from ..engine.spec import read_network
from .canvas.scene import CanvasScene
from .canvas.tint import apply_figures
from .canvas.view import CanvasView
from .dialogs import AddLayersDialog
from .editor import Editor
from .exporting import ExportController
from .files import DEFAULT_NETWORK, RESOURCES, FileController, presets
from .panels.controls import RunUntil, SpeedBox
from .panels.diagnosis import DiagnosisPanel
from .panels.inspector import Inspector
from .panels.lessons import LessonsPanel
from .panels.palette import Palette
from .panels.problems import ProblemsList
from .plots.dashboard import Dashboard
from .side_by_side import SideBySide
from .training import TrainingController
from .worker import Frame

STATE_KEY = "window_state/3"
PREPARING_AFTER_MS = 300
TINT_SECONDS = 0.1  # bump when the docks change, so an old layout is not restored


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, open_default: bool = True):
        super().__init__()
        self.settings = settings or QSettings("vgsim", "vgsim")
        self.editor = Editor(parent=self)
        self.files = FileController(self, self.editor, self.settings)
        self.scene = CanvasScene(self.editor.model, self)
        self.view = CanvasView(self.scene)
        self.palette = Palette()
        self.inspector = Inspector(self.editor)
        self.problems = ProblemsList(self.editor.model)
        self.diagnosis = DiagnosisPanel()
        self.lessons = LessonsPanel(RESOURCES / "lessons")
        self.training = TrainingController(self)
        self.dashboard = Dashboard()
        self.actions: dict[str, QAction] = {}
        self._build_layout()
        self.side_by_side = SideBySide(self, lambda: self.editor.model.snapshot(), self.settings)
        self.exports = ExportController(self, self.dashboard, self.splitter, self.training,
                                        lambda: self.editor.model.snapshot(), self.settings)
        self._build_actions()
        self._wire()
        self._restore_state()
        if open_default and DEFAULT_NETWORK.exists():
            self.editor.load(read_network(DEFAULT_NETWORK), None)
            self.view.fit()
        self._update_title()
        self._update_play()
        self._rebuild_trainer()

    # --- layout -------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        self.resize(1500, 950)
        self.canvas_box = QWidget()
        box = QVBoxLayout(self.canvas_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.view)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.canvas_box)
        # Over the plots when the canvas no longer matches them (the network has problems).
        self.stale_banner = QLabel("⚠ These plots are from the last network that could train: "
                                   "fix the problems listed on the left to train this one.")
        self.stale_banner.setStyleSheet("background: #fef7e0; color: #7a4f01; padding: 4px;")
        self.stale_banner.hide()
        plots_box = QWidget()
        plots = QVBoxLayout(plots_box)
        plots.setContentsMargins(0, 0, 0, 0)
        plots.setSpacing(0)
        plots.addWidget(self.stale_banner)
        plots.addWidget(self.dashboard)
        self.splitter.addWidget(plots_box)
        self.splitter.setSizes([330, 620])
        self.setCentralWidget(self.splitter)
        self.palette_dock = self._dock("Blocks", self.palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inspector_dock = self._dock("Inspector", self.inspector,
                                         Qt.DockWidgetArea.RightDockWidgetArea)
        self.problems_dock = self._dock("Problems", self.problems,
                                        Qt.DockWidgetArea.LeftDockWidgetArea)
        self.diagnosis_dock = self._dock("Diagnosis", self.diagnosis,
                                         Qt.DockWidgetArea.RightDockWidgetArea)
        self.lessons_dock = self._dock("Lessons", self.lessons,
                                       Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.inspector_dock, self.diagnosis_dock)
        self.tabifyDockWidget(self.diagnosis_dock, self.lessons_dock)
        self.inspector_dock.raise_()
        self.palette_dock.setMinimumWidth(190)
        self.inspector_dock.setMinimumWidth(320)
        self.phase_label = QLabel()
        self.preparing = QProgressBar()  # busy while a trainer is built (first run: compiling)
        self.preparing.setRange(0, 0)
        self.preparing.setMaximumWidth(160)
        self.preparing.setToolTip("Preparing the training kernels: compiled once on the first "
                                  "run (about 15 s), then loaded from the cache")
        self.preparing.hide()
        self.statusBar().addPermanentWidget(self.preparing)
        self.progress_label = QLabel("step 0")
        self.play_reason = QLabel()
        for label in (self.phase_label, self.progress_label, self.play_reason):
            self.statusBar().addPermanentWidget(label)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_").lower())
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, key: str, text: str, slot, shortcut=None, tip: str = "") -> QAction:  # noqa: ANN001
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(tip or text.replace("&", "").replace("…", ""))
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.actions[key] = action
        return action

    def _build_actions(self) -> None:
        a, K = self._action, QKeySequence.StandardKey
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(a("new", "&New", self.new_network, K.New))
        file_menu.addAction(a("open", "&Open…", self.files.open_dialog, K.Open))
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        for title, items in presets():
            if not items or title == "Lessons":  # the lessons have a menu of their own
                continue
            menu = file_menu.addMenu(title)
            for name, path in items:
                menu.addAction(name, lambda p=path: self.files.open_preset(p))
        file_menu.addSeparator()
        file_menu.addAction(a("save", "&Save", self.files.save, K.Save))
        file_menu.addAction(a("save_as", "Save &As…", self.files.save_as, K.SaveAs))
        file_menu.addSeparator()
        x = self.exports
        export = file_menu.addMenu("&Export")
        export.addAction(a("export_all", "All &plots…", x.export_all_dialog, "Ctrl+E",
                           "Every plot as PNG and SVG into a folder"))
        export.addAction(a("export_dashboard", "&Dashboard image…", x.export_dashboard_dialog,
                           "Ctrl+Shift+E", "One image of the canvas and all the plots"))
        record = a("record", "&Record gradient flow (GIF)", x.record_toggled,
                   tip="Capture the gradient-flow plot as it changes; uncheck to save a GIF")
        record.setCheckable(True)
        export.addAction(record)
        export.addSeparator()
        export.addAction(a("export_metrics", "&Metrics (CSV)…", x.export_metrics_dialog,
                           tip="The run's per-step figures, the columns of `vgsim run`"))
        export.addAction(a("export_state", "&State (.npz)…", x.export_state_dialog,
                           tip="Activations, gradients and weights now: the --dump-state keys"))
        export.addAction(a("export_network", "&Network (JSON)…", x.export_network_dialog,
                           tip="The network on the canvas as a network file"))
        file_menu.addSeparator()
        file_menu.addAction(a("quit", "&Quit", self.close, K.Quit))
        edit = self.menuBar().addMenu("&Edit")
        undo = self.editor.undo.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence("Ctrl+Z"))
        redo = self.editor.undo.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.actions["undo"], self.actions["redo"] = undo, redo
        edit.addActions([undo, redo])
        edit.addSeparator()
        edit.addAction(a("copy", "&Copy", self.copy_selection, K.Copy))
        edit.addAction(a("paste", "&Paste", self.paste, K.Paste))
        edit.addAction(a("delete", "&Delete", self.delete_selection, Qt.Key.Key_Delete))
        edit.addAction(a("select_all", "Select &All", self._select_all, K.SelectAll))
        build = self.menuBar().addMenu("&Build")
        build.addAction(a("add_pair", "Add dense + activation", self.add_pair, "Ctrl+L",
                          "Append a dense layer and an activation after the selected block"))
        build.addAction(a("add_layers", "Add &N layers…", self.add_layers, "Ctrl+Shift+L",
                          "Add many identical layers at once (20 or 56 layers in one go)"))
        build.addAction(a("wrap_residual", "Wrap in &residual block", self.wrap_residual,
                          "Ctrl+R", "Add a skip connection around the selected chain"))
        build.addSeparator()
        build.addAction(a("tidy", "&Tidy layout", self.editor.tidy, "Ctrl+T",
                          "Main path in a line, skip connections arching over it"))
        view = self.menuBar().addMenu("&View")
        view.addAction(a("fit", "&Fit network", self.view.fit, "Ctrl+0"))
        view.addAction(a("zoom_in", "Zoom &in", lambda: self.view.zoom_by(1.25), K.ZoomIn))
        view.addAction(a("zoom_out", "Zoom &out", lambda: self.view.zoom_by(0.8), K.ZoomOut))
        view.addSeparator()
        for dock in (self.palette_dock, self.inspector_dock, self.problems_dock,
                     self.diagnosis_dock):
            view.addAction(dock.toggleViewAction())
        lessons = self.menuBar().addMenu("&Lessons")
        for lesson in self.lessons.lessons:
            lessons.addAction(f"&{lesson.order}. {lesson.title}" if lesson.order < 10
                              else f"{lesson.order}. {lesson.title}",
                              lambda chosen=lesson: self.open_lesson(chosen))
        lessons.addSeparator()
        lessons.addAction(self.lessons_dock.toggleViewAction())
        self.train_menu = self.menuBar().addMenu("&Train")
        self.train_menu.addAction(a("play", "&Play", self.play, "Space",
                                    "Train continuously; again to pause (Space)"))
        step = a("step", "Step", self.training.step, "N",
                 "One mini-batch: forward, loss, backward, update (N or →)")
        step.setShortcuts([QKeySequence("N"), QKeySequence(Qt.Key.Key_Right)])
        self.train_menu.addAction(step)
        self.train_menu.addAction(a("micro", "Micro-step", self.training.micro_step, "M",
                                    "The next block of the forward or backward pass (M)"))
        self.train_menu.addAction(a("reset", "Reset", self.reset_training, "R",
                                    "Re-initialise the weights from the seed; applies edits (R)"))
        self.train_menu.addSeparator()
        compare = self.side_by_side.compare_with_files
        self.train_menu.addAction(a("compare", "&Compare with…", compare, "Ctrl+K",
                                    "Train this network and others side by side, in lockstep "
                                    "on the same data and batches"))
        bar = QToolBar("Training")
        bar.setObjectName("training_toolbar")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(bar)
        self.toolbar = bar
        for key in ("play", "step", "micro", "reset"):
            bar.addAction(self.actions[key])
        self.speed = SpeedBox()
        self.run_until = RunUntil()
        bar.addWidget(self.speed)
        bar.addWidget(self.run_until)
        bar = QToolBar("Edit")
        bar.setObjectName("edit_toolbar")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(bar)
        # Fixed labels here: the menu's "Undo <command>" text would shift the toolbar.
        for key, stack_action in (("undo", self.editor.undo.undo), ("redo", self.editor.undo.redo)):
            button = a(f"tool_{key}", key.capitalize(), stack_action)
            source = self.actions[key]
            button.setEnabled(source.isEnabled())
            source.enabledChanged.connect(button.setEnabled)
            bar.addAction(button)
        for key in ("tidy", "fit", "add_layers", "wrap_residual"):
            bar.addAction(self.actions[key])

    def _wire(self) -> None:
        self.scene.connect_requested.connect(self.editor.connect)
        self.scene.moves_finished.connect(self.editor.move)
        self.scene.block_dropped.connect(self.editor.add_block)
        self.scene.selectionChanged.connect(self._selection_changed)
        self.palette.block_activated.connect(self._add_block_after_selection)
        self.palette.skip_tool_requested.connect(self._explain_skip_tool)
        self.problems.node_chosen.connect(self.select_node)
        self.editor.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.editor.file_changed.connect(self._update_title)
        self.editor.model.changed.connect(self._update_play)
        self.editor.model.changed.connect(self._network_edited)
        self.editor.model.replaced.connect(self.view.fit)
        self.editor.model.replaced.connect(self._rebuild_trainer)
        self.training.frame_ready.connect(self._show_frame)
        self.speed.speed_changed.connect(self.training.set_speed)
        self.run_until.requested.connect(self._run_until)
        self.diagnosis.remedy_chosen.connect(self.editor.apply_remedy)
        self.lessons.open_requested.connect(self.open_lesson)
        self.lessons.fix_requested.connect(self.side_by_side.compare_lesson)
        self.lessons.run_requested.connect(lambda steps: self.training.run_until("steps", steps))
        self.editor.model.replaced.connect(self._frame_lesson_plots)
        self.exports.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.exports.failed.connect(lambda text: self.statusBar().showMessage(text, 10000))

    # --- state --------------------------------------------------------------------------------
    def _restore_state(self) -> None:
        geometry = self.settings.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = self.settings.value(STATE_KEY)
        if isinstance(state, QByteArray):
            self.restoreState(state)
        sizes = self.settings.value("splitter")
        if isinstance(sizes, QByteArray):
            self.splitter.restoreState(sizes)

    def save_state(self) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue(STATE_KEY, self.saveState())
        self.settings.setValue("splitter", self.splitter.saveState())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._shown:
            self._shown = True
            # Fit once the window has its real size (the window manager may resize it).
            QTimer.singleShot(100, self.view.fit)

    _shown = False
    _tinted_at = 0.0
    _diagnosis_seen = False

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.files.maybe_discard():
            event.ignore()
            return
        self.save_state()
        for comparison in list(self.side_by_side.windows):
            comparison.close()  # stops its training thread now, not at exit
        self.training.shutdown()
        event.accept()

    def _update_title(self) -> None:
        name = self.editor.model.network.name or "untitled"
        where = f" — {self.editor.path}" if self.editor.path else ""
        self.setWindowTitle(f"{name}{'*' if self.editor.modified else ''}{where} — vgsim")

    def _update_play(self) -> None:
        problems = self.editor.model.problems()
        play = self.actions["play"]
        for key in ("play", "step", "micro", "reset"):
            self.actions[key].setEnabled(not problems)
        self.run_until.setEnabled(not problems)
        self.stale_banner.setVisible(bool(problems) and self.training.frame is not None
                                     and bool(self.training.frame.nodes[0]))
        if problems:
            reason = (f"Cannot train: {len(problems)} problem{'s' * (len(problems) > 1)} — "
                      f"{problems[0].message}")
            play.setToolTip(reason)
            self.play_reason.setText(f"⚠ {len(problems)} problem"
                                     f"{'s' * (len(problems) > 1)}: see the Problems list")
            self.play_reason.setStyleSheet("color: #b3261e")
        else:
            play.setToolTip("Train continuously (Space)")
            self.play_reason.setText("✓ Ready to train")
            self.play_reason.setStyleSheet("color: #188038")

    # --- training -----------------------------------------------------------------------------
    def play(self) -> None:
        frame = self.training.frame
        if frame is not None and frame.playing:
            self.training.pause()
        else:
            self.training.play()

    def _run_until(self, kind: str, value: float) -> None:
        self.training.run_until(kind, value)

    def reset_training(self) -> None:
        net = self.editor.model.network
        if self.editor.model.problems():
            return
        if self.training.needs_rebuild(net):
            self._rebuild_trainer()
        else:
            self.training.reset()
        self.phase_label.setText("")

    def _rebuild_trainer(self) -> None:
        if not self.editor.model.problems():
            self.training.load(self.editor.model.snapshot())
            self.scene.clear_tints()
            self.phase_label.setText("")

    def _network_edited(self) -> None:
        net = self.editor.model.network
        if self.editor.model.problems() or self.training.network is None:
            return
        self.training.apply_live(net)
        if self.training.needs_rebuild(net):
            self.phase_label.setText("✎ Edits apply on Reset (R)")
            self.phase_label.setStyleSheet("color: #b06000")

    def _show_frame(self, frame: Frame) -> None:
        if frame.building:
            # Say so only if it takes a while: a warm build is over before anyone could read it.
            QTimer.singleShot(PREPARING_AFTER_MS, self._show_preparing)
            return
        if self.preparing.isVisible():
            self.preparing.hide()
            self.statusBar().clearMessage()
        if frame.error:
            self.statusBar().showMessage(frame.error, 10000)
        ids = list(frame.nodes[0])
        micro = frame.phase is not None
        stats = frame.live_stats if micro else (frame.record.node_stats if frame.record else None)
        self.dashboard.show_data(self.training.plot_data(frame), stats=stats,
                                 hist=frame.live_hist if micro else None,
                                 everything=not frame.playing)
        now = time.perf_counter()
        if not frame.playing or now - self._tinted_at >= TINT_SECONDS:
            # Repainting every block is a third of a frame: while playing, 10 times a second.
            self._tinted_at = now
            apply_figures(self.scene, ids, stats)
        self.diagnosis.show_findings(frame.findings, trained=frame.step_count > 0)
        if frame.findings and not self._diagnosis_seen:
            self._diagnosis_seen = True
            self.diagnosis_dock.raise_()
        self.actions["play"].setText("Pause" if frame.playing else "Play")
        record = frame.record
        loss = f"{record.loss:.4g}" if record is not None else "–"
        rate = f" · {frame.steps_per_second:,.0f} steps/s" if frame.playing else ""
        self.progress_label.setText(f"step {frame.step_count} · epoch {frame.epoch} · "
                                    f"loss {loss}{rate}")
        if record is not None and record.divergence is not None:
            self.phase_label.setText(f"✖ {record.divergence.message()} Reset (R) to start again.")
            self.phase_label.setStyleSheet("color: #b3261e")
            self.scene.highlight(record.divergence.node)
        elif micro:
            self._show_micro(frame)
        elif not self.phase_label.text().startswith("✎"):
            self.phase_label.setText("")
            self.scene.highlight(None)

    def _show_micro(self, frame: Frame) -> None:
        phase, node = frame.phase, frame.node
        done = frame.next_phase is None
        # Short: the status bar has room for one line beside the step counter.
        words = {"forward": f"Forward: {node} computed",
                 "loss": "Loss computed: the gradient starts at the output",
                 "backward": f"Backward: gradient through {node}",
                 "update": "Update: weights changed, step complete"}
        text = words.get(str(phase), str(phase))
        if frame.next_phase is not None and not done:
            nxt_phase, nxt_node = frame.next_phase
            text += f" · next: {nxt_phase}" + (f" {nxt_node}" if nxt_node else "")
        self.phase_label.setText(text)
        self.phase_label.setStyleSheet("color: #1a73e8")
        self.scene.highlight(node)
        if node is not None and phase in ("forward", "backward"):
            self.scene.pulse(node, backward=phase == "backward")

    def _show_preparing(self) -> None:
        frame = self.training.frame
        if frame is not None and frame.building:
            self.preparing.show()
            self.statusBar().showMessage("Preparing the training kernels (compiled on the first "
                                         "run only, about 15 s)…")

    # --- lessons and comparisons --------------------------------------------------------------
    def open_lesson(self, lesson: Lesson) -> bool:
        if not self.files.open_preset(lesson.path):
            return False
        self.lessons.select(lesson.order or 0)
        self.lessons_dock.show()
        self.lessons_dock.raise_()
        self._diagnosis_seen = True  # the lesson's text stays in front; Diagnosis is a tab away
        self.statusBar().showMessage(f"Lesson {lesson.order}: {lesson.title}. Look at the framed "
                                     "plots; Run trains the recommended steps.", 10000)
        if lesson.compare:
            self.side_by_side.compare_lesson(lesson)
        return True

    def _frame_lesson_plots(self) -> None:
        lesson = self.editor.model.network.lesson or {}
        look_at = lesson.get("look_at", [])
        self.dashboard.emphasise(look_at if isinstance(look_at, list) else [])

    # --- actions ------------------------------------------------------------------------------

    def new_network(self) -> None:
        if self.files.maybe_discard():
            from ..engine.spec import Network, NodeSpec

            net = Network(name="untitled", nodes=[
                NodeSpec("in", "input", pos=(0.0, 0.0)),
                NodeSpec("out", "output", {"loss": "softmax_cross_entropy"}, pos=(450.0, 0.0))])
            self.editor.load(net, None)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.files.recent():
            self.recent_menu.addAction(path, lambda p=path: self.files.open_path(p))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    def _selection_changed(self) -> None:
        ids = self.scene.selected_node_ids()
        self.inspector.show_node(ids[0] if len(ids) == 1 else None)

    def select_node(self, node_id: str) -> None:
        self.scene.clearSelection()
        item = self.scene.nodes.get(node_id)
        if item is not None:
            item.setSelected(True)
            self.view.centerOn(item)

    def _select_all(self) -> None:
        for item in self.scene.nodes.values():
            item.setSelected(True)

    def delete_selection(self) -> None:
        self.editor.delete(self.scene.selected_node_ids(), self.scene.selected_edges())

    def copy_selection(self) -> None:
        ids = self.scene.selected_node_ids()
        if ids:
            QGuiApplication.clipboard().setText(self.editor.copy_fragment(ids))
            self.statusBar().showMessage(f"Copied {len(ids)} block(s).", 3000)

    def paste(self) -> None:
        created = self.editor.paste_fragment(QGuiApplication.clipboard().text())
        self.scene.clearSelection()
        for node_id in created:
            if node_id in self.scene.nodes:
                self.scene.nodes[node_id].setSelected(True)

    def _anchor(self) -> str | None:
        ids = self.scene.selected_node_ids()
        return ids[-1] if ids else None

    def add_pair(self) -> None:
        self.editor.insert_layers(self._anchor(), 1, 32, "relu", "he_normal")

    def add_layers(self) -> None:
        dialog = AddLayersDialog(self)
        if dialog.exec():
            v = dialog.values()
            self.editor.insert_layers(self._anchor(), v["count"], v["units"], v["function"],
                                      v["init"], v["batchnorm"])
            self.view.fit()

    def wrap_residual(self) -> None:
        ids = self.scene.selected_node_ids()
        self.editor.wrap_residual(ids)

    def _add_block_after_selection(self, name: str) -> None:
        anchor = self._anchor()
        if anchor is None:
            center = self.view.mapToScene(self.view.viewport().rect().center())
            self.editor.add_block(name, center)
            return
        outgoing = self.editor.model.outgoing(anchor)
        x, y = self.editor.model.node(anchor).pos or (0.0, 0.0)
        self.editor.add_block(name, (x + 75.0, y + 80.0),
                              (anchor, outgoing[0]) if outgoing else None)

    def _explain_skip_tool(self) -> None:
        self.statusBar().showMessage(
            "Skip connection: drag from a block's output port (right dot) onto a later block. "
            "Or select a chain of blocks and use Build ▸ Wrap in residual block.", 10000)
