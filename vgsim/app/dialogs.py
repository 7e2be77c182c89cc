"""Small dialogs: add N layers, export an image."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from ..engine.schema import ACTIVATIONS, INITIALISERS
from .plots.export import DEFAULT_SCALE, ImageOptions


class AddLayersDialog(QDialog):
    """Depth matters in this lecture: 20 or 56 layers must be one dialog away."""

    def __init__(
        self,
        parent: QWidget | None = None,
        count: int = 1,
        units: int = 32,
        function: str = "relu",
        init: str = "he_normal",
        kind: str = "dense",
    ):
        super().__init__(parent)
        self.setWindowTitle("Add layers")
        form = QFormLayout(self)
        self.kind = QComboBox()
        self.kind.addItem("Dense", "dense")
        self.kind.addItem("Convolution 3 × 3", "conv2d")
        self.kind.setCurrentIndex(self.kind.findData(kind))
        self.kind.setToolTip("Dense layers for vectors; 3 × 3 convolutions for images.")
        self.count = QSpinBox(minimum=1, maximum=200, value=count)
        self.units = QSpinBox(minimum=1, maximum=4096, value=units)
        self.function = QComboBox()
        self.function.addItems(list(ACTIVATIONS))
        self.function.setCurrentText(function)
        self.init = QComboBox()
        self.init.addItems(list(INITIALISERS))
        self.init.setCurrentText(init)
        self.batchnorm = QCheckBox("insert batch norm before each activation")
        form.addRow("Layer", self.kind)
        form.addRow("Layers", self.count)
        form.addRow("Units or filters", self.units)
        form.addRow("Activation", self.function)
        form.addRow("Initialiser", self.init)
        form.addRow("", self.batchnorm)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> dict:
        return {
            "count": self.count.value(),
            "units": self.units.value(),
            "function": self.function.currentText(),
            "init": self.init.currentText(),
            "batchnorm": self.batchnorm.isChecked(),
            "kind": self.kind.currentData(),
        }


class ImageExportDialog(QDialog):
    """Where to, at which scale, on which background. PNG or SVG follows the file's suffix."""

    def __init__(
        self,
        parent: QWidget | None,
        title: str,
        path: Path,
        size_at: Callable[[float], QSize],
        vector: bool = True,
    ):
        super().__init__(parent)
        self.setWindowTitle(title)
        self._size_at = size_at
        self._vector = vector
        form = QFormLayout(self)
        self.path = QLineEdit(str(path))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        self.scale = QDoubleSpinBox(
            minimum=0.5, maximum=8.0, singleStep=0.5, value=DEFAULT_SCALE, suffix=" ×"
        )
        self.background = QComboBox()
        self.background.addItems(["White", "Transparent"])
        self.size_label = QLabel()
        form.addRow("File", row)
        form.addRow("Scale", self.scale)
        form.addRow("Background", self.background)
        form.addRow("Size", self.size_label)
        form.addRow(
            QLabel(
                "PNG for slides and documents; SVG (vector) scales to any size."
                if vector
                else "PNG at the chosen scale."
            )
        )
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.scale.valueChanged.connect(self._show_size)
        self.path.textChanged.connect(self._show_size)
        self._show_size()

    def _browse(self) -> None:
        filters = (
            "PNG image (*.png);;SVG vector image (*.svg)" if self._vector else "PNG image (*.png)"
        )
        chosen, _ = QFileDialog.getSaveFileName(self, self.windowTitle(), self.path.text(), filters)
        if chosen:
            self.path.setText(chosen)

    def _show_size(self) -> None:
        if Path(self.path.text()).suffix.lower() == ".svg":
            self.size_label.setText("vector (scale does not apply)")
            return
        size = self._size_at(self.scale.value())
        self.size_label.setText(f"{size.width()} × {size.height()} pixels")

    def chosen_path(self) -> Path:
        return Path(self.path.text()).expanduser()

    def options(self) -> ImageOptions:
        return ImageOptions(
            scale=self.scale.value(), transparent=self.background.currentText() == "Transparent"
        )
