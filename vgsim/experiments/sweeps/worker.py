"""One run of a sweep, in whichever process runs it (a pool's worker, a Dask worker).

Each worker process keeps what every run would otherwise redo: the compiled kernels (loaded
from Numba's cache by its first run of each precision) and each data set it has built. A run
never raises: a failure comes back as a record with status "failed" and the error.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import traceback
from pathlib import Path

import numpy as np

from ...engine.data import Dataset, load_dataset
from ...engine.diagnose import diagnose
from ...engine.kernels.stats import S_GRAD
from ...engine.spec import Network
from ...engine.telemetry import SCALARS
from ...engine.train import Trainer
from .spec import Task

# Figures of a run, in the order of sweep.csv's columns after the axes and the seed.
FIGURES = (
    "status",
    "grad_ratio_start",
    "grad_ratio_end",
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
    "diverged_step",
    "steps_to_target",
    "steps",
    "wall_time_s",
    "findings",
    "error",
)
_TRAIN_LOSS = SCALARS.index("train_loss")

# Per worker process: what it has loaded, and how often (a test checks "once").
_datasets: dict[str, Dataset] = {}
_warm_dtypes: set[str] = set()
_loads = {"kernels": 0, "data": 0, "runs": 0}


def _dataset(data: dict, base_dir: str | None) -> Dataset:
    key = json.dumps([data, base_dir], sort_keys=True)
    if key not in _datasets:
        _datasets[key] = load_dataset(data, Path(base_dir) if base_dir else None)
        _loads["data"] += 1
    return _datasets[key]


def _kernels(dtype: str) -> None:
    """Load (or compile) the step kernels for this precision, once per process."""
    if dtype not in _warm_dtypes:
        from ...engine.warm import warm_steps

        warm_steps(dtype)
        _warm_dtypes.add(dtype)
        _loads["kernels"] += 1


def worker_info() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), **_loads}


def run_task(task: Task) -> dict:
    """Train one run of a sweep; its record (FIGURES plus "key" and "worker": where it ran,
    what that process has loaded, and the task's wall time and CPU time, start-up included:
    its own thread's and, in process_cpu_s, all its process's threads' meanwhile)."""
    started, cpu, process_cpu = time.perf_counter(), time.thread_time_ns(), time.process_time_ns()
    try:
        record = _train(task)
    except Exception as exc:  # a run's failure is a result, never the sweep's
        record = {
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=8),
        }
    _loads["runs"] += 1
    record.setdefault("wall_time_s", time.perf_counter() - started)
    return {
        **dict.fromkeys(FIGURES),
        **record,
        "key": task.key,
        "worker": {
            **worker_info(),
            "task_s": time.perf_counter() - started,
            "task_cpu_s": (time.thread_time_ns() - cpu) / 1e9,
            "process_cpu_s": (time.process_time_ns() - process_cpu) / 1e9,
        },
    }


def _train(task: Task) -> dict:
    net = Network.from_dict(task.network, Path(task.base_dir) if task.base_dir else None)
    _kernels(str(net.training.get("dtype", "float32")))
    trainer = Trainer(net, _dataset(net.data, task.base_dir))
    hidden = _hidden_dense(trainer)
    started = time.perf_counter()
    first: np.ndarray | None = None
    reached: int | None = None
    while trainer.step_count < task.steps and trainer.divergence is None:
        block = trainer.run_block(task.steps - trainer.step_count)
        if block is None:
            break
        if first is None:
            first = block.node_stats[0, :, S_GRAD]
        if task.target_loss is not None and reached is None:
            hits = np.flatnonzero(block.scalars[:, _TRAIN_LOSS] <= task.target_loss)
            if hits.size:
                reached = int(block.steps[hits[0]])
    final = dict(trainer.last_eval)  # after a divergence: the last evaluation before it
    if trainer.divergence is None:
        final = trainer.evaluate(full=True)  # the final weights on the whole sets
    wall = time.perf_counter() - started
    latest = trainer.history.latest
    last = latest.node_stats[:, S_GRAD] if latest is not None else None
    if trainer.divergence is not None:
        # The step that blew up stopped half-way: the ratio of the step before it.
        steps, _, stats = trainer.history.recent()
        before = np.flatnonzero(steps < trainer.divergence.step)
        last = stats[before[-1], :, S_GRAD] if before.size else None
    record = {
        "status": "diverged" if trainer.divergence is not None else "ok",
        "grad_ratio_start": _ratio(first, hidden),
        "grad_ratio_end": _ratio(last, hidden),
        **{
            k: _number(final[k])
            for k in ("train_loss", "train_accuracy", "test_loss", "test_accuracy")
        },
        "diverged_step": trainer.divergence.step if trainer.divergence else None,
        "steps_to_target": reached,
        "steps": trainer.step_count,
        "wall_time_s": wall,
        "findings": ";".join(f.kind for f in diagnose(trainer)),
    }
    if trainer.divergence is not None:
        record["error"] = trainer.divergence.message()
    return record


def _hidden_dense(trainer: Trainer) -> tuple[int, int] | None:
    """(first, last) hidden dense layer: every dense layer but the last, the readout."""
    dense = [i for i, kind in enumerate(trainer.plan.types) if kind == "dense"]
    return (dense[0], dense[-2]) if len(dense) >= 2 else None


def _ratio(grads: np.ndarray | None, hidden: tuple[int, int] | None) -> float | None:
    """Gradient reaching the first hidden dense layer over the last's (None if undefined)."""
    if grads is None or hidden is None:
        return None
    with np.errstate(all="ignore"):
        ratio = float(grads[hidden[0]]) / float(grads[hidden[1]])
    return ratio if math.isfinite(ratio) else None


def _number(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None
