"""What one side of a side-by-side comparison is, apart from any window's document: a network, a
label, and where it starts. Most sides start at step 0; a run continued from a past step (the
run a branch left, and the branch) starts from that step's saved state, its figures so far
already in its history, so both sides of a branch train on in lockstep from where they parted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine.schema import training_defaults
from ..engine.spec import Network
from ..engine.state import TrainerState
from ..engine.telemetry import SCALARS, StepRecord
from ..engine.train import Trainer
from .figures import FigureLog


@dataclass(frozen=True, eq=False)  # eq=False: states and figures hold arrays
class Side:
    network: Network  # with the live settings it trains with from its start
    label: str | None = None
    start: TrainerState | None = None  # None: step 0, the network's own initialisation
    past: FigureLog | None = None  # the figures of the steps before `start` (a copy)

    @property
    def start_step(self) -> int:
        return 0 if self.start is None else self.start.step_count

    def begin(self, trainer: Trainer) -> None:
        """Put `trainer` (of this side's network) where the side starts: step 0, or its state
        with the figures before it in the history (the last one its `latest`, so the plots
        show where it stands before it trains on). StateError if the state does not fit."""
        if self.start is None:
            trainer.reset()
            return
        trainer.restore_state(self.start, settings=False)
        past = self.past
        if past is None or len(past) == 0:
            return
        n = min(len(past), self.start.step_count)
        scalars, stats = past.scalars.head(n), past.stats.head(n)
        if past.node_ids != list(trainer.node_ids):
            stats = _by_node(np.asarray(stats), past.node_ids, list(trainer.node_ids))
        last = StepRecord(
            dict(zip(SCALARS, (float(v) for v in scalars[n - 1]), strict=True)),
            list(trainer.node_ids),
            np.asarray(stats[n - 1], np.float64),
            None,
            trainer.hist_ranges.copy(),
        )
        trainer.history.refill(scalars, stats, last)


def _by_node(stats: np.ndarray, ids: list[str], wanted: list[str]) -> np.ndarray:
    """Figures (step × node × figure) of nodes `ids` rearranged for nodes `wanted`: NaN for a
    node the run before did not have (an edit at the branch that adds no parameters)."""
    where = {node: i for i, node in enumerate(ids)}
    cols = np.array([where.get(node, -1) for node in wanted], np.int64)
    out = stats[:, np.maximum(cols, 0)]
    out[:, cols < 0] = np.nan
    return out


def what_changed(before: Network, after: Network, most: int = 3) -> str:
    """What a branch changed, in a few words: its training settings that differ ("lr 0.01,
    clip norm 0.5"), or "network edited" for a change of the network itself."""
    a, b = training_defaults(before.training), training_defaults(after.training)
    changed = [
        f"{key} {_text(b.get(key))}" for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)
    ]
    if _layers(before) != _layers(after):
        changed.insert(0, "network edited")
    if len(changed) > most:
        changed = [*changed[: most - 1], f"{len(changed) - most + 1} more"]
    return ", ".join(changed)


def _layers(net: Network) -> dict:
    d = net.to_dict()
    for node in d["nodes"]:
        node.pop("pos", None)
    return {"nodes": d["nodes"], "edges": d["edges"]}


def _text(value: object) -> str:
    if isinstance(value, dict):
        return " ".join(_text(v) for v in value.values())
    return f"{value:g}" if isinstance(value, float) else str(value)
