"""Paint training figures onto the canvas: blocks tinted by the gradient reaching them (log
scale, the heat map's colours), edges thickened by the signal they carry."""

from __future__ import annotations

import numpy as np

from ...engine.kernels.stats import S_GRAD, S_MEAN, S_PGRAD, S_STD, S_WNORM
from ..theme import gradient_colour
from .scene import CanvasScene


def figures_text(stats: np.ndarray) -> str:
    parts = []
    for label, col in (
        ("gradient reaching it", S_GRAD),
        ("weight gradient", S_PGRAD),
        ("weight norm", S_WNORM),
        ("activation mean", S_MEAN),
        ("activation std", S_STD),
    ):
        value = stats[col]
        if np.isfinite(value):
            parts.append(f"{label}: {value:.3g}")
    return "<br>".join(parts)


def apply_figures(scene: CanvasScene, node_ids: list[str], stats: np.ndarray | None) -> None:
    if stats is None:
        return
    for row, node_id in enumerate(node_ids):
        item = scene.nodes.get(node_id)
        if item is None:
            continue
        item.set_tint(gradient_colour(float(stats[row, S_GRAD])), figures_text(stats[row]))
    spread = {node_id: float(stats[row, S_STD]) for row, node_id in enumerate(node_ids)}
    for (a, _), edge in scene.edges.items():
        std = spread.get(a, np.nan)
        signal = float(np.clip(std, 0.0, 2.0) / 2.0) if np.isfinite(std) else 0.0
        if abs(signal - edge.signal) > 0.02:
            edge.signal = signal
            edge.refresh()
