"""Run a sweep: every task once, resumable, on a local pool or a Dask cluster.

The output folder holds

    runs/<key>.json   each finished run's record, written atomically the moment it arrives
    sweep.csv         one row per run: the axis values, the seed, the figures, the status
    sweep.json        the spec, the versions, the timing and the counts

Running the same sweep into the same folder again skips every run whose record is there
(Ctrl-C or Cancel loses at most the runs in flight). A run that takes its worker process down
is run again once, on its own (so it alone is blamed), then recorded as failed with the error;
the sweep goes on. No scheduler of our own: the executor's queue is the only queue.
"""

from __future__ import annotations

import csv
import io
import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import distributed

from ...engine.files import write_json, write_text
from .executors import DaskCluster, LocalPool, make_executor
from .spec import Sweep, Task
from .worker import FIGURES, run_task

RUNS = "runs"
CSV_FILE, JSON_FILE = "sweep.csv", "sweep.json"
POLL_S = 0.2  # how often a waiting runner looks at `stop`


@dataclass
class Progress:
    """Where a sweep stands, passed to `progress` at the start and after every finished
    run."""

    total: int
    skipped: int = 0  # finished before this call (resumed)
    finished: int = 0  # finished now, diverged ones included
    diverged: int = 0
    failed: int = 0
    running: int = 0
    elapsed_s: float = 0.0
    busy_s: float = 0.0  # summed wall time of the runs finished now
    last: dict | None = None  # the newest record
    records: dict[str, dict] = field(default_factory=dict)

    @property
    def done(self) -> int:
        return self.skipped + self.finished + self.failed

    @property
    def left_s(self) -> float | None:
        """Time left at this call's pace so far; None before the first run finishes."""
        done_now = self.finished + self.failed
        if done_now == 0:
            return None
        return self.elapsed_s / done_now * (self.total - self.done)


def record_path(out_dir: Path, key: str) -> Path:
    return out_dir / RUNS / f"{key}.json"


def load_records(out_dir: Path, tasks: list[Task]) -> dict[str, dict]:
    """The stored records of these tasks (a damaged file counts as not run)."""
    out = {}
    for task in tasks:
        path = record_path(out_dir, task.key)
        try:
            out[task.key] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return out


def run_sweep(
    sweep: Sweep,
    out_dir: str | Path,
    workers: int | None = None,
    scheduler: str | None = None,
    client: distributed.Client | None = None,
    progress: Callable[[Progress], None] | None = None,
    stop: Callable[[], bool] | None = None,
    run: Callable[[Task], dict] = run_task,
) -> Progress:
    """Run every task not yet stored in `out_dir`; write sweep.csv and sweep.json (also when
    interrupted). `stop()` is asked while waiting: True cancels the runs in flight. `run` is
    the function each worker calls (importable by the workers)."""
    out_dir = Path(out_dir)
    (out_dir / RUNS).mkdir(parents=True, exist_ok=True)
    tasks = sweep.tasks()
    records = load_records(out_dir, tasks)
    state = Progress(total=len(tasks), skipped=len(records), records=records)
    todo = sorted((t for t in tasks if t.key not in records), key=lambda t: -t.cost)
    started = time.perf_counter()
    started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    executor = None
    engine = {"engine": "dask" if (scheduler or client) else "local", "workers": workers}
    outcome = "interrupted"
    if progress is not None:
        progress(state)  # what is done already, before the first run
    try:
        if todo:
            executor = make_executor(workers, scheduler, client)
            engine = {"engine": executor.name, "workers": executor.workers}
            outcome = _drive(executor, todo, run, out_dir, state, started, progress, stop)
        else:
            outcome = "finished"
    finally:
        state.elapsed_s = time.perf_counter() - started
        if executor is not None:
            executor.close(cancel=outcome != "finished", futures=getattr(executor, "_live", ()))
        write_csv(out_dir / CSV_FILE, sweep, tasks, state.records)
        write_json(
            out_dir / JSON_FILE,
            _summary(sweep, state, engine, outcome, started_at),
        )
    return state


def _drive(
    executor: LocalPool | DaskCluster,
    todo: list[Task],
    run: Callable[[Task], dict],
    out_dir: Path,
    state: Progress,
    started: float,
    progress: Callable[[Progress], None] | None,
    stop: Callable[[], bool] | None,
) -> str:
    queue = list(todo)
    suspects: list[Task] = []  # in flight when a worker died: run again one at a time
    attempts: dict[str, int] = {}
    live: dict = {}  # future -> task
    executor._live = live
    while queue or suspects or live:
        if stop is not None and stop():
            return "cancelled"
        while suspects and not live:
            task = suspects.pop(0)
            live[executor.submit(run, task)] = task
        alone = any(attempts.get(t.key) for t in live.values())  # a suspect runs on its own
        while queue and not suspects and not alone and len(live) < executor.slots:
            task = queue.pop(0)
            live[executor.submit(run, task)] = task
        state.running = len(live)
        for future in executor.wait(live, POLL_S):
            task = live.pop(future)
            try:
                record = future.result()
            except Exception as exc:
                attempts[task.key] = attempts.get(task.key, 0) + 1
                if executor.crashed(exc):
                    # The pool is gone, with every run in it: start again, blame no one yet.
                    lost = [task, *live.values()]
                    live.clear()
                    executor.restart()
                    for t in lost[1:]:
                        attempts[t.key] = attempts.get(t.key, 0) + 1
                    retry = [t for t in lost if attempts[t.key] < 2]
                    for t in lost:
                        if attempts[t.key] >= 2:
                            _store(out_dir, state, t, _crashed(t, exc), started, progress)
                    suspects.extend(retry)
                    break
                if attempts[task.key] < 2:
                    suspects.append(task)
                    continue
                record = _crashed(task, exc)
            _store(out_dir, state, task, record, started, progress)
    return "finished"


def _crashed(task: Task, exc: BaseException) -> dict:
    message = str(exc) or type(exc).__name__
    return {
        **dict.fromkeys(FIGURES),
        "status": "failed",
        "error": f"the worker running it died twice ({type(exc).__name__}: {message})",
        "key": task.key,
    }


def _store(
    out_dir: Path,
    state: Progress,
    task: Task,
    record: dict,
    started: float,
    progress: Callable[[Progress], None] | None,
) -> None:
    record = {**record, "values": list(task.values), "seed": task.seed}
    path = record_path(out_dir, task.key)
    write_json(path, record)
    state.records[task.key] = record
    if record.get("status") == "failed":
        state.failed += 1
    else:
        state.finished += 1
        state.diverged += record.get("status") == "diverged"
        state.busy_s += float(record.get("wall_time_s") or 0.0)
    state.elapsed_s = time.perf_counter() - started
    state.last = record
    if progress is not None:
        progress(state)


def csv_columns(sweep: Sweep) -> list[str]:
    return [a.name for a in sweep.axes] + ["seed", *FIGURES]


def csv_text(sweep: Sweep, tasks: list[Task], records: dict[str, dict]) -> str:
    """sweep.csv: one row per run in the spec's order; runs not yet done have status
    "pending"."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csv_columns(sweep))
    for task in tasks:
        record = records.get(task.key, {"status": "pending"})
        row = [_cell(v) for v in task.values] + [task.seed]
        row += [_cell(record.get(name)) for name in FIGURES]
        writer.writerow(row)
    return buffer.getvalue()


def write_csv(path: Path, sweep: Sweep, tasks: list[Task], records: dict[str, dict]) -> None:
    write_text(path, csv_text(sweep, tasks, records))


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def versions() -> dict[str, str]:
    import numba
    import numpy

    import vgsim

    out = {
        "vgsim": vgsim.__version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
    }
    for name in ("distributed", "dask"):
        module = sys.modules.get(name)
        if module is not None:
            out[name] = getattr(module, "__version__", "?")
    return out


def _summary(sweep: Sweep, state: Progress, engine: dict, outcome: str, started_at: str) -> dict:
    return {
        "spec": sweep.source,
        "versions": versions(),
        **engine,
        "outcome": outcome,  # finished, cancelled or interrupted
        "started": started_at,
        "wall_time_s": state.elapsed_s,
        "busy_time_s": state.busy_s,
        "runs": {
            "total": state.total,
            "finished": state.finished,
            "diverged": state.diverged,
            "failed": state.failed,
            "skipped": state.skipped,
            "pending": state.total - state.done,
        },
    }
