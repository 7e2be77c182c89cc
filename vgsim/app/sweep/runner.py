"""A sweep run for the window: `run_sweep` on a thread of its own that only waits for the
worker processes, its newest progress read by the window's timer. No training happens in the
window's process, and neither does the theory's quadrature: its first call loads Numba kernels,
which holds the GIL for seconds, so it runs in a process of its own."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import threading
from dataclasses import replace
from pathlib import Path

from ...engine.errors import VgsimError
from ...engine.spec import Network
from ...experiments.sweeps import Progress, Sweep, run_sweep
from ...experiments.sweeps.grid import Theory, theory_for
from ...experiments.sweeps.spec import Task


class SweepThread:
    """Builds and runs one sweep (building checks every network, and the theory's lines take
    a second: neither belongs on the window's thread). `ready` once `sweep`, `tasks` and
    `theory` are there; `snapshot()` gives the newest Progress (a copy); `error` says what
    stopped it if it failed; `done` once it has ended; `cancel()` stops the runs in flight."""

    def __init__(self, spec: dict, network: Network, out_dir: Path, workers: int | None = None):
        self.spec, self.network = spec, network
        self.sweep: Sweep | None = None
        self.tasks: list[Task] = []
        self.theory: Theory | None = None
        self.ready = threading.Event()
        self.out_dir = out_dir
        self.workers = workers
        self._lock = threading.Lock()
        self._latest: Progress | None = None
        self._version = 0
        self._cancel = threading.Event()
        self.error: str | None = None
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sweep", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            sweep = Sweep.from_dict(self.spec, network=self.network)
            self.tasks = sweep.tasks()
            self._start_theory(sweep)
            self.sweep = sweep
            self.ready.set()
            run_sweep(
                sweep,
                self.out_dir,
                workers=self.workers,
                progress=self._progress,
                stop=self._cancel.is_set,
            )
        except (VgsimError, OSError) as exc:
            self.error = str(exc)
        except Exception as exc:  # shown in the window, never lost on a thread
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.done.set()

    def _start_theory(self, sweep: Sweep) -> None:
        if not _could_have_theory(sweep):
            return
        pool = cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        self._theory_pool = pool
        future = pool.submit(theory_for, sweep)
        self._theory_future = future
        future.add_done_callback(self._theory_done)
        pool.shutdown(wait=False)  # its one process ends once the theory is computed

    @property
    def theory_pending(self) -> bool:
        """The theory's process is still computing (its lines are yet to come)."""
        future = getattr(self, "_theory_future", None)
        return future is not None and not future.done()

    def _theory_done(self, future: cf.Future) -> None:
        if future.cancelled() or future.exception() is not None:
            return  # no lines on the map: the map itself is still right
        with self._lock:
            self.theory = future.result()
            self._version += 1  # the window redraws with the lines

    def _stop_theory(self) -> None:
        processes = getattr(getattr(self, "_theory_pool", None), "_processes", None) or {}
        for process in list(processes.values()):
            process.terminate()

    def _progress(self, state: Progress) -> None:
        copy = replace(state, records=dict(state.records))
        with self._lock:
            self._latest = copy
            self._version += 1

    def snapshot(self) -> tuple[int, Progress | None]:
        with self._lock:
            return self._version, self._latest

    def cancel(self) -> None:
        self._cancel.set()
        self._stop_theory()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)


def _could_have_theory(sweep: Sweep) -> bool:
    paths = sorted(a.path for a in sweep.axes[:2])
    return paths == ["blocks", "dense.sigma_w2"]
