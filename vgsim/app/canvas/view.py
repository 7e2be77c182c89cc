"""The canvas view: wheel zoom, middle-button (or Alt+drag) pan, rubber-band selection, fit.

Fitted, the view follows its size: it refits when resized until the user zooms or pans. It
never fits by shrinking blocks below MIN_FIT_ZOOM: a deeper network scrolls instead."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QMouseEvent, QPainter, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView, QWidget

MIN_ZOOM, MAX_ZOOM = 0.05, 4.0
MIN_FIT_ZOOM = 0.2  # blocks 22 px wide, their short names still readable
FIT_ZOOM = 1.2  # a small network is not blown up past this
MARGIN = 40.0  # scene units around the blocks when fitted


class CanvasView(QGraphicsView):
    def __init__(self, scene: QGraphicsScene, parent: QWidget | None = None):
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setAcceptDrops(True)
        self._pan_from: QPointF | None = None
        self.follows = True  # fitted, and refitted on resize, until the user zooms or pans
        self._refit = QTimer(self, singleShot=True, interval=0)
        self._refit.timeout.connect(self.fit)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.follows:
            self._refit.start()  # once the layout has settled, not at every step of it

    def keep_in_view(self) -> None:
        """After an edit: refit if the view follows the network (the user has not zoomed)."""
        if self.follows:
            self._refit.start()

    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        self.follows = False
        target = min(max(self.zoom() * factor, MIN_ZOOM), MAX_ZOOM)
        factor = target / self.zoom()
        self.scale(factor, factor)

    def wheelEvent(self, event: QWheelEvent) -> None:
        self.zoom_by(1.15 ** (event.angleDelta().y() / 120))

    def blocks_rect(self) -> QRectF:
        return self.scene().itemsBoundingRect()

    def fit(self) -> None:
        """Show every block, as large as fits up to FIT_ZOOM; a network too deep to fit at
        MIN_FIT_ZOOM is shown at that zoom from its input end, and scrolls."""
        self.follows = True
        rect = self.blocks_rect()
        if rect.isEmpty():
            return
        rect = rect.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)
        self.setSceneRect(rect.adjusted(-2000, -2000, 2000, 2000))
        area = self.viewport().rect()
        if area.width() < 2 or area.height() < 2:
            return
        zoom = min(area.width() / rect.width(), area.height() / rect.height(), FIT_ZOOM)
        zoom = max(zoom, MIN_FIT_ZOOM)
        self.resetTransform()
        self.scale(zoom, zoom)
        seen_width = area.width() / zoom
        centre = rect.center()
        if seen_width < rect.width():  # too deep to fit: start at the input
            centre.setX(rect.left() + seen_width / 2)
        self.centerOn(centre)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        pan = event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton
            and event.modifiers() & Qt.KeyboardModifier.AltModifier
        )
        if pan:
            self.follows = False
            self._pan_from = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            h, v = self.horizontalScrollBar(), self.verticalScrollBar()
            h.setValue(h.value() - int(delta.x()))
            v.setValue(v.value() - int(delta.y()))
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self.unsetCursor()
            return
        super().mouseReleaseEvent(event)
