"""Small dialogs: add N layers."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QSpinBox,
    QWidget,
)

from ..engine.schema import ACTIVATIONS, INITIALISERS


class AddLayersDialog(QDialog):
    """Depth matters in this lecture: 20 or 56 layers must be one dialog away."""

    def __init__(self, parent: QWidget | None = None, count: int = 1, units: int = 32,
                 function: str = "relu", init: str = "he_normal"):
        super().__init__(parent)
        self.setWindowTitle("Add layers")
        form = QFormLayout(self)
        self.count = QSpinBox(minimum=1, maximum=200, value=count)
        self.units = QSpinBox(minimum=1, maximum=4096, value=units)
        self.function = QComboBox()
        self.function.addItems(list(ACTIVATIONS))
        self.function.setCurrentText(function)
        self.init = QComboBox()
        self.init.addItems(list(INITIALISERS))
        self.init.setCurrentText(init)
        self.batchnorm = QCheckBox("insert batch norm before each activation")
        form.addRow("Layers", self.count)
        form.addRow("Units per layer", self.units)
        form.addRow("Activation", self.function)
        form.addRow("Initialiser", self.init)
        form.addRow("", self.batchnorm)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> dict:
        return {"count": self.count.value(), "units": self.units.value(),
                "function": self.function.currentText(), "init": self.init.currentText(),
                "batchnorm": self.batchnorm.isChecked()}
