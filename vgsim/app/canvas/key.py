"""The key to the canvas tint: the gradient colour scale, log10, in the heat map's colours.

A strip under the canvas, not over it: over the canvas it would hide the blocks behind it."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QLinearGradient,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..theme import GRADIENT_LEVELS, GRADIENT_MAP

SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
TEXT = "Block colour: gradient reaching it (log scale)"
BAR_WIDTH, BAR_HEIGHT = 180, 8
HEIGHT = 26


def decade(exponent: int) -> str:
    return "10" + str(exponent).translate(SUPERSCRIPT)


class GradientKey(QWidget):
    """What a block's tint says about the gradient reaching it (dark: vanished, yellow:
    exploding), on one line. Shown once blocks are tinted."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFixedHeight(HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.text_font = QFont("DejaVu Sans", 8)
        self.tick_font = QFont("DejaVu Sans", 7)
        self.hide()

    def bar(self) -> QRectF:
        left = 10 + QFontMetrics(self.text_font).horizontalAdvance(TEXT) + 12
        return QRectF(left, 5, BAR_WIDTH, BAR_HEIGHT)

    def paintEvent(self, _event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("#f6f7f9"))
        p.setPen(QPen(QColor("#dadce0")))
        p.drawLine(0, 0, self.width(), 0)
        p.setFont(self.text_font)
        p.setPen(QColor("#202124"))
        p.drawText(
            QRectF(10, 0, self.width(), HEIGHT),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            TEXT,
        )
        bar = self.bar()
        colours = QLinearGradient(bar.topLeft(), bar.topRight())
        for k in range(11):
            colours.setColorAt(k / 10, GRADIENT_MAP.map(k / 10, mode="qcolor"))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(colours)
        p.drawRect(bar)
        p.setPen(QColor("#5f6368"))
        p.setFont(self.tick_font)
        lo, hi = (int(v) for v in GRADIENT_LEVELS)
        for exponent in range(lo, hi + 1, 2):
            x = bar.left() + (exponent - lo) / (hi - lo) * bar.width()
            p.drawLine(QPointF(x, bar.bottom()), QPointF(x, bar.bottom() + 2))
            label = QRectF(x - 16, bar.bottom() + 1, 32, 12)
            p.drawText(label, Qt.AlignmentFlag.AlignCenter, decade(exponent))
        p.end()
