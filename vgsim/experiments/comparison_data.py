"""What the comparison view draws from: one snapshot of every run, whoever made it (the live
worker from a `Comparison`, or the files `vgsim compare` wrote). No Qt here: the worker thread
builds these."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..engine.errors import VgsimError
from ..engine.kernels.stats import S_GRAD, STAT_NAMES
from ..engine.telemetry import SCALARS
from .comparisons import (
    Comparison,
    GradientProfile,
    last_finite_row,
    profile_difference,
    reference_index,
)
from .plot_sources import LONG_ROWS, SNAPSHOT_FILE
from .run_reading import RunFolderError, read_json, read_metrics, read_snapshot

_STEP, _TRAIN_LOSS, _BATCH_LOSS = (SCALARS.index(k) for k in ("step", "train_loss", "data_loss"))


@dataclass(eq=False)  # eq=False: comparing numpy arrays is ambiguous
class RunSeries:
    """One run: where it stands, its curves over the whole run (decimated) and its newest
    gradient profile. `index` picks its colour, the same in every plot and its thumbnail."""

    label: str
    index: int
    status: str  # "ok" or "diverged"
    steps_done: int
    diverged_at: int | None
    divergence: str | None  # the message, for the thumbnail's tooltip
    node_ids: list[str]
    types: list[str]
    node_stats: np.ndarray | None  # the newest step, node × STAT_NAMES (thumbnail tints)
    steps: np.ndarray
    train_loss: np.ndarray  # on the whole training set, as last evaluated
    batch_loss: np.ndarray
    first_grad: np.ndarray  # gradient reaching the first block after the input
    profile: GradientProfile
    depth: np.ndarray  # where `difference` is evaluated
    difference: np.ndarray  # log10 of this run's gradient over the reference's (0 for it)
    is_reference: bool = False  # the run the others are compared with (see reference_index)

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"

    @property
    def loss(self) -> float:
        """The newest training-set loss (the mini-batch's if none was evaluated yet)."""
        for series in (self.train_loss, self.batch_loss):
            finite = series[np.isfinite(series)]
            if finite.size:
                return float(finite[-1])
        return float("nan")

    @property
    def first_ratio(self) -> float:
        """log10 of this run's gradient at the first block over the reference's."""
        return float(self.difference[0]) if self.difference.size else float("nan")


@dataclass(eq=False)
class ComparisonData:
    runs: list[RunSeries]
    reference: int = 0  # index of the run the differences are taken against

    @property
    def labels(self) -> list[str]:
        return [run.label for run in self.runs]

    @property
    def step(self) -> int:
        """Steps done by the furthest run: what the figures show."""
        return max((run.steps_done for run in self.runs), default=0)


def _layers(types: list[str]) -> list[int]:
    return [i for i, t in enumerate(types) if t != "input"]  # as Comparison's profiles


def _series(
    label: str,
    index: int,
    status: str,
    steps_done: int,
    diverged: dict | None,
    ids: list[str],
    types: list[str],
    steps: np.ndarray,
    scalars: np.ndarray,
    first_grad: np.ndarray,
    latest: np.ndarray | None,
    profile: GradientProfile,
) -> RunSeries:
    return RunSeries(
        label,
        index,
        status,
        steps_done,
        None if diverged is None else int(diverged["step"]),
        None if diverged is None else str(diverged.get("message", "")),
        ids,
        types,
        latest,
        steps,
        scalars[:, _TRAIN_LOSS].copy(),
        scalars[:, _BATCH_LOSS].copy(),
        first_grad,
        profile,
        profile.depth,
        np.zeros_like(profile.depth),
    )


def _with_differences(runs: list[RunSeries]) -> ComparisonData:
    ref = reference_index([run.diverged for run in runs])
    for index, run in enumerate(runs):
        run.is_reference = index == ref
        if index != ref:
            run.depth, run.difference = profile_difference(run.profile, runs[ref].profile)
    return ComparisonData(runs, ref)


def from_comparison(comparison: Comparison) -> ComparisonData:
    """The runs as they are now. Copies only what the plots draw (cheap enough to do tens of
    times a second on the worker thread)."""
    profiles = comparison.gradient_profiles()
    runs = []
    for index, run in enumerate(comparison.runs):
        t = run.trainer
        types = list(t.plan.types)
        layers = _layers(types)
        steps, scalars, stats = run.history.long()
        first = stats[:, layers[0], S_GRAD] if layers else np.full(len(steps), np.nan)
        latest = run.history.latest
        d = run.divergence
        diverged = None if d is None else {"step": d.step, "message": d.message()}
        runs.append(
            _series(
                run.label,
                index,
                run.status,
                run.step_count,
                diverged,
                list(t.node_ids),
                types,
                steps.copy(),
                scalars.copy(),
                first.astype(float),
                None if latest is None else latest.node_stats.copy(),
                profiles[run.label],
            )
        )
    return _with_differences(runs)


def from_compare_dir(out_dir: str | Path) -> ComparisonData:
    """A finished `vgsim compare`, read back from its folder (comparison.json, and each run's
    metrics.csv and snapshot.npz); a damaged or foreign file is a VgsimError naming it."""
    out_dir = Path(out_dir)
    result = read_json(out_dir / "comparison.json")
    listed = result.get("runs")
    if not isinstance(listed, list) or not all(isinstance(r, dict) for r in listed):
        raise RunFolderError(f"{out_dir / 'comparison.json'} has no list of runs.")
    runs = [_read_run(out_dir, index, run) for index, run in enumerate(listed)]
    if len(runs) < 2:
        raise VgsimError(f"{out_dir / 'comparison.json'} lists fewer than two runs.")
    return _with_differences(runs)


def _read_run(out_dir: Path, index: int, run: dict) -> RunSeries:
    name = out_dir / "comparison.json"
    folder_name, label, status = run.get("folder"), run.get("label"), run.get("status")
    if not (isinstance(folder_name, str) and folder_name and Path(folder_name).name == folder_name):
        raise RunFolderError(f"{name}: run {index + 1} has no folder name.")
    if not isinstance(label, str) or not isinstance(status, str):
        raise RunFolderError(f"{name}: run {index + 1} has no label or status.")
    steps_done, diverged = run.get("steps"), run.get("diverged")
    if not isinstance(steps_done, int) or not (diverged is None or isinstance(diverged, dict)):
        raise RunFolderError(f"{name}: run {index + 1} has no step count.")
    folder = out_dir / folder_name
    metrics = folder / "metrics.csv"
    if not metrics.is_file():
        raise RunFolderError(f"{metrics} is missing (a folder written by `vgsim compare` has it).")
    ids, rows = read_metrics(metrics)
    types = _types(folder, ids)
    n_scalar, n_nodes = len(SCALARS), len(ids)
    steps = rows[:, _STEP].astype(np.int64)
    # Columns are figure-major: all nodes of one figure, then the next figure.
    stats = rows[:, n_scalar:].reshape(len(rows), len(STAT_NAMES), n_nodes).transpose(0, 2, 1)
    layers = _layers(types)
    latest = stats[-1] if len(rows) else None
    # A run that diverged: its last finite profile before the divergence (as a live one's).
    gone = diverged.get("step") if diverged is not None else None
    if isinstance(gone, int):
        row = last_finite_row(steps, stats[:, layers, S_GRAD], gone)
    else:
        row = len(steps) - 1 if len(steps) else None
    profile = GradientProfile(
        label,
        None if row is None else int(steps[row]),
        tuple(ids[i] for i in layers),
        np.linspace(0.0, 1.0, len(layers)),
        stats[row, layers, S_GRAD].astype(float)
        if row is not None
        else np.full(len(layers), np.nan),
    )
    every = max(1, int(np.ceil(len(rows) / LONG_ROWS)))  # as many points as a live run keeps
    first = stats[::every, layers[0], S_GRAD] if layers else np.full(len(rows[::every]), np.nan)
    return _series(
        label,
        index,
        status,
        steps_done,
        diverged,
        ids,
        types,
        steps[::every],
        rows[::every, :n_scalar],
        first.astype(float),
        None if latest is None else latest.copy(),
        profile,
    )


def _types(folder: Path, ids: list[str]) -> list[str]:
    """Node kinds from snapshot.npz; without it, the first node is taken for the input (it is
    first in execution order)."""
    snapshot = folder / SNAPSHOT_FILE
    if snapshot.is_file():
        return [str(v) for v in read_snapshot(snapshot, ids)["nodes/types"]]
    return ["input"] + ["layer"] * (len(ids) - 1)
