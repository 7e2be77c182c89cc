"""Where plot snapshots come from: a live Trainer, or the files of a finished run.

No Qt here: the worker thread and the headless exports build `PlotData` with these.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..engine.compile import Plan
from ..engine.errors import VgsimError
from ..engine.kernels.stats import S_GRAD, STAT_NAMES
from ..engine.telemetry import SCALARS
from ..engine.theory import predicted_gradient_flow
from ..engine.train import Trainer
from .plot_data import RUN_ROWS, TAIL_FIGURES, PlotData
from .run_reading import read_json, read_metrics, read_snapshot

TAIL_STEPS = 600  # recent steps handed to the plots (heat map, weights)
LONG_ROWS = 4096  # at most this many rows of a whole run for the loss and accuracy curves
GRID = 64  # the decision boundary is evaluated on GRID × GRID points
SNAPSHOT_FILE = "snapshot.npz"


def boundary_grid(X: np.ndarray, pad: float = 0.15) -> tuple[np.ndarray, tuple]:
    """Points covering the data (rows of x, y) and the extent (x0, x1, y0, y1)."""
    lo, hi = X.min(axis=0), X.max(axis=0)
    span = np.maximum(hi - lo, 1e-6)
    lo, hi = lo - pad * span, hi + pad * span
    xs, ys = np.linspace(lo[0], hi[0], GRID), np.linspace(lo[1], hi[1], GRID)
    gx, gy = np.meshgrid(xs, ys)
    return np.column_stack([gx.ravel(), gy.ravel()]), (lo[0], hi[0], lo[1], hi[1])


def boundary_of(trainer: Trainer, serial: int = 0) -> dict:
    """What the network predicts over its data, in the form the decision-boundary plot draws."""
    d = trainer.data
    if d.task == "classification" and d.n_features == 2:
        grid, extent = boundary_grid(d.X_train)
        return {
            "kind": "classes",
            "serial": serial,
            "extent": extent,
            "outputs": trainer.predict(grid),
            "classes": d.n_classes,
            "points": d.X_test,
            "labels": d.y_test,
        }
    if d.task == "regression" and d.n_features == 1:
        x = np.linspace(d.X_train.min(), d.X_train.max(), 200)[:, None]
        return {
            "kind": "curve",
            "serial": serial,
            "x": x[:, 0],
            "prediction": trainer.predict(x)[:, 0],
            "points": d.X_test[:, 0],
            "targets": d.y_test[:, 0],
        }
    if d.task == "regression":  # several inputs: each test sample's prediction by its target
        return {
            "kind": "parity",
            "serial": serial,
            "targets": d.y_test[:, 0],
            "prediction": trainer.predict(d.X_test)[:, 0],
        }
    return {
        "kind": "none",
        "serial": serial,
        "text": f"{d.n_features} input features:\nno 2-D picture",
    }


def anchored_theory(trainer: Trainer, relative: np.ndarray | None) -> np.ndarray | None:
    """The mean-field prediction (relative to the block feeding the output) scaled to what that
    block actually received at step 0: the curve the gradient-flow plot compares against."""
    steps, _, stats = trainer.history.long()
    if len(steps) == 0 or steps[0] != 0:
        return None
    return theory_from(trainer.plan, relative, stats[0])


def start_gradients(trainer: Trainer) -> np.ndarray | None:
    """The gradient norm that reached each node at step 0 (the decimated history always keeps
    step 0): the profile the theory line predicts, kept in view as training moves on."""
    steps, _, stats = trainer.history.long()
    if len(steps) == 0 or steps[0] != 0:
        return None
    return stats[0, :, S_GRAD].astype(np.float64)


def theory_from(plan: Plan, relative: np.ndarray | None, first: np.ndarray) -> np.ndarray | None:
    """anchored_theory from step 0's figures (node × STAT_NAMES, as the history keeps them)."""
    if relative is None:
        return None
    anchor = int(plan.preds[plan.out_idx - 1])  # a chain: one input each
    return relative * float(first[anchor, S_GRAD])


def from_trainer(trainer: Trainer, name: str = "", relative: np.ndarray | None = None) -> PlotData:
    """Everything the dashboard draws, for the trainer as it is now. `relative`: the
    mean-field prediction (predicted_gradient_flow) if the caller has it already."""
    if relative is None:
        relative = predicted_gradient_flow(trainer)
    return plot_of(trainer, boundary_of(trainer), anchored_theory(trainer, relative), name)


def plot_of(
    trainer: Trainer,
    boundary: dict | None,
    theory: np.ndarray | None,
    name: str = "",
    initial: tuple[np.ndarray, np.ndarray] | None = None,
) -> PlotData:
    """The one place a trainer's figures become what every view draws, given its decision
    boundary and anchored prediction (the window refreshes the boundary a few times a second
    and predicts once per network; from_trainer computes both now). `initial`: before any
    step, step 0's figures and histograms as previewed (Trainer.preview), so a fresh run is
    drawn at once."""
    history = trainer.history
    record = history.latest
    if record is not None:
        initial = None
    data = PlotData(
        list(trainer.node_ids),
        list(trainer.plan.types),
        list(trainer.plan.functions),
        node_stats=record.node_stats if record else initial[0] if initial else None,
        histograms=record.histograms if record else initial[1] if initial else None,
        hist_ranges=trainer.hist_ranges.copy(),
        boundary=boundary,
        step=trainer.step_count,
        name=name,
        theory=theory,
        start_grad=(
            start_gradients(trainer) if initial is None else initial[0][:, S_GRAD].astype(float)
        ),
    )
    data.tail_steps, data.tail_scalars, data.tail_figures = history.tail(TAIL_STEPS, TAIL_FIGURES)
    long_steps, long_scalars, _ = history.long()
    data.long_steps, data.long_scalars = long_steps.copy(), long_scalars.copy()
    data.run_steps, data.run_figures = history.long_figures(RUN_ROWS, TAIL_FIGURES)
    return data


def snapshot_arrays(data: PlotData) -> dict[str, np.ndarray]:
    """What a run folder keeps beside metrics.csv so its plots can be drawn again: the newest
    step's histograms and the decision boundary (metrics.csv has no room for either)."""
    out: dict[str, np.ndarray] = {
        "step": np.array(data.step),
        "nodes/ids": np.array(data.node_ids),
        "nodes/types": np.array(data.types),
        "nodes/functions": np.array(data.functions),
    }
    if data.histograms is not None:
        out["histograms"] = np.asarray(data.histograms)
    if data.hist_ranges is not None:
        out["hist_ranges"] = np.asarray(data.hist_ranges)
    if data.theory is not None:
        out["theory"] = np.asarray(data.theory)
    for key, value in (data.boundary or {}).items():
        if key != "serial":
            out[f"boundary/{key}"] = np.asarray(value)
    return out


def from_run(run_dir: str | Path) -> PlotData:
    """The newest state of a finished `vgsim run`, read back from its folder; a damaged or
    foreign file is a VgsimError (RunFolderError) saying which and what."""
    run_dir = Path(run_dir)
    metrics, snapshot = run_dir / "metrics.csv", run_dir / SNAPSHOT_FILE
    for needed in (metrics, snapshot):
        if not needed.is_file():
            raise VgsimError(
                f"{run_dir} is not a finished run: {needed.name} is missing "
                "(a folder written by `vgsim run` has it)."
            )
    ids, rows = read_metrics(metrics)
    arrays = read_snapshot(snapshot, ids)
    summary_file = run_dir / "summary.json"
    summary = read_json(summary_file) if summary_file.is_file() else {}
    n_scalar, n_nodes = len(SCALARS), len(ids)
    steps = rows[:, SCALARS.index("step")].astype(np.int64)
    scalars = rows[:, :n_scalar]
    # Columns are figure-major: all nodes of one figure, then the next figure.
    stats = rows[:, n_scalar:].reshape(len(rows), len(STAT_NAMES), n_nodes).transpose(0, 2, 1)
    data = PlotData(
        ids,
        [str(v) for v in arrays["nodes/types"]],
        [str(v) for v in arrays["nodes/functions"]],
        node_stats=stats[-1].copy(),
        histograms=arrays.get("histograms"),
        hist_ranges=arrays.get("hist_ranges"),
        boundary=_boundary(arrays),
        step=int(steps[-1]) + 1,
        theory=arrays.get("theory"),
        start_grad=stats[0, :, S_GRAD].astype(np.float64) if steps[0] == 0 else None,
        name=str(summary.get("network", run_dir.name))[:200],
    )
    data.tail_steps = steps[-TAIL_STEPS:]
    data.tail_scalars = scalars[-TAIL_STEPS:]
    data.tail_figures = stats[-TAIL_STEPS:][:, :, TAIL_FIGURES]
    every = max(1, int(np.ceil(len(rows) / LONG_ROWS)))
    data.long_steps, data.long_scalars = steps[::every], scalars[::every]
    every = max(1, int(np.ceil(len(rows) / RUN_ROWS)))
    data.run_steps, data.run_figures = steps[::every], stats[::every][:, :, TAIL_FIGURES]
    return data


def _boundary(arrays: dict[str, np.ndarray]) -> dict | None:
    b = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("boundary/")}
    if not b:
        return None
    b["kind"] = str(b["kind"])
    if "text" in b:
        b["text"] = str(b["text"])
    if "classes" in b:
        b["classes"] = int(b["classes"])
    if "extent" in b:
        b["extent"] = tuple(float(v) for v in b["extent"])
    b["serial"] = 0
    return b
