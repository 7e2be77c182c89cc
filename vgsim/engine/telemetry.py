"""Per-step telemetry and a bounded history of it.

The history keeps the last `recent` steps in full (a ring buffer) and, for the whole run, a
decimated record that keeps every k-th step and doubles k whenever it fills up; so memory is
bounded however long training goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .kernels.stats import N_STATS, STAT_NAMES

# Scalars recorded for every step, in this order.
SCALARS = (
    "step",
    "epoch",
    "loss",
    "data_loss",
    "l2_penalty",
    "accuracy",
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
    "clip_fired",
    "grad_norm_before_clip",
    "grad_norm_after_clip",
    "lr",
)


@dataclass(frozen=True)
class Divergence:
    """Where and when training first went non-finite."""

    step: int
    node: str
    quantity: str  # "activation", "loss", "gradient", "weight gradient" or "weight"

    def message(self) -> str:
        return (
            f"Training diverged at step {self.step}: the {self.quantity} of '{self.node}' "
            "became NaN or infinite (or too large to square)."
        )


@dataclass
class StepRecord:
    """What one training step measured. `node_stats` rows follow `node_ids`; columns follow
    STAT_NAMES; NaN where a figure does not apply (e.g. weight norm of an activation)."""

    scalars: dict[str, float]
    node_ids: list[str]
    node_stats: np.ndarray
    histograms: np.ndarray | None  # node × bin fractions; None where not computed
    hist_ranges: np.ndarray
    divergence: Divergence | None = None

    @property
    def step(self) -> int:
        return int(self.scalars["step"])

    @property
    def loss(self) -> float:
        return self.scalars["loss"]

    @property
    def status(self) -> str:
        return "diverged" if self.divergence else "ok"

    def stat(self, name: str) -> dict[str, float]:
        """One figure for every node, e.g. record.stat("grad_norm")["dense1"]."""
        col = STAT_NAMES.index(name)
        return {n: float(v) for n, v in zip(self.node_ids, self.node_stats[:, col], strict=True)}

    def flat(self) -> dict[str, float]:
        """Scalars, then every per-node figure as "<figure>/<node id>" (the metrics.csv row)."""
        out = dict(self.scalars)
        for c, name in enumerate(STAT_NAMES):
            for r, node in enumerate(self.node_ids):
                out[f"{name}/{node}"] = float(self.node_stats[r, c])
        return out


def flat_columns(node_ids: list[str]) -> list[str]:
    return list(SCALARS) + [f"{name}/{n}" for name in STAT_NAMES for n in node_ids]


@dataclass
class _Series:
    capacity: int
    n_nodes: int
    steps: np.ndarray = field(init=False)
    scalars: np.ndarray = field(init=False)
    stats: np.ndarray = field(init=False)
    size: int = 0

    def __post_init__(self) -> None:
        # Left unwritten: only the first `size` rows (or the ring's) are ever read, and filling
        # tens of megabytes up front (a 100-layer network) cost a third of a second in page faults.
        self.steps = np.zeros(self.capacity, dtype=np.int64)
        self.scalars = np.empty((self.capacity, len(SCALARS)))
        self.stats = np.empty((self.capacity, self.n_nodes, N_STATS), dtype=np.float32)


class History:
    """Bounded memory: `recent` full steps plus at most `long` decimated ones."""

    def __init__(self, node_ids: list[str], recent: int = 2048, long: int = 2048):
        self.node_ids = list(node_ids)
        self._recent = _Series(recent, len(node_ids))
        self._long = _Series(long, len(node_ids))
        self._head = 0  # next slot of the ring
        self._stride = 1
        self.latest: StepRecord | None = None

    def __len__(self) -> int:
        return self._recent.size

    def clear(self) -> None:
        """Empty, as new, keeping the buffers (a restored trainer starts its history again)."""
        self._recent.size = self._long.size = self._head = 0
        self._stride = 1
        self.latest = None

    def refill(
        self, scalars: np.ndarray, stats: np.ndarray, latest: StepRecord | None = None
    ) -> None:
        """What the history holds after the steps 0, 1, ... whose scalars and figures these are
        (a recorded run's first rows): the same `recent()` and `long()`, and the same from then
        on, as if they had been appended one by one, without going through them one by one."""
        self.clear()
        n, r, g = len(scalars), self._recent, self._long
        keep = min(n, r.capacity)
        with np.errstate(over="ignore"):
            r.steps[:keep] = np.arange(n - keep, n)
            r.scalars[:keep] = scalars[n - keep :]
            r.stats[:keep] = stats[n - keep :]
            # The long record keeps multiples of the stride, the smallest power of two that
            # leaves at most `capacity` of them (the stride only doubles when it is full).
            stride = 1
            while n and (n - 1) // stride + 1 > g.capacity:
                stride *= 2
            rows = np.arange(0, n, stride)
            g.steps[: len(rows)] = rows
            g.scalars[: len(rows)] = scalars[rows]
            g.stats[: len(rows)] = stats[rows]
        r.size, g.size = keep, len(rows)
        self._head = keep % r.capacity
        self._stride = stride
        self.latest = latest

    def append(self, record: StepRecord) -> None:
        row = np.array([[record.scalars[k] for k in SCALARS]], dtype=np.float64)
        self.append_block(np.array([record.step]), row, record.node_stats[None], record)

    def append_block(
        self, steps: np.ndarray, scalars: np.ndarray, stats: np.ndarray, latest: StepRecord
    ) -> None:
        """Consecutive steps at once: their scalars (step × SCALARS), figures (step × node ×
        STAT_NAMES) and the last one's full record."""
        self.latest = latest
        with np.errstate(over="ignore"):  # a float64 blow-up beyond float32's range is inf here
            r = self._recent
            if len(steps) == 1:
                self._append_one(int(steps[0]), scalars[0], stats[0])
                return
            slots = (self._head + np.arange(len(steps))) % r.capacity
            keep = slice(-r.capacity, None)  # a block longer than the ring keeps its end
            r.steps[slots[keep]] = steps[keep]
            r.scalars[slots[keep]] = scalars[keep]
            r.stats[slots[keep]] = stats[keep]
            self._head = (self._head + len(steps)) % r.capacity
            r.size = min(r.size + len(steps), r.capacity)
            for s in np.flatnonzero(steps % self._stride == 0):
                self._keep_long(int(steps[s]), scalars[s], stats[s])

    def append_one(
        self, step: int, scalars: Sequence[float], stats: np.ndarray, latest: StepRecord
    ) -> None:
        """One step: its scalars (in SCALARS order, any sequence), figures (node × STAT_NAMES)
        and full record; the same as append_block with one row, without building arrays."""
        self.latest = latest
        with np.errstate(over="ignore"):  # a float64 blow-up beyond float32's range is inf here
            self._append_one(step, scalars, stats)

    def _append_one(self, step: int, scalars: Sequence[float], stats: np.ndarray) -> None:
        r = self._recent
        h = self._head
        r.steps[h] = step
        r.scalars[h] = scalars
        r.stats[h] = stats
        self._head = (h + 1) % r.capacity
        r.size = min(r.size + 1, r.capacity)
        if step % self._stride == 0:
            self._keep_long(step, r.scalars[h], r.stats[h])

    def _keep_long(self, step: int, scalars: np.ndarray, stats: np.ndarray) -> None:
        if step % self._stride:
            return
        g = self._long
        if g.size == g.capacity:
            # Keep every other kept step and double the stride.
            keep = slice(0, g.size, 2)
            n = len(range(*keep.indices(g.size)))
            g.steps[:n], g.scalars[:n], g.stats[:n] = (
                g.steps[keep],
                g.scalars[keep],
                g.stats[keep],
            )
            g.size = n
            self._stride *= 2
            if step % self._stride:
                return
        g.steps[g.size], g.scalars[g.size], g.stats[g.size] = step, scalars, stats
        g.size += 1

    def recent(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps, scalars, node stats) of the ring, oldest first."""
        r = self._recent
        if r.size < r.capacity:
            idx = np.arange(r.size)
        else:
            idx = (np.arange(r.capacity) + self._head) % r.capacity
        return r.steps[idx], r.scalars[idx], r.stats[idx]

    def tail(self, count: int, figures: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The last `count` steps of the ring with only the given figure columns (copies): what
        a live plot needs, without copying the whole ring."""
        r = self._recent
        count = min(count, r.size)
        idx = (self._head - count + np.arange(count)) % r.capacity
        return r.steps[idx], r.scalars[idx], r.stats[idx][:, :, figures]

    def long_figures(self, count: int, figures: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """The decimated record's steps and the given figure columns (copies), every j-th row
        so that at most `count` remain: figures over the whole run, cheaply."""
        g = self._long
        every = max(1, -(-g.size // count))
        return g.steps[: g.size : every].copy(), g.stats[: g.size : every][:, :, figures]

    def long(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The decimated record of the whole run, oldest first."""
        g = self._long
        return g.steps[: g.size], g.scalars[: g.size], g.stats[: g.size]

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The whole run as far as it is kept: the decimated steps older than the ring, then
        every step of the ring (steps, scalars, node stats), oldest first."""
        steps, scalars, stats = self.recent()
        old_steps, old_scalars, old_stats = self.long()
        first = steps[0] if len(steps) else np.iinfo(np.int64).max
        keep = old_steps < first
        return (
            np.concatenate([old_steps[keep], steps]),
            np.concatenate([old_scalars[keep], scalars]),
            np.concatenate([old_stats[keep], stats]),
        )

    def scalar(self, name: str, long: bool = False) -> tuple[np.ndarray, np.ndarray]:
        steps, scalars, _ = self.long() if long else self.recent()
        return steps, scalars[:, SCALARS.index(name)]

    def nbytes(self) -> int:
        return sum(
            a.nbytes for s in (self._recent, self._long) for a in (s.steps, s.scalars, s.stats)
        )
