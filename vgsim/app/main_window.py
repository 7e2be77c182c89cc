"""The main window: layout and wiring only. Editing lives in Editor, files in FileController; how
a frame is drawn in frame_view.py, the canvas's commands in canvas_actions.py.

One document (the editor's network) and at most one run, always of that network: every change
but a move, a name or a live setting starts a fresh run at step 0 (`sync_run`), and a network
with problems has none. Each frame says which run it shows, so nothing of a run the window has
left is ever drawn.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QShowEvent
from PySide6.QtWidgets import QMainWindow

from ..engine.lessons import Lesson
from ..engine.spec import Network, read_network
from .canvas.scene import CanvasScene
from .canvas.view import CanvasView
from .canvas_actions import CanvasActions
from .editor import Editor
from .exporting import ExportController
from .files import DEFAULT_NETWORK, RESOURCES, FileController
from .frame_view import FrameDrawing
from .menus import build_menus
from .panels.diagnosis import DiagnosisPanel
from .panels.inspector import Inspector
from .panels.lessons import LessonsPanel
from .panels.palette import Palette
from .panels.problems import ProblemsList
from .plots.dashboard import Dashboard
from .side_by_side import SideBySide
from .sweep.launcher import TrainabilityMaps
from .time_travel import TimeTravel
from .training import TrainingController
from .window_layout import build_layout, wire_layout

STATE_KEY = "window_state/3"  # bump when the docks change, so an old layout is not restored


class MainWindow(FrameDrawing, CanvasActions, QMainWindow):
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
        self.timeline = TimeTravel(self)
        self.actions: dict[str, QAction] = {}
        self._build_layout()
        self.side_by_side = SideBySide(self, lambda: self.editor.model.snapshot(), self.settings)
        self.maps = TrainabilityMaps(
            self,
            lambda: self.editor.model.snapshot(),
            self.open_network_from_map,
            self.side_by_side.open_comparison,
        )
        self.exports = ExportController(
            self,
            self.dashboard,
            self.splitter,
            self.training,
            lambda: self.editor.model.snapshot(),
            self.settings,
        )
        self.menus = build_menus(self)
        self.timeline.add_actions(self.menus.train)
        wire_layout(self)
        self._wire()
        self._restore_state()
        if open_default and DEFAULT_NETWORK.exists():
            self.editor.load(read_network(DEFAULT_NETWORK), None)
            self.view.fit()
        self._update_title()
        self._document_replaced()
        self.sync_run()

    # --- layout -------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        build_layout(self)

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
        self.editor.model.changed.connect(self._document_changed)
        self.editor.model.replaced.connect(self._document_replaced)
        # After a whole command (a macro changes the network many times), not at each change.
        self.editor.undo.indexChanged.connect(self.sync_run)
        self.editor.model.replaced.connect(self.view.fit)
        self.training.frame_ready.connect(self._show_frame)
        self.menus.speed.speed_changed.connect(self.training.set_speed)
        self.menus.run_until.requested.connect(self.run_until)
        self.menus.run_until.refused.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.diagnosis.remedy_chosen.connect(self.editor.apply_remedy)
        self.lessons.open_requested.connect(self._lesson_chosen)
        self.lessons.fix_requested.connect(self.try_fix)
        self.lessons.run_requested.connect(lambda steps: self.run_until("steps", steps))
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
    _out_of_sync = False  # the document changed since the run was last matched to it
    _sync_due = False  # a sync_run is scheduled
    _fresh_run = False  # the document was replaced: a fresh run even if it looks the same

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
        self.menus.run_until.setEnabled(not problems)
        # A network that cannot train has no run: no plot is shown as if it were its.
        self.stale_banner.setVisible(bool(problems))
        self.plot_pages.scroll.setVisible(not problems)  # the tabs and the canvas button stay
        frame = self.training.frame
        if problems:
            reason = (
                f"Cannot train: {len(problems)} problem{'s' * (len(problems) > 1)} — "
                f"{problems[0].message}"
            )
            play.setToolTip(reason)
            self.play_reason.setText(
                f"⚠ {len(problems)} problem{'s' * (len(problems) > 1)}: see the Problems list"
            )
            self.play_reason.setStyleSheet("color: #b3261e")
        elif frame is None or frame.building or not frame.nodes[0]:
            play.setToolTip("Train continuously (Space)")
            self.play_reason.setText("")  # "Preparing…" if it takes a while (_show_preparing)
        else:
            play.setToolTip("Train continuously (Space)")
            self.play_reason.setText("✓ Ready to train")
            self.play_reason.setStyleSheet("color: #188038")

    # --- the document and its run ---------------------------------------------------------------
    def _timed_sync(self) -> None:
        self._sync_due = False
        self.sync_run()

    def _document_changed(self) -> None:
        # Matched to the run once the command is over (the undo stack's index moves), and by
        # every training command first; this timer is for a change made any other way.
        self._out_of_sync = True
        if not self._sync_due:
            self._sync_due = True
            QTimer.singleShot(0, self._timed_sync)

    def _document_replaced(self) -> None:
        self._fresh_run = True
        self._out_of_sync = True
        self.sync_run()
        self._frame_lesson_plots()
        self.lessons.select(self._document_lesson())

    def sync_run(self) -> None:
        """Make the run the document's: a fresh run at step 0 after any change a run depends
        on, the live settings applied to the run as it goes, no run while it has problems."""
        if not self._out_of_sync:
            return
        self._out_of_sync = False
        model = self.editor.model
        if model.problems():
            if self.training.network is not None:
                self.training.unload()
                self._clear_run()
        elif not self._fresh_run and self.timeline.branch_if_past(model.snapshot()):
            pass  # a change at a past step: the run continues from there, as a branch
        elif self._fresh_run or self.training.needs_rebuild(model.network):
            self.training.load(model.snapshot())
            self._clear_run()
        else:
            self.training.apply_live(model.network)
        self._fresh_run = False
        self._update_play()

    def _clear_run(self) -> None:
        """A new run started (or none): nothing of the one before stays on screen."""
        self._run_drawn = None
        self.dashboard.start_run(None)
        self.scene.clear_tints()
        self.scene.highlight(None)
        self.view.gradient_key.hide()
        self.diagnosis.show_findings((), trained=False)
        self.timeline.clear()
        self.phase_label.setText("")
        self.progress_label.setText("step 0" if self.training.network is not None else "step –")
        self.actions["play"].setText("Play")

    def _document_lesson(self) -> int | None:
        order = (self.editor.model.network.lesson or {}).get("order")
        return order if isinstance(order, int) else None

    # --- training -----------------------------------------------------------------------------
    # Every training command first makes the run the document's (sync_run).
    def play(self) -> None:
        self.sync_run()
        self.timeline.to_present()
        frame = self.training.frame
        if frame is not None and frame.playing:
            self.training.pause()
        else:
            self.training.play()

    def step(self) -> None:
        self.sync_run()
        self.timeline.to_present()
        self.training.step()

    def micro_step(self) -> None:
        self.sync_run()
        self.timeline.to_present()
        self.training.micro_step()

    def run_until(self, kind: str, value: float) -> None:
        self.sync_run()
        self.timeline.to_present()
        self.training.run_until(kind, value)

    def reset_training(self) -> None:
        self.sync_run()
        if self.training.network is None:
            return  # no run: the network has problems
        self.training.reset()
        self._clear_run()
        self._update_play()  # no longer diverged

    # --- lessons and comparisons --------------------------------------------------------------
    def open_lesson(self, lesson: Lesson, companions: bool = True) -> bool:
        """Load the lesson; `companions`: also open its comparison or map, if it has one."""
        if not self.files.open_preset(lesson.path):
            return False
        self.lessons_dock.show()
        self.lessons_dock.raise_()
        self._diagnosis_seen = True  # the lesson's text stays in front; Diagnosis is a tab away
        self.statusBar().showMessage(
            f"Lesson {lesson.order}: {lesson.title}. Look at the framed "
            "plots; Run trains the recommended steps.",
            10000,
        )
        if lesson.compare and companions:
            self.side_by_side.compare_lesson(lesson)
        if lesson.sweep is not None and companions:  # its map, run at once over the network
            self.maps.open(lesson.sweep, run=True)
        return True

    def open_trainability_map(self) -> None:
        self.maps.open()

    def open_network_from_map(self, net: Network) -> None:
        """A cell of a trainability map, opened as the document (asks to save edits first)."""
        if self.files.maybe_discard():
            self.editor.load(net, None)
            self.activateWindow()

    def _lesson_chosen(self, lesson: Lesson) -> None:
        """Chosen in the Lessons list: loaded, or (changes kept) the list shows the document's."""
        if not self.open_lesson(lesson):
            self.lessons.select(self._document_lesson())

    def try_fix(self, lesson: Lesson) -> None:
        """The lesson as shipped, at step 0, and beside it a comparison with its fixes."""
        if self.open_lesson(lesson, companions=False):
            self.side_by_side.compare_lesson(lesson)

    def _frame_lesson_plots(self) -> None:
        lesson = self.editor.model.network.lesson or {}
        look_at = lesson.get("look_at", [])
        self.dashboard.emphasise(look_at if isinstance(look_at, list) else [])
