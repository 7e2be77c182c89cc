"""Trains a `Comparison` off the GUI thread and hands over only the newest snapshot.

As `vgsim.app.worker`: the window sends commands, the thread advances every run in lockstep
(`step_block`, so all live runs always stand at the same step) and publishes a `CompareFrame`;
the window's timer takes the newest one, older ones are dropped, never queued. No Qt here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ...experiments.comparison_data import ComparisonData, from_comparison
from ...experiments.comparisons import Comparison
from ..threads import FrameThread

BLOCK_SECONDS = 0.03  # how long one round of lockstep steps may take
MAX_ROUND = 256  # steps per round at most
PUBLISH_SECONDS = 1 / 30  # the window draws at ~30 Hz: newer frames than that are wasted


@dataclass(frozen=True)
class CompareFrame:
    """A consistent view of every run. `serial` grows with every new frame."""

    serial: int
    data: ComparisonData
    playing: bool
    steps_per_second: float
    error: str | None = None


class ComparisonWorker(FrameThread):
    def __init__(self, comparison: Comparison) -> None:
        self.comparison = comparison  # touched by the worker thread only, once started
        super().__init__("vgsim-compare")
        self._serial = 0
        self._round = 1  # steps per round, adapted so a round takes about BLOCK_SECONDS
        self._rate = 0.0
        self._published = 0.0
        self._publish()
        self._start()

    # --- the worker thread --------------------------------------------------------------------
    def _work(self) -> None:
        self._play_round()

    def _handle(self, command: str, args: tuple) -> None:
        c = self.comparison
        if command == "play":
            self._playing = not c.all_diverged
        elif command == "pause":
            self._playing = False
        elif command == "step":
            self._playing = False
            c.step_block(int(args[0]) if args else 1)  # type: ignore[call-overload]
        elif command == "reset":
            self._playing = False
            c.reset()
            self._rate = 0.0
        self._publish()

    def _play_round(self) -> None:
        c = self.comparison
        started = time.perf_counter()
        c.step_block(self._round)
        elapsed = time.perf_counter() - started
        rate = self._round / max(elapsed, 1e-9)
        self._rate = rate if self._rate == 0 else 0.8 * self._rate + 0.2 * rate
        # Rounds of about BLOCK_SECONDS: commands (pause) are answered within one round.
        self._round = int(min(MAX_ROUND, max(1, rate * BLOCK_SECONDS)))
        if c.all_diverged:
            self._playing = False
        if not self._playing or time.perf_counter() - self._published >= PUBLISH_SECONDS:
            self._publish()

    def _publish(self, error: str | None = None) -> None:
        previous = self._frame
        if error is not None and previous is not None:
            data = previous.data  # what failed may be the snapshot itself: keep the last one
        else:
            data = from_comparison(self.comparison)
        self._serial += 1
        frame = CompareFrame(self._serial, data, self._playing, self._rate, error)
        self._published = time.perf_counter()
        self._hand_over(frame)
