"""A Trainer's state taken and given back: saved states for time travel (capture, restore),
the next step's figures before it is taken, and the dump keys of a step's arrays."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

import numpy as np

from .kernels import images
from .kernels import plan as k
from .kernels.stats import S_PGRAD
from .state import MOMENTS, TrainerState, check_fits, copy_into, layout_of
from .telemetry import Divergence, StepRecord


class Inspecting:
    """Mixed into Trainer: the methods read and write its buffers."""

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
        with self._left_as_it_was():
            self._batch = rows[0]
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

    @contextmanager
    def _left_as_it_was(self) -> Iterator[None]:
        """What a forward and backward pass writes besides the gradients (running statistics,
        figures, the batch, the need for the input's gradient), put back afterwards."""
        saved = (
            self.bn_run.copy(),
            self.stats.copy(),
            self.hist.copy(),
            self.glob.copy(),
            self._batch,
            self.ops[:, k.K_NEEDDX].copy(),
        )
        try:
            yield
        finally:
            (
                self.bn_run[:],
                self.stats[:],
                self.hist[:],
                self.glob[:],
                self._batch,
                self.ops[:, k.K_NEEDDX],
            ) = saved

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
        with self._left_as_it_was():
            self._batch = idx
            self.ops[1:, k.K_NEEDDX] = 1
            self._gather_batch()
            phases = [p for p in self.micro_plan() if p[0] != "update"]
            ok = all(self._run_phase(phase, i) for phase, i in phases)
            state = self.state_arrays()
            state["finite"] = np.array(ok)
            return state

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
