"""A run's figures and state on disk, in the same files whether a script or the window wrote
them: metrics.csv (the columns of `vgsim run`), state .npz (the keys of `--dump-state`).

The writing itself lives in `vgsim.engine.files`, the one place that writes files."""

from __future__ import annotations

from ..engine.files import Cancelled, metrics_rows, write_metrics
from ..engine.files import save_npz as write_arrays

__all__ = ["Cancelled", "metrics_rows", "write_arrays", "write_metrics"]
