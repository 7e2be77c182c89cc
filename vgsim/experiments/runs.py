"""Headless runs: train a network file and write its metrics, summary and state to a folder.

The command line and any script use this; it drives the same Trainer the window uses.

A run folder is always consistent. Its summary.json is written first, with status "running";
the files of an earlier run there are removed before any new one is written; metrics.csv grows
by whole rows only; and a run that ends early says so in summary.json ("interrupted" for Ctrl-C
or SIGTERM, "failed" for an error such as a full disk), with the last step metrics.csv holds.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..engine.files import MetricsFile, save_npz, write_json
from ..engine.spec import Network
from ..engine.telemetry import StepRecord
from ..engine.theory import predicted_gradient_flow
from ..engine.train import StepBlock, Trainer
from ..engine.warm import start_backward_helper, stop_process
from .checkpoints import DEFAULT_BUDGET
from .findings import NETWORK_FILE, data_facts, diagnose_folder, findings_json, network_as_run
from .plot_sources import SNAPSHOT_FILE, from_trainer, snapshot_arrays
from .replay import Branch, Recorder
from .timeline_files import clear_timeline

METRICS_FILE, SUMMARY_FILE, PLOTS_FOLDER = "metrics.csv", "summary.json", "plots"
# Re-exported: the names other modules imported from here.
__all__ = ["RunFolder", "final_summary", "run_network", "save_npz", "write_json"]


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or SIGINT) while a run goes on; it ends the run as Ctrl-C does."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class RunFolder:
    """One run's folder while it is written: `start` clears an earlier run's files and marks the
    folder "running"; `metrics` takes the rows; `finish` or `stop` write the final summary."""

    def __init__(self, out_dir: str | Path, extra_files: tuple[Path, ...] = ()):
        self.dir = Path(out_dir)
        self.extra_files = extra_files  # files of this run outside the folder (a state dump)
        self.metrics: MetricsFile | None = None
        self.relative: np.ndarray | None = None  # the prediction from the starting weights

    def start(self, trainer: Trainer, name: str) -> MetricsFile:
        self.dir.mkdir(parents=True, exist_ok=True)
        # The plots' "theory (step 0)" is predicted from the weights at step 0, not at the end.
        self.relative = predicted_gradient_flow(trainer) if trainer.step_count == 0 else None
        # First the mark, then the clean-up: until this run ends, nothing here is final.
        write_json(
            self.dir / SUMMARY_FILE,
            {"network": name, "status": "running", "steps": 0, "data": data_facts(trainer)},
        )
        write_json(self.dir / NETWORK_FILE, network_as_run(trainer.net))
        for path in (self.dir / SNAPSHOT_FILE, *self.extra_files):
            try:
                path.unlink()
            except (FileNotFoundError, NotADirectoryError):
                pass
        clear_timeline(self.dir)
        plots = self.dir / PLOTS_FOLDER
        if plots.is_dir() and all(p.suffix in (".png", ".svg") for p in plots.iterdir()):
            shutil.rmtree(plots)  # only drawings of an earlier run
        self.metrics = MetricsFile(self.dir / METRICS_FILE, trainer.node_ids)
        return self.metrics

    def add(self, block: StepBlock) -> None:
        assert self.metrics is not None
        self.metrics.add(block.scalars, block.node_stats)

    def finish(self, trainer: Trainer, name: str, summary: dict) -> dict:
        """The run ended (ok or diverged): the last rows, the plot snapshot, then the summary."""
        assert self.metrics is not None
        self.metrics.close()
        write_plot_snapshot(self.dir, trainer, name, self.relative)
        # Diagnosed from the files, so `vgsim diagnose` finds exactly the same.
        summary["findings"] = findings_json(diagnose_folder(self.dir, summary))
        write_json(self.dir / SUMMARY_FILE, summary)
        return summary

    def stop(self, summary: dict, status: str, error: str | None = None) -> dict:
        """The run ended early: keep the whole rows written, and say where it stopped."""
        last = None
        if self.metrics is not None:
            try:
                self.metrics.close()
            except OSError:
                pass  # the rows on disk end with a whole one all the same
            last = self.metrics.last_step
        summary = {
            **summary,
            "status": status,
            "steps": 0 if last is None else last + 1,
            "last_step": last,
            "error": error,
        }
        try:  # what the whole rows show; the summary must be written whatever happens here
            summary["findings"] = findings_json(diagnose_folder(self.dir, summary))
        except Exception:
            summary["findings"] = None
        write_json(self.dir / SUMMARY_FILE, summary)
        return summary


def run_network(
    net: Network,
    steps: int,
    out_dir: str | Path,
    seed: int | None = None,
    dump_state: str | Path | None = None,
    dump_at: int | None = None,
    progress: Callable[[StepRecord], None] | None = None,
    checkpoint_every: int | None = None,
    checkpoint_budget: int = DEFAULT_BUDGET,
    branch: Branch | None = None,
) -> dict:
    """Train `steps` steps (fewer if training diverges); returns the summary it wrote. An
    error or an interruption (KeyboardInterrupt, `Interrupted`) still leaves a consistent
    folder, with status "failed" or "interrupted", and then goes on. `checkpoint_every`:
    save the trainer's state every so many steps (within `checkpoint_budget` bytes) so that
    any step can be recreated; `branch`: continue another run from a past step instead
    (replay.open_branch), its states and figures up to there included."""
    dump_state = Path(dump_state) if dump_state is not None else None
    if dump_state is not None and dump_at is None:
        raise ValueError("dump_state needs dump_at, the step whose state to save")
    if seed is not None:
        net = net.copy()
        net.training["seed"] = int(seed)
    trainer = branch.trainer if branch is not None else Trainer(net)
    recorder: Recorder | None = None
    folder = RunFolder(out_dir, (dump_state,) if dump_state is not None else ())
    helper = start_backward_helper(str(trainer.dtype))  # a cold cache compiles on two cores
    started = time.perf_counter()
    record: StepRecord | None = None
    dumped = False
    try:
        folder.start(trainer, net.name)
        if checkpoint_every is not None or branch is not None:
            recorder = Recorder(folder.dir, trainer, checkpoint_every, checkpoint_budget, branch)
            if trainer.step_count:  # a branch: its run's steps before it come first
                folder.metrics.add(*recorder.past())  # type: ignore[union-attr]
        while trainer.step_count < steps and trainer.divergence is None:
            if dump_state is not None and trainer.step_count == dump_at:
                record, state = trainer.step_with_state()
                save_npz(dump_state, state)
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
                if recorder is not None:  # and where a state is due
                    end = min(end, trainer.step_count + recorder.until_due(trainer.step_count))
                block = trainer.run_block(min(end, steps) - trainer.step_count)
                assert block is not None
                record = block.last
            folder.add(block)
            if recorder is not None:
                recorder.add(trainer, block)
            if progress is not None:
                progress(record)
    except BaseException as exc:
        stop_process(helper)
        partial = final_summary(
            trainer, net.name, record, time.perf_counter() - started, evaluate=False
        )
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        error = None if status == "interrupted" else f"{type(exc).__name__}: {exc}"[:500]
        try:
            if recorder is not None:
                recorder.close()  # the figures so far: every saved step stays recreatable
        except OSError:
            pass
        try:
            folder.stop(partial, status, error)
        except OSError:
            pass  # no room even for the summary: the "running" mark stays, as true as it gets
        raise
    stop_process(helper)
    if recorder is not None:
        recorder.close()
    wall = time.perf_counter() - started
    dump_path = str(dump_state) if dumped else None
    first = branch.at if branch is not None else 0
    summary = final_summary(trainer, net.name, record, wall, dump_path, first_step=first)
    return folder.finish(trainer, net.name, summary)


def final_summary(
    trainer: Trainer,
    name: str,
    record: StepRecord | None,
    wall_time_s: float,
    dumped_state: str | None = None,
    evaluate: bool = True,
    first_step: int = 0,
) -> dict:
    """The summary.json of a run. Evaluates the final weights first (as the run's evaluations
    do), unless training diverged (then the latest evaluation stands) or `evaluate` is False.
    `first_step`: where the timed training began (a branch's step)."""
    done = trainer.step_count
    if evaluate and record is not None and record.divergence is None:
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
        "steps_per_second": (done - first_step) / wall_time_s if wall_time_s > 0 else None,
        "dumped_state": dumped_state,
        "evaluation": trainer.evaluation,  # which rows the train_*/test_* figures cover
        "data": data_facts(trainer),  # what the diagnosis needs beyond network.json
        "findings": [],  # the diagnosis, filled in from the folder's files
        "last_step": done - 1 if done else None,
        "error": None,
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


def write_plot_snapshot(
    out_dir: Path, trainer: Trainer, name: str, relative: np.ndarray | None = None
) -> None:
    """snapshot.npz: what the plots need beyond metrics.csv (the last step's histograms, the
    decision boundary, the node kinds), so `vgsim export-plots` can draw the run again.
    `relative`: the mean-field prediction from the run's starting weights, if known."""
    save_npz(out_dir / SNAPSHOT_FILE, snapshot_arrays(from_trainer(trainer, name, relative)))


def _final(record: StepRecord, trainer: Trainer) -> dict:
    figures = {
        "loss": record.scalars["loss"],
        "data_loss": record.scalars["data_loss"],
        "accuracy": record.scalars["accuracy"],
        **trainer.last_eval,
    }
    # JSON has no NaN: a figure that does not apply (accuracy of a regression) is null.
    return {k: float(v) if np.isfinite(v) else None for k, v in figures.items()}
