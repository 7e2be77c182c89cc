"""The shape both training threads share: commands in through a queue, only the newest frame
out (under a lock), so the window never reads a half-made frame and never queues old ones."""

from __future__ import annotations

import queue
import threading
from abc import ABC, abstractmethod


class FrameThread(ABC):
    def __init__(self, name: str) -> None:
        self._commands: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._frame = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def _start(self) -> None:
        """Called by a subclass once its own state is set up."""
        self._thread.start()

    @abstractmethod
    def _loop(self) -> None:
        """The thread's body: take commands, work, hand over frames, return on "quit"."""

    def _hand_over(self, frame: object) -> None:
        with self._lock:
            self._frame = frame

    # --- called from the window ---------------------------------------------------------------
    def send(self, command: str, *args: object) -> None:
        self._commands.put((command, args))

    def latest(self):  # noqa: ANN201 - each subclass's own frame type
        with self._lock:
            return self._frame

    def stop(self, timeout: float = 5.0) -> None:
        self.send("quit")
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
