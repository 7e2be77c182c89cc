"""The network description: nodes, edges, data and training settings; JSON in and out.

Reading is lenient about content and strict about form: a file that is not a vgsim network is
refused with NetworkFileError, while a network with mistakes in it still loads so that an editor
can show every problem (see `validate.py`, whose `load_network` reads and validates). Loading
never executes code: it is plain `json`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import NetworkFileError, shown
from .files import NotReadable, read_regular, write_text
from .schema import FORMAT, TOP_LEVEL


def clone(value: object) -> object:
    """A deep copy of JSON-like data (dicts, lists, scalars)."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return (
            [clone(v) for v in value] if isinstance(value, list) else tuple(clone(v) for v in value)
        )
    return value


@dataclass
class NodeSpec:
    id: str
    type: str
    params: dict = field(default_factory=dict)
    label: str | None = None
    pos: tuple[float, float] | None = None

    def to_dict(self) -> dict:
        out: dict = {"id": self.id, "type": self.type}
        out.update(copy.deepcopy(self.params))
        if self.label is not None:
            out["label"] = self.label
        if self.pos is not None:
            out["pos"] = [round(float(self.pos[0]), 2), round(float(self.pos[1]), 2)]
        return out


@dataclass
class Network:
    name: str = "untitled"
    description: str = ""
    data: dict = field(default_factory=lambda: {"name": "spiral"})
    nodes: list[NodeSpec] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)
    training: dict = field(default_factory=dict)
    lesson: dict | None = None
    # Folder of the file it came from: a CSV path in `data` is relative to it. Not saved.
    base_dir: Path | None = None
    # Top-level keys this version does not know; kept so validation can name them.
    unknown_keys: list[str] = field(default_factory=list)

    def node(self, node_id: str) -> NodeSpec:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def copy(self) -> Network:
        # Field by field: copy.deepcopy is generic and took most of an editor action's time.
        return Network(
            name=self.name,
            description=self.description,
            data=clone(self.data),
            nodes=[NodeSpec(n.id, n.type, clone(n.params), n.label, n.pos) for n in self.nodes],
            edges=list(self.edges),
            training=clone(self.training),
            lesson=clone(self.lesson),
            base_dir=self.base_dir,
            unknown_keys=list(self.unknown_keys),
        )

    def to_dict(self) -> dict:
        out: dict = {"format": FORMAT, "name": self.name}
        if self.description:
            out["description"] = self.description
        out["data"] = copy.deepcopy(self.data)
        out["nodes"] = [n.to_dict() for n in self.nodes]
        out["edges"] = [{"from": a, "to": b} for a, b in self.edges]
        out["training"] = copy.deepcopy(self.training)
        if self.lesson is not None:
            out["lesson"] = copy.deepcopy(self.lesson)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, d: object, base_dir: Path | None = None) -> Network:
        if not isinstance(d, dict):
            raise NetworkFileError("A network file must hold a JSON object at its top level.")
        fmt = d.get("format")
        if fmt is None:
            raise NetworkFileError(
                f'This is not a vgsim network: it has no "format" key (expected "{FORMAT}").'
            )
        if fmt != FORMAT:
            raise NetworkFileError(
                f"Unknown network format {shown(fmt)}: this version of vgsim reads {FORMAT!r} only."
            )
        nodes_raw = d.get("nodes", [])
        edges_raw = d.get("edges", [])
        if not isinstance(nodes_raw, list) or not all(isinstance(n, dict) for n in nodes_raw):
            raise NetworkFileError('"nodes" must be a list of objects, one per block.')
        if not isinstance(edges_raw, list) or not all(isinstance(e, dict) for e in edges_raw):
            raise NetworkFileError('"edges" must be a list of {"from": id, "to": id} objects.')
        for key in ("data", "training"):
            if key in d and not isinstance(d[key], dict):
                raise NetworkFileError(f'"{key}" must be an object.')
        nodes = []
        for i, raw in enumerate(nodes_raw):
            params = copy.deepcopy(raw)
            node_id = params.pop("id", None)
            node_type = params.pop("type", None)
            label = params.pop("label", None)
            pos = params.pop("pos", None)
            nodes.append(
                NodeSpec(
                    id=str(node_id) if node_id is not None else f"#{i + 1}",
                    type=str(node_type) if node_type is not None else "",
                    params=params,
                    label=str(label) if label is not None else None,
                    pos=_as_pos(pos),
                )
            )
        edges = [(str(e.get("from", "")), str(e.get("to", ""))) for e in edges_raw]
        lesson = d.get("lesson")
        return cls(
            name=str(d.get("name", "untitled")),
            description=str(d.get("description", "")),
            data=copy.deepcopy(d.get("data", {"name": "spiral"})),
            nodes=nodes,
            edges=edges,
            training=copy.deepcopy(d.get("training", {})),
            lesson=copy.deepcopy(lesson) if isinstance(lesson, dict) else None,
            base_dir=base_dir,
            unknown_keys=[k for k in d if k not in TOP_LEVEL],
        )

    @classmethod
    def from_json(cls, text: str, base_dir: Path | None = None) -> Network:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise NetworkFileError(
                f"Not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}."
            ) from None
        except RecursionError:
            raise NetworkFileError(_TOO_DEEP) from None
        except ValueError:  # an integer of more digits than Python converts (4,300)
            raise NetworkFileError(
                "A number in the file has thousands of digits; no setting needs more than a few."
            ) from None
        if _depth(d) > MAX_DEPTH:
            raise NetworkFileError(_TOO_DEEP)
        return cls.from_dict(d, base_dir)


MAX_NETWORK_BYTES = 32 * 2**20  # the largest shipped lesson is under 100 kB
MAX_DEPTH = 64  # levels of nested objects and lists; a network needs about 5
_TOO_DEEP = (
    f"The file nests objects or lists more than {MAX_DEPTH} levels deep; a network file needs "
    "only a few."
)


def _depth(value: object) -> int:
    """How deeply lists and objects nest in parsed JSON (0 for a plain value), without
    recursion; stops counting past MAX_DEPTH."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        v, level = stack.pop()
        if isinstance(v, dict | list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            stack.extend((x, level + 1) for x in (v.values() if isinstance(v, dict) else v))
    return deepest


def _as_pos(pos: object) -> tuple[float, float] | None:
    if isinstance(pos, list | tuple) and len(pos) == 2:
        try:
            return (float(pos[0]), float(pos[1]))
        except (TypeError, ValueError):
            return None
    return None


def read_network(path: str | Path) -> Network:
    """Read a network file without validating its content (an editor shows the problems)."""
    path = Path(path)
    try:
        text = read_regular(path, MAX_NETWORK_BYTES, "a network file").decode("utf-8")
    except FileNotFoundError:
        raise NetworkFileError(f"No such network file: {path}") from None
    except NotReadable as exc:
        raise NetworkFileError(str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NetworkFileError(f"Cannot read {path}: {exc}") from None
    try:
        return Network.from_json(text, base_dir=path.resolve().parent)
    except NetworkFileError as exc:
        raise NetworkFileError(f"{path.name}: {exc}") from None


def save_network(net: Network, path: str | Path) -> None:
    """Write atomically: a failed write never leaves a half-written file behind."""
    write_text(path, net.to_json())
