"""An editable network model that announces every change, without Qt.

Views (the canvas, the inspector) subscribe to its signals and mirror it; edits go through its
methods (the window wraps each in an undo command). Connections that could never be valid
(a cycle, a duplicate, an edge into the input) are refused at once with a typed error; everything
else is allowed and reported by `problems()`, which runs the engine's validation.

The signals are psygnal's, as napari's models use: a view's method is held by a weak reference,
so a view that is gone is neither kept alive by the model nor called by it.
"""

from __future__ import annotations

import copy
import re

from psygnal import Signal

from .errors import Problem, VgsimError
from .spec import Network, NodeSpec
from .topology import adjacency, reachable
from .validate import validate


class ConnectionRefused(VgsimError):
    """An edge that can never be part of a valid network."""


class GraphModel:
    node_added = Signal(NodeSpec)
    node_removed = Signal(str)  # node id
    node_changed = Signal(str)  # node id: parameters or label
    node_moved = Signal(str, tuple)  # node id, (x, y)
    edge_added = Signal(str, str)  # from id, to id
    edge_removed = Signal(str, str)  # from id, to id
    settings_changed = Signal(str)  # "data" | "training" | "name"
    replaced = Signal()  # the whole network was swapped
    changed = Signal()  # after any edit

    def __init__(self, network: Network | None = None):
        self.network = network.copy() if network is not None else Network()
        self._problems: list[Problem] | None = None

    # --- reading ------------------------------------------------------------------------------
    def node(self, node_id: str) -> NodeSpec:
        return self.network.node(node_id)

    def has_node(self, node_id: str) -> bool:
        return any(n.id == node_id for n in self.network.nodes)

    def incoming(self, node_id: str) -> list[str]:
        return [a for a, b in self.network.edges if b == node_id]

    def outgoing(self, node_id: str) -> list[str]:
        return [b for a, b in self.network.edges if a == node_id]

    def problems(self) -> list[Problem]:
        if self._problems is None:
            self._problems = validate(self.network)
        return self._problems

    def snapshot(self) -> Network:
        return self.network.copy()

    def new_id(self, stem: str) -> str:
        stem = re.sub(r"[^a-z0-9_]+", "_", stem.lower()).strip("_") or "node"
        taken = {n.id for n in self.network.nodes}
        k = 1
        while f"{stem}{k}" in taken:
            k += 1
        return f"{stem}{k}"

    # --- editing ------------------------------------------------------------------------------
    def _edited(self) -> None:
        self._problems = None
        self.changed.emit()

    def replace(self, network: Network) -> None:
        self.network = network.copy()
        self._problems = None
        self.replaced.emit()
        self.changed.emit()

    def add_node(self, node: NodeSpec, index: int | None = None) -> NodeSpec:
        if self.has_node(node.id):
            raise ConnectionRefused(f"A block with the id '{node.id}' already exists.")
        node = copy.deepcopy(node)
        nodes = self.network.nodes
        nodes.insert(len(nodes) if index is None else index, node)
        self.node_added.emit(node)
        self._edited()
        return node

    def remove_node(self, node_id: str) -> tuple[NodeSpec, int, list[tuple[str, str]]]:
        """Remove a node and its edges; returns what undo needs to put them back."""
        node = self.node(node_id)
        index = self.network.nodes.index(node)
        edges = [e for e in self.network.edges if node_id in e]
        for a, b in edges:
            self.remove_edge(a, b, notify=False)
        self.network.nodes.remove(node)
        self.node_removed.emit(node_id)
        self._edited()
        return node, index, edges

    def check_connect(self, a: str, b: str) -> None:
        """Raise ConnectionRefused with a student-readable reason if a → b can never work."""
        if not (self.has_node(a) and self.has_node(b)):
            raise ConnectionRefused(f"Cannot connect '{a}' to '{b}': no such block.")
        if a == b:
            raise ConnectionRefused(f"A block cannot feed itself ('{a}').")
        if (a, b) in self.network.edges:
            raise ConnectionRefused(f"'{a}' is already connected to '{b}'.")
        if self.node(b).type == "input":
            raise ConnectionRefused(f"'{b}' is the input: data flows out of it, not into it.")
        if self.node(a).type == "output":
            raise ConnectionRefused(f"'{a}' is the output: nothing may follow it.")
        _, succs = adjacency(self.network)
        if a in reachable([b], succs):
            raise ConnectionRefused(
                f"Connecting '{a}' to '{b}' would make a cycle: '{b}' already leads to '{a}'."
            )

    def add_edge(self, a: str, b: str, index: int | None = None, checked: bool = True) -> None:
        """Add a → b. `checked=False` restores an edge exactly as it was (undo, loading)."""
        if checked:
            self.check_connect(a, b)
        edges = self.network.edges
        edges.insert(len(edges) if index is None else index, (a, b))
        self.edge_added.emit(a, b)
        self._edited()

    def remove_edge(self, a: str, b: str, notify: bool = True) -> int:
        index = self.network.edges.index((a, b))
        del self.network.edges[index]
        self.edge_removed.emit(a, b)
        if notify:
            self._edited()
        return index

    def set_params(self, node_id: str, params: dict) -> None:
        self.node(node_id).params = copy.deepcopy(params)
        self.node_changed.emit(node_id)
        self._edited()

    def set_label(self, node_id: str, label: str | None) -> None:
        self.node(node_id).label = label
        self.node_changed.emit(node_id)
        self._edited()

    def move_node(self, node_id: str, pos: tuple[float, float]) -> None:
        # A move never changes validity or training: views follow node_moved, not changed.
        self.node(node_id).pos = (float(pos[0]), float(pos[1]))
        self.node_moved.emit(node_id, pos)

    def set_section(self, section: str, value: dict | str) -> None:
        """Replace "data", "training" or "name"."""
        setattr(self.network, section, copy.deepcopy(value))
        self.settings_changed.emit(section)
        self._edited()
