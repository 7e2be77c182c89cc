"""Colours shared by the canvas, the panels and the plots: the gradient colour scale, the block
colours and the class colours.

One home, so that the canvas's tint, its key and the plots' heat map always agree, and neither
`canvas` nor `plots` has to import the other."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

# log10 of a gradient norm: from vanished (dark blue) to exploding (yellow).
GRADIENT_LEVELS = (-8.0, 2.0)
GRADIENT_MAP = pg.colormap.get("viridis")

TYPE_COLOURS = {
    "input": "#5b8def",
    "dense": "#7a869a",
    "activation": "#2fa37c",
    "batchnorm": "#c08a2b",
    "output": "#a05bd6",
    "conv2d": "#4f7fa8",
    "maxpool": "#5f9ea0",
    "avgpool": "#5f9ea0",
    "global_avgpool": "#5f9ea0",
    "flatten": "#8a8fa0",
    "dropout": "#b06a8a",
}
SKIP_COLOUR = QColor("#e07a1f")
# One colour per class, in the decision boundary, the data preview and the comparison's runs.
CLASS_COLOURS = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


def gradient_colour(norm: float) -> QColor | None:
    """The colour of a gradient norm on the shared scale (None: no finite positive norm)."""
    if not np.isfinite(norm) or norm <= 0:
        return None
    lo, hi = GRADIENT_LEVELS
    t = (np.log10(norm) - lo) / (hi - lo)
    return GRADIENT_MAP.map(float(np.clip(t, 0.0, 1.0)), mode="qcolor")
