"""The Trainer: a validated network, compiled and trained one mini-batch (or one node) at a time.

`step()` runs one whole mini-batch in a single kernel call. `micro_step()` runs the same step one
phase at a time (each node forward, the loss, each node backward, the update) through the same
kernel functions, so both paths give bit-identical results. A NaN or infinity never raises: the
step reports where it appeared and the trainer stops in a "diverged" state until `reset()`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .compile import Plan, compile_network
from .data import Dataset, load_dataset
from .errors import NetworkError, Problem
from .init import initialise, initialise_bias
from .kernels import images, optim
from .kernels import plan as k
from .kernels.stats import N_STATS, S_PGRAD, scratch_size
from .schema import node_defaults, training_defaults
from .spec import Network
from .state import MOMENTS, TrainerState, check_fits, copy_into, layout_of
from .telemetry import SCALARS, Divergence, History, StepRecord
from .validate import validate

EVAL_CHUNK = 256
# Evaluation, by default ("auto"): the first EVAL_ROWS rows of the (shuffled) training set and
# of the test set, after steps 0, n, 2n, ... where n keeps its forward passes near 6% of the
# training's work: a training step costs about two evaluated rows per batch row, so n is
# EVAL_COST steps per evaluated row per batch row, in tens.
EVAL_ROWS = 512
EVAL_COST = 8
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


def evaluation_plan(cfg: dict, n_train: int, n_test: int) -> tuple[int, int, int]:
    """(training rows, test rows, every): what each evaluation covers and how often it runs,
    from the `eval_rows` and `eval_every` settings ("auto", "all" or a number)."""
    rows = cfg.get("eval_rows", "auto")
    if rows == "all":
        train_rows, test_rows = n_train, n_test
    else:
        cap = EVAL_ROWS if rows == "auto" else int(rows)
        train_rows, test_rows = min(n_train, cap), min(n_test, cap)
    every = cfg.get("eval_every", "auto")
    if every == "auto":
        steps = EVAL_COST * (train_rows + test_rows) / int(cfg["batch_size"])
        every = max(10, 10 * math.ceil(steps / 10))
    return train_rows, test_rows, int(every)


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


@dataclass(frozen=True)
class MicroStep:
    """Where a micro-step left the trainer: `phase` is "forward", "loss", "backward" or
    "update"; `node` the node just computed (None for loss and update)."""

    phase: str
    node: str | None
    record: StepRecord | None = None  # set when the micro-step finished a whole step


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan-in, fan-out) of a weight: a dense layer's (inputs, outputs), a convolution's
    (kernel² × channels, kernel² × filters) for its (k, k, c, f) kernel, as PyTorch counts."""
    if len(shape) == 4:
        area = shape[0] * shape[1]
        return area * shape[2], area * shape[3]
    return shape[0], shape[1]


class Trainer:
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

    def evaluate(self, full: bool = False) -> dict[str, float]:
        """Data loss and accuracy in evaluation mode over the evaluated rows (`eval_rows`: the
        first rows of the training and the test set), which become `last_eval`, the figures
        every later step carries. `full`: over the whole sets instead, changing nothing."""
        glob = np.full((1, k.N_GLOB), np.nan)
        if full:
            self._evaluate_rows(
                self.X_train,
                self.lab_train,
                self.tgt_train,
                glob,
                self._no_out,
                self._no_evaluation_full,
            )
            return self._evaluated(glob[0], (len(self.X_train), len(self.X_test)))
        self._evaluate_rows(*self._eval_train, glob, self._no_out)
        self.last_eval = self._evaluated(glob[0], self.eval_rows)
        return dict(self.last_eval)

    @property
    def evaluation(self) -> dict:
        """What each evaluation covers, for a run's summary: after which steps, and which rows
        of which set (the first `train_rows` of the `train_total` training rows, ...)."""
        return {
            "every": self.eval_every,
            "rows": "first",
            "train_rows": self.eval_rows[0],
            "train_total": len(self.X_train),
            "test_rows": self.eval_rows[1],
            "test_total": len(self.X_test),
        }

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The network's outputs (logits, or values for regression) for rows of X, in
        evaluation mode; changes nothing. Used for decision boundaries."""
        X = np.ascontiguousarray(X, dtype=self.dtype)
        out = np.empty((X.shape[0], self.plan.width_out[self.plan.out_idx]))
        if X.shape[0] == 0:
            return out
        labels = np.zeros(X.shape[0], np.int64)
        targets = np.zeros((X.shape[0], self.tgt_train.shape[1]))
        self._evaluate_rows(X, labels, targets, np.full((1, k.N_GLOB), np.nan), out)
        return out

    def _evaluation(self, test: tuple, first: int | None = None) -> tuple:
        """train_steps' `evaluation`: the test rows and the evaluation buffers; with `first`
        (the block's first step number), the whole training set and `test` are evaluated after
        every step due, else never between steps."""
        return tuple(
            k.Evaluation(
                test=test,
                rows_eval=self._rows_eval,
                chunk=self.rows_eval,
                every=0 if first is None else self.eval_every,
                first=0 if first is None else first,
            )
        )

    def _evaluate_rows(
        self,
        X: np.ndarray,
        labels: np.ndarray,
        targets: np.ndarray,
        glob: np.ndarray,
        out: np.ndarray,
        evaluation: tuple | None = None,
    ) -> None:
        """The step kernel without batches: evaluate X (and the evaluated test rows, or those
        of `evaluation`, unless predicting into `out`), into glob[0]."""
        k.train_steps(
            tuple(k.Samples(X=X, labels=labels, targets=targets)),
            np.zeros((0, self.batch_size), np.int64),
            self._graph,
            self._rows,
            self._state,
            self._optimiser,
            0,
            tuple(
                k.Figures(
                    stats_block=np.zeros((1, *self.stats.shape)),
                    hist=np.zeros_like(self.hist),
                    glob_block=glob,
                )
            ),
            self._no_evaluation if evaluation is None else evaluation,
            out,
        )

    def _evaluated(self, glob_row: np.ndarray, rows: tuple[int, int]) -> dict[str, float]:
        """last_eval's figures from a kernel's G_TRAIN_* and G_TEST_* columns, over `rows`
        (training, test) rows."""

        def accuracy(correct: float, n: int) -> float:
            return float(correct) / n if self.classify and n else np.nan

        return {
            "train_loss": float(glob_row[k.G_TRAIN_LOSS]),
            "train_accuracy": accuracy(glob_row[k.G_TRAIN_CORRECT], rows[0]),
            "test_loss": float(glob_row[k.G_TEST_LOSS]),
            "test_accuracy": accuracy(glob_row[k.G_TEST_CORRECT], rows[1]),
        }

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

    def step_with_state(self) -> tuple[StepRecord, dict[str, np.ndarray]]:
        """One step, also returning its state just before the update (gradients before
        clipping): the batch, every node's output and gradient, every parameter and its
        gradient. The arithmetic is the same as step()'s."""
        if self._micro or self.divergence is not None:
            return self.step(), {}
        need_dx = self.ops[:, k.K_NEEDDX].copy()
        self.ops[1:, k.K_NEEDDX] = 1  # also the gradient reaching the input
        try:
            state: dict[str, np.ndarray] = {}
            while True:
                if self._micro and self._micro[0][0] == "update":
                    state = self.state_arrays()
                done = self.micro_step()
                if done.record is not None:
                    return done.record, state or self.state_arrays()
        finally:
            self.ops[:, k.K_NEEDDX] = need_dx

    def forward_backward(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Loss and every gradient on the training rows `idx`, changing nothing: no update, no
        step counted, running statistics kept. For checking gradients and for teaching."""
        if self._micro:
            raise RuntimeError("finish the current micro-stepped step first")
        idx = np.ascontiguousarray(idx, dtype=np.int64)
        if idx.size != self.batch_size:
            raise ValueError(f"expected {self.batch_size} rows, got {idx.size}")
        saved = (
            self.bn_run.copy(),
            self.stats.copy(),
            self.hist.copy(),
            self.glob.copy(),
            self._batch,
            self.ops[:, k.K_NEEDDX].copy(),
        )
        self._batch = idx
        self.ops[1:, k.K_NEEDDX] = 1
        try:
            k.gather_batch(
                self.X_train,
                self.lab_train,
                self.tgt_train,
                idx,
                self.acts,
                self.ops[0, k.K_OUT],
                self.lab_buf,
                self.tgt_buf,
            )
            phases = [p for p in self.micro_plan() if p[0] != "update"]
            ok = all(self._run_phase(phase, i) for phase, i in phases)
            state = self.state_arrays()
            state["finite"] = np.array(ok)
            return state
        finally:
            (
                self.bn_run[:],
                self.stats[:],
                self.hist[:],
                self.glob[:],
                self._batch,
                self.ops[:, k.K_NEEDDX],
            ) = saved

    def capture_state(self, reuse: TrainerState | None = None) -> TrainerState:
        """Everything the next step depends on, copied (see engine/state.py): restoring it, in
        this trainer or a fresh one of the same network, continues bit for bit. `reuse`: a
        state no longer needed, whose arrays are written over (no new memory to fault in)."""
        if self._micro:
            raise RuntimeError("finish the current micro-stepped step first")
        old = reuse.arrays() if reuse is not None else {}
        uses_m, uses_v = MOMENTS[self.cfg["optimizer"]]
        d = self.divergence
        return TrainerState(
            step_count=self.step_count,
            epoch=self.epoch,
            t=self._t,
            cursor=self._cursor,
            drawn=self._drawn,
            rng=self._batch_rng.bit_generator.state,
            params=copy_into(self.params, old.get("params")),
            opt_m=copy_into(self.opt_m, old.get("opt_m")) if uses_m else None,
            opt_v=copy_into(self.opt_v, old.get("opt_v")) if uses_v else None,
            bn_run=self.bn_run.copy(),
            hyper=self.hyper.copy(),
            clip_mode=int(self.clip_mode),
            live={"lr": self.cfg["lr"], "l2": self.cfg["l2"], "clip": dict(self.cfg["clip"])},
            perm=self._perm.copy(),
            batch=np.array(self._batch, np.int64),
            last_eval=dict(self.last_eval),
            divergence=None
            if d is None
            else {"step": d.step, "node": d.node, "quantity": d.quantity},
            optimizer=str(self.cfg["optimizer"]),
            dtype=str(self.dtype),
            layout=self._state_layout,
        )

    @cached_property
    def _state_layout(self) -> list:
        return layout_of(self.plan)

    def restore_state(self, state: TrainerState, settings: bool = True) -> None:
        """Continue from `state` (a StateError if it belongs to another network). `settings`:
        also its live settings (lr, L2, clipping), else this trainer's stay (a branch). Under
        another optimizer its moments start from zero, as a new optimizer would. The history
        starts empty."""
        check_fits(
            state, layout_of(self.plan), str(self.dtype), self.bn_run.size, len(self.X_train)
        )
        self._micro = []
        self.stats[:] = np.nan
        self.hist.fill(0.0)
        self.history.clear()
        self.params[:] = state.params
        self.bn_run[:] = state.bn_run
        same_optimizer = state.optimizer == self.cfg["optimizer"]
        for mine, saved in ((self.opt_m, state.opt_m), (self.opt_v, state.opt_v)):
            mine[:] = saved if saved is not None and same_optimizer else 0
        self._t = state.t if same_optimizer else 0
        self.step_count, self.epoch = state.step_count, state.epoch
        self._cursor, self._drawn = state.cursor, state.drawn
        self._batch_rng.bit_generator.state = state.rng
        self._perm = state.perm.copy()
        self._batch = state.batch.copy()
        self.last_eval = dict(state.last_eval)
        self.divergence = None if state.divergence is None else Divergence(**state.divergence)
        if settings:
            live = state.live
            self.set_live(lr=live["lr"], l2=live["l2"], clip=dict(live["clip"]))
            self.hyper[:] = state.hyper  # the optimizer's constants and the telemetry switch too

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

    def preview(self) -> tuple[np.ndarray, np.ndarray]:
        """The per-node figures and histograms the next step will record, before it is taken:
        forward, loss and backward on its mini-batch with the weights as they are, changing
        nothing (not even the batch order). Before step 0, step 0's figures: what a fresh run
        shows before any step. The update's figures (ratios, weight norms) stay NaN."""
        if self._micro:
            raise RuntimeError("finish the current micro-stepped step first")
        order = (self._batch_rng.bit_generator.state, self._perm, self._cursor, self._drawn)
        epoch = self.epoch
        rows, _ = self._batches(1)
        self._batch_rng.bit_generator.state, self._perm, self._cursor, self._drawn = order
        self.epoch = epoch
        saved = (
            self.bn_run.copy(),
            self.stats.copy(),
            self.hist.copy(),
            self.glob.copy(),
            self._batch,
        )
        self._batch = rows[0]
        try:
            self.stats.fill(np.nan)
            self.glob.fill(np.nan)
            self.hist.fill(0)
            self._gather_batch()
            finite = True
            for phase, i in self.micro_plan():
                if phase == "update" or not self._run_phase(phase, i):
                    finite = phase == "update"
                    break
            stats = self.stats.copy()
            for i in range(len(self.node_ids)) if finite else ():
                # The update's first figure, its input: each node's weight gradient norm.
                p0, p1 = self.ops[i, k.K_PSTART], self.ops[i, k.K_PEND]
                if p1 > p0:
                    grad = self.pgrads[p0:p1].astype(np.float64)
                    stats[i, S_PGRAD] = np.sqrt(grad @ grad)
            return stats, self.hist.copy()
        finally:
            self.bn_run[:], self.stats[:], self.hist[:], self.glob[:], self._batch = saved

    def snapshot_state(self) -> dict[str, np.ndarray]:
        """The state as it is now, under the dump keys: forward and backward with the current
        weights on the last batch (before any step: the first rows), changing nothing."""
        if self._micro:
            raise RuntimeError("finish the current micro-stepped step first")
        idx = (
            self._batch
            if self._batch.size == self.batch_size
            else np.arange(self.batch_size, dtype=np.int64)
        )
        return self.forward_backward(idx)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The current batch, activations, gradients and parameters under the dump keys."""
        n = self._batch.size or self.batch_size
        x = self.X_train[self._batch]
        out: dict[str, np.ndarray] = {"x": x.reshape(len(x), *self.plan.shape_out[0])}
        out["y"] = (self.lab_buf[:n] if self.classify else self.tgt_buf[:n]).copy()
        out["loss"] = np.array(self.glob[k.G_LOSS])
        for i, node in enumerate(self.node_ids):
            w, shape = self.ops[i, k.K_WOUT], (n, *self.plan.shape_out[i])
            a, g = self.ops[i, k.K_OUT], self.ops[i, k.K_DOUT]
            out[f"act/{node}"] = self.acts[a : a + n * w].reshape(shape).copy()
            out[f"dact/{node}"] = self.grads[g : g + n * w].reshape(shape).copy()
            if self.plan.types[i] == "dropout":  # 1 where kept, 0 where dropped
                m = self.ops[i, images.K_KEEP]
                out[f"mask/{node}"] = (
                    (self.aux[m : m + n * w] != 0).reshape(shape).astype(self.dtype)
                )
        for slot in self.plan.params:
            sl = slice(slot.offset, slot.offset + slot.size)
            out[f"param/{slot.node_id}/{slot.name}"] = self.params[sl].reshape(slot.shape).copy()
            out[f"grad/{slot.node_id}/{slot.name}"] = self.pgrads[sl].reshape(slot.shape).copy()
        return out

    # --- micro-steps ------------------------------------------------------------------------
    def micro_plan(self) -> list[tuple[str, int]]:
        """The phases of one step: each node forward, the loss, each node backward, update."""
        n = len(self.node_ids)
        return (
            [("forward", i) for i in range(n)]
            + [("loss", -1)]
            + [("backward", i) for i in range(n - 1, 0, -1)]
            + [("update", -1)]
        )

    @property
    def next_micro(self) -> tuple[str, str | None]:
        """The phase and node the next micro-step will compute."""
        phase, i = (self._micro or self.micro_plan())[0]
        return phase, self.node_ids[i] if i >= 0 else None

    def micro_step(self) -> MicroStep:
        if self.divergence is not None:
            return MicroStep("diverged", None, self.history.latest)
        if not self._micro:
            self._micro = self.micro_plan()
            self._t += 1
            self.glob.fill(np.nan)
            self.stats.fill(np.nan)
            self.hist.fill(0)  # a block's histogram appears as the block is computed
            rows, self._micro_epoch = self._batches(1)
            self._batch = rows[0]
            self._gather_batch()
        phase, i = self._micro.pop(0)
        ok = self._run_phase(phase, i)
        node = self.node_ids[i] if i >= 0 else None
        if not ok or phase == "update":
            self._micro = []
            block = self._complete(self.stats[None], self.glob[None], self._micro_epoch)
            return MicroStep(phase, node, block.last)
        return MicroStep(phase, node)

    def _run_phase(self, phase: str, i: int) -> bool:
        n = self._batch.size
        if phase == "forward":
            detail = 2 if self.telemetry else 0
            return k.forward_node(
                i,
                self.ops,
                self.plan.fpar,
                self.plan.preds,
                self.acts,
                self.aux,
                self.params,
                self.bn_run,
                self.stats,
                self.hist,
                n,
                True,
                max(self._t, 1),  # dropout's masks: this step's (before any step, the first's)
                self.glob,
                detail,
                self._scratch,
            )
        if phase == "loss":
            return k.begin_backward(
                self.ops,
                self.plan.out_idx,
                self.acts,
                self.grads,
                self.params,
                self.lab_buf,
                self.tgt_buf,
                self.classify,
                n,
                self.hyper,
                self.glob,
            )
        if phase == "backward":
            return k.backward_node(
                i,
                self.ops,
                self.plan.fpar,
                self.plan.preds,
                self.acts,
                self.grads,
                self.aux,
                self.params,
                self.pgrads,
                self.stats,
                n,
                self.hyper,
                self.glob,
                self.steps,
            )
        return k.update(
            self.ops,
            self.params,
            self.pgrads,
            self.opt_m,
            self.opt_v,
            self.opt,
            self.clip_mode,
            self.hyper,
            self._t,
            self.stats,
            self.glob,
            self.steps,
        )
