"""The student's CSV as a data set: read only from a regular file within a size limit,
parsed once while the file stays the same, every bad cell named."""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from vgsim.engine.errors import DataError, shown
from vgsim.engine.files import NotReadable, open_regular


def is_whole(v: Any) -> bool:
    """A whole number of the file format (not a bool)."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _number(text: str, where: str, what: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not math.isfinite(v):
        raise DataError(f"{where}: {shown(text)} is not a number; {what} must be numeric.")
    return v


MAX_CSV_BYTES = 1024 * 2**20  # 1 GiB: MAX_SAMPLES rows of about 600 numbers each
_CSV_CACHE: dict[tuple, tuple] = {}  # the last few parsed CSVs (validation, then training)
_CSV_CACHE_SIZE = 2


def read_csv(p: dict, base_dir: Path | None) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    """Parse the student's CSV into (X, y, feature names, n_classes); n_classes 0 for regression.
    A file is parsed once while it stays the same (same path, size and modification time):
    validating a network and then training it read it once. Read-only arrays: copy to change."""
    path = Path(p["path"]).expanduser()
    if not path.is_absolute():
        path = (base_dir if base_dir is not None else Path.cwd()) / path
    path = path.resolve()
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DataError(
            f"CSV file not found: {path} (data.path is relative to the network file's folder)."
        ) from None
    except OSError as e:
        raise DataError(f"Could not read CSV file {path}: {e}") from e
    key = (str(path), info.st_size, info.st_mtime_ns, p["header"], p["target"], p["task"])
    if key not in _CSV_CACHE:
        parsed = _parse_csv(path, p)
        for a in parsed[:2]:
            a.setflags(write=False)
        while len(_CSV_CACHE) >= _CSV_CACHE_SIZE:
            _CSV_CACHE.pop(next(iter(_CSV_CACHE)))
        _CSV_CACHE[key] = parsed
    X, y, names, n_classes = _CSV_CACHE[key]
    return X, y, list(names), n_classes


def _parse_csv(path: Path, p: dict) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    try:
        with open_regular(path, MAX_CSV_BYTES, "a CSV data file") as f:
            fast = _parse_numeric(f, p, path)
            if fast is not None:
                return fast
            f.seek(0)
            return _parse_rows(f, p, path)
    except NotReadable as e:
        raise DataError(str(e)) from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"Could not read CSV file {path}: {e}") from e


def _parse_numeric(f: TextIO, p: dict, path: Path) -> tuple | None:
    """The common case in C (numpy's loadtxt): a header (or none), then numbers only, or
    numbers and a column of class names. None if the file is anything else: the row-by-row
    parser then finds the problem and names its line."""
    first = next((r for r in csv.reader(iter(f.readline, "")) if r), None)
    if first is None:
        return None
    names = [c.strip() for c in first] if p["header"] else [f"col{j}" for j in range(len(first))]
    width = len(names)
    ti = _target_index(p["target"], names, path)
    if width < 2 or ti is None:
        return None
    cols = [j for j in range(width) if j != ti]
    options = {"delimiter": ",", "comments": None, "quotechar": '"', "ndmin": 2}
    f.seek(0)
    skip = 1 if p["header"] else 0
    with warnings.catch_warnings():  # "no data": handled below, by the row-by-row parser
        warnings.simplefilter("ignore", UserWarning)
        try:
            table = np.loadtxt(f, dtype=np.float64, skiprows=skip, **options)
            if table.shape[1] != width or len(table) == 0:
                return None
            # A view where the target is the first or last column (no copy of a large file).
            X = table[:, :ti] if ti == width - 1 else table[:, 1:] if ti == 0 else table[:, cols]
            target = table[:, ti]
        except ValueError:  # a cell that is not a number (class names?) or a ragged row
            try:
                f.seek(0)
                X = np.loadtxt(f, dtype=np.float64, skiprows=skip, usecols=cols, **options)
                f.seek(0)
                target = np.loadtxt(f, dtype=str, skiprows=skip, usecols=[ti], **options)[:, 0]
            except ValueError:
                return None
            if X.shape[0] != target.shape[0] or np.char.str_len(target).min(initial=1) == 0:
                return None  # an empty class: named by the row-by-row parser
            target = np.char.strip(target)
    if X.shape[1] != width - 1 or len(X) == 0 or not np.isfinite(X).all():
        return None
    if target.dtype.kind == "f" and not np.isfinite(target).all():
        return None
    feature_names = [names[j] for j in cols]
    if p["task"] == "regression":
        if target.dtype.kind != "f":
            return None
        return X, target.reshape(-1, 1).copy(), feature_names, 0
    if target.dtype.kind == "f":
        if np.any(target != np.round(target)):
            return None
        classes, y = np.unique(target.astype(np.int64), return_inverse=True)
    else:
        numeric = _as_numbers(target)
        if numeric is not None:  # quoted numbers, or numbers with spaces: checked row by row
            return None
        classes, y = np.unique(target, return_inverse=True)
    if len(classes) < 2:
        return None
    return X, y.astype(np.int64).ravel(), feature_names, len(classes)


def _as_numbers(cells: np.ndarray) -> np.ndarray | None:
    try:
        return cells.astype(np.float64)
    except ValueError:
        return None


def _target_index(tgt: object, names: list[str], path: Path) -> int | None:
    width = len(names)
    if tgt is None:
        return width - 1
    if isinstance(tgt, str) and tgt in names:
        return names.index(tgt)
    if is_whole(tgt) and -width <= tgt < width:
        return int(tgt) % width
    return None


def _parse_rows(f: TextIO, p: dict, path: Path) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    """Row by row, naming the line and column of the first problem."""
    rows = [(i, [c.strip() for c in r]) for i, r in enumerate(csv.reader(f), 1) if r]
    if not rows or (p["header"] and len(rows) == 1):
        raise DataError(f"CSV file {path} has no data rows.")
    width = len(rows[0][1])
    if width < 2:
        raise DataError(
            f"CSV file {path} needs at least 2 columns (features and a target); "
            f"line {rows[0][0]} has {width}. Are the cells separated by commas?"
        )
    names = rows.pop(0)[1] if p["header"] else [f"col{j}" for j in range(width)]
    for line, r in rows:
        if len(r) != width:
            raise DataError(
                f"CSV file {path}, line {line} has {len(r)} cells but the first "
                f"row has {width}; every row needs the same number of columns."
            )
    tgt = p["target"]
    ti = _target_index(tgt, names, path)
    if ti is None:
        raise DataError(
            f"Target column {shown(tgt)} not found in CSV file {path}; available columns: "
            f"{shown(', '.join(names), 200)[1:-1]} (or an index 0..{width - 1})."
        )
    cols = [j for j in range(width) if j != ti]
    X = np.array(
        [
            [
                _number(r[j], f"CSV file {path}, line {line}, column {shown(names[j])}", "features")
                for j in cols
            ]
            for line, r in rows
        ],
        dtype=np.float64,
    )
    where = f"target column {shown(names[ti])}"
    if p["task"] == "regression":
        y = np.array(
            [
                [_number(r[ti], f"CSV file {path}, line {line}, {where}", "regression targets")]
                for line, r in rows
            ],
            dtype=np.float64,
        )
        return X, y, [names[j] for j in cols], 0
    cells = [(line, r[ti]) for line, r in rows]
    for line, c in cells:
        if c == "":
            raise DataError(
                f"CSV file {path}, line {line}: the {where} is empty; every row needs a class."
            )
    numbers = [_float_or_none(c) for _, c in cells]
    keys: list[Any]
    if all(v is not None for v in numbers):
        for (line, c), v in zip(cells, numbers, strict=True):
            if not math.isfinite(v) or v != int(v):
                what = "not a finite number" if not math.isfinite(v) else "not a whole number"
                raise DataError(
                    f"CSV file {path}, line {line}, {where}: {shown(c)} is {what}; the classes "
                    "of a numeric target are whole numbers (for continuous targets set "
                    'data.task to "regression").'
                )
        keys = [int(v) for v in numbers]
    else:
        keys = [c for _, c in cells]  # class names
    classes = sorted(set(keys))
    if len(classes) < 2:
        raise DataError(
            f"CSV file {path}, {where} has only one class "
            f"({shown(classes[0])}); classification needs at least 2."
        )
    index = {c: i for i, c in enumerate(classes)}  # sorted labels/names -> 0..k-1
    y = np.array([index[k] for k in keys], dtype=np.int64)
    return X, y, [names[j] for j in cols], len(classes)


def _float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
