"""Training controls that are more than a button: speed and run-until."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget

from .fields import Accepts, NumberBox

SPEEDS = (
    ("1 step/s", 1.0),
    ("5 steps/s", 5.0),
    ("20 steps/s", 20.0),
    ("100 steps/s", 100.0),
    ("1000 steps/s", 1000.0),
    ("as fast as possible", None),
)


class SpeedBox(QComboBox):
    speed_changed = Signal(object)  # steps per second, or None

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        for text, value in SPEEDS:
            self.addItem(text, value)
        self.setCurrentIndex(len(SPEEDS) - 1)
        self.setToolTip("Training speed while playing")
        self.currentIndexChanged.connect(lambda i: self.speed_changed.emit(self.itemData(i)))


# What each condition takes: a typed value outside it is refused with a message, not clamped.
UNTIL = {
    "steps": (Accepts(lo=1, hi=10**9, whole=True, step=100), 500),
    "epochs": (Accepts(lo=1, hi=10**9, whole=True), 10),
    "loss": (Accepts(lo=0.0, lo_open=True, log=True), 0.1),
}
UNTIL_WORDS = {"steps": "A number of steps", "epochs": "An epoch", "loss": "A loss"}


class RunUntil(QWidget):
    """Run until N more steps, epoch N, or the loss falls below x."""

    requested = Signal(str, float)
    refused = Signal(str)  # why the typed value cannot be run until

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 0, 6, 0)
        self.kind = QComboBox()
        self.kind.addItem("more steps", "steps")
        self.kind.addItem("epoch", "epochs")
        self.kind.addItem("loss <", "loss")
        self.value = NumberBox(UNTIL["steps"][0])
        self.value.setValue(500)
        # Wide enough for a billion steps or a loss like 1e-05: its range would size it for
        # far longer numbers, and push the edit toolbar into the overflow menu at 1280x720.
        digits = self.value.fontMetrics().horizontalAdvance("0" * 11)
        self.value.setFixedWidth(digits + self.value.sizeHint().height() + 8)
        self.button = QPushButton("Run")
        self.button.setToolTip("Train until the condition is met, then pause")
        row.addWidget(QLabel("Run until"))
        row.addWidget(self.kind)
        row.addWidget(self.value)
        row.addWidget(self.button)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.button.clicked.connect(self._run)

    def _run(self) -> None:
        kind, value = self.kind.currentData(), self.value.value()
        reason = self.value.accepts.refusal(value)
        if reason is not None:
            shown = self.value.textFromValue(value)
            self.refused.emit(f"{UNTIL_WORDS[kind]} of {shown} is refused: it {reason}.")
            return
        self.requested.emit(kind, value)

    def _kind_changed(self) -> None:
        accepts, start = UNTIL[self.kind.currentData()]
        self.value.accepts = accepts
        self.value.setSingleStep(accepts.step)
        self.value.setValue(start)
