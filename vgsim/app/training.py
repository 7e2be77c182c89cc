"""Connects the window to the training worker: controls in, frames out (plots, canvas, status).

A QTimer draws the newest frame about 30 times a second; frames that arrive in between are
simply replaced, so a slow redraw never builds a queue.

The controller holds at most one run, numbered: `load`, `unload` and `reset` each start the next
one, and frames of any earlier run are dropped, so nothing the window draws can belong to a
network it has left.
"""

from __future__ import annotations

import copy
import gc
from collections.abc import Callable
from concurrent.futures import Future

from PySide6.QtCore import QObject, QTimer, Signal

from ..engine.schema import training_defaults
from ..engine.spec import Network
from ..engine.train import Trainer
from ..experiments.plot_data import PlotData
from .threads import FramePacer
from .worker import Frame, TrainingWorker

FRAME_MS = 33
# A frame may keep the GUI thread busy at most this share of the time: after a slow draw the
# next one waits, so the window always has time left for the user (and the GIL for training).
BUSY_SHARE = 0.5
REBUILD_DELAY_MS = 120
LIVE_SETTINGS = ("lr", "l2", "clip")
# Training settings a run does not depend on: live ones, and the recommended length of a run.
NOT_STRUCTURAL = (*LIVE_SETTINGS, "steps")


class MainThreadCollector(QObject):
    """Runs Python's cycle collector on the GUI thread only. Left automatic, it runs in
    whichever thread happens to allocate (the trainer), and a Qt object it frees there is
    destroyed on the wrong thread: that deadlocked the window. pyqtgraph's GarbageCollector
    does the same."""

    _froze = False  # the process's long-lived heap is frozen (gc.freeze)

    def __init__(
        self,
        parent: QObject | None = None,
        interval_ms: int = 1000,
        hold: Callable[[], bool] | None = None,
    ):
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        # While `hold()` (kernels compiling in the worker), collecting would walk the
        # compiler's many short-lived objects for a quarter of a second on this thread.
        self._hold = hold or (lambda: False)
        self._held = False
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.collect)
        self.timer.start(interval_ms)

    def collect(self) -> None:
        # Collect a generation when its counter passes its threshold, as the automatic
        # collector would, but here.
        if self._hold():
            self._held = True
            return
        if self._held or not MainThreadCollector._froze:
            # What exists by now (modules, compiled kernels and what building them left)
            # lives for the whole process: move it out of the collector's sight, without a
            # full collection (a quarter of a second with the compiler's objects around).
            # Once per process, not per window: a later window stays collectable.
            gc.freeze()
            self._held = False
            MainThreadCollector._froze = True
            return
        thresholds, counts = gc.get_threshold(), gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > thresholds[generation]:
                gc.collect(generation)
                break

    def stop(self) -> None:
        """A last collection here, on the GUI thread, then Python's own collector again. What
        was frozen stays so (unfreezing would make this collection walk it all, about a
        quarter of a second); stopping twice does nothing."""
        if not self.timer.isActive():
            return
        self.timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()


class TrainingController(QObject):
    frame_ready = Signal(object)  # Frame, at most ~30 per second

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.worker = TrainingWorker()
        self.collector = MainThreadCollector(self, hold=lambda: self.worker.building)
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._poll)
        self.timer.start()
        self._pending: Network | None = None
        self._pacer = FramePacer(BUSY_SHARE)
        self.frame: Frame | None = None  # the newest frame of the current run
        self.network: Network | None = None  # what the current run trains (None: no run)
        self.run = 0  # the current run

    # --- commands -----------------------------------------------------------------------------
    def load(self, net: Network) -> None:
        """A fresh run of `net`, at step 0. Its trainer is built shortly (the canvas draws the
        new network first, and a burst of edits builds one); any training command sent before
        then builds it at once, so nothing runs on the old one."""
        self._new_run()
        self.network = net.copy()
        self._pending = net.copy()
        QTimer.singleShot(REBUILD_DELAY_MS, self._flush)

    def unload(self) -> None:
        """No run: the network cannot train (it has problems)."""
        self._new_run()
        self.network = self._pending = None
        self.worker.send("load", None, self.run)

    def _new_run(self) -> None:
        self.run += 1
        self.frame = None  # the last run's frames are no longer this run's

    def _flush(self) -> None:
        if self._pending is not None:
            net, self._pending = self._pending, None
            self.worker.send("load", net, self.run)

    def _send(self, command: str, *args: object) -> None:
        self._flush()
        self.worker.send(command, *args)

    def needs_rebuild(self, net: Network) -> bool:
        """True if `net` differs from the trained one in anything a run depends on: not the
        live settings, positions, labels, names or texts."""
        if self.network is None:
            return True
        a, b = net.to_dict(), self.network.to_dict()
        for d in (a, b):
            d["training"] = {k: v for k, v in d["training"].items() if k not in NOT_STRUCTURAL}
            for node in d["nodes"]:
                node.pop("pos", None)
                node.pop("label", None)
            for key in ("name", "description", "lesson"):
                d.pop(key, None)
        return a != b

    def apply_live(self, net: Network) -> None:
        """Learning rate, L2 and clipping apply at once, mid-run (also back to a default, when
        an undo takes a setting out of the file)."""
        changes = self.live_changes(net)
        if changes:
            self.network.training = copy.deepcopy(net.training)
            self._send("live", changes)

    def live_changes(self, net: Network) -> dict:
        """The live settings `net` changes from the run's (Trainer.set_live's keywords)."""
        if self.network is None:
            return {}
        new, old = training_defaults(net.training), training_defaults(self.network.training)
        return {k: new[k] for k in LIVE_SETTINGS if new[k] != old[k]}

    def scrub(self, step: int | None) -> None:
        """Show past step `step` as the run showed it (None: the present)."""
        self._send("scrub", step)

    def branch(self, step_count: int, net: Network) -> None:
        """A new run that continues this one from `step_count` steps with `net` (other live
        settings, or the same parameter shapes; else the worker starts `net` from step 0)."""
        self._pending = None  # the branch replaces any rebuild still to come
        self._new_run()
        self.network = net.copy()
        self.worker.send("branch", step_count, net.copy(), self.run)

    def open_run(self, folder: str, net: Network) -> None:
        """A new run: the saved run in `folder`, whose network `net` is the document now."""
        self._pending = None  # it replaces the fresh run the new document asked for
        self._new_run()
        self.network = net.copy()
        self.worker.send("open", str(folder), net.copy(), self.run)

    def play(self) -> None:
        self._send("play")

    def pause(self) -> None:
        self._send("pause")

    def step(self) -> None:
        self._send("step")

    def micro_step(self) -> None:
        self._send("micro")

    def reset(self) -> None:
        """A fresh run of the same network: weights and batch order from the seed, step 0."""
        self._flush()
        self._new_run()
        self.worker.send("reset", self.run)

    def set_speed(self, steps_per_second: float | None) -> None:
        self._send("speed", steps_per_second)

    def run_until(self, kind: str, value: float) -> None:
        self._send("run_until", kind, value)

    def call(self, fn: Callable[[Trainer], object]) -> Future:
        """`fn(trainer)` on the worker thread, after any pending rebuild."""
        self._flush()
        return self.worker.call(fn)

    def shutdown(self) -> None:
        self.timer.stop()
        self.worker.stop()
        self.collector.stop()

    # --- frames -------------------------------------------------------------------------------
    def _poll(self) -> None:
        self._pacer.poll(self.worker, self._draw)

    def _draw(self, frame: Frame) -> None:
        if frame.run != self.run:
            return  # a run the window has left
        self.frame = frame
        self.frame_ready.emit(frame)

    @staticmethod
    def plot_data(frame: Frame) -> PlotData:
        """What the dashboard draws for a frame (nothing while there is no trainer)."""
        return frame.plot if frame.plot is not None else PlotData([], [], [])
