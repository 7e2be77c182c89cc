"""The training worker's time travel: it records its run as it trains (experiments.recording),
shows any past step as the run showed it, and branches from one.

A past step is published twice: at once from the recorded figures (`exact=False`: every plot
but the activation histograms and the decision boundary, a few milliseconds), then, unless
the window has asked for another step meanwhile, exactly (the step's state recreated, its
histograms and boundary with it). Frames of a past step carry `at`, the step shown.
"""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

from ..engine.errors import NetworkError, VgsimError
from ..engine.spec import Network
from ..engine.state import StateError
from ..engine.telemetry import SCALARS
from ..engine.train import Trainer
from ..experiments.plot_data import PlotData
from ..experiments.recording import Recording
from ..experiments.sides import Side
from .frames import Frame


class PastSteps:
    """Mixed into TrainingWorker (which has trainer, _network, _theory, _run, _serial,
    _commands, _new_run, _load, _publish and _hand_over)."""

    _recording: Recording | None = None
    _at: int | None = None  # the past step shown; None: the present

    def _record_from_start(self, trainer: Trainer | None) -> None:
        """A fresh run: record it from its first step."""
        self._at = None
        self._recording = None if trainer is None else Recording.follow(trainer, self._theory)

    def _recorded(self, done: object) -> None:
        if self._recording is not None and self.trainer is not None:
            self._recording.record(self.trainer, done)

    def _live_recorded(self, settings: dict) -> None:
        if self._recording is not None and self.trainer is not None:
            self._recording.live_changed(self.trainer, settings)

    def _decorated(self, plot: PlotData) -> PlotData:
        return self._recording.decorate(plot) if self._recording is not None else plot

    # --- commands -----------------------------------------------------------------------------
    def _scrub(self, step: int | None) -> None:
        """Show step `step` as the run showed it (None, or the last step: the present)."""
        self._playing = False
        self._until = None
        rec = self._recording
        if rec is None or step is None or step >= rec.steps - 1:
            self._at = None
            self._publish()
            return
        self._at = step = max(0, int(step))
        plot, findings = rec.glance(step)
        self._publish_past(step, plot, tuple(findings), None, exact=False)
        if not self._commands.empty():
            return  # the student has moved on: no need to recreate this one
        view = rec.view(step, findings=False)  # the glance's are the same
        if view.plot.boundary is not None:  # a new picture for the plot (it skips a known one)
            view.plot.boundary = {**view.plot.boundary, "serial": self._serial + 1}
        self._publish_past(step, view.plot, tuple(findings), view.record, exact=True)

    def _branch(self, step_count: int, network: Network, run: int) -> None:
        """Continue the run from `step_count` steps with `network` (the document: other live
        settings, or a network of the same parameter shapes), as run number `run`. A network
        that cannot continue from there (other shapes or data) starts a fresh run instead,
        and the frame says why."""
        rec = self._recording
        if rec is None or self.trainer is None:
            self._load(network, run)
            return
        try:
            trainer = rec.branch(step_count, network=self._as_trained(network))
        except (StateError, NetworkError) as exc:
            self._load(network, run)
            self._publish(error=f"A fresh run from step 0: {exc}")
            return
        self._new_run(run)
        self.trainer = trainer
        self._network = network.copy()
        self._theory = rec.prediction()
        if trainer.step_count == 0:
            self._initial = trainer.preview()
        self._publish()

    def save_run(self, folder: str | Path) -> Future:
        """Write the run as recorded into `folder` (timeline_files.save_run), on the worker
        thread between blocks; the Future holds the folder or the error."""
        return self.call(lambda _trainer: self._save_run(Path(folder)))

    def _save_run(self, folder: Path) -> Path:
        if self._recording is None or self._recording.steps == 0:
            raise VgsimError("There is no run to save yet: train a step first.")
        return self._recording.save(folder)

    def branch_sides(self) -> Future:
        """The run and the run it branched from, as two sides of a comparison (see
        Recording.sides), taken on the worker thread between blocks; the Future holds the list
        of sides or the error."""
        return self.call(lambda _trainer: self._branch_sides())

    def _branch_sides(self) -> list[Side]:
        if self._recording is None:
            raise VgsimError("There is no run yet.")
        return self._recording.sides()

    def _open_run(self, folder: str, network: Network, run: int) -> None:
        """Run number `run` is the saved run in `folder` (its network: `network`), ready to
        scrub, branch or train on; if it cannot be read, a fresh run of its network, and the
        frame says why."""
        try:
            recording, trainer = Recording.open(folder)
        except (StateError, NetworkError, OSError) as exc:
            self._load(network, run)
            self._publish(error=f"Cannot open the run, so it starts again from step 0: {exc}")
            return
        self._new_run(run)
        self.trainer = trainer
        self._recording = recording
        self._network = network.copy()
        self._theory = recording.prediction()
        self._publish()

    def _as_trained(self, network: Network) -> Network:
        """The network as the worker trains it (TrainingWorker: for_the_window)."""
        return network

    def _publish_past(
        self, step: int, plot: PlotData, findings: tuple, record: object, exact: bool
    ) -> None:
        """A frame of past step `step` (its plot data from the recording)."""
        self._serial += 1
        epoch = int(plot.tail_scalars[-1, SCALARS.index("epoch")]) if len(plot.tail_scalars) else 0
        frame = Frame(
            serial=self._serial,
            record=record,
            step_count=step + 1,
            epoch=epoch,
            playing=False,
            steps_per_second=0.0,
            plot=plot,
            nodes=(tuple(plot.node_ids), tuple(plot.types), tuple(plot.functions)),
            network=self._network,
            findings=findings,
            diagnosed_at=step + 1,
            run=self._run,
            at=step,
            recorded=self._recording.steps if self._recording is not None else 0,
            exact=exact,
        )
        self._hand_over(frame)
