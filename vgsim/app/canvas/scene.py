"""The canvas scene mirrors the graph model: it draws what exists, then follows the model's
signals. User gestures become requests (signals) that the editor turns into undo commands."""

from __future__ import annotations

from PySide6.QtCore import QObject, QPointF, QVariantAnimation, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsScene,
    QGraphicsSceneDragDropEvent,
    QGraphicsSceneMouseEvent,
)

from ...engine.graph import GraphModel
from ...engine.shapes import shape_text, shapes_on_canvas
from ...engine.spec import NodeSpec
from ..blocks import MIME_TYPE
from .interactions import Interaction, NewEdgeInteraction
from .items import EdgeItem, NodeItem

# Blocks whose second line is the shape of what they give ("8×8×16").
IMAGE_BLOCKS = ("conv2d", "maxpool", "avgpool", "global_avgpool", "flatten")

PULSE_MS = 350
FORWARD_COLOUR, BACKWARD_COLOUR = QColor("#1e8e3e"), QColor("#d93025")


class CanvasScene(QGraphicsScene):
    connect_requested = Signal(str, str)
    moves_finished = Signal(object)  # {node id: ((old x, old y), (new x, new y))}
    block_dropped = Signal(str, QPointF, object)  # block name, scene pos, edge key or None

    def __init__(self, model: GraphModel, parent: QObject | None = None):
        super().__init__(parent)
        self.setBackgroundBrush(QColor("#f6f7f9"))
        self.model = model
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[tuple[str, str], EdgeItem] = {}
        self.interaction: Interaction | None = None
        self._press_positions: dict[str, tuple[float, float]] = {}
        model.node_added.connect(self._add_node)
        model.node_removed.connect(self._remove_node)
        model.node_changed.connect(self._node_changed)
        model.node_moved.connect(self._node_moved)
        model.edge_added.connect(self._add_edge)
        model.edge_removed.connect(self._remove_edge)
        model.replaced.connect(self.rebuild)
        model.changed.connect(self.refresh_status)
        self.rebuild()

    # --- mirroring ----------------------------------------------------------------------------
    def rebuild(self) -> None:
        if self.interaction is not None:
            self.interaction.cancel()
            self.interaction = None
        self.clear()
        self.nodes.clear()
        self.edges.clear()
        for node in self.model.network.nodes:
            self._add_node(node)
        for a, b in self.model.network.edges:
            self._add_edge(a, b)
        self.refresh_status()

    def _add_node(self, node: NodeSpec) -> None:
        item = NodeItem(node)
        if node.pos is None:
            item.setPos(QPointF(len(self.nodes) * 140.0, 0.0))
        self.nodes[node.id] = item
        self.addItem(item)

    def _remove_node(self, node_id: str) -> None:
        item = self.nodes.pop(node_id, None)
        if item is not None:
            self.removeItem(item)

    def _node_changed(self, node_id: str) -> None:
        if node_id in self.nodes:
            self.nodes[node_id].update_from(self.model.node(node_id))

    def _node_moved(self, node_id: str, pos: tuple[float, float]) -> None:
        if node_id in self.nodes:
            self.nodes[node_id].setPos(QPointF(*pos))

    def _add_edge(self, a: str, b: str) -> None:
        if a in self.nodes and b in self.nodes and (a, b) not in self.edges:
            edge = EdgeItem(self.nodes[a], self.nodes[b])
            self.edges[(a, b)] = edge
            self.addItem(edge)

    def _remove_edge(self, a: str, b: str) -> None:
        edge = self.edges.pop((a, b), None)
        if edge is not None:
            edge.detach()
            self.removeItem(edge)

    def refresh_status(self) -> None:
        """Red outlines from the engine's validation; skip edges and "+" marks from the edges."""
        by_node: dict[str, list[str]] = {}
        for p in self.model.problems():
            by_node.setdefault(p.where, []).append(p.message)
        incoming: dict[str, list[tuple[str, str]]] = {}
        for a, b in self.model.network.edges:
            incoming.setdefault(b, []).append((a, b))
        shapes = shapes_on_canvas(self.model.network)
        for node_id, item in self.nodes.items():
            item.set_problems(by_node.get(node_id, []))
            shape = shapes.get(node_id, ())
            item.set_shape(_shape_line(shape) if _shows_shape(item.node_type, shape) else "")
            edges_in = incoming.get(node_id, [])
            if item.n_inputs != len(edges_in):
                item.n_inputs = len(edges_in)
                item.update()
            for k, key in enumerate(edges_in):
                if key in self.edges:
                    # The first edge in is the main path; any further one is a skip.
                    self.edges[key].set_skip(k > 0)

    # --- the training view ------------------------------------------------------------------------
    def highlight(self, node_id: str | None) -> None:
        for key, item in self.nodes.items():
            on = key == node_id
            if item.highlight != on:
                item.highlight = on
                item.update()

    def pulse(self, node_id: str, backward: bool) -> None:
        """Animate the signal arriving at a block (forward) or leaving it backwards."""
        edges = [
            e
            for key, e in self.edges.items()
            if (key[1] == node_id and not backward) or (key[0] == node_id and backward)
        ]
        for edge in edges:
            _pulse_along(self, edge, backward, BACKWARD_COLOUR if backward else FORWARD_COLOUR)

    def clear_tints(self) -> None:
        for item in self.nodes.values():
            item.set_tint(None)
        for edge in self.edges.values():
            if edge.signal:
                edge.signal = 0.0
                edge.refresh()

    # --- lookups ------------------------------------------------------------------------------
    def node_at(self, pos: QPointF) -> NodeItem | None:
        for item in self.items(pos):
            if isinstance(item, NodeItem):
                return item
        return None

    def edge_at(self, pos: QPointF) -> EdgeItem | None:
        for item in self.items(pos):
            if isinstance(item, EdgeItem):
                return item
        return None

    def selected_node_ids(self) -> list[str]:
        return [i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)]

    def selected_edges(self) -> list[tuple[str, str]]:
        return [i.key for i in self.selectedItems() if isinstance(i, EdgeItem)]

    # --- gestures -----------------------------------------------------------------------------
    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        item = self.node_at(event.scenePos())
        if item is not None and item.has_output_port() and item.hit_out_port(event.scenePos()):
            self.interaction = NewEdgeInteraction(self, item, self._edge_dropped)
            event.accept()
            return
        super().mousePressEvent(event)
        self._press_positions = {
            i.node_id: (i.pos().x(), i.pos().y())
            for i in self.selectedItems()
            if isinstance(i, NodeItem)
        }

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self.interaction is not None:
            self.interaction.move(event)
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self.interaction is not None:
            interaction, self.interaction = self.interaction, None
            interaction.release(event)
            return
        super().mouseReleaseEvent(event)
        moves = {}
        for node_id, old in self._press_positions.items():
            item = self.nodes.get(node_id)
            if item is not None:
                new = (item.pos().x(), item.pos().y())
                if new != old:
                    moves[node_id] = (old, new)
        self._press_positions = {}
        if moves:
            self.moves_finished.emit(moves)

    def _edge_dropped(self, source: NodeItem, pos: QPointF) -> None:
        target = self.node_at(pos)
        if target is not None and target is not source:
            self.connect_requested.emit(source.node_id, target.node_id)

    def dragEnterEvent(self, event: QGraphicsSceneDragDropEvent) -> None:
        event.setAccepted(event.mimeData().hasFormat(MIME_TYPE))

    def dragMoveEvent(self, event: QGraphicsSceneDragDropEvent) -> None:
        event.setAccepted(event.mimeData().hasFormat(MIME_TYPE))

    def dropEvent(self, event: QGraphicsSceneDragDropEvent) -> None:
        if not event.mimeData().hasFormat(MIME_TYPE):
            event.ignore()
            return
        name = bytes(event.mimeData().data(MIME_TYPE).data()).decode("utf-8")
        edge = self.edge_at(event.scenePos())
        self.block_dropped.emit(name, event.scenePos(), edge.key if edge else None)
        event.acceptProposedAction()


def _pulse_along(scene: QGraphicsScene, edge: EdgeItem, backward: bool, colour: QColor) -> None:
    """A dot that travels along an edge: forward for activations, backward for gradients."""
    dot = QGraphicsEllipseItem(-6, -6, 12, 12)
    dot.setBrush(colour)
    dot.setPen(QPen(QColor("white"), 1.5))
    dot.setZValue(10)
    scene.addItem(dot)
    path = edge.path()
    animation = QVariantAnimation(scene)
    animation.setDuration(PULSE_MS)
    animation.setStartValue(0.0)
    animation.setEndValue(1.0)

    def move(t: float) -> None:
        dot.setPos(edge.mapToScene(path.pointAtPercent(1.0 - t if backward else t)))

    def done() -> None:
        if dot.scene() is not None:
            scene.removeItem(dot)

    animation.valueChanged.connect(move)
    animation.finished.connect(done)
    animation.start(QVariantAnimation.DeletionPolicy.DeleteWhenStopped)


def _shows_shape(node_type: str, shape: tuple[int, ...]) -> bool:
    """Image blocks, and an input of images, show the image they give; the others (an
    activation's function, a dense layer's units) keep their settings."""
    return node_type in IMAGE_BLOCKS or (node_type == "input" and len(shape) == 3)


def _shape_line(shape: tuple[int, ...]) -> str:
    return shape_text(shape) if len(shape) != 1 else f"{shape[0]} values"
