"""The shape both training threads share: commands in through a queue, only the newest frame
out (under a lock), so the window never reads a half-made frame and never queues old ones."""

from __future__ import annotations

import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable

from ..engine.errors import VgsimError


class FrameThread(ABC):
    def __init__(self, name: str) -> None:
        self._commands: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._frame = None
        self._playing = False
        self._resume_at = 0.0  # perf_counter time before which playing does no work (a speed
        # limit): the thread waits for commands meanwhile, so Pause is never held up
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def _start(self) -> None:
        """Called by a subclass once its own state is set up."""
        self._thread.start()

    def _loop(self) -> None:
        """Take commands; between them, while playing, work a little; return on "quit"."""
        self._begin()
        while True:
            wait = None if not self._playing else max(0.0, self._resume_at - time.perf_counter())
            try:
                command, args = self._commands.get(timeout=wait)
            except queue.Empty:
                command, args = None, ()
            if command == "quit":
                return
            try:
                if command is not None:
                    self._handle(command, args)
                elif self._playing and time.perf_counter() >= self._resume_at:
                    self._work()
            except Exception as exc:
                self._playing = False
                message = (
                    str(exc) if isinstance(exc, VgsimError) else f"{type(exc).__name__}: {exc}"
                )
                self._publish(error=message)

    def _begin(self) -> None:  # noqa: B027 - an optional hook: most threads need nothing here
        """Runs first on the thread, before any command."""

    @abstractmethod
    def _handle(self, command: str, args: tuple) -> None:
        """One command from the window."""

    @abstractmethod
    def _work(self) -> None:
        """One short round of training while playing."""

    @abstractmethod
    def _publish(self, error: str | None = None) -> None:
        """Build a frame of the current state and hand it over."""

    def _hand_over(self, frame: object) -> None:
        with self._lock:
            self._frame = frame

    # --- called from the window ---------------------------------------------------------------
    def send(self, command: str, *args: object) -> None:
        self._commands.put((command, args))

    def latest(self) -> object | None:
        with self._lock:
            return self._frame

    def stop(self, timeout: float = 5.0) -> None:
        self.send("quit")
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()


class FramePacer:
    """The window's side of the hand-over: draw the newest frame, but after a slow draw let the
    next one wait, so drawing takes at most `busy_share` of the GUI thread's time and the rest
    stays for the user (and the GIL for training)."""

    def __init__(self, busy_share: float, clock: Callable[[], float] = time.perf_counter) -> None:
        self.busy_share = busy_share
        self._clock = clock  # seconds; a test passes its own
        self._drawn = -1  # serial of the last frame drawn
        self._next_draw = 0.0

    def poll(self, thread: FrameThread, draw: Callable[[object], None]) -> object | None:
        """Draw the newest frame if it is new and it is time; returns it (None otherwise)."""
        now = self._clock()
        if now < self._next_draw:
            return None
        frame = thread.latest()
        if frame is None or frame.serial == self._drawn:
            return None
        self._drawn = frame.serial
        draw(frame)
        self._next_draw = now + (self._clock() - now) / self.busy_share
        return frame
