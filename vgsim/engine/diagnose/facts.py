"""What the diagnosis reads, from a live Trainer or from a run folder's files alike.

`NetworkFacts`: the network's shape (blocks, kinds, widths, edges, initialisers), its loss and
the loss of chance-level guessing, and the settings in force (learning rate, L2, clipping).
`Telemetry`: the newest recorded steps (their scalars and per-node figures) and the divergence,
if any. Only the last `KEEP_STEPS` steps matter, so a window's ring and a folder's metrics.csv
give the same diagnosis for the same steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..compile import Plan, compile_network
from ..kernels.stats import N_STATS
from ..schema import init_defaults, node_defaults, training_defaults
from ..spec import Network
from ..telemetry import SCALARS, Divergence, History
from .thresholds import KEEP_STEPS, STATS_STEPS

if TYPE_CHECKING:  # a Trainer is only passed in: no need to import its kernels here
    from ..train import Trainer

_DATA_LOSS = SCALARS.index("data_loss")


@dataclass(frozen=True)
class NetworkFacts:
    ids: tuple[str, ...]  # blocks in execution order
    types: tuple[str, ...]
    functions: tuple[str, ...]  # activation function per block ("" for other kinds)
    widths: tuple[int, ...]  # output width per block
    preds: tuple[tuple[int, ...], ...]  # each block's inputs (indices into ids)
    out_idx: int
    inits: dict[str, str]  # dense block -> initialiser name
    loss: str  # "softmax_cross_entropy", "mse" or "binary_cross_entropy"
    chance_loss: float  # the loss of the best constant prediction; NaN if unknown
    classes: int  # 0 for regression
    lr: float
    l2: float
    clip_mode: str  # "none", "norm" or "value"
    optimizer: str

    def to_dict(self) -> dict:
        return {
            "ids": list(self.ids),
            "types": list(self.types),
            "functions": list(self.functions),
            "widths": list(self.widths),
            "preds": [list(p) for p in self.preds],
            "out_idx": self.out_idx,
            "inits": dict(self.inits),
            "loss": self.loss,
            "chance_loss": self.chance_loss,
            "classes": self.classes,
            "lr": self.lr,
            "l2": self.l2,
            "clip_mode": self.clip_mode,
            "optimizer": self.optimizer,
        }


def chance_loss(loss: str, y_train: np.ndarray, classes: int, outputs: int) -> float:
    """The training loss of the best prediction that ignores the input: the class frequencies
    (cross-entropy: their entropy, ln k for k balanced classes), or the mean of each target
    (MSE: the targets' variance, averaged over the outputs as the loss averages)."""
    y = np.asarray(y_train)
    if len(y) == 0:
        return math.nan
    if classes:
        p = np.bincount(y.astype(np.int64).ravel(), minlength=classes) / len(y)
        if loss == "softmax_cross_entropy":
            q = p[p > 0]
            return float(-(q * np.log(q)).sum())
        if loss == "binary_cross_entropy":
            if outputs == 1:  # label 1 is the positive class
                p = np.array([p[1] if len(p) > 1 else 0.0])
            return float(np.mean([_binary_entropy(float(v)) for v in p[:outputs]]))
        return float(np.mean(p * (1 - p)))  # MSE on one-hot targets
    if loss == "mse":
        return float(np.mean(np.var(y.reshape(len(y), -1), axis=0)))
    return math.nan


def _binary_entropy(p: float) -> float:
    return -sum(v * math.log(v) for v in (p, 1 - p) if v > 0)


def network_facts(
    net: Network,
    n_features: int,
    chance: float,
    classes: int,
    settings: dict | None = None,
    plan: Plan | None = None,
) -> NetworkFacts:
    """The facts of `net` (compiled for `n_features` inputs unless its `plan` is given), with
    the live `settings` (a Trainer's cfg) or else those of its training section."""
    plan = plan or compile_network(net, n_features)
    cfg = settings or training_defaults(net.training)
    n = len(plan.order)
    starts = np.concatenate([[0], np.cumsum(plan.pred_counts)]).astype(int)
    preds = tuple(tuple(int(p) for p in plan.preds[starts[i] : starts[i + 1]]) for i in range(n))
    nodes = {node.id: node for node in net.nodes}
    inits = {
        node_id: str(init_defaults(node_defaults("dense", nodes[node_id].params)["init"])["name"])
        for node_id, kind in zip(plan.order, plan.types, strict=True)
        if kind == "dense"
    }
    return NetworkFacts(
        ids=tuple(plan.order),
        types=tuple(plan.types),
        functions=tuple(plan.functions),
        widths=tuple(int(w) for w in plan.width_out),
        preds=preds,
        out_idx=int(plan.out_idx),
        inits=inits,
        loss=plan.loss,
        chance_loss=float(chance),
        classes=int(classes),
        lr=float(cfg["lr"]),
        l2=float(cfg["l2"]),
        clip_mode=str(cfg["clip"]["mode"]),
        optimizer=str(cfg["optimizer"]),
    )


def facts_of(trainer: Trainer) -> NetworkFacts:
    """A live Trainer's facts, with its current (live) settings."""
    d = trainer.data
    return network_facts(
        trainer.net,
        d.n_features,
        trainer_chance_loss(trainer),
        d.n_classes,
        settings=trainer.cfg,
        plan=trainer.plan,
    )


def trainer_chance_loss(trainer: Trainer) -> float:
    d, plan = trainer.data, trainer.plan
    return chance_loss(plan.loss, d.y_train, d.n_classes, plan.width_out[plan.out_idx])


@dataclass(frozen=True, eq=False)  # eq=False: comparing numpy arrays is ambiguous
class Telemetry:
    """The newest recorded steps, oldest first: `steps` (T,), `scalars` (T × SCALARS), the
    per-node figures of the newest of them (`stats`: at most STATS_STEPS × block × STAT_NAMES,
    float64; the rules read no older ones), and where training diverged (or None)."""

    steps: np.ndarray
    scalars: np.ndarray
    stats: np.ndarray
    divergence: Divergence | None = None
    initial_loss: float = math.nan  # step 0's mini-batch data loss: the loss at initialisation

    @classmethod
    def of(
        cls,
        steps: np.ndarray,
        scalars: np.ndarray,
        stats: np.ndarray,
        divergence: Divergence | None = None,
        initial_loss: float | None = None,
    ) -> Telemetry:
        """The last `KEEP_STEPS` of the given steps (all of them may be given) and the
        figures of the last STATS_STEPS (`stats` may cover the newest steps only). Without
        `initial_loss`, step 0's is taken from the steps given, if they start there."""
        if initial_loss is None:
            initial_loss = (
                float(scalars[0, _DATA_LOSS]) if len(steps) and steps[0] == 0 else math.nan
            )
        keep = slice(-KEEP_STEPS, None)
        return cls(
            np.asarray(steps[keep], dtype=np.int64),
            np.asarray(scalars[keep], dtype=np.float64),
            np.asarray(stats[-min(STATS_STEPS, len(steps)) :], dtype=np.float64),
            divergence,
            float(initial_loss),
        )

    @classmethod
    def of_history(cls, history: History, divergence: Divergence | None = None) -> Telemetry:
        """The newest steps of a live History; step 0's loss from its whole-run record."""
        steps, scalars, _ = history.tail(KEEP_STEPS, [])
        stats = history.tail(STATS_STEPS, list(range(N_STATS)))[2]
        first_steps, first_scalars, _ = history.long()
        initial = (
            float(first_scalars[0, _DATA_LOSS])
            if len(first_steps) and first_steps[0] == 0
            else math.nan
        )
        return cls.of(steps, scalars, stats, divergence, initial)

    @property
    def steps_done(self) -> int:
        return int(self.steps[-1]) + 1 if len(self.steps) else 0


def telemetry_of(trainer: Trainer) -> Telemetry:
    return Telemetry.of_history(trainer.history, trainer.divergence)
