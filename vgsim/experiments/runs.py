"""Headless runs: train a network file and write its metrics, summary and state to a folder.

The command line and any script use this; it drives the same Trainer the window uses.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..engine.spec import Network
from ..engine.telemetry import StepRecord, flat_columns
from ..engine.train import StepBlock, Trainer
from ..engine.warm import start_backward_helper, stop_process

FLUSH_ROWS = 256


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename: never a half file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class MetricsWriter:
    """metrics.csv: one row per step, the scalars then "<figure>/<node id>" columns."""

    def __init__(self, path: Path, node_ids: list[str]):
        self.path = path
        self.columns = flat_columns(node_ids)
        self._file = open(path, "w", encoding="utf-8", newline="")
        self._file.write(",".join(self.columns) + "\n")
        self._rows: list[np.ndarray] = []
        self._pending = 0

    def add_block(self, block: StepBlock) -> None:
        k = len(block.steps)
        # Figure-major over nodes, matching flat_columns: all nodes of a figure together.
        figures = block.node_stats.transpose(0, 2, 1).reshape(k, -1)
        self._rows.append(np.hstack([block.scalars, figures]))
        self._pending += k
        if self._pending >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            np.savetxt(self._file, np.vstack(self._rows), fmt="%.9g", delimiter=",")
            self._rows.clear()
            self._pending = 0
            self._file.flush()

    def close(self) -> None:
        self.flush()
        self._file.close()


def run_network(
    net: Network,
    steps: int,
    out_dir: str | Path,
    seed: int | None = None,
    dump_state: str | Path | None = None,
    dump_at: int | None = None,
    progress: Callable[[StepRecord], None] | None = None,
) -> dict:
    """Train `steps` steps (fewer if training diverges); returns the summary it wrote."""
    out_dir = Path(out_dir)
    dump_state = Path(dump_state) if dump_state is not None else None
    if dump_state is not None and dump_at is None:
        raise ValueError("dump_state needs dump_at, the step whose state to save")
    if seed is not None:
        net = net.copy()
        net.training["seed"] = int(seed)
    trainer = Trainer(net)
    helper = start_backward_helper(str(trainer.dtype))  # a cold cache compiles on two cores
    out_dir.mkdir(parents=True, exist_ok=True)
    writer = MetricsWriter(out_dir / "metrics.csv", trainer.node_ids)
    started = time.perf_counter()
    record: StepRecord | None = None
    dumped = False
    try:
        while trainer.step_count < steps and trainer.divergence is None:
            if dump_state is not None and trainer.step_count == dump_at:
                record, state = trainer.step_with_state()
                atomic_write(dump_state, lambda p, s=state: _save_npz(p, s))
                dumped = True
                block = StepBlock(
                    np.array([record.step]),
                    trainer.history.recent()[1][-1:],
                    record.node_stats[None],
                    record,
                )
            else:
                # Stop a block at the dump step, so that step runs on its own.
                end = dump_at if dump_state is not None and trainer.step_count < dump_at else steps
                block = trainer.run_block(min(end, steps) - trainer.step_count)
                assert block is not None
                record = block.last
            writer.add_block(block)
            if progress is not None:
                progress(record)
    finally:
        stop_process(helper)
        writer.close()
    wall = time.perf_counter() - started
    summary = final_summary(trainer, net.name, record, wall, str(dump_state) if dumped else None)
    write_plot_snapshot(out_dir, trainer, net.name)
    write_json(out_dir / "summary.json", summary)
    return summary


def final_summary(
    trainer: Trainer,
    name: str,
    record: StepRecord | None,
    wall_time_s: float,
    dumped_state: str | None = None,
) -> dict:
    """The summary.json of a finished run. Evaluates the final weights on the whole training
    and test sets first, unless training diverged (then the latest evaluation stands)."""
    done = trainer.step_count
    if record is not None and record.divergence is None:
        trainer.evaluate()
    summary = {
        "network": name,
        "status": "diverged" if trainer.divergence else "ok",
        "steps": done,
        "epochs": done * trainer.batch_size / len(trainer.X_train),  # passes over the data
        "seed": int(trainer.cfg["seed"]),
        "final": _final(record, trainer) if record is not None else {},
        "diverged": None,
        "wall_time_s": wall_time_s,
        "steps_per_second": done / wall_time_s if wall_time_s > 0 else None,
        "dumped_state": dumped_state,
    }
    if trainer.divergence is not None:
        d = trainer.divergence
        summary["diverged"] = {
            "step": d.step,
            "node": d.node,
            "quantity": d.quantity,
            "message": d.message(),
        }
    return summary


def write_plot_snapshot(out_dir: Path, trainer: Trainer, name: str) -> None:
    """snapshot.npz: what the plots need beyond metrics.csv (the last step's histograms, the
    decision boundary, the node kinds), so `vgsim export-plots` can draw the run again."""
    from .plot_sources import SNAPSHOT_FILE, from_trainer, snapshot_arrays

    arrays = snapshot_arrays(from_trainer(trainer, name))
    atomic_write(out_dir / SNAPSHOT_FILE, lambda p: _save_npz(p, arrays))


def write_json(path: Path, content: dict) -> None:
    """Indented JSON (numpy scalars as plain numbers), written atomically."""
    text = json.dumps(content, indent=2, default=_json_number) + "\n"
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def _final(record: StepRecord, trainer: Trainer) -> dict:
    figures = {
        "loss": record.scalars["loss"],
        "data_loss": record.scalars["data_loss"],
        "accuracy": record.scalars["accuracy"],
        **trainer.last_eval,
    }
    # JSON has no NaN: a figure that does not apply (accuracy of a regression) is null.
    return {k: float(v) if np.isfinite(v) else None for k, v in figures.items()}


def _json_number(v: object) -> object:
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(type(v))


def _save_npz(path: Path, state: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as f:
        np.savez(f, **state)
