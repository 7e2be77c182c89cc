"""Reading a run folder back (metrics.csv, snapshot.npz, summary.json, comparison.json) for
`vgsim export-plots`: any file may be damaged, cut short or not ours, so every shape, type and
size is checked before it is used, and before anything is allocated for it. Every problem is a
VgsimError naming the file and what is wrong with it.
"""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path
from typing import IO

import numpy as np

from ..engine.errors import VgsimError, shown
from ..engine.files import NotReadable, open_regular, read_regular
from ..engine.kernels.stats import STAT_NAMES
from ..engine.telemetry import SCALARS, flat_columns

MAX_METRICS_BYTES = 4 * 2**30  # a million steps of a 100-layer network, about
MAX_JSON_BYTES = 16 * 2**20
MAX_SNAPSHOT_BYTES = 512 * 2**20  # a snapshot holds one step's histograms and a boundary
BOUNDARY_KEYS = {
    "classes": ("extent", "outputs", "classes", "points", "labels"),
    "curve": ("x", "prediction", "points", "targets"),
    "parity": ("targets", "prediction"),
    "none": ("text",),
}


class RunFolderError(VgsimError):
    """A run folder's file is missing, damaged or not one vgsim wrote."""


def read_json(path: Path) -> dict:
    """A JSON object from a small regular file."""
    try:
        data = json.loads(read_regular(path, MAX_JSON_BYTES, "a run's JSON file"))
    except NotReadable as exc:
        raise RunFolderError(str(exc)) from None
    except (OSError, ValueError, RecursionError) as exc:
        raise RunFolderError(f"{path} cannot be read: {str(exc)[:120]}") from None
    if not isinstance(data, dict):
        raise RunFolderError(f"{path} does not hold a JSON object.")
    return data


def read_metrics(path: Path) -> tuple[list[str], np.ndarray]:
    """(node ids, rows) of a metrics.csv whose header is the one `vgsim run` writes."""
    try:
        with open_regular(path, MAX_METRICS_BYTES, "a metrics.csv") as f:
            header = f.readline().strip().split(",")
            ids = [c.split("/", 1)[1] for c in header if c.startswith(STAT_NAMES[0] + "/")]
            if not ids or header != flat_columns(ids):
                raise RunFolderError(
                    f"{path} does not have the columns `vgsim run` writes "
                    f"(it starts {shown(','.join(header[:4]))})."
                )
            with warnings.catch_warnings():  # "no data": said below
                warnings.simplefilter("ignore", UserWarning)
                rows = np.loadtxt(f, delimiter=",", ndmin=2, comments=None)
    except NotReadable as exc:
        raise RunFolderError(str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{path} cannot be read: {exc}") from None
    except ValueError as exc:
        raise RunFolderError(f"{path} has a row that is not numbers: {str(exc)[:120]}") from None
    if rows.size == 0:
        raise RunFolderError(f"{path} has no steps to draw.")
    if rows.shape[1] != len(header):
        raise RunFolderError(
            f"{path} has rows of {rows.shape[1]} numbers under a header of {len(header)} columns."
        )
    steps = rows[:, SCALARS.index("step")]
    if not (np.isfinite(steps).all() and np.all(np.diff(steps) > 0) and steps[0] >= 0):
        raise RunFolderError(f"{path}: its step column is not a rising count from 0.")
    return ids, rows


def read_snapshot(path: Path, ids: list[str]) -> dict[str, np.ndarray]:
    """The arrays of a snapshot.npz, each checked against what `vgsim run` writes for a network
    of these node ids. Sizes are read from each array's header before any array is loaded."""
    try:
        with open_regular(path, MAX_SNAPSHOT_BYTES, "a snapshot.npz", encoding=None) as f:
            _check_npz_sizes(f, path)
            f.seek(0)
            with np.load(f, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
    except NotReadable as exc:
        raise RunFolderError(str(exc)) from None
    except RunFolderError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise RunFolderError(f"{path} is not a snapshot vgsim can read: {str(exc)[:120]}") from None
    n = len(ids)
    for key in ("nodes/ids", "nodes/types", "nodes/functions"):
        a = arrays.get(key)
        if a is None or a.ndim != 1 or a.dtype.kind != "U":
            raise RunFolderError(f"{path}: {key} is missing or is not a list of names.")
    if [str(v) for v in arrays["nodes/ids"]] != ids:
        raise RunFolderError(
            f"{path.parent / 'metrics.csv'} and {path.name} do not belong to the same network."
        )
    if any(len(arrays[key]) != n for key in ("nodes/types", "nodes/functions")):
        raise RunFolderError(f"{path}: the node types or functions are not one per node.")
    hist = arrays.get("histograms")
    if hist is not None and (hist.ndim != 2 or hist.shape[0] != n or hist.dtype.kind != "f"):
        raise RunFolderError(f"{path}: histograms are not one row of numbers per node.")
    ranges = arrays.get("hist_ranges")
    if ranges is not None and (ranges.shape != (n, 2) or ranges.dtype.kind != "f"):
        raise RunFolderError(f"{path}: hist_ranges are not a (low, high) pair per node.")
    theory = arrays.get("theory")
    if theory is not None and (theory.shape != (n,) or theory.dtype.kind != "f"):
        raise RunFolderError(f"{path}: theory is not one number per node.")
    _check_boundary(arrays, path)
    return arrays


def _check_npz_sizes(buffer: IO[bytes], path: Path) -> None:
    """Every member's header claims no more data than the member holds: a damaged header
    claiming gigabytes is refused instead of allocated."""
    with zipfile.ZipFile(buffer) as zf:
        for info in zf.infolist():
            with zf.open(info) as member:
                version = np.lib.format.read_magic(member)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(member)
            if dtype.hasobject:
                raise RunFolderError(f"{path}: {info.filename} holds Python objects.")
            claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if claimed > info.file_size:
                raise RunFolderError(
                    f"{path}: {info.filename} claims {claimed} bytes but holds {info.file_size}."
                )


def _check_boundary(arrays: dict[str, np.ndarray], path: Path) -> None:
    b = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("boundary/")}
    if not b:
        return
    kind = str(b.get("kind", ""))
    missing = [k for k in BOUNDARY_KEYS.get(kind, ("kind",)) if k not in b]
    if kind not in BOUNDARY_KEYS or missing:
        raise RunFolderError(f"{path}: the decision boundary is incomplete (kind {shown(kind)}).")

    def numbers(key: str, ndim: int) -> np.ndarray:
        a = b[key]
        if a.ndim != ndim or a.dtype.kind not in "fiu":
            raise RunFolderError(f"{path}: boundary/{key} is not a {ndim}-D array of numbers.")
        return a

    if kind == "classes":
        classes = b["classes"]
        if classes.shape != () or classes.dtype.kind not in "iu" or not 2 <= int(classes) <= 4096:
            raise RunFolderError(f"{path}: boundary/classes is not a number of classes.")
        outputs, points, labels = numbers("outputs", 2), numbers("points", 2), numbers("labels", 1)
        extent = numbers("extent", 1)
        ok = (
            outputs.shape[1] == int(classes)
            and extent.shape == (4,)
            and np.isfinite(extent).all()
            and points.shape[1] == 2
            and len(labels) == len(points)
            and (len(labels) == 0 or (labels.min() >= 0 and labels.max() < int(classes)))
        )
        side = int(round(np.sqrt(len(outputs))))
        if not ok or side * side != len(outputs):
            raise RunFolderError(f"{path}: the decision boundary's arrays do not fit together.")
    elif kind in ("curve", "parity"):
        pairs = (
            [("x", "prediction"), ("points", "targets")]
            if kind == "curve"
            else [("targets", "prediction")]
        )
        for a, c in pairs:
            if len(numbers(a, 1)) != len(numbers(c, 1)):
                raise RunFolderError(f"{path}: boundary/{a} and boundary/{c} differ in length.")
