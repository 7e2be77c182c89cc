"""The run's steps as a slider under the dashboard.

At its right end it follows the run as it trains. Moved back (dragged, clicked, or a step at a
time with , and . — < and > for 50 steps; Step and Micro-step keep N, → and M), it asks for
that step to be shown as it was; Branch from here continues the run from the step shown, and
while the run is a branch, Compare with original… opens it beside the run it left. The bar only
says where the student is: the window fetches and draws the step.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

BIG_STEP = 50  # steps moved by < and > (Shift+, and Shift+. on most keyboards)


class TimelineBar(QWidget):
    moved = Signal(object)  # the step to show (an int), or None: the present, as it trains
    branch_requested = Signal(int)  # the step count to continue from: the shown step's + 1
    compare_requested = Signal()  # the branch and the run it left, side by side
    message = Signal(str)  # for the status bar (from any thread: a queued connection)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._steps = 0
        self._at: int | None = None
        self._quiet = False  # the slider is being set from here, not by the student
        self._pending = False  # the step shown at a glance, its state being recreated
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("timeline_slider")
        self.slider.setToolTip(
            "Every step of the run: drag back to see any step exactly as it was "
            "(, and . step back and forth, < and > by 50)"
        )
        self.slider.valueChanged.connect(self._slid)
        self.label = QLabel()
        self.label.setMinimumWidth(150)
        self.now_button = QPushButton("Now")
        self.now_button.setToolTip("Back to the run as it trains")
        self.now_button.clicked.connect(self.to_now)
        self.branch_button = QPushButton("Branch from here")
        self.branch_button.setToolTip(
            "Continue the run from the step shown (change a setting or the network first, or "
            "after: any change at a past step branches too); the run so far stays as a faded "
            "reference"
        )
        self.branch_button.clicked.connect(self._branch)
        self.compare_button = QPushButton("Compare with original…")
        self.compare_button.setToolTip(
            "Open the run before the branch and the branch side by side, both trained on in "
            "lockstep from the step where they parted (this run stays as it is)"
        )
        self.compare_button.clicked.connect(self.compare_requested)
        self.compare_button.setVisible(False)  # only while the run is a branch
        self.compare_action = QAction("Compare with original…", self)  # the same, in the menu
        self.compare_action.setToolTip(self.compare_button.toolTip())
        self.compare_action.triggered.connect(self.compare_requested)
        self.compare_action.setEnabled(False)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 2, 6, 2)
        row.addWidget(QLabel("Timeline"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        row.addWidget(self.now_button)
        row.addWidget(self.branch_button)
        row.addWidget(self.compare_button)
        self.actions = {
            "back": self._action("Back one step", ",", lambda: self.step_by(-1)),
            "forward": self._action("Forward one step", ".", lambda: self.step_by(1)),
            "back_more": self._action(
                f"Back {BIG_STEP} steps", "<", lambda: self.step_by(-BIG_STEP)
            ),
            "forward_more": self._action(
                f"Forward {BIG_STEP} steps", ">", lambda: self.step_by(BIG_STEP)
            ),
            "now": self._action("Back to now", "End", self.to_now),
        }
        self._refresh()

    def _action(self, text: str, key: str, slot: object) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(key))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        self.addAction(action)  # the window lists them in its Train menu too
        return action

    # --- what the window tells it -------------------------------------------------------------
    @property
    def steps(self) -> int:
        return self._steps

    @property
    def at(self) -> int | None:
        """The past step shown, or None: the present."""
        return self._at

    def set_steps(self, steps: int) -> None:
        """The steps the run has recorded (a new run: 0). At the present, the bar follows."""
        self._steps = max(0, int(steps))
        if self._at is not None and self._at >= self._steps:
            self._at = None  # that step is no longer this run's
        self._refresh()

    def set_pending(self, pending: bool) -> None:
        """The step is shown from its figures; its histograms and boundary are on their way."""
        if pending != self._pending:
            self._pending = pending
            self._refresh()

    def set_branch(self, is_branch: bool) -> None:
        """Whether the run is a branch: then it can be compared with the run it left."""
        self.compare_button.setVisible(is_branch)
        self.compare_action.setEnabled(is_branch)

    def follow(self) -> None:
        """Back to the present without asking for it (the window is there already)."""
        self._at = None
        self._refresh()

    # --- what the student does ----------------------------------------------------------------
    def show_step(self, step: int) -> None:
        """Ask for step `step` (clamped to the run); its last step is the present."""
        if self._steps == 0:
            return
        step = min(max(int(step), 0), self._steps - 1)
        at = None if step == self._steps - 1 else step
        if at == self._at:
            return
        self._at = at
        self._refresh()
        self.moved.emit(at)

    def step_by(self, n: int) -> None:
        here = self._steps - 1 if self._at is None else self._at
        self.show_step(here + n)

    def to_now(self) -> None:
        if self._at is not None:
            self.show_step(self._steps - 1)

    def _slid(self, value: int) -> None:
        if not self._quiet:
            self.show_step(value)

    def _branch(self) -> None:
        if self._at is not None:
            self.branch_requested.emit(self._at + 1)

    def _refresh(self) -> None:
        self._quiet = True
        try:
            self.slider.setRange(0, max(self._steps - 1, 0))
            self.slider.setValue(self._steps - 1 if self._at is None else self._at)
        finally:
            self._quiet = False
        self.slider.setEnabled(self._steps > 1)
        past = self._at is not None
        self.now_button.setEnabled(past)
        self.branch_button.setEnabled(past)
        for action in self.actions.values():
            action.setEnabled(self._steps > 1)
        if self._steps == 0:
            self.label.setText("no steps yet")
        elif past:
            more = " · recreating…" if self._pending else ""
            # Counted as the status bar counts: the steps done by then.
            self.label.setText(f"step {self._at + 1:,} of {self._steps:,}{more}")
        else:
            self.label.setText(f"step {self._steps:,} (now)")
