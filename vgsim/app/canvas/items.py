"""Graphics items: a block with its ports, and an edge (straight along the main path, arched and
coloured when it is a skip connection)."""

from __future__ import annotations

import math
import re

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsObject,
    QGraphicsPathItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from ...engine.schema import node_defaults
from ...engine.spec import NodeSpec
from ..blocks import BLOCKS
from ..theme import SKIP_COLOUR, TYPE_COLOURS

NODE_W, NODE_H = 112.0, 58.0
PORT_R = 6.0
# Level of detail. Below FULL_DETAIL (zoom) a block's two lines of 8-9 pt text would be
# unreadable: it shows one label instead, in letters LABEL_PIXELS tall on screen, its name
# (or, where that does not fit, a short name such as "d10" or "b2d1"); below NO_TEXT, none.
FULL_DETAIL, NO_TEXT = 0.75, 0.18
LABEL_PIXELS, MIN_LABEL_PIXELS = 11.0, 8.0
# Zoomed out the type's colour strip is narrower (it holds no glyph): more room for the label.
STRIP_ZOOMED_OUT = 8.0
LABEL_LEFT = STRIP_ZOOMED_OUT + 5
LABEL_ROOM = NODE_W - LABEL_LEFT - 3
EDGE_COLOUR = QColor("#6b7280")
ERROR_COLOUR = QColor("#d93025")


def describe(node: NodeSpec) -> str:
    """The short second line of a block: its size or function."""
    p = node_defaults(node.type, node.params)
    if node.type == "dense":
        init = p["init"] if isinstance(p["init"], str) else p["init"].get("name", "?")
        return f"{p.get('units', '?')} units · {init}"
    if node.type == "activation":
        fn = str(p.get("function", "?"))
        extra = {"leaky_relu": "slope", "elu": "alpha", "prelu": "alpha"}.get(fn)
        return f"{fn} {p[extra]:g}" if extra and extra in p else fn
    if node.type == "conv2d":
        k, stride = p["kernel"], p["stride"]
        return f"{p.get('filters', '?')} × {k}×{k}" + (f" /{stride}" if stride != 1 else "")
    if node.type in ("maxpool", "avgpool"):
        size, stride = p["size"], p.get("stride", p["size"])
        return f"{size}×{size}" + (f" /{stride}" if stride != size else "")
    if node.type == "dropout":
        return f"rate {p['rate']:g}"
    if node.type in ("global_avgpool", "flatten"):
        return "to a vector"
    if node.type == "batchnorm":
        return f"momentum {p['momentum']:g}"
    if node.type == "output":
        return {
            "softmax_cross_entropy": "softmax CE",
            "mse": "mean sq. error",
            "binary_cross_entropy": "binary CE",
        }.get(str(p["loss"]), str(p["loss"]))
    return "data"


def short_name(name: str) -> str:
    """A name in a few letters: "dense10" → "d10", "act3" → "a3", "b2_dense1" → "b2d1",
    "out" stays."""
    parts = [p for p in re.split(r"[\W_]+", name) if p]
    if len(parts) > 1:
        return "".join(_short_part(p) for p in parts)
    return name if len(name) <= 3 else _short_part(name) if name[-1].isdigit() else name[:3] + "…"


# Stems whose first letter another block's stem shares: "drop1" beside "dense1".
_TWO_LETTERS = ("drop",)


def _short_part(part: str) -> str:
    digits = len(part) - len(part.rstrip("0123456789"))
    if len(part) <= 2 or digits == len(part):
        return part
    head = part[:2] if part.startswith(_TWO_LETTERS) else part[0]
    return head + part[len(part) - digits :] if digits else head


def glyph(node: NodeSpec) -> str:
    if node.type == "activation":
        block = BLOCKS.get(str(node.params.get("function")))
        return block.glyph if block else "?"
    block = BLOCKS.get(node.type)
    return block.glyph if block else "?"


class _Fonts:
    """Fonts made once, on first use (after the application exists): building them in every
    paint cost most of a frame."""

    _made = False

    @classmethod
    def get(cls) -> type[_Fonts]:
        if not cls._made:
            cls.glyph = QFont("DejaVu Sans", 12, QFont.Weight.Bold)
            cls.title = QFont("DejaVu Sans", 9, QFont.Weight.Bold)
            cls.subtitle = QFont("DejaVu Sans", 8)
            cls.plus = QFont("DejaVu Sans", 11, QFont.Weight.Bold)
            cls._made = True
        return cls


class NodeItem(QGraphicsObject):
    """A block. Its position is the model's `pos`; the scene turns drags into undo commands."""

    def __init__(self, node: NodeSpec):
        super().__init__()
        self.node_id = node.id
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self.edges: list[EdgeItem] = []
        self.problems: list[str] = []
        self.tint: QColor | None = None
        self.highlight = False
        self.figures = ""  # live figures for the tooltip, set by the training view
        self._labels: dict[int, tuple[QFont, str]] = {}  # by zoom step: the zoomed-out label
        self.update_from(node)

    def update_from(self, node: NodeSpec) -> None:
        self.node_type = node.type
        self.title = node.label or node.id
        self.subtitle = describe(node)
        self.shape_line = getattr(self, "shape_line", "")  # an image block: its shape (scene)
        self.symbol = glyph(node)
        width = int(NODE_W - 34)
        self._title_text = QFontMetrics(_Fonts.get().title).elidedText(
            self.title, Qt.TextElideMode.ElideRight, width
        )
        self._subtitle_text = QFontMetrics(_Fonts.get().subtitle).elidedText(
            self.shape_line or self.subtitle, Qt.TextElideMode.ElideRight, width
        )
        self._labels.clear()
        self.n_inputs = 0
        if node.pos is not None:
            self.setPos(QPointF(*node.pos))
        self._refresh_tooltip()
        self.update()

    def set_shape(self, shape: str) -> None:
        """Show the output's shape ("8×8×16") on the second line instead of the settings."""
        if shape == self.shape_line:
            return
        self.shape_line = shape
        self._subtitle_text = QFontMetrics(_Fonts.get().subtitle).elidedText(
            self.shape_line or self.subtitle, Qt.TextElideMode.ElideRight, int(NODE_W - 34)
        )
        self._refresh_tooltip()
        self.update()

    def set_problems(self, messages: list[str]) -> None:
        if messages != self.problems:
            self.problems = messages
            self._refresh_tooltip()
            self.update()

    def set_tint(self, colour: QColor | None, figures: str = "") -> None:
        if colour != self.tint:
            self.tint = colour
            self.update()
        if figures != self.figures:
            self.figures = figures
            self._refresh_tooltip()

    def _refresh_tooltip(self) -> None:
        lines = [f"<b>{self.title}</b> ({self.node_type}): {self.subtitle}"]
        if self.shape_line:
            lines[0] += f", gives {self.shape_line}"
        lines += [f"<span style='color:#d93025'>⚠ {m}</span>" for m in self.problems]
        if self.figures:
            lines.append(self.figures)
        self.setToolTip("<br>".join(lines))

    # --- geometry -----------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        m = PORT_R + 3
        return QRectF(-m, -m - 14, NODE_W + 2 * m, NODE_H + 2 * m + 14)

    def body(self) -> QRectF:
        return QRectF(0, 0, NODE_W, NODE_H)

    def in_port(self) -> QPointF:
        return self.mapToScene(QPointF(0, NODE_H / 2))

    def out_port(self) -> QPointF:
        return self.mapToScene(QPointF(NODE_W, NODE_H / 2))

    def hit_out_port(self, scene_pos: QPointF) -> bool:
        d = scene_pos - self.out_port()
        return d.x() ** 2 + d.y() ** 2 <= (PORT_R + 5) ** 2

    def has_input_port(self) -> bool:
        return self.node_type != "input"

    def has_output_port(self) -> bool:
        return self.node_type != "output"

    def zoomed_out_label(self, zoom: float) -> tuple[QFont, str] | None:
        """The one label a block shows when zoomed out: a font LABEL_PIXELS tall on screen
        (as far as the block's height allows; down to MIN_LABEL_PIXELS for a long name) and
        the name, short or elided to fit."""
        if zoom < NO_TEXT:
            return None
        step = int(zoom * 40)  # fonts and elisions are made once per step of 2.5 % zoom
        if step not in self._labels:
            scale = max(step / 40, NO_TEXT)
            font = QFont("DejaVu Sans")
            font.setBold(True)
            font.setPixelSize(max(1, int(min(LABEL_PIXELS / scale, NODE_H * 0.75))))
            metrics, room = QFontMetrics(font), int(LABEL_ROOM)
            name = self.title
            short = short_name(name)
            # "b1_dense1" elided is "b1…", like its neighbours: the short name tells them apart
            # (a name without digits keeps more of its letters elided).
            if metrics.horizontalAdvance(name) > room and not short.endswith("…"):
                name = short
            # Smaller letters, down to MIN_LABEL_PIXELS on screen, then not bold, before any
            # are cut.
            least = math.ceil(MIN_LABEL_PIXELS / scale)
            while metrics.horizontalAdvance(name) > room and font.pixelSize() > least:
                wanted = int(font.pixelSize() * room / metrics.horizontalAdvance(name))
                font.setPixelSize(max(least, min(wanted, font.pixelSize() - 1)))
                metrics = QFontMetrics(font)
            if metrics.horizontalAdvance(name) > room:
                font.setBold(False)
                metrics = QFontMetrics(font)
            text = metrics.elidedText(name, Qt.TextElideMode.ElideRight, room)
            self._labels[step] = (font, text)
        return self._labels[step]

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        zoom = option.levelOfDetailFromTransform(painter.worldTransform())
        base = QColor(TYPE_COLOURS.get(self.node_type, "#888888"))
        fill = QColor(self.tint) if self.tint is not None else QColor("#ffffff")
        if self.highlight:
            painter.setPen(QPen(QColor("#ffb000"), 7))
            painter.drawRoundedRect(self.body(), 9, 9)
        pen = QPen(ERROR_COLOUR if self.problems else base, 3 if self.problems else 2)
        if self.isSelected():
            pen = QPen(QColor("#1a73e8"), 3, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(QBrush(fill))
        painter.drawRoundedRect(self.body(), 9, 9)
        strip = 22 if zoom >= FULL_DETAIL else STRIP_ZOOMED_OUT  # no glyph in it then
        painter.fillRect(QRectF(1.5, 1.5, strip, NODE_H - 3), base)
        fonts = _Fonts.get()
        text_colour = (
            QColor("#111111")
            if self.tint is None or self.tint.lightness() > 110
            else QColor("white")
        )
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        if zoom >= FULL_DETAIL:
            painter.setPen(QColor("white"))
            painter.setFont(fonts.glyph)
            painter.drawText(QRectF(1.5, 0, 22, NODE_H), Qt.AlignmentFlag.AlignCenter, self.symbol)
            painter.setPen(text_colour)
            painter.setFont(fonts.title)
            painter.drawText(QRectF(28, 6, NODE_W - 32, 20), left, self._title_text)
            painter.setFont(fonts.subtitle)
            painter.drawText(QRectF(28, 28, NODE_W - 32, 22), left, self._subtitle_text)
        else:
            label = self.zoomed_out_label(zoom)
            if label is not None:
                painter.setPen(text_colour)
                painter.setFont(label[0])
                painter.drawText(QRectF(LABEL_LEFT, 0, LABEL_ROOM, NODE_H), left, label[1])
        painter.setPen(QPen(base.darker(130), 1.5))
        painter.setBrush(QBrush(QColor("white")))
        if self.has_input_port():
            painter.drawEllipse(QPointF(0, NODE_H / 2), PORT_R, PORT_R)
        if self.has_output_port():
            painter.setBrush(QBrush(base))
            painter.drawEllipse(QPointF(NODE_W, NODE_H / 2), PORT_R, PORT_R)
        if self.n_inputs > 1:
            # Several incoming edges are summed here: mark it.
            painter.setPen(QPen(SKIP_COLOUR, 2))
            painter.setBrush(QBrush(QColor("white")))
            painter.drawEllipse(QPointF(-2, -8), 9, 9)
            painter.setFont(fonts.plus)
            painter.setPen(SKIP_COLOUR)
            painter.drawText(QRectF(-11, -17, 18, 18), Qt.AlignmentFlag.AlignCenter, "+")

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: object) -> object:
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for edge in self.edges:
                edge.refresh()
        return super().itemChange(change, value)


class EdgeItem(QGraphicsPathItem):
    def __init__(self, source: NodeItem, target: NodeItem):
        super().__init__()
        self.source, self.target = source, target
        self.is_skip = False
        self.signal = 0.0  # 0..1, thickens the edge by the signal it carries (training view)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(0)
        source.edges.append(self)
        target.edges.append(self)
        self.refresh()

    @property
    def key(self) -> tuple[str, str]:
        return self.source.node_id, self.target.node_id

    def detach(self) -> None:
        for node in (self.source, self.target):
            if self in node.edges:
                node.edges.remove(self)

    def set_skip(self, is_skip: bool) -> None:
        if is_skip != self.is_skip:
            self.is_skip = is_skip
            self.refresh()

    def refresh(self) -> None:
        a, b = self.source.out_port(), self.target.in_port()
        path = QPainterPath(a)
        dx = max(abs(b.x() - a.x()), 40.0)
        if self.is_skip:
            # Arch over the blocks it skips, higher for longer skips.
            lift = min(40.0 + 0.25 * dx, 220.0)
            top = min(a.y(), b.y()) - NODE_H / 2 - lift
            path.cubicTo(QPointF(a.x() + 0.3 * dx, top), QPointF(b.x() - 0.3 * dx, top), b)
        else:
            path.cubicTo(QPointF(a.x() + dx / 2, a.y()), QPointF(b.x() - dx / 2, b.y()), b)
        self.setPath(path)
        width = 2.0 + 6.0 * self.signal
        colour = SKIP_COLOUR if self.is_skip else EDGE_COLOUR
        style = Qt.PenStyle.DashLine if self.isSelected() else Qt.PenStyle.SolidLine
        self.setPen(QPen(colour, width, style, Qt.PenCapStyle.RoundCap))
        self.setToolTip(
            ("Skip connection " if self.is_skip else "Edge ")
            + f"{self.source.node_id} → {self.target.node_id}"
            + (": added to the target's other input" if self.is_skip else "")
        )

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(14)
        return stroker.createStroke(self.path())

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: object) -> object:
        if change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self.refresh()
        return super().itemChange(change, value)
