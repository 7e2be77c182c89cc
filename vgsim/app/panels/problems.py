"""Every problem of the network, from the engine's validation; click one to select its block."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from ...engine.graph import GraphModel
from ..follow import follow


class ProblemsList(QListWidget):
    node_chosen = Signal(str)

    def __init__(self, model: GraphModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.setWordWrap(True)
        self.setAlternatingRowColors(True)
        self.itemClicked.connect(self._clicked)
        follow(self, [(model.changed, self.refresh)])
        self.refresh()

    def refresh(self) -> None:
        self.clear()
        problems = self.model.problems()
        if not problems:
            item = QListWidgetItem("✓ No problems: the network is ready to train.")
            item.setForeground(QColor("#188038"))
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.addItem(item)
            return
        for p in problems:
            item = QListWidgetItem(f"⚠ {p.message}")
            item.setForeground(QColor("#b3261e"))
            item.setData(Qt.ItemDataRole.UserRole, p.where)
            item.setToolTip(p.message)
            self.addItem(item)

    def _clicked(self, item: QListWidgetItem) -> None:
        where = item.data(Qt.ItemDataRole.UserRole)
        if where and self.model.has_node(where):
            self.node_chosen.emit(where)
