"""Saved trainer states along a run, within a byte budget.

A state is saved every `every` steps (or at the end of the first block of training after
that). When the states outgrow the budget, older ones are thinned
out rather than saving stopping: the state removed is the one whose neighbours are closest
together, so the states left stay about evenly spread over the run and recreating any step
replays about as few steps as the budget allows. The states of the last `RECENT_SPAN` steps
are kept at full density (scrubbing near the present is the common case), as is the first
state of every segment (a run's start and each branch point), from which its steps replay.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..engine.state import TrainerState

MB = 1 << 20
DEFAULT_BUDGET = 256 * MB
DEFAULT_EVERY = 8  # steps between saved states: copying one costs well under 1% of that
RECENT_SPAN = 512  # the newest steps whose states are thinned out last


@dataclass
class Checkpoint:
    """One saved state: held in memory (`state`), or in a file read back on demand."""

    step: int  # the state's step_count: the steps it has trained
    segment: int  # which network (a run's, or a branch's) the state belongs to
    nbytes: int
    state: TrainerState | None = None
    file: str | None = None  # relative to the folder that holds it
    shared: bool = False  # also held by another timeline (a branch's past): never recycled


class Checkpoints:
    def __init__(
        self,
        budget_bytes: int = DEFAULT_BUDGET,
        every: int = DEFAULT_EVERY,
        recent_span: int = RECENT_SPAN,
    ):
        if every < 1:
            raise ValueError("states are saved every 1 step or more")
        self.budget = int(budget_bytes)
        self.every = int(every)
        self.recent_span = int(recent_span)
        self.entries: list[Checkpoint] = []
        self._steps: list[int] = []  # entries' steps, for bisect
        self._bytes = 0
        self.starts: set[int] = set()  # steps that begin a segment: never thinned

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def nbytes(self) -> int:
        return self._bytes

    @property
    def steps(self) -> list[int]:
        return list(self._steps)

    def due(self, step: int) -> bool:
        """Whether a trainer at `step` steps should be saved now: `every` steps or more after
        the newest state (blocks of training that end elsewhere save at their end)."""
        return not self._steps or step - self._steps[-1] >= self.every

    def until_due(self, step: int) -> int:
        """Steps from `step` to the next state due: a block of training that ends there saves
        states exactly `every` steps apart."""
        return max(1, self.every - (step - self._steps[-1])) if self._steps else 1

    def add(self, entry: Checkpoint, start: bool = False) -> list[Checkpoint]:
        """Keep `entry` (replacing one of the same step); returns the entries thinned out to
        stay within the budget. `start`: it begins a segment and is never thinned out."""
        i = bisect.bisect_left(self._steps, entry.step)
        dropped = []
        if i < len(self._steps) and self._steps[i] == entry.step:
            dropped.append(self.entries[i])
            self._bytes -= self.entries[i].nbytes
            self.entries[i] = entry
        else:
            self.entries.insert(i, entry)
            self._steps.insert(i, entry.step)
        self._bytes += entry.nbytes
        if start:
            self.starts.add(entry.step)
        return dropped + self._thin()

    def drop_after(self, step: int) -> list[Checkpoint]:
        """Forget the states beyond `step` (a branch keeps the past only)."""
        i = bisect.bisect_right(self._steps, step)
        dropped = self.entries[i:]
        del self.entries[i:], self._steps[i:]
        self._bytes -= sum(e.nbytes for e in dropped)
        self.starts = {s for s in self.starts if s <= step}
        return dropped

    def nearest(self, step: int, segment: int | None = None) -> Checkpoint | None:
        """The latest state at or before `step` steps (of `segment`, if given)."""
        i = bisect.bisect_right(self._steps, step) - 1
        while i >= 0:
            e = self.entries[i]
            if segment is None or e.segment == segment:
                return e
            i -= 1
        return None

    def _thin(self) -> list[Checkpoint]:
        dropped = []
        while self._bytes > self.budget:
            i = self._victim()
            if i is None:
                break
            self._bytes -= self.entries[i].nbytes
            dropped.append(self.entries.pop(i))
            del self._steps[i]
        return dropped

    def _victim(self) -> int | None:
        """The entry whose removal leaves the smallest gap, oldest first on ties; the newest
        steps' entries only when the older ones are all gone."""
        steps = np.array(self._steps)
        if len(steps) < 3:
            return None
        movable = np.ones(len(steps), bool)
        for start in self.starts:  # a few: the run's start and its branch points
            i = bisect.bisect_left(self._steps, start)
            if i < len(steps) and self._steps[i] == start:
                movable[i] = False
        movable[-1] = False  # the newest state: the present
        recent = steps > steps[-1] - self.recent_span
        for allowed in (movable & ~recent, movable):
            allowed[0] = False  # the first state: nothing before it to replay from
            candidates = np.flatnonzero(allowed[1:-1]) + 1
            if len(candidates):
                gaps = steps[candidates + 1] - steps[candidates - 1]
                return int(candidates[np.argmin(gaps)])
        return None

    def load(self, entry: Checkpoint, read: Callable[[str], TrainerState]) -> TrainerState:
        """The entry's state, read from its file the first time if it has none in memory."""
        if entry.state is None:
            assert entry.file is not None
            entry.state = read(entry.file)
        return entry.state
