"""Dask workers set up for sweeps: no profiler, slower monitors.

A Dask worker's event loop wakes every 10 ms to sample the running task's stack (its profiler),
every 20 ms to time itself (the tick), every 100 ms to read its memory and every 500 ms the
system's figures for the dashboard. With a run's time all in nogil kernels, that is about 55 ms
of CPU per second per worker (5 ms without them, measured at load 3), taken from the cores the
runs share: the per-run overhead of Dask against the local pool. Sweeps need none of it at that
rate.

Two ways in, both with the same settings:

- `local_cluster`: a LocalCluster started under SETTINGS (its scheduler, nannies and workers
  read them when they start);
- `SweepWorkerSettings`, a WorkerPlugin the sweep's Client registers on every worker of any
  scheduler, also one started elsewhere: it stops the profiler and slows the tick and the
  monitors while the sweep runs, and puts them back when the sweep closes (teardown).
"""

from __future__ import annotations

import dask
import distributed

PLUGIN_NAME = "vgsim-sweep-settings"
# Turned off in a Dask config (dask.config.set({SWITCH: False})): a sweep leaves the workers as
# they are (benchmarks/bench_sweep.py measures against that).
SWITCH = "vgsim.sweep-worker-settings"

TICK_MS = 1000  # Dask: 20 ms. Only warns of a blocked event loop (after 3 s).
MEMORY_MS = 1000  # Dask: 100 ms. A run's memory does not grow by much in a second.
MONITOR_MS = 2000  # Dask: 500 ms. The dashboard's CPU, disk and network figures.

SETTINGS = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": f"{TICK_MS}ms",
    "distributed.worker.memory.monitor-interval": f"{MEMORY_MS}ms",
    "distributed.admin.system-monitor.interval": f"{MONITOR_MS}ms",
    "distributed.admin.system-monitor.gil.enabled": False,  # (if gilknocker is installed)
}

# The worker's periodic callbacks the plugin changes: name -> new period (None: stopped).
CALLBACKS = {
    "profile": None,
    "profile-cycle": None,
    "tick": TICK_MS,
    "memory_monitor": MEMORY_MS,
    "monitor": MONITOR_MS,
}


def local_cluster(workers: int = 2) -> distributed.LocalCluster:
    """A LocalCluster on loopback for sweeps: `workers` processes of one thread each, its
    dashboard on a free port, under SETTINGS."""
    with dask.config.set(SETTINGS):
        return distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # any free port: two clusters at once do not clash on 8787
        )


def wanted() -> bool:
    return bool(dask.config.get(SWITCH, default=True))


class SweepWorkerSettings(distributed.WorkerPlugin):
    """On each worker while a sweep runs: CALLBACKS applied; at teardown, as they were."""

    name = PLUGIN_NAME

    def __init__(self) -> None:
        self._before: dict[str, tuple[float, bool]] = {}

    def setup(self, worker: distributed.Worker) -> None:
        for name, period in CALLBACKS.items():
            callback = worker.periodic_callbacks.get(name)
            if callback is None:
                continue  # e.g. the profiler, off in this worker's config
            self._before[name] = (callback.callback_time, callback.is_running())
            if period is None:
                callback.stop()
            else:
                callback.callback_time = max(callback.callback_time, period)

    def teardown(self, worker: distributed.Worker) -> None:
        for name, (period, running) in self._before.items():
            callback = worker.periodic_callbacks.get(name)
            if callback is None:
                continue
            callback.callback_time = period
            if running and not callback.is_running():
                callback.start()
        self._before.clear()


def periodic_callbacks(dask_worker: distributed.Worker) -> dict[str, float | None]:
    """A worker's periodic callbacks: name -> period in ms, None if stopped (for client.run)."""
    return {
        name: (callback.callback_time if callback.is_running() else None)
        for name, callback in dask_worker.periodic_callbacks.items()
    }
