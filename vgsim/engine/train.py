"""The Trainer: a validated network, compiled and trained one mini-batch (or one node) at a time.

`step()` runs one whole mini-batch in a single kernel call. `micro_step()` runs the same step one
phase at a time (each node forward, the loss, each node backward, the update) through the same
kernel functions, so both paths give bit-identical results. A NaN or infinity never raises: the
step reports where it appeared and the trainer stops in a "diverged" state until `reset()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .compile import Plan, compile_network
from .data import Dataset, load_dataset
from .errors import NetworkError, Problem
from .init import initialise, initialise_bias
from .kernels import optim
from .kernels import plan as k
from .kernels.stats import N_STATS, scratch_size
from .schema import node_defaults, training_defaults
from .spec import Network
from .telemetry import SCALARS, Divergence, History, StepRecord
from .trainer_evaluation import Evaluating, evaluation_plan
from .trainer_inspection import Inspecting
from .trainer_micro import MicroStep, MicroStepping
from .validate import validate

__all__ = ["MicroStep", "StepBlock", "Trainer"]  # the documented names (docs/api.md)

EVAL_CHUNK = 256
# Where each scalar of a record comes from (columns of SCALARS).
_COL = {name: c for c, name in enumerate(SCALARS)}
_FROM_GLOB_NAMES = (
    ("loss", k.G_LOSS),
    ("data_loss", k.G_DATA_LOSS),
    ("l2_penalty", k.G_PENALTY),
    ("clip_fired", k.G_CLIP_FIRED),
    ("grad_norm_before_clip", k.G_NORM_BEFORE),
    ("grad_norm_after_clip", k.G_NORM_AFTER),
)
_FROM_GLOB_COLS = [_COL[name] for name, _ in _FROM_GLOB_NAMES]
_FROM_GLOB = [g for _, g in _FROM_GLOB_NAMES]
_EVAL_NAMES = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")
_EVAL_COLS = [_COL[name] for name in _EVAL_NAMES]
MAX_BLOCK = 256  # steps per kernel call: amortises Python's cost, bounds the figures buffer


@dataclass(frozen=True)
class StepBlock:
    """Several consecutive steps: their scalars (columns: SCALARS) and per-node figures
    (step × node × STAT_NAMES); `last` is the final step's full record, with histograms."""

    steps: np.ndarray
    scalars: np.ndarray
    node_stats: np.ndarray
    last: StepRecord

    def records(self) -> list[StepRecord]:
        out = []
        for s in range(len(self.steps) - 1):
            out.append(
                StepRecord(
                    dict(zip(SCALARS, map(float, self.scalars[s]), strict=True)),
                    self.last.node_ids,
                    self.node_stats[s],
                    None,
                    self.last.hist_ranges,
                )
            )
        return out + [self.last]


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan-in, fan-out) of a weight: a dense layer's (inputs, outputs), a convolution's
    (kernel² × channels, kernel² × filters) for its (k, k, c, f) kernel, as PyTorch counts."""
    if len(shape) == 4:
        area = shape[0] * shape[1]
        return area * shape[2], area * shape[3]
    return shape[0], shape[1]


class Trainer(Evaluating, Inspecting, MicroStepping):
    def __init__(self, net: Network, data: Dataset | None = None):
        problems = validate(net)
        if problems:
            raise NetworkError(problems)
        self.net = net.copy()
        self.cfg = training_defaults(net.training)
        self.data = data if data is not None else load_dataset(net.data, net.base_dir)
        batch = int(self.cfg["batch_size"])
        n_train = self.data.X_train.shape[0]
        if batch > n_train:
            raise NetworkError(
                [
                    Problem(
                        "training",
                        f"Training: the batch size {batch} is larger "
                        f"than the {n_train} training samples.",
                    )
                ]
            )
        self.batch_size = batch
        self.dtype = np.dtype(self.cfg["dtype"])
        self.plan: Plan = compile_network(self.net, self.data.input_shape or self.data.n_features)
        self.node_ids = self.plan.order
        self._alloc()
        self.reset()

    # --- set-up -----------------------------------------------------------------------------
    def _alloc(self) -> None:
        plan, dt, d = self.plan, self.dtype, self.data
        self.ops, acts, grads, aux = plan.layout(self.batch_size)
        rows_eval = min(EVAL_CHUNK, max(d.X_train.shape[0], d.X_test.shape[0]))
        self.rows_eval = rows_eval
        self.ops_eval, acts_e, grads_e, aux_e = plan.layout(rows_eval)
        self.acts, self.grads, self.aux = (np.zeros(s, dt) for s in (acts, grads, aux))
        self.acts_eval, self.grads_eval, self.aux_eval = (
            np.zeros(s, dt) for s in (acts_e, grads_e, aux_e)
        )
        self.params, self.pgrads, self.opt_m, self.opt_v, self.steps = (
            np.zeros(plan.n_params, dt) for _ in range(5)
        )
        self.bn_run = np.zeros(plan.bn_size, dt)
        n = len(plan.order)
        self.stats = np.full((n, N_STATS), np.nan)
        self.stats_block = np.full((MAX_BLOCK, n, N_STATS), np.nan)
        self.glob_block = np.full((MAX_BLOCK, k.N_GLOB), np.nan)
        self.hist = np.zeros((n, int(self.cfg["bins"])))
        self.hist_ranges = plan.fpar[:, [k.F_LO, k.F_HI]].copy()
        self.glob = np.zeros(k.N_GLOB)
        # One-step views of `stats` and `glob` in the kernel's block layout.
        self._stats_one = self.stats[None]
        self._glob_one = self.glob[None]
        self.classify = d.task == "classification"
        self.X_train = np.ascontiguousarray(d.X_train, dtype=dt)
        self.X_test = np.ascontiguousarray(d.X_test, dtype=dt)
        self.lab_train, self.tgt_train = self._targets(d.y_train)
        self.lab_test, self.tgt_test = self._targets(d.y_test)
        rows_train, rows_test, self.eval_every = evaluation_plan(
            self.cfg, len(self.X_train), len(self.X_test)
        )
        self.cfg["eval_every"] = self.eval_every  # "auto" resolved
        self.eval_rows = (rows_train, rows_test)
        # The evaluated rows: the first of each set (a fixed sample: load_dataset shuffled).
        self._eval_train = tuple(
            a[:rows_train] for a in (self.X_train, self.lab_train, self.tgt_train)
        )
        self._eval_test = tuple(a[:rows_test] for a in (self.X_test, self.lab_test, self.tgt_test))
        width = self.tgt_train.shape[1]
        rows = max(self.batch_size, rows_eval)
        self.lab_buf = np.zeros(rows, np.int64)
        self.tgt_buf = np.zeros((rows, width))
        self.hyper = np.zeros(optim.N_HYPER)
        self.hyper[optim.H_TELEMETRY] = 1.0
        widest = max(max(plan.width_in), max(plan.width_out))
        self._scratch = np.empty(
            scratch_size(int(self.cfg["bins"]), widest, self.batch_size), np.uint64
        )
        self.opt = optim.CODES[self.cfg["optimizer"]]
        # train_steps' bundles, by name, as the plain tuples it takes: built once (the buffers
        # are only ever written in place).
        self._train_set = tuple(
            k.Samples(X=self.X_train, labels=self.lab_train, targets=self.tgt_train)
        )
        self._test_set = tuple(
            k.Samples(X=self.X_test, labels=self.lab_test, targets=self.tgt_test)
        )
        self._graph = tuple(
            k.Graph(fpar=plan.fpar, preds=plan.preds, out_idx=plan.out_idx, classify=self.classify)
        )
        self._rows = tuple(k.Rows(ops=self.ops, acts=self.acts, grads=self.grads, aux=self.aux))
        self._rows_eval = tuple(
            k.Rows(ops=self.ops_eval, acts=self.acts_eval, grads=self.grads_eval, aux=self.aux_eval)
        )
        self._state = tuple(
            k.State(
                params=self.params,
                pgrads=self.pgrads,
                bn_run=self.bn_run,
                opt_m=self.opt_m,
                opt_v=self.opt_v,
                steps=self.steps,
                lab_buf=self.lab_buf,
                tgt_buf=self.tgt_buf,
            )
        )
        self._figures = tuple(
            k.Figures(stats_block=self.stats_block, hist=self.hist, glob_block=self.glob_block)
        )
        self._figures_one = tuple(
            k.Figures(stats_block=self._stats_one, hist=self.hist, glob_block=self._glob_one)
        )
        self._no_out = np.empty((0, 0))  # train_steps' `out` when it predicts nothing
        # train_steps' `evaluation`, which it never runs: the Trainer evaluates between calls.
        self._no_evaluation = self._evaluation(self._eval_test)
        self._no_evaluation_full = self._evaluation(self._test_set)
        self.set_live(lr=self.cfg["lr"], l2=self.cfg["l2"], clip=self.cfg["clip"])
        for name in ("momentum", "beta1", "beta2", "eps", "alpha"):
            self.hyper[getattr(optim, "H_" + name.upper())] = float(self.cfg[name])

    def _targets(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.classify:
            return np.ascontiguousarray(y, np.int64), np.zeros((len(y), 0))
        return np.zeros(len(y), np.int64), np.ascontiguousarray(y, np.float64).reshape(len(y), -1)

    def set_live(
        self, lr: float | None = None, l2: float | None = None, clip: dict | None = None
    ) -> None:
        """Settings that may change mid-run, like a real experiment; used from the next step."""
        if lr is not None:
            self.hyper[optim.H_LR] = float(lr)
            self.cfg["lr"] = float(lr)
        if l2 is not None:
            self.hyper[optim.H_L2] = float(l2)
            self.cfg["l2"] = float(l2)
        if clip is not None:
            full = {**self.cfg["clip"], **clip}
            self.hyper[optim.H_CLIP] = float(full["threshold"])
            self.cfg["clip"] = full
            self._optimiser = tuple(
                k.Optimiser(
                    opt=self.opt, clip_mode=optim.CLIP_CODES[full["mode"]], hyper=self.hyper
                )
            )

    @property
    def clip_mode(self) -> int:
        """The clip mode in use (optim.CLIP_CODES); set_live changes it."""
        return k.Optimiser(*self._optimiser).clip_mode

    def reset(self) -> None:
        """Re-initialise the weights and the batch order from the seed: a fresh, identical run."""
        seed = int(self.cfg["seed"])
        init_rng = np.random.default_rng([seed, 1])
        self._batch_rng = np.random.default_rng([seed, 2])
        nodes = {n.id: n for n in self.net.nodes}
        fans = {s.node_id: _fans(s.shape) for s in self.plan.params if s.name == "W"}
        for slot in self.plan.params:
            p = node_defaults(nodes[slot.node_id].type, nodes[slot.node_id].params)
            view = self.params[slot.offset : slot.offset + slot.size]
            fan = fans.get(slot.node_id)
            if slot.name == "W":
                rows, cols = view.size // slot.shape[-1], slot.shape[-1]
                view[:] = initialise(p["init"], rows, cols, init_rng, fan).ravel()
            elif slot.name == "b":
                view[:] = initialise_bias(p["bias_init"], fan[0], view.size, init_rng, fan)
            elif slot.name in ("gamma", "alpha"):
                view[:] = p["alpha"] if slot.name == "alpha" else 1.0
            else:
                view[:] = 0.0
        for i, kind in enumerate(self.plan.types):
            if kind == "batchnorm":
                off, w = self.ops[i, k.K_RUN], self.plan.shape_out[i][-1]
                self.bn_run[off : off + w] = 0.0
                self.bn_run[off + w : off + 2 * w] = 1.0
        for a in (self.pgrads, self.opt_m, self.opt_v, self.acts, self.grads):
            a[:] = 0
        self.stats[:] = np.nan
        self.step_count = 0
        self._t = 0
        self._perm = np.empty(0, np.int64)
        self._cursor = 0
        self._drawn = 0
        self.epoch = 0
        self.hist.fill(0.0)
        self.divergence: Divergence | None = None
        self.history = History(self.node_ids, recent=int(self.cfg["history"]))
        self._micro: list[tuple[str, int]] = []
        self._batch = np.empty(0, np.int64)
        self.last_eval = {
            "train_loss": np.nan,
            "train_accuracy": np.nan,
            "test_loss": np.nan,
            "test_accuracy": np.nan,
        }

    # --- stepping ---------------------------------------------------------------------------
    @property
    def diverged(self) -> bool:
        return self.divergence is not None

    @property
    def telemetry(self) -> bool:
        """Whether each step gathers its per-node figures (the default). Turned off only to
        measure what they cost (benchmarks/bench_step.py): the figures are then NaN, and a
        blow-up is noticed in the loss alone."""
        return bool(self.hyper[optim.H_TELEMETRY] != 0)

    @telemetry.setter
    def telemetry(self, on: bool) -> None:
        self.hyper[optim.H_TELEMETRY] = 1.0 if on else 0.0

    @property
    def steps_per_epoch(self) -> int:
        return self.X_train.shape[0] // self.batch_size

    def steps_to_epoch(self, epoch: int) -> int:
        """How many more steps until `self.epoch` reaches `epoch` (0 if it has): the batches
        left in this pass over the data, then whole passes, then the new epoch's first."""
        if epoch <= self.epoch:
            return 0
        left = (
            self.steps_per_epoch
            if self._drawn == 0
            else (self._perm.size - self._cursor) // self.batch_size
        )
        return left + 1 + (epoch - self.epoch - 1) * self.steps_per_epoch

    def _batches(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The next `count` mini-batches (rows of sample indices) and the epoch of each."""
        rows = np.empty((count, self.batch_size), np.int64)
        epochs = np.empty(count, np.int64)
        for s in range(count):
            if self._cursor + self.batch_size > self._perm.size:
                self._perm = self._batch_rng.permutation(self.X_train.shape[0]).astype(np.int64)
                self._cursor = 0
                if self._drawn:
                    self.epoch += 1
            rows[s] = self._perm[self._cursor : self._cursor + self.batch_size]
            self._cursor += self.batch_size
            self._drawn += 1
            epochs[s] = self.epoch
        return rows, epochs

    def step(self) -> StepRecord:
        """One mini-batch: forward, loss, backward, clip, update. Finishes a micro-stepped one."""
        if self.divergence is not None:
            return self.history.latest  # type: ignore[return-value]
        if self._micro:
            while True:
                done = self.micro_step()
                if done.record is not None:
                    return done.record
        return self._step_one()

    def _step_one(self) -> StepRecord:
        """run_block(1) without the block: the kernel writes straight into `stats` and `glob`,
        and the record and history row are built from plain Python floats."""
        if self._cursor + self.batch_size > self._perm.size:
            self._perm = self._batch_rng.permutation(self.X_train.shape[0]).astype(np.int64)
            self._cursor = 0
            if self._drawn:
                self.epoch += 1
        batch = self._perm[self._cursor : self._cursor + self.batch_size]
        self._cursor += self.batch_size
        self._drawn += 1
        # A view: _perm is replaced, never written, when the next epoch starts.
        self._batch = batch
        step = self.step_count
        k.train_steps(
            self._train_set,
            batch.reshape(1, -1),
            self._graph,
            self._rows,
            self._state,
            self._optimiser,
            self._t + 1,
            self._figures_one,
            self._no_evaluation,
            self._no_out,
        )
        self._t += 1
        g = self.glob.tolist()
        if g[k.G_BAD_NODE] == g[k.G_BAD_NODE]:  # not NaN: this step went non-finite
            self.divergence = Divergence(
                step, self.node_ids[int(g[k.G_BAD_NODE])], k.QUANTITIES[int(g[k.G_BAD_QTY])]
            )
        elif step % self.eval_every == 0:
            self.evaluate()
        ev = self.last_eval
        # In SCALARS order (tests compare these records with the micro-step path's).
        values = [
            float(step),
            float(self.epoch),
            g[k.G_LOSS],
            g[k.G_DATA_LOSS],
            g[k.G_PENALTY],
            g[k.G_CORRECT] / self.batch_size if self.classify else np.nan,
            float(ev["train_loss"]),
            float(ev["train_accuracy"]),
            float(ev["test_loss"]),
            float(ev["test_accuracy"]),
            g[k.G_CLIP_FIRED],
            g[k.G_NORM_BEFORE],
            g[k.G_NORM_AFTER],
            float(self.hyper[optim.H_LR]),
        ]
        record = StepRecord(
            dict(zip(SCALARS, values, strict=True)),
            self.node_ids,
            self.stats.copy(),
            self.hist.copy(),
            self.hist_ranges,
            self.divergence,
        )
        self.history.append_one(step, values, record.node_stats, record)
        self.step_count += 1
        return record

    def run_block(self, count: int) -> StepBlock | None:
        """Up to `count` steps (at most MAX_BLOCK) in one kernel call, fewer after a blow-up;
        evaluations due within them are run there too. Every step's figures are kept;
        histograms are computed for the block's last step. None if training has diverged
        (reset first)."""
        if self.divergence is not None:
            return None
        if self._micro:
            record = self.step()
            return StepBlock(
                np.array([record.step]),
                self.history.recent()[1][-1:],
                record.node_stats[None].copy(),
                record,
            )
        # The kernel evaluates between the block's steps when the evaluated training rows are
        # the whole training set (its own data); otherwise a block ends at the next evaluation
        # step and the evaluation runs after it. Short blocks cost Python between kernel calls
        # (and, in the window, a wait for the GIL each).
        inline = self.eval_rows[0] == len(self.X_train)
        if not inline:
            count = min(count, -self.step_count % self.eval_every + 1)
        count = max(1, min(count, MAX_BLOCK))
        batches, epochs = self._batches(count)
        done = k.train_steps(
            self._train_set,
            batches,
            self._graph,
            self._rows,
            self._state,
            self._optimiser,
            self._t + 1,
            self._figures,
            self._evaluation(self._eval_test, self.step_count) if inline else self._no_evaluation,
            self._no_out,
        )
        self._t += done
        self._batch = batches[done - 1].copy()  # what the state arrays describe
        self.stats[:] = self.stats_block[done - 1]
        self.glob[:] = self.glob_block[done - 1]
        return self._complete(self.stats_block[:done], self.glob_block[:done], epochs[:done])

    def _complete(self, stats: np.ndarray, glob: np.ndarray, epochs: np.ndarray) -> StepBlock:
        """Turn a kernel's raw figures into records, evaluate if due, extend the history."""
        done = len(glob)
        last = glob[-1]
        if not np.isnan(last[k.G_BAD_NODE]):
            self.divergence = Divergence(
                self.step_count + done - 1,
                self.node_ids[int(last[k.G_BAD_NODE])],
                k.QUANTITIES[int(last[k.G_BAD_QTY])],
            )
        steps = np.arange(self.step_count, self.step_count + done)
        scalars = np.empty((done, len(SCALARS)))
        scalars[:, _COL["step"]] = steps
        scalars[:, _COL["epoch"]] = epochs
        scalars[:, _FROM_GLOB_COLS] = glob[:, _FROM_GLOB]
        scalars[:, _COL["accuracy"]] = (
            glob[:, k.G_CORRECT] / self.batch_size if self.classify else np.nan
        )
        scalars[:, _COL["lr"]] = self.hyper[optim.H_LR]
        # Each step carries the latest evaluation: the kernel's, made after the step (a step
        # that went non-finite has none), or one made now after the block's last step.
        scalars[:, _EVAL_COLS] = [self.last_eval[name] for name in _EVAL_NAMES]
        for s in np.flatnonzero(steps % self.eval_every == 0):
            if self.divergence is not None and s == done - 1:
                break
            if np.isnan(glob[s, k.G_TRAIN_LOSS]) and np.isnan(glob[s, k.G_TEST_LOSS]):
                self.evaluate()  # not evaluated in the kernel (only the last step can be)
            else:
                self.last_eval = self._evaluated(glob[s], self.eval_rows)
            scalars[s:, _EVAL_COLS] = [self.last_eval[name] for name in _EVAL_NAMES]
        node_stats = stats.copy()
        record = StepRecord(
            dict(zip(SCALARS, scalars[-1].tolist(), strict=True)),
            self.node_ids,
            node_stats[-1],
            self.hist.copy(),
            self.hist_ranges,
            self.divergence,
        )
        self.history.append_block(steps, scalars, node_stats, record)
        self.step_count += done
        return StepBlock(steps, scalars, node_stats, record)

    def run(self, steps: int) -> Iterator[StepRecord]:
        """Yield the records of up to `steps` steps; stops early if training diverges.
        Histograms are kept for the last step of each block only (None elsewhere)."""
        if self.divergence is not None:
            yield self.history.latest  # as step() does: the record of the step that diverged
            return
        left = steps
        while left > 0:
            block = self.run_block(left)
            if block is None:
                return
            left -= len(block.steps)
            yield from block.records()
            if block.last.divergence is not None:
                return

    def _gather_batch(self) -> None:
        """Copy the current mini-batch's rows into the kernel's input and target buffers."""
        k.gather_batch(
            self.X_train,
            self.lab_train,
            self.tgt_train,
            self._batch,
            self.acts,
            self.ops[0, k.K_OUT],
            self.lab_buf,
            self.tgt_buf,
        )
