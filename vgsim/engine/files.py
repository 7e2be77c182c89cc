"""Every file vgsim writes goes through here: whole or not at all, and rows never cut; and
the files it reads are regular files of a bounded size.

- `read_regular` and `open_regular` read a regular file of at most `limit` bytes: a FIFO, a
  device (/dev/zero) or a huge file is refused with a message instead of hanging or
  exhausting memory.

- `atomic_write` and its forms (`write_text`, `write_json`, `save_npz`) write to a temporary file
  with a unique name in the target's folder, then rename it over the target, so a reader sees
  the old file or the new one, never half of one, and two writers never share a temporary file.
- `MetricsFile` appends metrics.csv rows as a run goes; a failed or interrupted write is cut
  back to the last whole row. `write_metrics` writes a whole metrics.csv atomically.

The CSV numbers are formatted by a compiled kernel (9 significant digits, like "%.9g"): a
100-layer network has over 2,000 figures a step and Python's formatting took longer than the
step.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np
from numba import njit

from .telemetry import flat_columns

FLUSH_ROWS = 64  # metrics rows kept in memory before they are appended
CHUNK_ROWS = 512  # rows per chunk of a whole-file write (a progress report between chunks)
_WIDEST = 17  # "-1.23456789e-308" and its comma


class Cancelled(Exception):
    """The user stopped a write; nothing was left behind."""


class NotReadable(OSError):
    """Not a regular file, or larger than the limit for its kind; the message says which."""


def open_regular(path: str | Path, limit: int, what: str, encoding: str | None = "utf-8-sig") -> IO:
    """A regular file of at most `limit` bytes, opened for reading text (`newline=""`, as the
    csv module wants), or bytes with `encoding` None. `what` names the kind of file for the
    message ("a CSV data file"). Opened without blocking, so a FIFO with no writer is refused
    rather than waited on."""
    fd = _open_checked(path, limit, what)
    if encoding is None:
        return os.fdopen(fd, "rb")
    return os.fdopen(fd, "r", encoding=encoding, newline="")


def read_regular(path: str | Path, limit: int, what: str) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (see open_regular)."""
    with os.fdopen(_open_checked(path, limit, what), "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:  # it grew while being read
        raise NotReadable(f"{path} is larger than {limit / 2**20:.0f} MB, the limit for {what}.")
    return data


def _open_checked(path: str | Path, limit: int, what: str) -> int:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotReadable(f"{path} is not a regular file, so it cannot be {what}.")
        if info.st_size > limit:
            raise NotReadable(
                f"{path} is {info.st_size / 2**20:.1f} MB; {what} may be at most "
                f"{limit / 2**20:.0f} MB."
            )
    except BaseException:
        os.close(fd)
        raise
    return fd


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """`write(tmp)` fills a temporary file beside `path`, which then replaces `path`."""
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_json(path: str | Path, content: object) -> Path:
    """Indented JSON (numpy scalars as plain numbers; NaN and infinity as null)."""
    text = json.dumps(_plain(content), indent=2, allow_nan=False) + "\n"
    return write_text(path, text)


def save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """An .npz of named arrays (a state dump, a plot snapshot)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    return atomic_write(path, write)


def _plain(v: object) -> object:
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return _plain(v.tolist())
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


# --- metrics.csv --------------------------------------------------------------------------
def metrics_rows(scalars: np.ndarray, stats: np.ndarray) -> np.ndarray:
    """One row per step: the scalars, then each figure for every node (figure-major, as in
    `flat_columns`)."""
    k = len(scalars)
    return np.hstack([scalars, stats.transpose(0, 2, 1).reshape(k, -1)])


def format_rows(rows: np.ndarray) -> bytes:
    """CSV text of a 2-D array: 9 significant digits, "nan", "inf", one line per row."""
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    if rows.ndim != 2 or rows.size == 0:
        return b""
    out = np.empty(rows.shape[0] * (rows.shape[1] * _WIDEST + 1), np.uint8)
    return out[: _format(rows, out, _POW10)].tobytes()


class MetricsFile:
    """metrics.csv of a run in progress: the header, then whole rows appended in blocks. A write
    that fails (a full disk) or is interrupted is cut back to the last whole row before the
    error goes on, so the file always ends with a complete step."""

    def __init__(self, path: str | Path, node_ids: list[str]):
        self.path = Path(path)
        self.columns = flat_columns(node_ids)
        self.rows = 0  # rows on disk
        self.last_step: int | None = None  # the step of the last row on disk
        # Rows are formatted as they come, FLUSH_ROWS at a time, into buffers kept from block
        # to block: fresh ones of megabytes each time cost more in page faults than the
        # formatting itself.
        self._rows = np.empty((0, len(self.columns)))
        self._text = np.empty(0, np.uint8)
        self._length = 0  # bytes of whole rows in _text, not yet on disk
        self._count = 0
        self._pending_last: int | None = None
        self._good = 0  # bytes on disk that end with a whole row
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            self._append((",".join(self.columns) + "\n").encode())
        except BaseException:
            os.close(self._fd)
            raise

    def add(self, scalars: np.ndarray, stats: np.ndarray) -> None:
        """Rows of consecutive steps (scalars: step × SCALARS, stats: step × node × figure)."""
        for start in range(0, len(scalars), FLUSH_ROWS):
            self._add(scalars[start : start + FLUSH_ROWS], stats[start : start + FLUSH_ROWS])
            if self._count >= FLUSH_ROWS:
                self.flush()

    def _add(self, scalars: np.ndarray, stats: np.ndarray) -> None:
        k = len(scalars)
        if len(self._rows) < k:
            self._rows = np.empty((max(k, FLUSH_ROWS), len(self.columns)))
        rows = self._rows[:k]
        n_scalars = scalars.shape[1]
        rows[:, :n_scalars] = scalars
        figures = rows[:, n_scalars:]
        figures.shape = (k, stats.shape[2], stats.shape[1])  # a view, or an error: never a copy
        figures[...] = stats.transpose(0, 2, 1)  # as metrics_rows, without a temporary
        need = self._length + k * (rows.shape[1] * _WIDEST + 1)
        if len(self._text) < need:
            grown = np.empty(max(need, 2 * len(self._text)), np.uint8)
            grown[: self._length] = self._text[: self._length]
            self._text = grown
        self._length += _format(rows, self._text[self._length :], _POW10)
        self._count += k
        self._pending_last = int(scalars[-1, 0])

    def flush(self) -> None:
        if not self._count:
            return
        count, length, last = self._count, self._length, self._pending_last
        self._length = self._count = 0  # a write that fails loses these rows, never a part
        self._append(memoryview(self._text)[:length])
        self.rows += count
        self.last_step = last

    def close(self) -> None:
        """Write what is pending and close (the file is closed even if that write fails)."""
        if self._fd < 0:
            return
        try:
            self.flush()
        finally:
            os.close(self._fd)
            self._fd = -1

    def _append(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except BaseException:
            os.ftruncate(self._fd, self._good)
            os.lseek(self._fd, self._good, os.SEEK_SET)
            raise
        self._good += len(data)


def write_metrics(
    path: str | Path,
    node_ids: list[str],
    scalars: np.ndarray,
    stats: np.ndarray,
    progress: Callable[[float], bool] | None = None,
) -> Path:
    """A whole metrics.csv, atomically. `progress(fraction)` is asked between chunks of rows;
    False stops the write and removes the partial file (raises Cancelled)."""
    path = Path(path)
    header = ",".join(flat_columns(node_ids))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write((header + "\n").encode())
            for start in range(0, len(scalars), CHUNK_ROWS):
                if progress is not None and progress(start / max(len(scalars), 1)) is False:
                    raise Cancelled(f"Stopped: {path.name} was not written.")
                end = start + CHUNK_ROWS
                f.write(format_rows(metrics_rows(scalars[start:end], stats[start:end])))

    return atomic_write(path, write)


# --- the number formatter ------------------------------------------------------------------
_POW10 = 10.0 ** np.arange(0, 309)  # exact up to 10**22


@njit(cache=True, nogil=True)
def _scaled(a: float, k: int, pow10: np.ndarray) -> float:
    """a * 10**k: one product or quotient by an exact power where it can (|k| <= 22)."""
    if k > 300:
        return a * 1e300 * pow10[k - 300]
    if k >= 0:
        return a * pow10[k]
    if k < -300:
        return a / 1e300 / pow10[-k - 300]
    return a / pow10[-k]


@njit(cache=True, nogil=True)
def _put3(out: np.ndarray, at: int, a: int, b: int, c: int) -> None:
    out[at] = a
    out[at + 1] = b
    out[at + 2] = c
    return at + 3


@njit(cache=True, nogil=True)
def _format(rows: np.ndarray, out: np.ndarray, pow10: np.ndarray) -> int:
    """Write rows into `out` as CSV, each number like printf's "%.9g"; returns bytes written.
    The 9th digit comes from one or two float64 products, so it can differ from printf's
    correctly rounded one by a unit in rare ties (a relative difference below 1e-8)."""
    digits = np.empty(9, np.uint8)
    at = 0
    for r in range(rows.shape[0]):
        for c in range(rows.shape[1]):
            if c > 0:
                out[at] = 44  # ,
                at += 1
            x = rows[r, c]
            if x != x:
                at = _put3(out, at, 110, 97, 110)  # nan
                continue
            if x < 0 or (x == 0 and math.copysign(1.0, x) < 0):
                out[at] = 45  # -
                at += 1
            a = abs(x)
            if a == math.inf:
                at = _put3(out, at, 105, 110, 102)  # inf
                continue
            if a == 0:
                out[at] = 48
                at += 1
                continue
            # 10**e <= a < 10**(e+1), give or take one: log10(2) times the binary exponent.
            e = int(math.floor((math.frexp(a)[1] - 1) * 0.30102999566398120))
            m = _scaled(a, 8 - e, pow10)
            if m >= 999999999.5:
                e += 1
                m = _scaled(a, 8 - e, pow10)
            elif m < 99999999.5:
                e -= 1
                m = _scaled(a, 8 - e, pow10)
            mi = np.uint32(np.rint(m))  # unsigned: division by 10 compiles to a multiply
            if mi >= 1000000000:
                mi = np.uint32(100000000)
                e += 1
            for i in range(8, -1, -1):
                q = mi // np.uint32(10)
                digits[i] = 48 + (mi - q * np.uint32(10))
                mi = q
            n = 9
            while n > 1 and digits[n - 1] == 48:
                n -= 1
            if e < -4 or e >= 9:  # scientific: d[.ddd]e±XX
                out[at] = digits[0]
                at += 1
                if n > 1:
                    out[at] = 46
                    at += 1
                    for i in range(1, n):
                        out[at] = digits[i]
                        at += 1
                out[at] = 101  # e
                out[at + 1] = 45 if e < 0 else 43
                at += 2
                ae = abs(e)
                if ae >= 100:
                    out[at] = 48 + ae // 100
                    at += 1
                out[at] = 48 + (ae // 10) % 10
                out[at + 1] = 48 + ae % 10
                at += 2
            elif e >= 0:  # fixed, e + 1 digits before the point
                for i in range(e + 1):
                    out[at] = digits[i] if i < n else 48
                    at += 1
                if n > e + 1:
                    out[at] = 46
                    at += 1
                    for i in range(e + 1, n):
                        out[at] = digits[i]
                        at += 1
            else:  # 0.000ddd
                out[at] = 48
                out[at + 1] = 46
                at += 2
                for _ in range(-e - 1):
                    out[at] = 48
                    at += 1
                for i in range(n):
                    out[at] = digits[i]
                    at += 1
        out[at] = 10  # \n
        at += 1
    return at
