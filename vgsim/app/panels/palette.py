"""The palette: every building block, dragged onto the canvas by name (our own MIME type)."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QColor, QDrag, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QWidget

from ..blocks import BLOCKS, MIME_TYPE, SKIP_TOOL_TIP
from ..theme import SKIP_COLOUR, TYPE_COLOURS

SKIP_ITEM = "skip"
# Rows a little tighter than Qt's default, so that every entry fits a 1280 × 720 window.
ENTRY_HEIGHT, HEADER_HEIGHT, ICON = 17, 14, 16


def block_icon(glyph: str, colour: str) -> QIcon:
    pix = QPixmap(28, 28)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(QColor(colour))
    p.setPen(Qt.PenStyle.NoPen)
    p.drawRoundedRect(1, 1, 26, 26, 6, 6)
    p.setPen(QColor("white"))
    p.setFont(QFont("DejaVu Sans", 12, QFont.Weight.Bold))
    p.drawText(pix.rect(), Qt.AlignmentFlag.AlignCenter, glyph)
    p.end()
    return QIcon(pix)


class Palette(QListWidget):
    """Drag an item onto the canvas; double-click adds it after the selected block."""

    skip_tool_requested = Signal()
    block_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setIconSize(QSize(ICON, ICON))
        self.setSpacing(0)
        self.setUniformItemSizes(False)
        group = None
        for block in BLOCKS.values():
            if block.group != group:
                group = block.group
                self._header(group)
            colour = TYPE_COLOURS.get(block.node_type, "#888")
            item = QListWidgetItem(block_icon(block.glyph, colour), block.title)
            item.setData(Qt.ItemDataRole.UserRole, block.name)
            item.setToolTip(block.tooltip)
            item.setSizeHint(QSize(1, ENTRY_HEIGHT))
            self.addItem(item)
        self._header("Connections")
        skip = QListWidgetItem(block_icon("↷", SKIP_COLOUR.name()), "Skip connection")
        skip.setData(Qt.ItemDataRole.UserRole, SKIP_ITEM)
        skip.setToolTip(SKIP_TOOL_TIP)
        skip.setSizeHint(QSize(1, ENTRY_HEIGHT))
        self.addItem(skip)
        self.itemDoubleClicked.connect(self._activated)

    def sizeHint(self) -> QSize:
        """Tall enough for every entry: the window gives the palette dock this height."""
        rows = sum(self.sizeHintForRow(r) for r in range(self.count()))
        return QSize(super().sizeHint().width(), rows + 2 * self.frameWidth() + 4)

    def _header(self, text: str) -> None:
        item = QListWidgetItem(text.upper())
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        font = QFont()
        font.setBold(True)
        font.setPointSize(8)
        item.setFont(font)
        item.setForeground(QColor("#5f6368"))
        item.setSizeHint(QSize(1, HEADER_HEIGHT))
        self.addItem(item)

    def _activated(self, item: QListWidgetItem) -> None:
        name = item.data(Qt.ItemDataRole.UserRole)
        if name == SKIP_ITEM:
            self.skip_tool_requested.emit()
        elif name:
            self.block_activated.emit(name)

    def mimeData(self, items: list[QListWidgetItem]) -> QMimeData:
        mime = QMimeData()
        name = items[0].data(Qt.ItemDataRole.UserRole) if items else None
        if name and name != SKIP_ITEM:
            mime.setData(MIME_TYPE, name.encode("utf-8"))
        return mime

    def startDrag(self, actions: Qt.DropAction) -> None:
        item = self.currentItem()
        if item is None or item.data(Qt.ItemDataRole.UserRole) in (None, SKIP_ITEM):
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == SKIP_ITEM:
                self.skip_tool_requested.emit()
            return
        drag = QDrag(self)
        drag.setMimeData(self.mimeData([item]))
        drag.setPixmap(item.icon().pixmap(28, 28))
        drag.exec(Qt.DropAction.CopyAction)
