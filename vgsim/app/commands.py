"""Undo commands. Each one only calls the graph model; the scene follows the model's signals."""

from __future__ import annotations

import copy

from PySide6.QtGui import QUndoCommand

from ..engine.graph import GraphModel
from ..engine.spec import Network, NodeSpec


class AddNode(QUndoCommand):
    def __init__(self, model: GraphModel, node: NodeSpec, parent: QUndoCommand | None = None):
        super().__init__(f"Add {node.id}", parent)
        self.model, self.node = model, copy.deepcopy(node)

    def redo(self) -> None:
        self.model.add_node(self.node)

    def undo(self) -> None:
        self.model.remove_node(self.node.id)


class RemoveNode(QUndoCommand):
    def __init__(self, model: GraphModel, node_id: str, parent: QUndoCommand | None = None):
        super().__init__(f"Delete {node_id}", parent)
        self.model, self.node_id = model, node_id
        self._restore: tuple[NodeSpec, int, list[tuple[str, str]]] | None = None
        self._edge_index: list[int] = []

    def redo(self) -> None:
        edges = self.model.network.edges
        self._edge_index = [i for i, e in enumerate(edges) if self.node_id in e]
        self._restore = self.model.remove_node(self.node_id)

    def undo(self) -> None:
        assert self._restore is not None
        node, index, removed = self._restore
        self.model.add_node(node, index)
        for i, (a, b) in sorted(zip(self._edge_index, removed, strict=True)):
            self.model.add_edge(a, b, i, checked=False)


class AddEdge(QUndoCommand):
    def __init__(self, model: GraphModel, a: str, b: str, parent: QUndoCommand | None = None):
        super().__init__(f"Connect {a} → {b}", parent)
        self.model, self.a, self.b = model, a, b

    def redo(self) -> None:
        self.model.add_edge(self.a, self.b)

    def undo(self) -> None:
        self.model.remove_edge(self.a, self.b)


class RemoveEdge(QUndoCommand):
    def __init__(self, model: GraphModel, a: str, b: str, parent: QUndoCommand | None = None):
        super().__init__(f"Disconnect {a} → {b}", parent)
        self.model, self.a, self.b = model, a, b
        self.index = 0

    def redo(self) -> None:
        self.index = self.model.remove_edge(self.a, self.b)

    def undo(self) -> None:
        self.model.add_edge(self.a, self.b, self.index, checked=False)


class MoveNodes(QUndoCommand):
    """One step for a whole drag, however many blocks moved."""

    def __init__(
        self,
        model: GraphModel,
        moves: dict[str, tuple[tuple[float, float], tuple[float, float]]],
        parent: QUndoCommand | None = None,
    ):
        super().__init__("Move" if len(moves) != 1 else f"Move {next(iter(moves))}", parent)
        self.model, self.moves = model, moves

    def redo(self) -> None:
        for node_id, (_, new) in self.moves.items():
            self.model.move_node(node_id, new)

    def undo(self) -> None:
        for node_id, (old, _) in self.moves.items():
            self.model.move_node(node_id, old)


class SetParams(QUndoCommand):
    def __init__(
        self, model: GraphModel, node_id: str, params: dict, parent: QUndoCommand | None = None
    ):
        super().__init__(f"Edit {node_id}", parent)
        self.model, self.node_id = model, node_id
        self.old = copy.deepcopy(model.node(node_id).params)
        self.new = copy.deepcopy(params)

    def redo(self) -> None:
        self.model.set_params(self.node_id, self.new)

    def undo(self) -> None:
        self.model.set_params(self.node_id, self.old)


class SetSection(QUndoCommand):
    """Replace the network's "data", "training" or "name"."""

    def __init__(
        self, model: GraphModel, section: str, value: object, parent: QUndoCommand | None = None
    ):
        super().__init__(f"Edit {section}", parent)
        self.model, self.section = model, section
        self.old = copy.deepcopy(getattr(model.network, section))
        self.new = copy.deepcopy(value)

    def redo(self) -> None:
        self.model.set_section(self.section, self.new)

    def undo(self) -> None:
        self.model.set_section(self.section, self.old)


class ReplaceNetwork(QUndoCommand):
    """Swap the whole network (tidy layout, a remedy that rebuilds the net)."""

    def __init__(
        self, model: GraphModel, network: Network, text: str, parent: QUndoCommand | None = None
    ):
        super().__init__(text, parent)
        self.model = model
        self.old, self.new = model.snapshot(), network.copy()

    def redo(self) -> None:
        self.model.replace(self.new)

    def undo(self) -> None:
        self.model.replace(self.old)
