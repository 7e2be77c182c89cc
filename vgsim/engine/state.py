"""A Trainer's whole state at a step boundary: enough to continue bit for bit as if never stopped.

`Trainer.capture()` returns a `TrainerState`; `Trainer.restore(state)` puts it back, in the same
trainer or in a fresh one built from the same network. What is kept: the parameters, the
optimizer's moments, batch norm's running statistics, the batch order (the random generator,
the current epoch's permutation and the position in it), the step, epoch and optimizer-step
counters, the latest evaluation, the live settings and a divergence if there was one. Scratch
buffers (activations, gradients, statistics) are not: every step writes them before reading.

On disk a state is one .npz of plain arrays plus a "meta" entry holding JSON (no pickle):
`to_arrays` / `from_arrays`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .compile import Plan

import numpy as np

from .errors import VgsimError

FORMAT = "vgsim.state/1"
# Arrays a state holds; the optimizer's moments are absent (None) where it keeps none.
ARRAYS = ("params", "opt_m", "opt_v", "bn_run", "hyper", "perm", "batch")
# Which moments (m, v) each optimizer keeps.
MOMENTS = {
    "sgd": (False, False),
    "momentum": (True, False),
    "nesterov": (True, False),
    "adam": (True, True),
    "rmsprop": (False, True),
}
OPTIONAL = ("opt_m", "opt_v")


class StateError(VgsimError):
    """A saved state that cannot be read, or that belongs to another network."""


@dataclass
class TrainerState:
    step_count: int
    epoch: int
    t: int  # optimizer steps taken (Adam's bias correction; dropout's masks)
    cursor: int  # position in `perm` of the next batch
    drawn: int  # batches drawn so far
    rng: dict  # the batch-order generator's bit_generator.state
    params: np.ndarray
    opt_m: np.ndarray | None  # None where the optimizer keeps no such moment
    opt_v: np.ndarray | None
    bn_run: np.ndarray
    hyper: np.ndarray  # the live settings and optimizer constants, as the kernels read them
    clip_mode: int
    live: dict  # lr, l2, clip as in the training settings
    perm: np.ndarray  # this epoch's batch order
    batch: np.ndarray  # the last batch (what snapshot_state shows)
    last_eval: dict
    divergence: dict | None
    optimizer: str
    dtype: str
    layout: list = field(default_factory=list)  # [node, name, shape] of every parameter slot

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays().values())

    def arrays(self) -> dict[str, np.ndarray]:
        out = {name: getattr(self, name) for name in ARRAYS}
        return {k: v for k, v in out.items() if v is not None}

    def meta(self) -> dict:
        return {
            "format": FORMAT,
            "step_count": self.step_count,
            "epoch": self.epoch,
            "t": self.t,
            "cursor": self.cursor,
            "drawn": self.drawn,
            "rng": self.rng,
            "clip_mode": self.clip_mode,
            "live": self.live,
            # JSON has no NaN: an evaluation not made yet is written as a string.
            "last_eval": {k: repr(float(v)) for k, v in self.last_eval.items()},
            "divergence": self.divergence,
            "optimizer": self.optimizer,
            "dtype": self.dtype,
            "layout": self.layout,
        }


def to_arrays(state: TrainerState) -> dict[str, np.ndarray]:
    """The state as named arrays for an .npz: the arrays, and "meta" (a JSON string)."""
    return {**state.arrays(), "meta": np.array(json.dumps(state.meta()))}


def from_arrays(arrays: dict[str, np.ndarray], where: str = "the state") -> TrainerState:
    """The inverse of `to_arrays`; a StateError names what is missing or malformed."""
    try:
        meta = json.loads(str(arrays["meta"][()]))
        if meta.get("format") != FORMAT:
            raise StateError(f"{where} is not a vgsim state (format {meta.get('format')!r}).")
        values = {name: arrays.get(name) for name in ARRAYS}
        for name in ARRAYS:
            if values[name] is None and name not in OPTIONAL:
                raise StateError(f"{where} has no {name!r} array.")
        return TrainerState(
            step_count=int(meta["step_count"]),
            epoch=int(meta["epoch"]),
            t=int(meta["t"]),
            cursor=int(meta["cursor"]),
            drawn=int(meta["drawn"]),
            rng=meta["rng"],
            clip_mode=int(meta["clip_mode"]),
            live=meta["live"],
            last_eval={k: float(v) for k, v in meta["last_eval"].items()},
            divergence=meta["divergence"],
            optimizer=str(meta["optimizer"]),
            dtype=str(meta["dtype"]),
            layout=meta["layout"],
            **values,
        )
    except StateError:
        raise
    except (KeyError, ValueError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise StateError(f"{where} is damaged: {type(exc).__name__}: {exc}") from exc


def copy_into(a: np.ndarray, into: np.ndarray | None) -> np.ndarray:
    """A copy of `a`, written into `into` where it has the same shape and dtype."""
    if into is None or into.shape != a.shape or into.dtype != a.dtype:
        return a.copy()
    np.copyto(into, a)
    return into


def layout_of(plan: Plan) -> list:
    """What a state's parameter arrays mean: every slot's node, name and shape, in order."""
    return [[s.node_id, s.name, list(s.shape)] for s in plan.params]


def check_fits(state: TrainerState, layout: list, dtype: str, n_bn: int, n_train: int) -> None:
    """Refuse a state whose arrays would not mean the same thing in this trainer."""
    problems = []
    if state.layout != layout:
        problems.append("its parameters have other shapes (the network's structure changed)")
    if state.dtype != dtype:
        problems.append(f"it holds {state.dtype} numbers, the network computes in {dtype}")
    if state.bn_run.size != n_bn:
        problems.append("its batch-norm statistics do not match the network's")
    if state.perm.size and state.perm.size != n_train:
        problems.append("its batch order is over another number of training samples")
    if problems:
        raise StateError("This state does not fit the network: " + "; ".join(problems) + ".")
