"""The terminal's view of a running sweep: a bar over the runs with the time left, and the
closing summary."""

from __future__ import annotations

import shutil
import sys
from typing import TextIO

from .runner import Progress


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class TerminalBar:
    """On a terminal, a bar over the runs with the time left (tqdm, as `vgsim run` shows);
    elsewhere (a log file), a plain line every tenth of the runs."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.bar = None
        self.live = self.stream.isatty()
        self._shown = -1

    def __call__(self, state: Progress) -> None:
        if self.live and self.bar is None:
            from tqdm import tqdm

            width = shutil.get_terminal_size((100, 24)).columns
            self.bar = tqdm(  # from the runs already done: the rate is this call's own
                total=state.total, initial=state.done, unit="run", ncols=width, file=self.stream
            )
        if self.bar is not None:
            self.bar.set_postfix_str(self.counts(state), refresh=False)
            self.bar.update(state.done - self.bar.n)
            return
        tenth = state.done * 10 // max(state.total, 1)
        if tenth != self._shown:
            self._shown = tenth
            print(self.line(state), file=self.stream, flush=True)

    @staticmethod
    def counts(state: Progress) -> str:
        parts = [f"{state.diverged} diverged"] if state.diverged else []
        parts += [f"{state.failed} failed"] if state.failed else []
        return ", ".join(parts)

    def line(self, state: Progress) -> str:
        counts = self.counts(state)
        return (
            f"{state.done}/{state.total} runs{', ' + counts if counts else ''}  "
            f"elapsed {duration(state.elapsed_s)}  left {duration(state.left_s)}"
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


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
