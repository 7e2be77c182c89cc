"""One card per run of a comparison: its colour, label and standing beside a thumbnail of
its network, each block tinted by the gradient reaching it (as on the main canvas)."""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter, QResizeEvent
from PySide6.QtWidgets import QFrame, QGraphicsView, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...engine.graph import GraphModel
from ...engine.spec import Network
from ...experiments.comparison_data import RunSeries
from ..canvas.layout import tidy_positions
from ..canvas.scene import CanvasScene
from ..canvas.tint import apply_figures
from .plots import run_colour

CARD_HEIGHT = 96  # pixels per network thumbnail
INFO_WIDTH = 290


class Thumbnail(QGraphicsView):
    """A network's canvas, scaled to fit, for looking only."""

    def __init__(self, network: Network, parent: QWidget | None = None):
        net = network.copy()
        if any(node.pos is None for node in net.nodes):
            positions = tidy_positions(net)
            for node in net.nodes:
                node.pos = positions[node.id]
        super().__init__(parent)
        self.canvas = CanvasScene(GraphModel(net), self)  # the scene goes with the view
        self.setScene(self.canvas)
        self.setInteractive(False)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        rect = self.canvas.itemsBoundingRect().adjusted(-10, -10, 10, 10)
        if not rect.isEmpty():
            self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)


class RunCard(QFrame):
    """One run: its colour, label and standing beside its thumbnail."""

    def __init__(self, index: int, label: str, network: Network, parent: QWidget | None = None):
        super().__init__(parent)
        colour = run_colour(index)
        self.setObjectName("runCard")
        self.setStyleSheet(f"#runCard {{ border-left: 6px solid {colour}; background: white; }}")
        self.setFixedHeight(CARD_HEIGHT)
        # The whole label, wrapped: a branch's says what it changed, at its end.
        self.title = QLabel(f"<b style='color:{colour}'>■</b> <b>{html.escape(label)}</b>")
        self.title.setWordWrap(True)
        self.title.setToolTip(label)
        self.status = QLabel("not trained yet")
        self.status.setWordWrap(True)
        info = QVBoxLayout()
        info.setContentsMargins(4, 4, 4, 2)  # room for a two-line label and three of status
        info.setSpacing(2)
        info.addWidget(self.title)
        info.addWidget(self.status, 1)
        box = QWidget()
        box.setLayout(info)
        box.setFixedWidth(INFO_WIDTH)
        self.thumbnail = Thumbnail(network)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 2, 2, 2)
        row.addWidget(box)
        row.addWidget(self.thumbnail, 1)

    def show_run(self, run: RunSeries) -> None:
        if run.diverged:
            text = (
                f"<span style='color:#d93025'><b>diverged at step {run.diverged_at}</b>"
                "</span>: stopped there"
            )
            self.status.setToolTip(run.divergence or "")
        elif np.isfinite(run.loss):
            text = f"step {run.steps_done} · loss {run.loss:.3g}"
        else:  # before the first step: no loss yet (never "nan")
            text = f"step {run.steps_done} · not trained yet"
        ratio = run.first_ratio
        if run.is_reference:
            text += "<br>the reference for the differences"
        elif np.isfinite(ratio):
            text += f"<br>first layer gets 10<sup>{ratio:+.1f}</sup> × the reference's gradient"
        self.status.setText(text)
        apply_figures(self.thumbnail.canvas, run.node_ids, run.node_stats)
