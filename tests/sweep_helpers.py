"""Functions sweep tests hand to worker processes (importable there: tests/ is on the path
that spawned workers inherit)."""

from __future__ import annotations

import os

from vgsim.experiments.sweeps.worker import run_task

CRASH_SEED = 7


def crash_on_seed_7(task):
    """A worker process that dies on one run (as an out-of-memory kill or a segfault would),
    and trains every other run normally."""
    if task.seed == CRASH_SEED:
        os._exit(3)
    return run_task(task)


def leave_a_note_at_exit(path):
    """Registers an exit handler in the worker that writes `path`; returns the worker's pid."""
    import atexit
    from pathlib import Path

    atexit.register(Path(path).write_text, "ran")
    return os.getpid()
