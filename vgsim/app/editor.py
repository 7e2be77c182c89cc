"""The editor: one open network (graph model + undo stack + file) and every edit as commands."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from PySide6.QtCore import QObject, QPointF, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from ..engine.errors import VgsimError
from ..engine.graph import ConnectionRefused, GraphModel
from ..engine.remedies import apply_remedy
from ..engine.schema import node_defaults
from ..engine.shapes import shape_text, shapes_on_canvas
from ..engine.spec import Network, NodeSpec, read_network, save_network
from . import commands as cmd
from .blocks import BLOCKS
from .canvas.layout import tidy_positions

FRAGMENT_FORMAT = "vgsim.fragment/1"


class Editor(QObject):
    message = Signal(str)  # something the user should read in the status bar
    file_changed = Signal()  # path or modified state

    def __init__(self, network: Network | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.model = GraphModel(network)
        self.undo = QUndoStack(self)
        self.path: Path | None = None
        self.undo.cleanChanged.connect(self._clean_changed)
        self._commands: list[object] = []  # the stack as the last index change left it
        self._index = 0
        self.undo.indexChanged.connect(self._index_moved)

    def _clean_changed(self, _clean: bool) -> None:
        self.file_changed.emit()

    def _index_moved(self, index: int) -> None:
        """Say what an undo or a redo did, so that no message about the undone edit (a remedy
        applied) stays on screen. A new command changes the stack: nothing to say then."""
        commands = [self.undo.command(j) for j in range(self.undo.count())]
        same = len(commands) == len(self._commands) and all(
            a is b for a, b in zip(commands, self._commands, strict=True)
        )
        moved_from, self._commands, self._index = self._index, commands, index
        if not same or index == moved_from:
            return
        if index < moved_from:
            what = self.undo.text(index) or "the last edit"
            self.message.emit(f"Undone: {what} (Redo with Ctrl+Shift+Z).")
        else:
            self.message.emit(f"Redone: {self.undo.text(index - 1) or 'the edit'}.")

    @property
    def modified(self) -> bool:
        return not self.undo.isClean()

    # --- documents ----------------------------------------------------------------------------
    def load(self, network: Network, path: Path | None) -> None:
        self.model.replace(network)
        self.undo.clear()
        self.path = path
        self.file_changed.emit()

    def open(self, path: str | Path) -> None:
        """Raises NetworkFileError for a malformed or foreign file; the open one is untouched."""
        net = read_network(path)
        if any(n.pos is None for n in net.nodes):
            for node_id, pos in tidy_positions(net).items():
                net.node(node_id).pos = pos
        self.load(net, Path(path))

    def save(self, path: str | Path | None = None) -> Path:
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("no file name yet")
        net = self.model.snapshot()
        if path is not None and net.name in ("", "untitled"):
            net.name = target.stem
        save_network(net, target)
        self.path = target
        self.undo.setClean()
        self.file_changed.emit()
        return target

    # --- edits --------------------------------------------------------------------------------
    def _push(self, command: QUndoCommand) -> bool:
        try:
            self.undo.push(command)
            return True
        except ConnectionRefused as exc:
            self.message.emit(str(exc))
            return False

    def add_block(
        self, name: str, pos: QPointF | tuple[float, float], on_edge: tuple[str, str] | None = None
    ) -> str:
        block = BLOCKS[name]
        node_id = self.model.new_id(
            block.name if block.node_type == "activation" else block.node_type
        )
        xy = (pos.x(), pos.y()) if isinstance(pos, QPointF) else pos
        node = NodeSpec(node_id, block.node_type, copy.deepcopy(block.params), pos=xy)
        if on_edge is None:
            self._push(cmd.AddNode(self.model, node))
            return node_id
        a, b = on_edge
        self.undo.beginMacro(f"Insert {node_id} into {a} → {b}")
        self.undo.push(cmd.AddNode(self.model, node))
        self.undo.push(cmd.RemoveEdge(self.model, a, b))
        self.undo.push(cmd.AddEdge(self.model, a, node_id))
        self.undo.push(cmd.AddEdge(self.model, node_id, b))
        self.undo.endMacro()
        return node_id

    def connect(self, a: str, b: str) -> bool:
        try:
            self.model.check_connect(a, b)
        except ConnectionRefused as exc:
            self.message.emit(str(exc))
            return False
        skip = bool(self.model.incoming(b))
        self._push(cmd.AddEdge(self.model, a, b))
        if skip:
            self.message.emit(f"Skip connection {a} → {b}: '{b}' now adds its inputs.")
        return True

    def delete(self, node_ids: list[str], edges: list[tuple[str, str]]) -> None:
        edges = [e for e in edges if e[0] not in node_ids and e[1] not in node_ids]
        if not node_ids and not edges:
            return
        self.undo.beginMacro("Delete")
        for a, b in edges:
            self.undo.push(cmd.RemoveEdge(self.model, a, b))
        for node_id in node_ids:
            self.undo.push(cmd.RemoveNode(self.model, node_id))
        self.undo.endMacro()

    def move(self, moves: dict) -> None:
        self.undo.push(cmd.MoveNodes(self.model, moves))

    def set_params(self, node_id: str, params: dict) -> None:
        if params != self.model.node(node_id).params:
            self.undo.push(cmd.SetParams(self.model, node_id, params))

    def set_section(self, section: str, value: object) -> None:
        if value != getattr(self.model.network, section):
            self.undo.push(cmd.SetSection(self.model, section, value))

    def apply_remedy(self, key: str, title: str) -> None:
        """A remedy from the diagnosis, as one undoable step."""
        fixed = apply_remedy(self.model.snapshot(), key)
        for node_id, pos in tidy_positions(fixed).items():
            fixed.node(node_id).pos = pos
        self.undo.push(cmd.ReplaceNetwork(self.model, fixed, title))
        self.message.emit(
            f"Applied: {title}. Training restarts with the changed network (Undo with Ctrl+Z)."
        )

    def tidy(self) -> None:
        net = self.model.snapshot()
        positions = tidy_positions(net)
        moves = {
            n.id: (n.pos or (0.0, 0.0), positions[n.id])
            for n in net.nodes
            if n.id in positions and n.pos != positions[n.id]
        }
        if moves:
            command = cmd.MoveNodes(self.model, moves)
            command.setText("Tidy layout")
            self.undo.push(command)

    # --- shortcuts for deep networks ----------------------------------------------------------
    def gives_image(self, node_id: str | None) -> bool:
        """Whether the block (with None: where new layers would go) outputs an image."""
        node_id = node_id or self.default_anchor()
        return len(shapes_on_canvas(self.model.network).get(node_id or "", ())) == 3

    def default_anchor(self, kind: str = "dense") -> str | None:
        """Where new layers go when nothing is selected: after the last hidden layer (for
        convolutions, after the last block that gives an image)."""
        if kind == "conv2d":
            shapes = shapes_on_canvas(self.model.network)
            images = [n.id for n in self.model.network.nodes if len(shapes.get(n.id, ())) == 3]
            return images[-1] if images else None
        outs = [n.id for n in self.model.network.nodes if n.type == "output"]
        if not outs:
            return None
        prev = self.model.incoming(outs[0])
        if not prev:
            return None
        head = prev[0]
        if self.model.node(head).type == "dense" and self.model.incoming(head):
            return self.model.incoming(head)[0]
        return head

    def insert_layers(
        self,
        after: str | None,
        count: int,
        units: int,
        function: str,
        init: str,
        batchnorm: bool = False,
        kind: str = "dense",
    ) -> list[str]:
        """Insert `count` × (layer → [batch norm →] activation) after a block, in one undo step.
        `kind`: "dense" (`units` units) or "conv2d" (`units` filters of 3 × 3, "same")."""
        anchor = after or self.default_anchor(kind)
        if anchor is None or not self.model.has_node(anchor):
            self.message.emit("Select the block after which to add layers.")
            return []
        follow = self.model.outgoing(anchor)
        nxt = follow[0] if follow else None
        x0, y0 = self.model.node(anchor).pos or (0.0, 0.0)
        specs: list[NodeSpec] = []
        for _ in range(count):
            size = {"units": units} if kind == "dense" else {"filters": units}
            specs.append(NodeSpec(kind, kind, {**size, "init": init}))
            if batchnorm:
                specs.append(NodeSpec("batchnorm", "batchnorm", {}))
            specs.append(NodeSpec(function, "activation", {"function": function}))
        self.undo.beginMacro(f"Add {count} layer{'s' * (count != 1)}")
        created: list[str] = []
        prev = anchor
        if nxt is not None:
            self.undo.push(cmd.RemoveEdge(self.model, anchor, nxt))
        for k, spec in enumerate(specs, start=1):
            spec.id = self.model.new_id(spec.id)
            spec.pos = (x0 + 150.0 * k, y0 + 30.0)
            self.undo.push(cmd.AddNode(self.model, spec))
            self.undo.push(cmd.AddEdge(self.model, prev, spec.id))
            created.append(spec.id)
            prev = spec.id
        if nxt is not None:
            self.undo.push(cmd.AddEdge(self.model, prev, nxt))
        self.tidy()
        self.undo.endMacro()
        return created

    def wrap_residual(self, node_ids: list[str]) -> bool:
        """Add a skip around a chain of selected blocks: the block feeding the chain is added
        to the input of the block after it (with a projection when the shapes differ: a dense
        layer for vectors, a 1 × 1 convolution for images, strided where the image shrinks)."""
        chosen = set(node_ids)
        entries = [n for n in node_ids if not set(self.model.incoming(n)) & chosen]
        exits = [n for n in node_ids if not set(self.model.outgoing(n)) & chosen]
        if (
            len(entries) != 1
            or len(exits) != 1
            or not self.model.incoming(entries[0])
            or not self.model.outgoing(exits[0])
        ):
            self.message.emit(
                "Select a chain of blocks with one block before and one after it "
                "to wrap into a residual block."
            )
            return False
        source = self.model.incoming(entries[0])[0]
        target = self.model.outgoing(exits[0])[0]
        shapes = shapes_on_canvas(self.model.network)
        s_src, s_exit = shapes.get(source), shapes.get(exits[0])
        self.undo.beginMacro(f"Residual block around {', '.join(node_ids)}")
        projection = _projection(s_src, s_exit) if s_src and s_exit and s_src != s_exit else None
        if projection is not None:
            proj = self.model.new_id("proj")
            x, y = self.model.node(entries[0]).pos or (0.0, 0.0)
            kind, params = projection
            label = f"projection {shape_text(s_src)}→{shape_text(s_exit)}"  # type: ignore[arg-type]
            self.undo.push(
                cmd.AddNode(self.model, NodeSpec(proj, kind, params, label, (x, y - 110.0)))
            )
            self.undo.push(cmd.AddEdge(self.model, source, proj))
            self.undo.push(cmd.AddEdge(self.model, proj, target))
        else:
            self.undo.push(cmd.AddEdge(self.model, source, target))
        self.undo.endMacro()
        return True

    # --- clipboard ----------------------------------------------------------------------------
    def copy_fragment(self, node_ids: list[str]) -> str:
        chosen = set(node_ids)
        nodes = [n.to_dict() for n in self.model.network.nodes if n.id in chosen]
        edges = [
            {"from": a, "to": b} for a, b in self.model.network.edges if a in chosen and b in chosen
        ]
        return json.dumps({"format": FRAGMENT_FORMAT, "nodes": nodes, "edges": edges})

    def paste_fragment(self, text: str, offset: float = 40.0) -> list[str]:
        try:
            frag = json.loads(text)
            if frag.get("format") != FRAGMENT_FORMAT:
                return []
            nodes = [
                Network.from_dict({"format": "vgsim.network/1", "nodes": [d]}).nodes[0]
                for d in frag["nodes"]
            ]
            edges = [(str(e.get("from")), str(e.get("to"))) for e in frag.get("edges", [])]
        except (ValueError, KeyError, TypeError, AttributeError, VgsimError):
            self.message.emit("The clipboard holds no vgsim blocks.")
            return []
        renamed: dict[str, str] = {}
        refused: list[str] = []
        self.undo.beginMacro("Paste")
        try:  # a macro left open would swallow every later edit into it
            for node in nodes:
                old = node.id
                node.id = self.model.new_id(old.rstrip("0123456789") or node.type)
                renamed[old] = node.id
                x, y = node.pos or (0.0, 0.0)
                node.pos = (x + offset, y + offset)
                self.undo.push(cmd.AddNode(self.model, node))
            for a, b in edges:
                a, b = renamed.get(a), renamed.get(b)
                if not (a and b):
                    continue
                try:  # as connect(): an edge that can never work is left out and said why
                    self.model.check_connect(a, b)
                except ConnectionRefused as exc:
                    refused.append(str(exc))
                    continue
                self.undo.push(cmd.AddEdge(self.model, a, b))
        finally:
            self.undo.endMacro()
        if refused:
            self.message.emit(f"Pasted without {len(refused)} connection(s): {refused[0]}")
        return list(renamed.values())

    def node_summary(self, node_id: str) -> dict:
        node = self.model.node(node_id)
        return node_defaults(node.type, node.params)


def _projection(src: tuple[int, ...], exit_: tuple[int, ...]) -> tuple[str, dict] | None:
    """The block that brings `src` to `exit_`'s shape: a dense layer between vectors, a 1 × 1
    convolution between images (with the stride that shrinks one to the other); None if there
    is none (validation then explains the mismatch)."""
    if len(src) == 1 and len(exit_) == 1:
        return "dense", {"units": exit_[0], "init": "xavier_uniform", "bias": False}
    if len(src) != 3 or len(exit_) != 3:
        return None
    for stride in range(1, 9):  # "same" padding: ceil(size / stride)
        if all(-(-src[i] // stride) == exit_[i] for i in (0, 1)):
            params = {"filters": exit_[2], "kernel": 1, "stride": stride}
            return "conv2d", {**params, "init": "xavier_uniform", "bias": False}
    return None
