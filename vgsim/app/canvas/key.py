"""The key to the canvas tint: the gradient colour scale, log10, in the heat map's colours."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QLinearGradient, QPainter, QPen
from PySide6.QtWidgets import QWidget

from ..theme import GRADIENT_LEVELS, GRADIENT_MAP

SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
BAR = QRectF(18, 22, 200, 10)  # where the colours go, in the key's own pixels
MARGIN = 8  # from the canvas's corner


def decade(exponent: int) -> str:
    return "10" + str(exponent).translate(SUPERSCRIPT)


class GradientKey(QWidget):
    """A colour bar in the canvas's lower left corner: what a block's tint says about the
    gradient reaching it (dark: vanished, yellow: exploding). Shown once blocks are tinted."""

    def __init__(self, view: QWidget):
        super().__init__(view)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setFixedSize(int(BAR.right() + 20), 52)
        self.hide()

    def place(self) -> None:
        area = self.parentWidget().viewport().geometry()
        self.move(area.left() + MARGIN, area.bottom() - self.height() - MARGIN)

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(QColor("#dadce0")))
        p.setBrush(QColor(255, 255, 255, 225))
        p.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        p.setFont(QFont("DejaVu Sans", 8))
        p.setPen(QColor("#202124"))
        p.drawText(QPointF(BAR.left(), 15), "gradient reaching a block (log scale)")
        colours = QLinearGradient(BAR.topLeft(), BAR.topRight())
        for k in range(11):
            colours.setColorAt(k / 10, GRADIENT_MAP.map(k / 10, mode="qcolor"))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(colours)
        p.drawRect(BAR)
        p.setPen(QColor("#5f6368"))
        lo, hi = (int(v) for v in GRADIENT_LEVELS)
        for exponent in range(lo, hi + 1, 2):
            x = BAR.left() + (exponent - lo) / (hi - lo) * BAR.width()
            p.drawLine(QPointF(x, BAR.bottom()), QPointF(x, BAR.bottom() + 3))
            label = QRectF(x - 20, BAR.bottom() + 3, 40, 14)
            p.drawText(label, Qt.AlignmentFlag.AlignCenter, decade(exponent))
        p.end()
