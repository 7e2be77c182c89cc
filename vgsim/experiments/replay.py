"""Run folders with saved states: recording them (`vgsim run --checkpoint-every K`), recreating
a step's state dump (`vgsim replay RUN_DIR --at N`) and branching (`vgsim run RUN_DIR --from N`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..engine.files import save_npz
from ..engine.state import StateError
from ..engine.train import StepBlock, Trainer
from .checkpoints import DEFAULT_BUDGET
from .overrides import apply_settings
from .timeline import Timeline
from .timeline_files import TimelineFolder, open_timeline


@dataclass
class Branch:
    """A run to continue from a past step of another: its trainer (restored, about to train
    step `at`), its timeline (whose past is the other run's) and where that run lives."""

    trainer: Trainer
    timeline: Timeline
    source: Path
    at: int
    settings: list[str]
    run_steps: int  # the steps of the run it branches from


def open_branch(run_dir: str | Path, at: int, assignments: list[str] | None = None) -> Branch:
    """Branch the run in `run_dir` after `at` steps, its network changed by `--set`
    assignments (overrides.apply_settings). StateError if the run has no saved states, or
    the change does not fit them; NetworkError if the changed network is invalid."""
    run_dir = Path(run_dir)
    timeline = open_timeline(run_dir)
    if not 0 <= at < timeline.steps:
        raise StateError(
            f"--from {at}: the run in {run_dir} has steps 0..{timeline.steps - 1} to branch from."
        )
    network = apply_settings(timeline.network_at(at), list(assignments or []))
    trainer, child = timeline.branch(at, network)
    return Branch(trainer, child, run_dir, at, list(assignments or []), timeline.steps)


def replay_dump(run_dir: str | Path, at: int, path: str | Path) -> dict:
    """Recreate step `at`'s state dump (the keys of `--dump-state`) from the run's saved
    states and write it to `path`; returns what was done."""
    timeline = open_timeline(run_dir)
    if not 0 <= at < timeline.steps:
        raise StateError(f"--at {at}: the run in {run_dir} has steps 0..{timeline.steps - 1}.")
    start = timeline.checkpoints.nearest(at, timeline.segment_at(at))
    assert start is not None  # every segment begins with a state
    save_npz(Path(path), timeline.dump(at))
    return {"step": at, "from_state": start.step, "replayed": at - start.step}


class Recorder:
    """A run's timeline, written into its folder as it trains (run_network uses it)."""

    def __init__(
        self,
        folder: Path,
        trainer: Trainer,
        every: int | None,
        budget: int = DEFAULT_BUDGET,
        branch: Branch | None = None,
    ):
        if branch is not None:
            self.timeline = branch.timeline
            if every is not None:
                self.timeline.checkpoints.every = int(every)
            self.timeline.checkpoints.budget = int(budget)
            source = branch.source
        else:
            self.timeline = Timeline.follow(trainer, budget, int(every or 1))
            source = None
        self.folder = TimelineFolder(folder, self.timeline, source)
        self.folder.start()
        if branch is not None:
            self.folder.note_parent(branch.source, branch.at, branch.settings)
            self.folder.write_index()

    def past(self) -> tuple[np.ndarray, np.ndarray]:
        """The scalars and figures of the steps before a branch point (its metrics.csv's
        first rows; none for a run of its own)."""
        figures = self.timeline.figures
        return np.asarray(figures.scalars), np.asarray(figures.stats)

    def until_due(self, step_count: int) -> int:
        return self.timeline.until_checkpoint(step_count)

    def add(self, trainer: Trainer, block: StepBlock) -> None:
        self.timeline.add(trainer, block)

    def close(self) -> None:
        self.folder.close()
