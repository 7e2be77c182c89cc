"""Mouse modes as small objects: the scene hands mouse events to the active one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsSceneMouseEvent

from .items import SKIP_COLOUR, NodeItem

if TYPE_CHECKING:
    from .scene import CanvasScene


class Interaction:
    def __init__(self, scene: CanvasScene):
        self.scene = scene

    def move(self, event: QGraphicsSceneMouseEvent) -> None: ...

    def release(self, event: QGraphicsSceneMouseEvent) -> None: ...

    def cancel(self) -> None: ...


class NewEdgeInteraction(Interaction):
    """Drag from a block's output port; release over another block to connect them."""

    def __init__(self, scene: CanvasScene, source: NodeItem):
        super().__init__(scene)
        self.source = source
        self.line = QGraphicsPathItem()
        self.line.setPen(QPen(SKIP_COLOUR, 2, Qt.PenStyle.DashLine))
        self.line.setZValue(5)
        scene.addItem(self.line)

    def move(self, event: QGraphicsSceneMouseEvent) -> None:
        a, b = self.source.out_port(), event.scenePos()
        path = QPainterPath(a)
        dx = max(abs(b.x() - a.x()) / 2, 20.0)
        path.cubicTo(QPointF(a.x() + dx, a.y()), QPointF(b.x() - dx, b.y()), b)
        self.line.setPath(path)

    def release(self, event: QGraphicsSceneMouseEvent) -> None:
        self.cancel()
        target = self.scene.node_at(event.scenePos())
        if target is not None and target is not self.source:
            self.scene.connect_requested.emit(self.source.node_id, target.node_id)

    def cancel(self) -> None:
        if self.line.scene() is not None:
            self.scene.removeItem(self.line)
