"""Training controls that are more than a button: speed and run-until."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QWidget

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


class RunUntil(QWidget):
    """Run until N more steps, epoch N, or the loss falls below x."""

    requested = Signal(str, float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 0, 6, 0)
        self.kind = QComboBox()
        self.kind.addItem("more steps", "steps")
        self.kind.addItem("epoch", "epochs")
        self.kind.addItem("loss <", "loss")
        self.value = QDoubleSpinBox()
        self.value.setRange(1, 1e7)
        self.value.setDecimals(0)  # steps and epochs are whole numbers; a loss is not
        self.value.setValue(500)
        self.button = QPushButton("Run")
        self.button.setToolTip("Train until the condition is met, then pause")
        row.addWidget(QLabel("Run until"))
        row.addWidget(self.kind)
        row.addWidget(self.value)
        row.addWidget(self.button)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.button.clicked.connect(
            lambda: self.requested.emit(self.kind.currentData(), self.value.value())
        )

    def _kind_changed(self) -> None:
        kind = self.kind.currentData()
        loss = kind == "loss"
        self.value.setDecimals(4 if loss else 0)
        self.value.setMinimum(0.0001 if loss else 1)
        self.value.setValue({"steps": 500, "epochs": 10, "loss": 0.1}[kind])
