"""A sweep's map: one figure over its first two axes, the median over seeds (and over any
further axes), diverged cells marked, and, where the axes are the weight variance and the
depth of a plain chain, the mean-field theory's critical line and its depth 6 xi_c.

Cells sit at whole-number positions (column i is the first axis's i-th value, row j the
second's j-th), so that any values, numbers or names, make a grid; the theory's curves are
placed on it by interpolating between the values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ...engine.schema import init_defaults
from ...engine.spec import Network, NodeSpec
from ...engine.theory import critical_sigma_w2, mean_field
from .spec import Sweep, Task

# Figures where a larger value is better; the others (losses, steps) read the other way.
HIGHER_IS_BETTER = ("test_accuracy", "train_accuracy")
THEORY_POINTS = 161


@dataclass(frozen=True)
class Theory:
    """The order-to-chaos prediction over the map: sigma_w2 against 6 xi_c (layers)."""

    activation: str
    sigma_b2: float
    critical: float  # sigma_w2 where chi_1 = 1 (NaN if there is none in range)
    sigma_w2: np.ndarray
    depth_limit: np.ndarray  # 6 xi_c at each sigma_w2 (inf at the critical point)
    x_axis: bool  # True: sigma_w2 runs along x (depth along y)


@dataclass
class MapData:
    title: str
    figure: str
    x_name: str
    y_name: str
    x_values: list
    y_values: list
    values: np.ndarray  # (rows = y, columns = x): the median over seeds; NaN where none
    diverged: np.ndarray  # (rows, columns) bool: most of the cell's runs diverged
    runs: np.ndarray  # (rows, columns) finished runs per cell
    planned: np.ndarray  # (rows, columns) runs per cell in the sweep
    cells: dict[tuple[int, int], list[dict]] = field(default_factory=dict)  # (col, row) -> records
    theory: Theory | None = None

    def positions(self, values: np.ndarray, along_x: bool) -> np.ndarray:
        """Axis values as cell positions: linear between the grid's values, extended by the
        end cells' spacing to the map's edge, NaN beyond it."""
        grid = np.asarray(self.x_values if along_x else self.y_values, dtype=float)
        order = np.argsort(grid)
        grid, index = grid[order], order.astype(float)
        values = np.asarray(values, dtype=float)
        out = np.interp(values, grid, index)
        if len(grid) > 1:
            low = values < grid[0]
            high = values > grid[-1]
            out[low] = index[0] + (values[low] - grid[0]) / (grid[1] - grid[0])
            out[high] = index[-1] + (values[high] - grid[-1]) / (grid[-1] - grid[-2])
        edge = len(grid) - 0.5
        out[(out < -0.5) | (out > edge)] = np.nan
        return out

    def theory_lines(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """In cell positions (x, y): "critical" the line chi_1 = 1, "depth" 6 xi_c."""
        t = self.theory
        if t is None:
            return {}
        out = {}
        w = self.positions(t.sigma_w2, t.x_axis)
        d = self.positions(np.minimum(t.depth_limit, 1e9), not t.x_axis)
        d[np.isfinite(w) & ~np.isfinite(d)] = np.nan  # off the top: a gap in the curve
        out["depth"] = (w, d) if t.x_axis else (d, w)
        if math.isfinite(t.critical):
            c = float(self.positions(np.array([t.critical]), t.x_axis)[0])
            if math.isfinite(c):
                n = len(self.y_values if t.x_axis else self.x_values)
                ends = np.array([-0.5, n - 0.5])
                out["critical"] = (np.full(2, c), ends) if t.x_axis else (ends, np.full(2, c))
        return out


def is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def map_data(
    sweep: Sweep,
    records: dict[str, dict],
    figure: str | None = None,
    tasks: list[Task] | None = None,
    theory: Theory | None | bool = True,
) -> MapData:
    """The map of `figure` (default: the sweep's) from the records found so far. `theory`:
    True computes the mean-field lines (theory_for, about a second); a Theory or None given
    here (computed once for a map redrawn as runs finish) is used as it is."""
    figure = figure or sweep.figure
    tasks = tasks if tasks is not None else sweep.tasks()
    x_axis = sweep.axes[0]
    y_axis = sweep.axes[1] if len(sweep.axes) > 1 else None
    ny = len(y_axis.values) if y_axis else 1
    nx = len(x_axis.values)
    cells: dict[tuple[int, int], list[dict]] = {}
    planned = np.zeros((ny, nx), int)
    for task in tasks:
        col, row = task.index[0], task.index[1] if y_axis else 0
        planned[row, col] += 1
        record = records.get(task.key)
        if record is not None and record.get("status") != "failed":
            cells.setdefault((col, row), []).append(record)
    values = np.full((ny, nx), np.nan)
    diverged = np.zeros((ny, nx), bool)
    runs = np.zeros((ny, nx), int)
    for (col, row), found in cells.items():
        runs[row, col] = len(found)
        numbers = [r.get(figure) for r in found]
        numbers = [float(v) for v in numbers if is_number(v) and math.isfinite(v)]
        if numbers:
            values[row, col] = float(np.median(numbers))
        diverged[row, col] = 2 * sum(r.get("status") == "diverged" for r in found) > len(found)
    return MapData(
        title=sweep.name,
        figure=figure,
        x_name=x_axis.name,
        y_name=y_axis.name if y_axis else "",
        x_values=list(x_axis.values),
        y_values=list(y_axis.values) if y_axis else [""],
        values=values,
        diverged=diverged,
        runs=runs,
        planned=planned,
        cells=cells,
        theory=theory_for(sweep) if theory is True else theory or None,
    )


def theory_for(sweep: Sweep) -> Theory | None:
    """The mean-field lines, when the map's axes are dense.sigma_w2 and blocks of a plain chain
    with one activation function and N(0, sigma_b2) (or zero) biases; None otherwise."""
    if len(sweep.axes) < 2:
        return None
    paths = [sweep.axes[0].path, sweep.axes[1].path]
    if sorted(paths) != ["blocks", "dense.sigma_w2"]:
        return None
    if any(
        a.path in ("skip", "batchnorm", "activation.function", "dense.sigma_b2")
        for a in sweep.axes[2:]
    ):
        return None
    net = sweep.network
    kinds = {n.type for n in net.nodes}
    functions = {n.params.get("function") for n in net.nodes if n.type == "activation"}
    if "batchnorm" in kinds or len(functions) != 1 or _has_skips(net):
        return None
    sigma_b2 = _bias_variance([n for n in net.nodes if n.type == "dense"][:-1])
    if sigma_b2 is None:
        return None
    (function,) = functions
    params = next(n.params for n in net.nodes if n.type == "activation")
    params = {k: v for k, v in params.items() if k != "function"}
    x_axis = paths[0] == "dense.sigma_w2"
    values = [float(v) for v in sweep.axes[0 if x_axis else 1].values if is_number(v)]
    if len(values) < 2:
        return None
    grid = np.linspace(min(values), max(values), THEORY_POINTS)
    critical = critical_sigma_w2(str(function), sigma_b2, params)
    if math.isfinite(critical) and min(values) < critical < max(values):
        grid = np.sort(np.append(grid, critical))
    limits = np.array(
        [mean_field(str(function), w, sigma_b2, params).trainable_depth for w in grid]
    )
    return Theory(str(function), sigma_b2, critical, grid, limits, x_axis)


def _has_skips(net: Network) -> bool:
    targets = [b for _, b in net.edges]
    return len(targets) != len(set(targets))


def _bias_variance(hidden: list[NodeSpec]) -> float | None:
    """sigma_b2 shared by the hidden layers' biases: 0 for zero biases, std^2 for a normal
    initialiser of mean 0; None if they differ or are anything else."""
    found = set()
    for node in hidden:
        if node.params.get("bias", True) is False:
            found.add(0.0)
            continue
        b = node.params.get("bias_init", 0.0)
        if is_number(b):
            if b != 0:
                return None
            found.add(0.0)
            continue
        p = init_defaults(b)
        if p.get("name") != "normal" or p.get("mean", 0.0) != 0:
            return None
        found.add(round((float(p["std"]) * float(p.get("gain", 1.0))) ** 2, 12))
    return found.pop() if len(found) == 1 else None
