"""Tidy layout: the longest input → output path in a line, other blocks above it by depth.

Pure Python on the network description, so it is tested without a window."""

from __future__ import annotations

from ...engine.spec import Network
from ...engine.topology import adjacency, topological_order

SPACING_X, SPACING_Y = 150.0, 110.0


def tidy_positions(net: Network) -> dict[str, tuple[float, float]]:
    order, leftover = topological_order(net)
    preds, _ = adjacency(net)
    level: dict[str, int] = {}
    came_from: dict[str, str | None] = {}
    for node_id in order:
        best = max(preds[node_id], key=lambda p: level.get(p, -1), default=None)
        level[node_id] = level[best] + 1 if best is not None else 0
        came_from[node_id] = best
    outputs = [n.id for n in net.nodes if n.type == "output" and n.id in level]
    end = outputs[0] if outputs else max(level, key=level.get, default=None)
    main: set[str] = set()
    while end is not None:
        main.add(end)
        end = came_from.get(end)
    positions: dict[str, tuple[float, float]] = {}
    # Blocks off the main path share their column with the main block of the same depth.
    rows_used: dict[int, int] = {}
    for node_id in order:
        x = level[node_id] * SPACING_X
        if node_id in main:
            positions[node_id] = (x, 0.0)
        else:
            row = rows_used.get(level[node_id], 0) + 1
            rows_used[level[node_id]] = row
            positions[node_id] = (x, -row * SPACING_Y)
    # Blocks on a cycle (an invalid network) go below, so they are still visible.
    for k, node_id in enumerate(leftover):
        positions[node_id] = (k * SPACING_X, SPACING_Y * 1.5)
    return positions
