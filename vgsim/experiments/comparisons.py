"""Side by side: two or more networks trained in lockstep on the same data, seed and batches.

A `Comparison` holds one Trainer per network. All of them train on one shared data set; with a
`seed` override they also share the initialisation seed and the batch order (the Trainer draws
its weights and its batches from two separate random streams seeded by `training.seed`, so the
batch order depends only on the seed, the data and the batch size, never on the network's
shape). `step_block(k)` advances every run that has not diverged by exactly k steps, so after
each call all live runs stand at the same step; a run that diverges stops there while the others
go on.

A network may come as a `Side` (sides.py) that starts at a past step of a run, from its saved
state; `reset` takes each run back to where it started.

`compare_networks` is the headless runner behind `vgsim compare`: it writes each run's
metrics.csv and summary.json exactly as `vgsim run` does, plus a comparison.json.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..engine.data import COMMON_PARAMS, DATASETS, Dataset, load_dataset
from ..engine.errors import NetworkError, VgsimError
from ..engine.files import write_json
from ..engine.kernels.stats import S_GRAD
from ..engine.spec import Network
from ..engine.telemetry import Divergence, History
from ..engine.train import StepBlock, Trainer
from ..engine.validate import load_network, validate
from .runs import RunFolder, final_summary
from .sides import Side

LOCKSTEP = 32  # steps per round of `run`: every run advances this much, then `progress` is called


class ComparisonError(VgsimError):
    """Networks that cannot be compared (fewer than two, or different data)."""


@dataclass
class Run:
    """One network of a comparison: its label, its (seeded) network and its Trainer."""

    label: str
    network: Network
    trainer: Trainer
    wall_time_s: float = 0.0  # time spent training this run only

    @property
    def history(self) -> History:
        return self.trainer.history

    @property
    def divergence(self) -> Divergence | None:
        return self.trainer.divergence

    @property
    def status(self) -> str:
        return "diverged" if self.trainer.divergence is not None else "ok"

    @property
    def step_count(self) -> int:
        return self.trainer.step_count


@dataclass(frozen=True)
class RunStatus:
    """Where one run stands: "ok" or "diverged", steps done, the newest mini-batch loss."""

    label: str
    status: str
    steps: int
    loss: float  # NaN before the first step
    divergence: Divergence | None


@dataclass(frozen=True, eq=False)  # eq=False: comparing numpy arrays is ambiguous
class GradientProfile:
    """The newest back-propagated gradient norm of every block after the input, in execution
    order, against relative depth: 0 the first block after the input, 1 the output. For a
    run that diverged, the last profile before the step that blew up."""

    label: str
    step: int | None  # the step it was measured at; None before the first step (all NaN)
    nodes: tuple[str, ...]
    depth: np.ndarray
    grad_norm: np.ndarray


class Comparison:
    """Several networks trained in lockstep on the same data (and, with `seed`, the same
    initialisation seed and batch order).

    Raises `NetworkError` if a network is not valid (the message starts with its label) and
    `ComparisonError` for fewer than two networks or networks whose data differ.
    """

    def __init__(
        self,
        networks: Sequence[Network | Side],
        labels: Sequence[str] | None = None,
        seed: int | None = None,
    ):
        sides = [n if isinstance(n, Side) else Side(n) for n in networks]
        networks = [side.network for side in sides]
        if labels is None and any(side.label for side in sides):
            labels = [side.label or side.network.name or "network" for side in sides]
        if len(networks) < 2:
            raise ComparisonError(f"A comparison needs at least two networks; got {len(networks)}.")
        if labels is not None and len(labels) != len(networks):
            raise ValueError(f"{len(labels)} labels for {len(networks)} networks")
        self.labels: list[str] = _unique(
            list(labels) if labels is not None else [n.name or "network" for n in networks]
        )
        self.seed = None if seed is None else int(seed)
        nets = []
        for label, net in zip(self.labels, networks, strict=True):
            if self.seed is not None:
                net = net.copy()
                net.training["seed"] = self.seed
            problems = validate(net)
            if problems:
                err = NetworkError(problems)
                err.args = (f"{label}: {err.args[0]}",)  # keep `problems`, name the network
                raise err
            nets.append(net)
        _check_same_data(self.labels, nets)
        # One data set for all: built once, and the runs cannot see different samples.
        self.data: Dataset = load_dataset(nets[0].data, nets[0].base_dir)
        trainers = [Trainer(net, self.data) for net in nets]
        # trainer.net is the trainer's own copy: later edits of the caller's network do not leak in
        self.runs = [Run(label, t.net, t) for label, t in zip(self.labels, trainers, strict=True)]
        self.sides = sides
        for side, trainer in zip(sides, trainers, strict=True):
            if side.start is not None:
                side.begin(trainer)

    def __getitem__(self, key: str | int) -> Run:
        """A run by label or by position."""
        if isinstance(key, int):
            return self.runs[key]
        for run in self.runs:
            if run.label == key:
                return run
        raise KeyError(key)

    @property
    def histories(self) -> dict[str, History]:
        return {run.label: run.history for run in self.runs}

    @property
    def step_count(self) -> int:
        """Steps done by the runs still going (by the furthest run, once all have diverged)."""
        return max(run.step_count for run in self.runs)

    @property
    def all_diverged(self) -> bool:
        return all(run.divergence is not None for run in self.runs)

    def status(self) -> dict[str, RunStatus]:
        out = {}
        for run in self.runs:
            latest = run.history.latest
            out[run.label] = RunStatus(
                run.label,
                run.status,
                run.step_count,
                latest.loss if latest is not None else float("nan"),
                run.divergence,
            )
        return out

    def reset(self) -> None:
        """Every run back to where it started (step 0, or its side's state): the same weights
        and batch order as then."""
        for run, side in zip(self.runs, self.sides, strict=True):
            side.begin(run.trainer)
            run.wall_time_s = 0.0

    def step_block(self, k: int) -> dict[str, StepBlock | None]:
        """Advance every run that has not diverged by `k` steps (a run that diverges on the
        way stops at that step). Returns each run's new steps as one StepBlock, None for a run
        that had already diverged."""
        return {run.label: _advance(run, k) for run in self.runs}

    def run(self, steps: int, progress: Callable[[Comparison], None] | None = None) -> None:
        """`steps` more steps in lockstep, in rounds of LOCKSTEP steps; `progress(self)` is
        called after every round. Stops early if every run has diverged."""
        self._run(steps, progress, None)

    def _run(
        self,
        steps: int,
        progress: Callable[[Comparison], None] | None,
        sink: Callable[[dict[str, StepBlock | None]], None] | None,
    ) -> None:
        left = steps
        while left > 0 and not self.all_diverged:
            k = min(left, LOCKSTEP)
            blocks = self.step_block(k)
            left -= k
            if sink is not None:
                sink(blocks)
            if progress is not None:
                progress(self)

    def gradient_profiles(self) -> dict[str, GradientProfile]:
        """Each run's newest gradient profile (see `GradientProfile`)."""
        return {run.label: _profile(run) for run in self.runs}

    def profile_difference(
        self, a: str | int, b: str | int, grid: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """`profile_difference` of the newest gradient profiles of runs `a` and `b`."""
        return profile_difference(_profile(self[a]), _profile(self[b]), grid)


def profile_difference(
    a: GradientProfile, b: GradientProfile, grid: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Where two gradient profiles part: `(depth, D)` with

        D(x) = log10 ĝ_a(x) − log10 ĝ_b(x) = log10( ĝ_a(x) / ĝ_b(x) )

    at each relative depth x of `grid` (default: the union of both profiles' depths, so every
    block of either network is a grid point). ĝ_r(x) is run r's gradient norm interpolated
    linearly in log10 between its neighbouring blocks: geometric interpolation, which is exact
    for a gradient that shrinks or grows by the same factor per block, the way a vanishing or
    exploding gradient does. Networks of different depths are thus compared at the same
    fraction of their depth (0 the first block after the input, 1 the output).

    D = 0: both runs receive the same gradient there; D = −3: run a receives a thousandth of
    run b's gradient (a's has vanished relative to b's); D > 0: a receives more (exploding
    relative to b). A run compared with itself gives 0 everywhere. D is NaN next to a block
    whose gradient is zero or not finite (before the first step, or where training diverged).
    """
    if grid is None:
        grid = np.union1d(a.depth, b.depth)
    grid = np.asarray(grid, dtype=float)
    return grid, _log_profile(a, grid) - _log_profile(b, grid)


def _log_profile(p: GradientProfile, grid: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where((p.grad_norm > 0) & np.isfinite(p.grad_norm), np.log10(p.grad_norm), np.nan)
    return np.interp(grid, p.depth, logs)


def reference_index(diverged: Sequence[bool]) -> int:
    """The run the others' gradient profiles are compared with: the first that has not
    diverged, so the differences show where each parts from a network that trains; if every
    run has diverged, the first (its profile up to its divergence)."""
    return next((i for i, gone in enumerate(diverged) if not gone), 0)


def _profile(run: Run) -> GradientProfile:
    """The newest profile; for a run that diverged, its last finite one before the blow-up (see
    `last_finite_row`)."""
    trainer = run.trainer
    layers = [i for i, t in enumerate(trainer.plan.types) if t != "input"]  # as the window plots
    latest = run.history.latest
    step = latest.step if latest is not None else None
    grads = (
        latest.node_stats[layers, S_GRAD].astype(float)
        if latest is not None
        else np.full(len(layers), np.nan)
    )
    if run.divergence is not None:
        steps, _, stats = run.history.recent()
        row = last_finite_row(steps, stats[:, layers, S_GRAD], run.divergence.step)
        step = None if row is None else int(steps[row])
        grads = (
            stats[row, layers, S_GRAD].astype(float)
            if row is not None
            else np.full_like(grads, np.nan)
        )
    return GradientProfile(
        run.label,
        step,
        tuple(trainer.node_ids[i] for i in layers),
        np.linspace(0.0, 1.0, len(layers)),
        grads,
    )


def last_finite_row(steps: np.ndarray, grads: np.ndarray, diverged_at: int | None) -> int | None:
    """The row of `grads` (step × block) a run that diverged at step `diverged_at` is drawn
    with: the last step before it whose gradients are all finite. The step that blew up stopped
    half-way, and a step or two before it a gradient may already have overflowed in some
    blocks; failing a whole profile, the last with any finite block. None if there is none."""
    rows = np.arange(len(steps)) if diverged_at is None else np.flatnonzero(steps < diverged_at)
    finite = np.isfinite(np.asarray(grads)[rows])
    for found in (finite.all(axis=1), finite.any(axis=1)):
        if found.any():
            return int(rows[np.flatnonzero(found)[-1]])
    return None


def _advance(run: Run, k: int) -> StepBlock | None:
    """k steps of one run (fewer if it diverges) as one block; run_block stops at every
    evaluation step, so this may take several calls."""
    if run.divergence is not None:
        return None
    started = time.perf_counter()
    blocks: list[StepBlock] = []
    left = k
    while left > 0:
        block = run.trainer.run_block(left)
        if block is None:
            break
        blocks.append(block)
        left -= len(block.steps)
        if block.last.divergence is not None:
            break
    run.wall_time_s += time.perf_counter() - started
    if len(blocks) == 1:
        return blocks[0]
    return StepBlock(
        np.concatenate([b.steps for b in blocks]),
        np.concatenate([b.scalars for b in blocks]),
        np.concatenate([b.node_stats for b in blocks]),
        blocks[-1].last,
    )


def _unique(labels: list[str]) -> list[str]:
    """ "plain 56", "plain 56" -> "plain 56", "plain 56 (2)"."""
    out: list[str] = []
    for label in labels:
        name, n = label, 1
        while name in out:
            n += 1
            name = f"{label} ({n})"
        out.append(name)
    return out


def _slug(label: str, taken: set[str]) -> str:
    """A folder name for a label: lower case, letters, digits and hyphens; unique in `taken`."""
    base = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "run"
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    taken.add(slug)
    return slug


def _data_key(net: Network) -> dict:
    """The data section with every default filled in (a CSV path resolved), so that
    {"name": "spiral"} and {"name": "spiral", "samples": 600} count as the same data."""
    spec = dict(net.data)
    if spec.get("name") not in DATASETS:
        return spec
    full = {**COMMON_PARAMS, **DATASETS[spec["name"]]["params"], **spec}
    if spec["name"] == "csv" and isinstance(full.get("path"), str):
        path = Path(full["path"]).expanduser()
        if not path.is_absolute():
            path = (net.base_dir if net.base_dir is not None else Path.cwd()) / path
        full["path"] = str(path.resolve())
    return full


def _check_same_data(labels: list[str], nets: list[Network]) -> None:
    first = _data_key(nets[0])
    for label, net in zip(labels[1:], nets[1:], strict=True):
        other = _data_key(net)
        if other != first:
            keys = sorted(set(first) | set(other), key=lambda key: key != "name")
            diff = [key for key in keys if first.get(key) != other.get(key)]
            ours, theirs = (
                ", ".join(f"{key}={d.get(key)!r}" for key in diff) for d in (first, other)
            )
            raise ComparisonError(
                "A comparison needs the same data for every network, so that all of them "
                f"train on the same samples; '{labels[0]}' has {ours} but '{label}' has "
                f"{theirs}. Give them the same data section."
            )


def compare_networks(
    networks: Sequence[Network | str | Path],
    steps: int,
    out_dir: str | Path,
    seed: int | None = None,
    labels: Sequence[str] | None = None,
    progress: Callable[[Comparison], None] | None = None,
) -> dict:
    """Train the networks (or network files) `steps` steps in lockstep and write, for each run,
    `out_dir/<folder>/metrics.csv`, `summary.json` and `snapshot.npz` (as `vgsim run` writes
    them), and `out_dir/comparison.json`, which it also returns."""
    out_dir = Path(out_dir)
    files = [str(n) if not isinstance(n, Network) else None for n in networks]
    nets = [n if isinstance(n, Network) else load_network(n) for n in networks]
    comparison = Comparison(nets, labels=labels, seed=seed)
    taken: set[str] = set()
    folders = [_slug(label, taken) for label in comparison.labels]
    run_folders = [RunFolder(out_dir / folder) for folder in folders]
    # comparison.json goes last: an earlier comparison's is removed first, so none is ever
    # found beside the run folders of another one.
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "comparison.json").unlink(missing_ok=True)
    try:
        for run, run_folder in zip(comparison.runs, run_folders, strict=True):
            run_folder.start(run.trainer, run.network.name)

        def write_rows(blocks: dict[str, StepBlock | None]) -> None:
            for run_folder, block in zip(run_folders, blocks.values(), strict=True):
                if block is not None:
                    run_folder.add(block)

        comparison._run(steps, progress, write_rows)
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        error = None if status == "interrupted" else f"{type(exc).__name__}: {exc}"[:500]
        for run, run_folder in zip(comparison.runs, run_folders, strict=True):
            partial = final_summary(
                run.trainer, run.network.name, run.history.latest, run.wall_time_s, evaluate=False
            )
            try:
                run_folder.stop(partial, status, error)
            except OSError:
                pass  # its "running" mark stays
        raise
    runs = []
    for run, run_folder, folder, file in zip(
        comparison.runs, run_folders, folders, files, strict=True
    ):
        summary = final_summary(run.trainer, run.network.name, run.history.latest, run.wall_time_s)
        run_folder.finish(run.trainer, run.network.name, summary)
        runs.append(
            {
                "label": run.label,
                "folder": folder,
                "network": run.network.name,
                "file": file,
                "seed": summary["seed"],
                "status": summary["status"],
                "steps": summary["steps"],
                "final": summary["final"],
                "diverged": summary["diverged"],
                "findings": summary["findings"],
            }
        )
    result = {
        "labels": comparison.labels,
        "files": files,
        "steps": steps,
        "seed": comparison.seed,
        "runs": runs,
    }
    write_json(out_dir / "comparison.json", result)
    return result
