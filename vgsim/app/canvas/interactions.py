"""Mouse modes as small objects: the scene hands mouse events to the active one.

An interaction knows the QGraphicsScene it draws on and a callback for what it produces; it does
not know the canvas scene's class, so the scene imports this module and not the other way."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsScene, QGraphicsSceneMouseEvent

from ..theme import SKIP_COLOUR
from .items import NodeItem


class Interaction:
    def __init__(self, scene: QGraphicsScene):
        self.scene = scene

    def move(self, event: QGraphicsSceneMouseEvent) -> None: ...

    def release(self, event: QGraphicsSceneMouseEvent) -> None: ...

    def cancel(self) -> None: ...


class NewEdgeInteraction(Interaction):
    """Drag from a block's output port; on release, `dropped(source, scene position)` decides
    whether that makes an edge."""

    def __init__(
        self,
        scene: QGraphicsScene,
        source: NodeItem,
        dropped: Callable[[NodeItem, QPointF], None],
    ):
        super().__init__(scene)
        self.source = source
        self.dropped = dropped
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
        self.dropped(self.source, event.scenePos())

    def cancel(self) -> None:
        if self.line.scene() is not None:
            self.scene.removeItem(self.line)
