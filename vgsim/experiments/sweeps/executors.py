"""Where the runs go: a local process pool on all cores, or a Dask cluster.

Both are used the same way (`submit`, `wait`, `close`): concurrent.futures locally, a Dask
`Client` for a cluster, whose futures play the same part. The runner never cares which.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import distributed

from .edits import SweepError


class LocalPool:
    """A process pool of `workers` processes (all cores by default). Started with "spawn", so
    a pool made from a window's process inherits none of its threads."""

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._pool = self._start()

    def _start(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(
            self.workers,
            mp_context=_SPAWN_QUICK_EXIT,
            initializer=_leave_interrupts_to_the_runner,
        )

    @property
    def slots(self) -> int:
        """Runs to keep in flight: one per worker, so a crash is blamed on a running task."""
        return self.workers

    def submit(self, fn: Callable, arg: object) -> cf.Future:
        try:
            return self._pool.submit(fn, arg)
        except BrokenProcessPool:
            self.restart()
            return self._pool.submit(fn, arg)

    def wait(self, futures: Iterable, timeout: float) -> set:
        done, _ = cf.wait(list(futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return done

    def crashed(self, exc: BaseException) -> bool:
        return isinstance(exc, BrokenProcessPool)

    def restart(self) -> None:
        """A worker died and took the pool with it: a new pool (the old one's other runs are
        lost and will be submitted again)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._start()

    def close(self, cancel: bool = False, futures: Iterable = ()) -> None:
        if cancel:
            # Stop the runs in flight too, not just the queued ones: a Cancel is at once.
            processes = list(getattr(self._pool, "_processes", {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
            for process in processes:
                process.join(5)
        else:
            self._pool.shutdown(wait=True)


def _leave_interrupts_to_the_runner() -> None:
    """A worker ignores Ctrl-C (a terminal sends it to the whole process group): the runner
    alone stops, stores what it has and ends its workers, and no run is taken for a crash."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _QuickExitProcess(multiprocessing.context.SpawnProcess):
    """A pool worker that, its work done, ends as a headless command does (exit_now: threads
    joined, exit handlers run, output flushed, no module teardown). Tearing down an interpreter
    with Numba's kernels loaded held the pool's close 0.47-0.66 s with one worker and 1.1-1.3 s
    with two (load 5.5); 0.02-0.06 s so."""

    def run(self) -> None:
        super().run()
        from ...exiting import exit_now

        exit_now(0)


class _SpawnQuickExit(multiprocessing.context.SpawnContext):
    Process = _QuickExitProcess


_SPAWN_QUICK_EXIT = _SpawnQuickExit()


class DaskCluster:
    """A Dask distributed Client: to a running scheduler (`address`), or to a LocalCluster."""

    name = "dask"

    def __init__(
        self,
        address: str | None = None,
        client: distributed.Client | None = None,
        workers: int | None = None,
    ):
        try:
            import distributed
        except ImportError:
            raise SweepError(
                "Running a sweep on a Dask cluster needs Dask distributed: "
                'pip install "vgsim[cluster]".'
            ) from None
        self._own = client is None
        if client is None:
            try:
                client = distributed.Client(address, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise SweepError(f"Cannot reach the Dask scheduler at {address}: {exc}") from None
        self.client = client
        self._finished = threading.Event()
        self._told: set = set()  # the futures whose end sets _finished
        self._settings = _settle_workers(client)
        info = client.scheduler_info()
        threads = sum(w.get("nthreads", 1) for w in info.get("workers", {}).values())
        self.workers = workers or max(1, threads)

    @property
    def slots(self) -> int:
        # Dask tells which task a dead worker was running; keep each worker's next run queued.
        return 2 * self.workers

    def submit(self, fn: Callable, arg: object) -> distributed.Future:
        return self.client.submit(fn, arg, pure=False)

    def wait(self, futures: Iterable, timeout: float) -> set:
        """The finished ones, waiting at most `timeout` for one. Each future tells when it is
        done (a callback setting an event): distributed.wait would ask the Client's event
        loop every poll, five times a second."""
        futures = list(futures)
        for future in futures:
            if future not in self._told:
                self._told.add(future)
                future.add_done_callback(lambda _: self._finished.set())
        self._finished.clear()
        done = {f for f in futures if f.done()}
        if not done and self._finished.wait(timeout):
            done = {f for f in futures if f.done()}
        self._told.intersection_update(futures)
        return done

    def crashed(self, exc: BaseException) -> bool:
        return False  # a dead Dask worker fails its own tasks only (KilledWorker)

    def restart(self) -> None:
        pass

    def close(self, cancel: bool = False, futures: Iterable = ()) -> None:
        if cancel:
            self.client.cancel(list(futures))
        if self._settings:
            _unsettle_workers(self.client)
        if self._own:
            self.client.close()


def _settle_workers(client: distributed.Client) -> bool:
    """The sweep's settings on every worker (dask_workers.py); False if not wanted."""
    from . import dask_workers

    if not dask_workers.wanted():
        return False
    try:
        client.register_plugin(dask_workers.SweepWorkerSettings())
    except Exception:  # e.g. workers with an older vgsim: the runs go on, just slower
        return False
    return True


def _unsettle_workers(client: distributed.Client) -> None:
    from . import dask_workers

    try:
        client.unregister_worker_plugin(dask_workers.PLUGIN_NAME)
    except Exception:  # a worker gone or a client closing: nothing left to put back
        pass


def make_executor(
    workers: int | None = None,
    scheduler: str | None = None,
    client: distributed.Client | None = None,
) -> LocalPool | DaskCluster:
    if client is not None or scheduler:
        return DaskCluster(scheduler, client, workers)
    return LocalPool(workers)
