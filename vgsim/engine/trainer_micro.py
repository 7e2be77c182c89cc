"""Micro-steps: one step of a Trainer one phase at a time (each node forward, the loss, each
node backward, the update), through the same kernel functions as a whole step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels import plan as k
from .telemetry import StepRecord


@dataclass(frozen=True)
class MicroStep:
    """Where a micro-step left the trainer: `phase` is "forward", "loss", "backward" or
    "update"; `node` the node just computed (None for loss and update)."""

    phase: str
    node: str | None
    record: StepRecord | None = None  # set when the micro-step finished a whole step


class MicroStepping:
    """Mixed into Trainer: the methods read and write its buffers."""

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
