"""Every step's figures of a run, exactly as the trainer produced them (float64, no decimation):
what scrubbing back through a run shows. The plots read a window of them (`tail`, `long`)
in the same form as a live trainer's history gives them."""

from __future__ import annotations

import numpy as np

from ..engine.kernels.stats import N_STATS, STAT_NAMES
from ..engine.telemetry import SCALARS
from ..engine.train import StepBlock

LONG_CAPACITY = 2048  # History's decimated record of a whole run: the plots' loss curves


class FigureLog:
    """The scalars (step × SCALARS) and per-node figures (step × node × STAT_NAMES) of steps
    0, 1, ..., n − 1, grown as blocks arrive."""

    def __init__(self, node_ids: list[str], capacity: int = 1024):
        self.node_ids = list(node_ids)
        self.size = 0
        self._scalars = np.empty((capacity, len(SCALARS)))
        self._stats = np.empty((capacity, len(node_ids), N_STATS))

    def __len__(self) -> int:
        return self.size

    @property
    def scalars(self) -> np.ndarray:
        return self._scalars[: self.size]

    @property
    def stats(self) -> np.ndarray:
        return self._stats[: self.size]

    @property
    def nbytes(self) -> int:
        return self.scalars.nbytes + self.stats.nbytes

    def add(self, steps: np.ndarray, scalars: np.ndarray, stats: np.ndarray) -> None:
        """Rows of consecutive steps that continue the log."""
        if len(steps) == 0:
            return
        if int(steps[0]) != self.size:
            raise ValueError(f"expected step {self.size} next, got {int(steps[0])}")
        end = self.size + len(steps)
        if end > len(self._scalars):
            grown = max(end, 2 * len(self._scalars))
            self._scalars = _grow(self._scalars, grown, self.size)
            self._stats = _grow(self._stats, grown, self.size)
        self._scalars[self.size : end] = scalars
        self._stats[self.size : end] = stats
        self.size = end

    def add_block(self, block: StepBlock) -> None:
        self.add(block.steps, block.scalars, block.node_stats)

    def truncate(self, size: int) -> None:
        """Forget the steps from `size` on (a branch keeps its past)."""
        self.size = min(self.size, max(0, size))

    def copy(self, size: int | None = None) -> FigureLog:
        size = self.size if size is None else min(size, self.size)
        out = FigureLog(self.node_ids, max(size, 1024))
        out.add(np.arange(size), self._scalars[:size], self._stats[:size])
        return out

    def tail(
        self, end: int, count: int, figures: list[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps, scalars, figures) of the `count` steps before `end`, the figures as float32
        like a live history's (History.tail)."""
        start = max(0, end - count)
        with np.errstate(over="ignore"):
            stats = self._stats[start:end][:, :, figures].astype(np.float32)
        return np.arange(start, end), self._scalars[start:end].copy(), stats

    def long(self, end: int, capacity: int = LONG_CAPACITY) -> tuple[np.ndarray, np.ndarray]:
        """(steps, scalars) of the decimated whole-run record a live history holds after
        `end` steps (History.long): multiples of the smallest power of two that leaves at most
        `capacity` rows."""
        stride = 1
        while end and (end - 1) // stride + 1 > capacity:
            stride *= 2
        rows = np.arange(0, end, stride)
        return rows, self._scalars[rows]

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "scalars": self.scalars.copy(),
            "node_stats": self.stats.copy(),
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
        log = cls(ids, max(len(scalars), 1024))
        log.add(np.arange(len(scalars)), scalars, stats)
        return log


def _grow(a: np.ndarray, rows: int, used: int) -> np.ndarray:
    out = np.empty((rows, *a.shape[1:]), a.dtype)
    out[:used] = a[:used]
    return out
