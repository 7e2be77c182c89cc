"""Every step's figures of a run, exactly as the trainer produced them (float64, no decimation):
what scrubbing back through a run shows. The plots read a window of them (`tail`, `long`)
in the same form as a live trainer's history gives them."""

from __future__ import annotations

import numpy as np

from ..engine.kernels.stats import N_STATS, STAT_NAMES
from ..engine.telemetry import SCALARS
from ..engine.train import StepBlock

LONG_CAPACITY = 2048  # History's decimated record of a whole run: the plots' loss curves
CHUNK = 1024  # rows per chunk of the log


class Rows:
    """Rows of one shape kept in chunks of CHUNK: appending never moves what is there (a whole
    run's figures are tens of megabytes). Read like an array: an int, a slice (a copy), an
    array of ints (a copy), (row, column...); `np.asarray` joins them all."""

    def __init__(
        self, shape: tuple[int, ...], chunks: list[np.ndarray] | None = None, size: int = 0
    ):
        self.shape_of_row = tuple(shape)
        self._chunks = chunks if chunks is not None else []
        self.size = size

    def __len__(self) -> int:
        return self.size

    @property
    def nbytes(self) -> int:
        return self.size * int(np.prod(self.shape_of_row, dtype=np.int64)) * 8

    def head(self, size: int) -> Rows:
        """The first `size` rows (the same chunks, not copied)."""
        return Rows(self.shape_of_row, self._chunks, min(size, self.size))

    def append(self, rows: np.ndarray) -> None:
        at = 0
        while at < len(rows):
            c, r = divmod(self.size, CHUNK)
            if c == len(self._chunks):
                self._chunks.append(np.empty((CHUNK, *self.shape_of_row)))
            n = min(CHUNK - r, len(rows) - at)
            self._chunks[c][r : r + n] = rows[at : at + n]
            self.size += n
            at += n

    def __getitem__(self, key: object) -> np.ndarray:
        rest: tuple = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
            if not isinstance(key, slice):
                return self[key][rest]
        if isinstance(key, slice):
            start, stop, step = key.indices(self.size)
            if step != 1:
                return self[np.arange(start, stop, step)][(slice(None), *rest)]
            # The columns asked for are taken chunk by chunk: only they are copied.
            parts = []
            for c in range(start // CHUNK, (stop - 1) // CHUNK + 1 if stop > start else 0):
                lo, hi = max(start, c * CHUNK), min(stop, (c + 1) * CHUNK)
                chunk = self._chunks[c][lo - c * CHUNK : hi - c * CHUNK]
                parts.append(chunk[(slice(None), *rest)])
            if not parts:
                return np.empty((0, *self.shape_of_row))[(slice(None), *rest)]
            return np.concatenate(parts) if len(parts) > 1 else parts[0].copy()
        if isinstance(key, np.ndarray | list):
            idx = np.asarray(key, np.int64)
            out = np.empty((len(idx), *self.shape_of_row))
            for c in np.unique(idx // CHUNK):
                sel = idx // CHUNK == c
                out[sel] = self._chunks[c][idx[sel] - c * CHUNK]
            return out
        i = int(key) + (self.size if int(key) < 0 else 0)
        if not 0 <= i < self.size:
            raise IndexError(f"row {key} of {self.size}")
        return self._chunks[i // CHUNK][i % CHUNK]

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        out = self[0 : self.size]
        return out if dtype is None else out.astype(dtype)


class FigureLog:
    """The scalars (step × SCALARS) and per-node figures (step × node × STAT_NAMES) of steps
    0, 1, ..., n − 1, grown as blocks arrive."""

    def __init__(self, node_ids: list[str]):
        self.node_ids = list(node_ids)
        self.scalars = Rows((len(SCALARS),))
        self.stats = Rows((len(node_ids), N_STATS))

    def __len__(self) -> int:
        return len(self.scalars)

    @property
    def size(self) -> int:
        return len(self.scalars)

    @property
    def nbytes(self) -> int:
        return self.scalars.nbytes + self.stats.nbytes

    def add(self, steps: np.ndarray, scalars: np.ndarray, stats: np.ndarray) -> None:
        """Rows of consecutive steps that continue the log."""
        if len(steps) == 0:
            return
        if int(steps[0]) != self.size:
            raise ValueError(f"expected step {self.size} next, got {int(steps[0])}")
        self.scalars.append(np.asarray(scalars, np.float64))
        self.stats.append(np.asarray(stats, np.float64))

    def add_block(self, block: StepBlock) -> None:
        self.add(block.steps, block.scalars, block.node_stats)

    def copy(self, size: int | None = None) -> FigureLog:
        """The first `size` steps (all by default), copied."""
        size = self.size if size is None else min(size, self.size)
        out = FigureLog(self.node_ids)
        for start in range(0, size, CHUNK):
            end = min(size, start + CHUNK)
            out.add(np.arange(start, end), self.scalars[start:end], self.stats[start:end])
        return out

    def tail(
        self, end: int, count: int, figures: list[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps, scalars, figures) of the `count` steps before `end`, the figures as float32
        like a live history's (History.tail)."""
        start = max(0, end - count)
        with np.errstate(over="ignore"):
            stats = self.stats[start:end, :, figures].astype(np.float32)
        return np.arange(start, end), self.scalars[start:end], stats

    def long(self, end: int, capacity: int = LONG_CAPACITY) -> tuple[np.ndarray, np.ndarray]:
        """(steps, scalars) of the decimated whole-run record a live history holds after
        `end` steps (History.long): multiples of the smallest power of two that leaves at most
        `capacity` rows."""
        rows = _long_rows(end, capacity)
        return rows, self.scalars[rows]

    def long_figures(
        self, end: int, count: int, figures: list[int], capacity: int = LONG_CAPACITY
    ) -> tuple[np.ndarray, np.ndarray]:
        """(steps, figures) of that record, every j-th row so that at most `count` remain, the
        figures as float32: what History.long_figures gives after `end` steps."""
        rows = _long_rows(end, capacity)
        rows = rows[:: max(1, -(-len(rows) // count))]
        with np.errstate(over="ignore"):
            return rows, self.stats[rows][:, :, figures].astype(np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "scalars": np.asarray(self.scalars),
            "node_stats": np.asarray(self.stats),
            "node_ids": np.array(self.node_ids),
            "scalar_names": np.array(SCALARS),
            "stat_names": np.array(STAT_NAMES),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> FigureLog:
        """The inverse of `to_arrays`; a ValueError says what does not fit."""
        names = [str(v) for v in arrays["scalar_names"]]
        stat_names = [str(v) for v in arrays["stat_names"]]
        if names != list(SCALARS) or stat_names != list(STAT_NAMES):
            raise ValueError("its columns are not this version's figures")
        ids = [str(v) for v in arrays["node_ids"]]
        scalars = np.asarray(arrays["scalars"], np.float64)
        stats = np.asarray(arrays["node_stats"], np.float64)
        if scalars.ndim != 2 or stats.shape != (len(scalars), len(ids), N_STATS):
            raise ValueError("its arrays have inconsistent shapes")
        log = cls(ids)
        log.add(np.arange(len(scalars)), scalars, stats)
        return log


def _long_rows(end: int, capacity: int) -> np.ndarray:
    """The steps a history's decimated record keeps after `end` steps: multiples of the
    smallest power of two that leaves at most `capacity` of them."""
    stride = 1
    while end and (end - 1) // stride + 1 > capacity:
        stride *= 2
    return np.arange(0, end, stride)
