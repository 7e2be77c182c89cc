"""Branches: a run continued from a past step with other settings or another network of the
same blocks and parameter shapes, its past this run's up to there (mixed into Timeline)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from ..engine.schema import training_defaults
from ..engine.spec import Network
from ..engine.state import StateError
from ..engine.train import Trainer

LIVE_KEYS = ("lr", "l2", "clip")


@dataclass(frozen=True)
class Segment:
    start: int  # the first step trained with this network
    network: Network  # with the live settings it started with


class Branching:
    """Timeline's branch, resume and the past a branch starts from."""

    def branch(
        self, step_count: int, network: Network | None = None, settings: dict | None = None
    ) -> tuple[Trainer, Self]:
        """A new run continuing this one after `step_count` steps, with `network` (by default
        this run's at that step) and live `settings` (lr, l2, clip) changed: its trainer,
        about to train step `step_count`, and its timeline, whose past is this one's.
        NetworkError if the network is invalid; StateError if it does not fit the state
        (other parameter shapes, dtype or data)."""
        self._need_figures(step_count)
        base = self.network_at(step_count)
        net = (network if network is not None else base).copy()
        for key, value in (settings or {}).items():
            if key not in LIVE_KEYS:
                raise ValueError(f"{key!r} is not a live setting ({', '.join(LIVE_KEYS)})")
            net.training[key] = (
                {**net.training.get("clip", {}), **value} if key == "clip" else value
            )
        if net.data != base.data:
            raise StateError("A branch trains on the same data as its run: the data changed.")
        # The step before, run in full: the branch's first picture is that step's, histograms
        # included (just viewed, most often: then it is there already).
        k = self.segment_at(max(step_count - 1, 0))
        viewed = self._viewed.get(k)
        here = self._at(k, step_count) and self._trainers[k].step_count == step_count
        if here and viewed is not None and viewed.step == step_count - 1:
            source, latest = self._trainers[k], viewed
        else:
            source = self.trainer_at(max(step_count - 1, 0))
            latest = source.step() if step_count > 0 else None
        if _without_live(net) == _without_live(self.segments[k].network):
            # Only live settings change: the trainer that replayed goes on as the branch (no
            # new trainer to build), and this timeline makes itself another when it needs one.
            trainer = self._trainers.pop(k)
            self._restored.discard(k)
            self._viewed.pop(k, None)
            cfg = training_defaults(net.training)
            trainer.set_live(**{key: cfg[key] for key in LIVE_KEYS})
            trainer.net = net.copy()
        else:
            state = source.capture_state()
            trainer = Trainer(net, data=self._data if self._data is not None else source.data)
            _same_blocks(self.figures.node_ids, list(trainer.node_ids))
            trainer.restore_state(state, settings=False)
        f = self.figures
        trainer.history.refill(f.scalars.head(step_count), f.stats.head(step_count), latest)
        child = self._past(step_count)
        child.segments.append(Segment(step_count, trainer.net.copy()))
        child.save_state(trainer, start=True)
        return trainer, child

    def resume(self) -> Trainer:
        """A trainer that goes on with this run after its last step (an opened run), with the
        run's history; the timeline follows it from there (`add`)."""
        n = self.steps
        self._need_figures(n)
        k = len(self.segments) - 1
        latest = None
        if n > 0 and self.segments[k].start < n:
            trainer = self.trainer_at(n - 1)
            latest = trainer.step()  # the last step in full: histograms included
        else:
            trainer = self.trainer_at(n)
        self._trainers.pop(k)
        self._restored.discard(k)
        self._viewed.pop(k, None)
        f = self.figures
        trainer.history.refill(f.scalars.head(n), f.stats.head(n), latest)
        return trainer

    def _past(self, step_count: int) -> Self:
        """This timeline before `step_count` steps, for a branch to continue: its segments,
        live changes, figures and states before then (states shared, not copied)."""
        segments = [s for s in self.segments if s.start < step_count]
        child = type(self)(
            segments,
            self.figures.node_ids,
            self.checkpoints.budget,
            self.checkpoints.every,
            self._data,
        )
        child.changes = [c for c in self.changes if c.step < step_count]
        child.figures = self.figures.copy(step_count)
        for entry in self.checkpoints.entries:
            if entry.step < step_count:
                entry.shared = True  # held by both timelines from now on
                child.checkpoints.add(entry, start=entry.step in self.checkpoints.starts)
        child.read_state, child.folder = self.read_state, self.folder
        child._relative = {k: v for k, v in self._relative.items() if k < len(segments)}
        return child


def _without_live(net: Network) -> dict:
    """The network file's content but its live settings and layout: what a trainer is built
    from."""
    d = net.to_dict()
    d["training"] = {k: v for k, v in d["training"].items() if k not in LIVE_KEYS}
    for node in d["nodes"]:
        node.pop("pos", None)
    return d


def _same_blocks(recorded: list[str], branch: list[str]) -> None:
    """A branch's figures go on from its run's, block by block: a block added or removed
    (even one without weights, a dropout) has no past to go on from."""
    if branch == recorded:
        return
    added = [n for n in branch if n not in recorded]
    removed = [n for n in recorded if n not in branch]
    change = (
        "; ".join(
            part
            for part in (
                f"adds {', '.join(added[:3])}" if added else "",
                f"removes {', '.join(removed[:3])}" if removed else "",
            )
            if part
        )
        or "orders the blocks differently"
    )
    raise StateError(
        f"A branch goes on with the run's blocks, and this network {change} (a branch may "
        "change settings, activations and initialisers, not the blocks)."
    )
