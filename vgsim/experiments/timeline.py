"""A run's past, recreated exactly at any step; and branches that continue it differently.

A `Timeline` follows one run as it trains: `add` after every block or step keeps every step's
figures (figures.FigureLog) and, every few steps, the trainer's whole state
(checkpoints.Checkpoints, within a byte budget); `live_changed` notes a live setting changed
mid-run. Any step is recreated by restoring the nearest earlier state into a trainer of the
timeline's own and replaying from there, applying the live changes where they happened: the
arithmetic is the run's, so every figure and every array is the run's, bit for bit.

`branch` continues the run from a past step with other settings or another network (one whose
parameters have the same shapes): a new run whose past is this one's up to that step. A
timeline is a list of segments, each a network and the step it starts training at; a plain
run has one, a branch one more than the run it branched from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..engine.data import Dataset
from ..engine.diagnose import KEEP_STEPS, Finding, Telemetry, diagnose_telemetry, network_facts
from ..engine.diagnose.facts import trainer_chance_loss
from ..engine.kernels.stats import S_GRAD
from ..engine.schema import training_defaults
from ..engine.spec import Network
from ..engine.state import StateError, TrainerState
from ..engine.telemetry import SCALARS, Divergence, StepRecord
from ..engine.theory import predicted_gradient_flow
from ..engine.train import StepBlock, Trainer
from .checkpoints import DEFAULT_BUDGET, DEFAULT_EVERY, Checkpoint, Checkpoints
from .figures import FigureLog
from .plot_data import RUN_ROWS, TAIL_FIGURES, PlotData
from .plot_sources import TAIL_STEPS, boundary_of, theory_from
from .timeline_branching import LIVE_KEYS, Branching, Segment

EVALUATED = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")  # Trainer.last_eval
NEVER = 1 << 62  # an evaluation interval no replay reaches


@dataclass(frozen=True)
class Change:
    step: int  # applied before this step
    settings: dict  # Trainer.set_live's keywords


@dataclass
class StepView:
    """Step `step` as the run showed it: its record (histograms included), the dashboard's
    plot data and the diagnosis, all as they were right after that step."""

    step: int
    record: StepRecord
    plot: PlotData
    findings: list[Finding]


# Where a saved state goes once taken (a run folder writes it to a file); gets the new entry
# and those thinned out.
Sink = Callable[[Checkpoint, list[Checkpoint]], None]


def network_of(trainer: Trainer) -> Network:
    """The trainer's network with its live settings as they are now."""
    net = trainer.net.copy()
    net.training.update({key: trainer.cfg[key] for key in LIVE_KEYS})
    net.training["clip"] = dict(trainer.cfg["clip"])
    return net


class Timeline(Branching):
    def __init__(
        self,
        segments: list[Segment],
        node_ids: list[str],
        budget: int = DEFAULT_BUDGET,
        every: int = DEFAULT_EVERY,
        data: Dataset | None = None,
    ):
        self.segments = list(segments)
        self.changes: list[Change] = []
        self.figures = FigureLog(node_ids)
        self.checkpoints = Checkpoints(budget, every)
        self.sink: Sink | None = None
        self.read_state: Callable[[str], TrainerState] | None = None  # for states in files
        self.folder: Path | None = None  # where states in files are (an opened run's folder)
        self._data = data  # the data set, shared by every trainer of the timeline
        self._trainers: dict[int, Trainer] = {}  # per segment: the one that replays
        self._relative: dict[int, object] = {}  # per segment: the mean-field prediction
        self._restored: set[int] = set()  # segments whose trainer holds a state of this run
        self._spare: TrainerState | None = None  # a state thinned out, its arrays to reuse
        self._viewed: dict[int, StepRecord] = {}  # per segment: the step `view` ran last
        self.known_steps = 0  # steps run, where the figures are not all known (an opened run)
        self.divergence: Divergence | None = None  # where the run diverged, if it did

    @classmethod
    def follow(
        cls,
        trainer: Trainer,
        budget: int = DEFAULT_BUDGET,
        every: int = DEFAULT_EVERY,
        relative: np.ndarray | None = None,
    ) -> Timeline:
        """Follow a run from its start (`trainer` has not trained yet). `relative`: its
        mean-field prediction (predicted_gradient_flow at step 0), if known already."""
        if trainer.step_count != 0:
            raise ValueError("a timeline follows a run from step 0")
        tl = cls([Segment(0, network_of(trainer))], trainer.node_ids, budget, every, trainer.data)
        if relative is not None:
            tl._relative[0] = relative
        tl.save_state(trainer, start=True)
        return tl

    # --- recording ---------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        """Steps recorded."""
        return max(len(self.figures), self.known_steps)

    @property
    def network(self) -> Network:
        """The network the run trains now (its last segment's)."""
        return self.segments[-1].network

    def until_checkpoint(self, step_count: int) -> int:
        """Steps a block of training may run before the next state is due."""
        return self.checkpoints.until_due(step_count)

    def add(self, trainer: Trainer, done: StepBlock | StepRecord) -> None:
        """Record the steps the trainer just ran (a block or one step's record); save its state
        if one is due."""
        if isinstance(done, StepRecord):
            row = [list(done.scalars.values())]
            self.figures.add([done.step], row, done.node_stats[None])
        else:
            self.figures.add_block(done)
        self.divergence = trainer.divergence
        if trainer.divergence is None and self.checkpoints.due(trainer.step_count):
            self.save_state(trainer)

    def live_changed(self, step: int, settings: dict) -> None:
        """The run's live settings (Trainer.set_live's keywords) changed before `step`."""
        self.changes.append(Change(int(step), dict(settings)))

    def save_state(self, trainer: Trainer, start: bool = False) -> Checkpoint:
        state = trainer.capture_state(reuse=self._spare)
        self._spare = None
        entry = Checkpoint(state.step_count, len(self.segments) - 1, state.nbytes, state)
        dropped = self.checkpoints.add(entry, start)
        if self.sink is not None:
            self.sink(entry, dropped)
        for old in dropped:  # the arrays of a state thinned out hold the next one
            if old.state is not None and not old.shared:
                self._spare = old.state
        return entry

    # --- going back --------------------------------------------------------------------------
    def segment_at(self, step: int) -> int:
        """The segment that trains step `step` (and holds the state before it)."""
        return max(k for k, s in enumerate(self.segments) if s.start <= step)

    def network_at(self, step: int) -> Network:
        """The network step `step` trains with, live changes up to it applied."""
        k = self.segment_at(step)
        net = self.segments[k].network.copy()
        for c in self.changes:
            if self.segments[k].start <= c.step <= step:
                net.training.update(c.settings)
                if "clip" in c.settings:
                    net.training["clip"] = {**net.training.get("clip", {}), **c.settings["clip"]}
        return net

    def trainer_at(self, step_count: int) -> Trainer:
        """A trainer of this run after `step_count` steps, about to train step `step_count`
        (live changes due then applied). It belongs to the timeline: read it or step it, but
        change nothing else."""
        if not 0 <= step_count <= self.steps:
            raise IndexError(f"step {step_count} is outside the run's steps 0..{self.steps}")
        k = self.segment_at(step_count)
        trainer = self._scratch(k)
        entry = self.checkpoints.nearest(step_count, k)
        if entry is None:
            raise StateError(f"No saved state before step {step_count} of this run.")
        # Going forward from where it is beats going back to a state, when it is on the way.
        if not (self._at(k, entry.step) and trainer.step_count <= step_count):
            trainer.restore_state(self.checkpoints.load(entry, self._read))
            self._restored.add(k)
        self._replay(trainer, step_count)
        return trainer

    def plot_at(self, step: int) -> PlotData:
        """What the dashboard drew right after step `step`, from the recorded figures alone and
        at once: everything but the histograms and the decision boundary (`view`)."""
        self._check(step)
        k = self.segment_at(step)
        relative = self.prediction(k)  # first: it may move the segment's trainer
        t = self._scratch(k)  # for its plan: its state is not read
        end = step + 1
        with np.errstate(over="ignore"):
            first = self.figures.stats[0].astype(np.float32)  # as a history keeps it
        data = PlotData(
            list(t.node_ids),
            list(t.plan.types),
            list(t.plan.functions),
            node_stats=self.figures.stats[step].copy(),
            hist_ranges=t.hist_ranges.copy(),
            step=end,
            name=self.segments[k].network.name,
            theory=theory_from(t.plan, relative, first),
            start_grad=first[:, S_GRAD].astype(np.float64),  # as plot_sources.start_gradients
        )
        count = min(TAIL_STEPS, int(t.cfg["history"]))
        data.tail_steps, data.tail_scalars, data.tail_figures = self.figures.tail(
            end, count, TAIL_FIGURES
        )
        data.long_steps, data.long_scalars = self.figures.long(end)
        data.run_steps, data.run_figures = self.figures.long_figures(end, RUN_ROWS, TAIL_FIGURES)
        return data

    def diagnose_at(self, step: int) -> list[Finding]:
        """The diagnosis of the run right after step `step`, from the recorded figures."""
        self._check(step)
        k = self.segment_at(step)
        t = self._scratch(k)  # for its plan and data: its state is not read
        end = step + 1
        start = max(0, end - min(KEEP_STEPS, int(t.cfg["history"])))
        with np.errstate(over="ignore"):  # the figures as a history keeps them
            stats = self.figures.stats[start:end].astype(np.float32).astype(np.float64)
        scalars = self.figures.scalars
        d = self.divergence
        telemetry = Telemetry.of(
            np.arange(start, end),
            scalars[start:end],
            stats,
            d if d is not None and d.step <= step else None,
            float(scalars[0, SCALARS.index("data_loss")]),
        )
        net = self.network_at(step)
        facts = network_facts(
            net,
            t.data.n_features,
            trainer_chance_loss(t),
            t.data.n_classes,
            settings=training_defaults(net.training),
            plan=t.plan,
        )
        return diagnose_telemetry(facts, telemetry)

    def view(self, step: int, boundary: bool = True, findings: bool = True) -> StepView:
        """Step `step` as the run showed it right after it (see StepView): the recorded
        figures, then the step recreated for its histograms and decision boundary."""
        plot = self.plot_at(step)
        trainer = self.trainer_at(step)
        record = trainer.step()
        self._viewed[self.segment_at(step)] = record
        plot.node_stats, plot.histograms = record.node_stats, record.histograms
        if boundary:
            plot.boundary = boundary_of(trainer)
        return StepView(step, record, plot, self.diagnose_at(step) if findings else [])

    def dump(self, step: int) -> dict:
        """Step `step`'s state just before its update, under the dump keys: what `vgsim run
        --dump-at step --dump-state` saves."""
        if not 0 <= step < self.steps:
            raise IndexError(f"step {step} is outside the run's steps 0..{self.steps - 1}")
        return self.trainer_at(step).step_with_state()[1]

    # --- helpers -----------------------------------------------------------------------------
    def _scratch(self, k: int) -> Trainer:
        if k not in self._trainers:
            self._trainers[k] = Trainer(self.segments[k].network, data=self._data)
            if self._data is None:
                self._data = self._trainers[k].data
        return self._trainers[k]

    def _at(self, k: int, step_count: int) -> bool:
        """Whether segment k's trainer holds this run's state after `step_count` or more steps
        (a state it can go on from)."""
        t = self._trainers.get(k)
        return (
            t is not None
            and k in self._restored
            and t.divergence is None
            and t.step_count >= step_count
        )

    def _check(self, step: int) -> None:
        if not 0 <= step < self.steps:
            raise IndexError(f"step {step} is outside the run's steps 0..{self.steps - 1}")
        self._need_figures(step + 1)

    def _need_figures(self, steps: int) -> None:
        if len(self.figures) < steps:
            raise StateError(
                f"The figures of step {steps - 1} were not saved (the run stopped before it "
                "could write them); its states still recreate any step's state."
            )

    def _read(self, file: str) -> TrainerState:
        if self.read_state is None:
            raise StateError(f"The state {file} is in a file this timeline cannot read.")
        return self.read_state(file)

    def _replay(self, trainer: Trainer, target: int) -> None:
        """Train `trainer` up to `target` steps, applying the live changes where the run did;
        without the per-node figures and the evaluations, which the timeline has already (an
        evaluation changes no state but `last_eval`, which the figures give)."""
        pending = sorted(
            (c for c in self.changes if trainer.step_count <= c.step <= target),
            key=lambda c: c.step,
        )
        start, every = trainer.step_count, trainer.eval_every
        known = len(self.figures) >= target  # else (an unfinished run's folder) evaluate
        trainer.telemetry = False
        if known:
            trainer.eval_every = NEVER
        try:
            while True:
                while pending and pending[0].step <= trainer.step_count:
                    trainer.set_live(**pending.pop(0).settings)
                if trainer.step_count >= target or trainer.divergence is not None:
                    break
                stop = min(target, pending[0].step) if pending else target
                trainer.run_block(stop - trainer.step_count)
        finally:
            trainer.telemetry = True
            trainer.eval_every = every
        if known and trainer.step_count > start:
            row = self.figures.scalars[trainer.step_count - 1]
            trainer.last_eval = {name: float(row[SCALARS.index(name)]) for name in EVALUATED}

    def prediction(self, k: int) -> np.ndarray | None:
        """The mean-field prediction (relative, predicted_gradient_flow) the window shows for
        segment k, from its first state: anchored to step 0's figures, the theory line."""
        if k not in self._relative:
            start = self.segments[k].start
            self._relative[k] = predicted_gradient_flow(self.trainer_at(start))
        return self._relative[k]
