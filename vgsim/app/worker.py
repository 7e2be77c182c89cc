"""Runs the Trainer off the GUI thread and hands over only the newest state.

The window sends commands (load, play, pause, step, micro-step, reset, settings); the worker
thread trains and publishes a `Frame` after each block of steps. Every load and reset starts a
run, numbered by the window: each frame says which run it shows, so the window can drop any
frame of a run it has left. The window's timer picks up the newest
frame at its own pace, so stale frames are dropped, never queued. The kernels release the GIL,
so the window stays responsive while the worker trains.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from ..engine.data import load_dataset
from ..engine.diagnose import diagnose
from ..engine.errors import VgsimError
from ..engine.schema import training_defaults
from ..engine.spec import Network
from ..engine.theory import predicted_gradient_flow
from ..engine.train import Trainer
from ..engine.trainer_evaluation import evaluation_plan
from ..engine.warm import init_compiler
from ..experiments.plot_sources import anchored_theory, boundary_of, plot_of, theory_from
from .frames import Frame
from .threads import FrameThread
from .warming import KernelWarmer
from .worker_past import PastSteps

SWITCH_INTERVAL_S = 0.0005
BLOCK_SECONDS = 1 / 30  # how long the worker trains before publishing: one frame
PUBLISH_SECONDS = 1 / 40  # the window draws at ~30 Hz: newer frames than that are wasted
BOUNDARY_SECONDS = 0.3
DIAGNOSIS_SECONDS = 0.5
RATE_SECONDS = 0.5  # the shown steps per second: counted over this much wall time
# Train and test set evaluations over a run's planned length, in the window (see for_the_window),
# but never more than AFFORDABLE times as often as a headless run evaluates by default.
WINDOW_EVALUATIONS = 32
AFFORDABLE = 4


def planned_steps(net: Network | None) -> int:
    """A run's recommended length: the lesson's, else the file's `steps`."""
    lesson = (net.lesson if net is not None else None) or {}
    steps = lesson.get("steps") or training_defaults(net.training if net else {})["steps"]
    return steps if isinstance(steps, int) and steps > 0 else 500


def window_eval_every(net: Network, auto: int) -> int:
    """How often the window evaluates a network whose file leaves it to "auto" (`auto`: the
    headless interval, about an eighth of a batch's rows evaluated per step). Headless, a
    dozen points in a 2,000-step lesson: curves that stand still between jumps while the
    student watches. The window evaluates about WINDOW_EVALUATIONS times over the planned run
    (every 60 steps of a 2,000-step lesson), on the same rows, but at most AFFORDABLE times as
    often as headless: evaluating is a forward pass over hundreds of rows, and every 30 steps
    it took half of lesson 1's training time (tanh), every 10 steps four fifths of lesson 13's
    (convolutions over 871 rows)."""
    dense = max(10, 10 * round(planned_steps(net) / (10 * WINDOW_EVALUATIONS)))
    return min(auto, max(dense, 10 * math.ceil(auto / (10 * AFFORDABLE))))


def for_the_window(net: Network) -> Network:
    """The network as the window trains it: evaluated as window_eval_every says, unless the
    file sets its own `eval_every`. The document is not changed."""
    if net.training.get("eval_every", "auto") != "auto":
        return net
    data = load_dataset(net.data, net.base_dir)  # its sizes set the headless interval
    cfg = training_defaults(net.training)
    auto = evaluation_plan(cfg, len(data.X_train), len(data.X_test))[2]
    denser = net.copy()
    denser.training = {**net.training, "eval_every": window_eval_every(net, auto)}
    return denser


@dataclass
class _Until:
    kind: str  # "steps", "epochs" or "loss"
    value: float
    start: int = 0


class TrainingWorker(PastSteps, FrameThread):
    def __init__(self) -> None:
        super().__init__("vgsim-trainer")
        self._serial = 0
        self.trainer: Trainer | None = None
        self._rate_limit: float | None = None  # steps per second; None: as fast as possible
        self._until: _Until | None = None
        self._rate = 0.0  # steps per second while training (kernel and bookkeeping)
        self._wall_rate = 0.0  # steps per second of wall time (see _count_steps)
        self._counted_since: float | None = None
        self._counted = 0
        self._published = 0.0
        self._boundary: dict | None = None
        self._boundary_at = (-1.0, -1)  # (time, step) it was computed at
        self._network: Network | None = None
        self.building = False  # read by the window's garbage collector: hold off meanwhile
        self._warmer = KernelWarmer()
        init_compiler()  # here, not on the thread that would hold the GIL for it
        # The window holds the GIL while it draws; this thread needs it for a moment between
        # kernel calls. Python hands it over after the switch interval (5 ms by default): a
        # shorter one costs the window little and wins back most of the training it waited.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self._theory: np.ndarray | None = None  # relative prediction for the loaded network
        self._findings: tuple = ()
        self._diagnosed_at = (-1.0, -1)
        self._run = 0
        # Step 0's figures and histograms before it is taken (Trainer.preview): a fresh run is
        # drawn at once.
        self._initial: tuple[np.ndarray, np.ndarray] | None = None
        self._start()

    # --- called from the window ---------------------------------------------------------------
    def call(self, fn: Callable[[Trainer], object]) -> Future:
        """Run `fn(trainer)` on the worker thread between blocks (the trainer is never touched
        from two threads); the Future holds its result or its exception."""
        future: Future = Future()
        self.send("call", future, fn)
        return future

    # --- the worker thread --------------------------------------------------------------------
    def _begin(self) -> None:
        # Most networks are float32: start compiling those kernels while the window builds.
        self.building = True
        try:
            if self._warmer.cold("float32"):
                self._publish(building=True)  # the window shows progress meanwhile
            self._warmer.prepare("float32")
        finally:
            self.building = False

    def _work(self) -> None:
        self._play_block()

    def _handle(self, command: str, args: tuple) -> None:
        if command == "load":
            self._load(*args)  # type: ignore[arg-type]
            return
        if command in ("call", "micro"):
            self._finish_warming()  # both may run the micro-step kernels
        if command == "call":
            self._call(*args)  # type: ignore[arg-type]
            return
        if command == "reset":
            self._new_run(int(args[0]))  # type: ignore[call-overload]
            if self.trainer is not None:
                self.trainer.reset()
                self._initial = self.trainer.preview()
            self._record_from_start(self.trainer)
            self._publish()
            return
        if self.trainer is None:
            return
        if command == "open":
            self._open_run(*args)  # type: ignore[arg-type]
            return
        if command == "branch":
            self._branch(*args)  # type: ignore[arg-type]
            return
        if command == "scrub":
            self._scrub(args[0])  # type: ignore[arg-type]
            return
        if command in ("play", "run_until", "step", "micro"):
            self._at = None  # training goes on from the present
        if command in ("play", "run_until", "speed"):
            self._counted_since, self._wall_rate, self._resume_at = None, 0.0, 0.0
        if command == "play":
            self._playing = not self.trainer.diverged
            self._until = None
        elif command == "pause":
            self._playing = False
        elif command == "run_until":
            kind, value = args
            self._until = _Until(str(kind), float(value), self.trainer.step_count)  # type: ignore[arg-type]
            self._playing = not self.trainer.diverged
        elif command == "speed":
            self._rate_limit = args[0]  # type: ignore[assignment]
        elif command == "step":
            self._playing = False
            self._recorded(self.trainer.step())
        elif command == "micro":
            self._playing = False
            done = self.trainer.micro_step()
            self._recorded(done.record)
            self._publish(phase=done.phase, node=done.node, micro=done.record is None)
            return
        elif command == "live":
            self.trainer.set_live(**args[0])  # type: ignore[arg-type]
            self._live_recorded(args[0])  # type: ignore[arg-type]
        self._publish()

    def _as_trained(self, network: Network) -> Network:
        return for_the_window(network)

    def _new_run(self, run: int) -> None:
        """Forget everything of the run before: from now on frames belong to `run`."""
        self._run = run
        self._playing = False
        self._until = None
        self._initial = None
        self._boundary = None
        self._boundary_at = (-1.0, -1)
        self._findings = ()
        self._diagnosed_at = (-1.0, -1)

    def _load(self, net: Network | None, run: int) -> None:
        """A trainer for `net` at step 0 with its step-0 figures; None: no trainer (the
        window's network cannot train)."""
        self._new_run(run)
        self.trainer = None
        self._record_from_start(None)
        self._network = net.copy() if net is not None else None
        self._theory = None
        if net is None:
            self._publish()
            return
        self.building = True
        self._publish(building=True)
        try:
            self._warmer.prepare(str(net.training.get("dtype", "float32")))
            if self._warmer.stopped:  # the window is closing
                return
            trainer = Trainer(for_the_window(net))
            # Compile (first run) or load every kernel now, not on the first Play.
            trainer.evaluate()
            self._theory = predicted_gradient_flow(trainer)  # the step kernel's pieces
            self._warmer.finish()  # the preview runs the micro-step kernels: wait for them
            self._initial = trainer.preview()
            self.trainer = trainer
            self._record_from_start(trainer)
        finally:
            self.building = False
        self._publish()

    def _finish_warming(self) -> None:
        if not self._warmer.busy:
            return
        self.building = True
        self._publish(building=True)
        try:
            self._warmer.finish()
        finally:
            self.building = False

    def stop(self, timeout: float = 5.0) -> None:
        self._warmer.stop()  # first: the thread may be waiting for it
        super().stop(timeout)

    def _call(self, future: Future, fn: Callable[[Trainer], object]) -> None:
        if not future.set_running_or_notify_cancel():
            return
        if self.trainer is None:
            future.set_exception(VgsimError("There is no trained network: fix its problems first."))
            return
        try:
            future.set_result(fn(self.trainer))
        except Exception as exc:
            future.set_exception(exc)

    def _play_block(self) -> None:
        trainer = self.trainer
        assert trainer is not None
        if trainer.diverged:
            self._playing = False
            self._publish()
            return
        budget = 256
        if self._rate_limit:
            budget = max(1, int(self._rate_limit * BLOCK_SECONDS))
        budget = self._until_budget(budget)
        # "Until the loss is below x" is checked after every step, so it stops at that step.
        most = 1 if self._until is not None and self._until.kind == "loss" else budget
        started = time.perf_counter()
        done = 0
        while done < budget and (elapsed := time.perf_counter() - started) < BLOCK_SECONDS / 2:
            # As many steps as fit in the time left, in one kernel call: each call is a wait
            # for the GIL, which the window holds while it draws. A block that ends a little
            # early is published as it is, not topped up with a second call.
            fit = int(self._rate * (BLOCK_SECONDS - elapsed)) if self._rate else 4
            block = trainer.run_block(max(1, min(budget - done, fit, most)))
            if block is None:
                break
            self._recorded(block)
            done += len(block.steps)
            if self._until_reached():
                self._playing = False
                break
        elapsed = time.perf_counter() - started
        if done:
            rate = done / max(elapsed, 1e-9)
            self._rate = rate if self._rate == 0 else 0.8 * self._rate + 0.2 * rate
            self._count_steps(done, started)
        if trainer.diverged:
            self._playing = False
        # Under a speed limit the thread now waits: show what it did before it does.
        resting = self._rate_limit and self._playing
        if not self._playing or resting or time.perf_counter() - self._published >= PUBLISH_SECONDS:
            self._publish()
        if resting:
            self._resume_at = started + done / self._rate_limit

    def _count_steps(self, done: int, started: float) -> None:
        """Steps per second of wall time, speed limit and drawing included: what the status
        bar shows (self._rate, the training speed alone, sizes the blocks)."""
        now = time.perf_counter()
        if self._counted_since is None:
            self._counted_since, self._counted = started, 0
        self._counted += done
        span = now - self._counted_since
        if span >= RATE_SECONDS:
            self._wall_rate = self._counted / span
            self._counted_since, self._counted = now, 0

    def _until_budget(self, budget: int) -> int:
        u, t = self._until, self.trainer
        if u is None or t is None:
            return budget
        if u.kind == "steps":
            return max(1, min(budget, int(u.start + u.value) - t.step_count))
        if u.kind == "epochs":
            return max(1, min(budget, t.steps_to_epoch(int(np.ceil(u.value)))))
        return budget

    def _until_reached(self) -> bool:
        u, t = self._until, self.trainer
        if u is None or t is None or t.history.latest is None:
            return False
        if u.kind == "steps":
            reached = t.step_count >= u.start + u.value
        elif u.kind == "epochs":
            reached = t.epoch >= u.value
        else:
            reached = t.history.latest.loss < u.value
        if reached:
            self._until = None
        return reached

    def _publish(
        self,
        phase: str | None = None,
        node: str | None = None,
        micro: bool = False,
        error: str | None = None,
        building: bool = False,
    ) -> None:
        t = self.trainer
        self._serial += 1
        if t is None:
            frame = Frame(
                self._serial,
                None,
                0,
                0,
                False,
                0.0,
                error=error,
                building=building,
                network=self._network,
                run=self._run,
            )
        else:
            initial = self._initial if t.step_count == 0 and not micro else None
            theory = (
                theory_from(t.plan, self._theory, initial[0])
                if initial is not None
                else anchored_theory(t, self._theory)
            )
            self._refresh_boundary()
            self._refresh_diagnosis()
            frame = Frame(
                serial=self._serial,
                record=t.history.latest,
                step_count=t.step_count,
                epoch=t.epoch,
                playing=self._playing,
                steps_per_second=self._wall_rate or self._rate,
                phase=phase,
                node=node,
                next_phase=t.next_micro if micro else None,
                live_stats=t.stats.copy() if micro else None,
                live_hist=t.hist.copy() if micro else None,
                error=error,
                plot=self._decorated(plot_of(t, self._boundary, theory, initial=initial)),
                nodes=(tuple(t.node_ids), tuple(t.plan.types), tuple(t.plan.functions)),
                network=self._network,
                findings=self._findings,
                diagnosed_at=max(0, self._diagnosed_at[1]),
                run=self._run,
                recorded=self._recording.steps if self._recording is not None else 0,
            )
        self._published = time.perf_counter()
        self._hand_over(frame)

    def _refresh_diagnosis(self) -> None:
        t = self.trainer
        assert t is not None
        now = time.perf_counter()
        fresh = t.step_count != self._diagnosed_at[1]
        if fresh and (not self._playing or now - self._diagnosed_at[0] >= DIAGNOSIS_SECONDS):
            self._diagnosed_at = (now, t.step_count)
            self._findings = tuple(diagnose(t))

    def _refresh_boundary(self) -> None:
        """What the network predicts over the data: at most a few times a second."""
        t = self.trainer
        assert t is not None
        now = time.perf_counter()
        if t.step_count == self._boundary_at[1] or (
            self._playing and now - self._boundary_at[0] < BOUNDARY_SECONDS
        ):
            return  # paused, it always shows the weights as they are
        self._boundary_at = (now, t.step_count)
        self._boundary = boundary_of(t, self._serial)
