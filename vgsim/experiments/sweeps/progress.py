"""The terminal's view of a running sweep: a bar over the runs with the time left, and the
closing summary."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

from .runner import Progress


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class TerminalBar:
    """On a terminal, one line redrawn in place; elsewhere (a log file), a line every tenth."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self._shown = -1
        self._last_draw = 0.0

    def __call__(self, state: Progress) -> None:
        line = self.line(state)
        if self.live:
            now = time.monotonic()
            if now - self._last_draw < 0.1 and state.done < state.total:
                return
            self._last_draw = now
            self.stream.write("\r" + line.ljust(self._width())[: self._width()])
            self.stream.flush()
            return
        tenth = state.done * 10 // max(state.total, 1)
        if tenth != self._shown:
            self._shown = tenth
            print(line, file=self.stream, flush=True)

    def _width(self) -> int:
        return max(40, shutil.get_terminal_size((100, 20)).columns - 1)

    def line(self, state: Progress) -> str:
        width = 24
        filled = width * state.done // max(state.total, 1)
        bar = "#" * filled + "." * (width - filled)
        extra = f", {state.diverged} diverged" if state.diverged else ""
        extra += f", {state.failed} failed" if state.failed else ""
        return (
            f"[{bar}] {state.done}/{state.total} runs{extra}  "
            f"elapsed {duration(state.elapsed_s)}  left {duration(state.left_s)}"
        )

    def close(self) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()


def summary(state: Progress) -> str:
    """Finished (diverged among them), failed, skipped, and any left."""
    text = (
        f"{state.total} runs: {state.finished} finished ({state.diverged} diverged), "
        f"{state.failed} failed, {state.skipped} skipped (already done)"
    )
    pending = state.total - state.done
    if pending:
        text += f", {pending} not run"
    return text + f"; {duration(state.elapsed_s)}"
