"""A run's figures and state on disk, in the same files whether a script or the window wrote
them: metrics.csv (the columns of `vgsim run`), state .npz (the keys of `--dump-state`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..engine.telemetry import flat_columns
from .runs import atomic_write

CHUNK_ROWS = 512


def metrics_rows(scalars: np.ndarray, stats: np.ndarray) -> np.ndarray:
    """One row per step: the scalars, then each figure for every node (figure-major, as in
    `flat_columns`)."""
    k = len(scalars)
    return np.hstack([scalars, stats.transpose(0, 2, 1).reshape(k, -1)])


class Cancelled(Exception):
    """The user stopped a write; nothing was left behind."""


def write_metrics(
    path: str | Path,
    node_ids: list[str],
    scalars: np.ndarray,
    stats: np.ndarray,
    progress: Callable[[float], bool] | None = None,
) -> Path:
    """`progress(fraction)` is asked between chunks of rows; False stops the write and
    removes the partial file (raises Cancelled)."""
    path = Path(path)
    header = ",".join(flat_columns(node_ids))

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(header + "\n")
            for start in range(0, len(scalars), CHUNK_ROWS):
                if progress is not None and progress(start / max(len(scalars), 1)) is False:
                    raise Cancelled(f"Stopped: {path.name} was not written.")
                end = start + CHUNK_ROWS
                np.savetxt(
                    f, metrics_rows(scalars[start:end], stats[start:end]), fmt="%.9g", delimiter=","
                )

    atomic_write(path, write)
    return path


def write_arrays(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """An .npz of named arrays (a state dump, a plot snapshot), written atomically."""
    path = Path(path)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write(path, write)
    return path
