"""The run the window trains, recorded as it trains: its past for the timeline, the branches the
student starts from it, and the run a branch left behind, drawn faded beside it.

A `Recording` wraps a `Timeline` with what the window's worker does to a run: it records every
block, step and completed micro-step, notes live changes, shows any past step exactly
(`view`), branches (`branch`: the branch becomes the recorded run, the run it left becomes the
`Reference`), and saves or opens a run folder. No Qt here: the worker thread calls it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..engine.diagnose import Finding
from ..engine.errors import VgsimError
from ..engine.kernels.stats import S_GRAD
from ..engine.spec import Network
from ..engine.telemetry import SCALARS, StepRecord
from ..engine.train import StepBlock, Trainer
from .checkpoints import DEFAULT_BUDGET
from .figures import FigureLog
from .plot_data import PlotData, ReferenceData
from .sides import Side, what_changed
from .timeline import StepView, Timeline
from .timeline_files import open_timeline, save_run

LOSS = SCALARS.index("data_loss")


@dataclass(frozen=True)
class Reference:
    """A run a branch left behind: its figures at every step it ran, and a label."""

    label: str
    branched_at: int  # the step count the branch continued from
    figures: FigureLog
    network: Network | None = None  # the network it trained step `branched_at` with

    def at(self, step: int, node_ids: list[str]) -> ReferenceData:
        """What the plots draw of it beside step `step` of the branch: its whole loss curve
        (decimated as a live history's) and its gradient norms at that step (its last, if it
        ran fewer), per node of `node_ids` (NaN where it has no such node)."""
        steps, scalars = self.figures.long(len(self.figures))
        grad = np.full(len(node_ids), np.nan)
        if len(self.figures):
            row = self.figures.stats[min(step, len(self.figures) - 1), :, S_GRAD]
            where = {node: i for i, node in enumerate(self.figures.node_ids)}
            for j, node in enumerate(node_ids):
                if node in where:
                    grad[j] = row[where[node]]
        return ReferenceData(self.label, self.branched_at, steps, scalars[:, LOSS], grad)


class Recording:
    def __init__(self, timeline: Timeline, reference: Reference | None = None):
        self.timeline = timeline
        self.reference = reference

    @classmethod
    def follow(
        cls,
        trainer: Trainer,
        relative: np.ndarray | None = None,
        budget: int = DEFAULT_BUDGET,
    ) -> Recording:
        """Record a fresh run (`trainer` at step 0); `relative`: its mean-field prediction."""
        return cls(Timeline.follow(trainer, budget=budget, relative=relative))

    @property
    def steps(self) -> int:
        """Steps recorded: the timeline spans steps 0 .. steps − 1."""
        return self.timeline.steps

    def record(self, trainer: Trainer, done: StepBlock | StepRecord | None) -> None:
        """After the trainer ran a block, a step or a micro-step (`done`: the block or the
        completed step's record; None: nothing completed)."""
        if done is None or (isinstance(done, StepBlock) and len(done.steps) == 0):
            return
        if isinstance(done, StepRecord) and done.step < self.steps:
            return  # recorded already (a diverged trainer answers a step with its last one)
        self.timeline.add(trainer, done)

    def prediction(self) -> np.ndarray | None:
        """The mean-field prediction of the network training now (its segment's): what the
        theory line of its live frames is anchored from, as `view` anchors it."""
        return self.timeline.prediction(len(self.timeline.segments) - 1)

    def live_changed(self, trainer: Trainer, settings: dict) -> None:
        """Live settings (Trainer.set_live's keywords) changed before the trainer's next step."""
        self.timeline.live_changed(trainer.step_count, settings)

    def view(self, step: int, boundary: bool = True, findings: bool = True) -> StepView:
        """Step `step` as the run showed it right after it, the reference beside it."""
        view = self.timeline.view(step, boundary=boundary, findings=findings)
        self.decorate(view.plot)
        return view

    def glance(self, step: int) -> tuple[PlotData, list[Finding]]:
        """Step `step` at once, from the recorded figures alone (a few milliseconds, however
        long the run): every plot as `view` gives it but the histograms and the decision
        boundary, which need the step's state recreated; and the diagnosis."""
        plot = self.decorate(self.timeline.plot_at(step))
        return plot, self.timeline.diagnose_at(step)

    def decorate(self, plot: PlotData) -> PlotData:
        """Add the reference, if any, to plot data of this run (live or past)."""
        if self.reference is not None:
            plot.reference = self.reference.at(max(plot.step - 1, 0), plot.node_ids)
        return plot

    def branch(
        self,
        step_count: int,
        network: Network | None = None,
        settings: dict | None = None,
        label: str | None = None,
    ) -> Trainer:
        """Continue the run after `step_count` steps with another network (same parameter
        shapes) or other live settings: the branch's trainer, about to train step
        `step_count`. The branch is recorded from now on and the run it leaves becomes the
        reference (its states are let go: only its figures are kept). The errors of
        Timeline.branch (nothing changes then)."""
        old = self.timeline
        trainer, child = old.branch(step_count, network=network, settings=settings)
        if label is None:
            label = f"before the branch at step {step_count:,}"
        self.reference = Reference(label, step_count, old.figures, old.network_at(step_count))
        self.timeline = child
        return trainer

    def sides(self) -> list[Side]:
        """This branch and the run it left, as the two sides of a comparison, both starting
        where they parted (the state there, the figures before it): trained in lockstep, the
        first goes on as the run before the branch did (bit for bit while its settings stay as
        they were then), the second as the branch. VgsimError if this run is no branch."""
        ref = self.reference
        if ref is None or ref.network is None:
            raise VgsimError("This run is no branch: there is no run before it to compare with.")
        k, tl = ref.branched_at, self.timeline
        state = tl.trainer_at(k).capture_state()
        past = tl.figures.copy(k)
        branch = tl.network_at(k)
        changed = what_changed(ref.network, branch)
        return [
            Side(ref.network.copy(), f"original from step {k:,}", state, past),
            Side(
                branch,
                f"branch from step {k:,}" + (f" ({changed})" if changed else ""),
                state,
                past,
            ),
        ]

    def save(self, folder: str | Path) -> Path:
        """A run folder with everything the run recorded (timeline_files.save_run)."""
        return save_run(self.timeline, folder)

    @classmethod
    def open(cls, folder: str | Path) -> tuple[Recording, Trainer]:
        """A saved run, ready to scrub, branch or go on training: the recording and the
        trainer after its last step (StateError says what is missing or damaged)."""
        timeline = open_timeline(folder)
        trainer = timeline.resume()
        return cls(timeline), trainer
