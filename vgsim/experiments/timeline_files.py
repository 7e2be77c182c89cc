"""A timeline on disk: a run folder's saved states, figures and networks (docs/checkpoints.md).

RUN_DIR/timeline.json           the index: segments, live changes, saved states, settings
RUN_DIR/network.json            the network the run trains (its last segment's)
RUN_DIR/figures.npz             every step's figures, float64 (written when the run ends)
RUN_DIR/checkpoints/step-000000400.npz   one saved state (engine.state.to_arrays)
RUN_DIR/checkpoints/segment-0.json       the network of an earlier segment (a branch's past)

JSON and .npz only, read without pickle. `TimelineFolder` writes a timeline as it grows (the
index after every saved state, so a folder is always consistent); `open_timeline` reads one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from ..engine.errors import NetworkError, NetworkFileError
from ..engine.files import save_npz, write_json, write_metrics
from ..engine.spec import read_network
from ..engine.state import StateError, TrainerState, from_arrays, to_arrays
from ..engine.telemetry import Divergence
from ..engine.validate import validate
from .checkpoints import Checkpoint
from .figures import FigureLog
from .findings import NETWORK_FILE, network_as_run
from .timeline import Change, Segment, Timeline

FORMAT = "vgsim.timeline/1"
INDEX_FILE, FIGURES_FILE = "timeline.json", "figures.npz"
STATES_FOLDER = "checkpoints"


def state_file(step: int) -> str:
    return f"{STATES_FOLDER}/step-{step:09d}.npz"


def load_state(path: Path) -> TrainerState:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise StateError(f"The saved state {path} is missing.") from None
    except (OSError, ValueError) as exc:
        raise StateError(f"Cannot read the saved state {path}: {exc}") from exc
    return from_arrays(arrays, str(path))


def clear_timeline(folder: Path) -> None:
    """Remove an earlier run's timeline from a run folder (only the files a timeline writes)."""
    for name in (INDEX_FILE, FIGURES_FILE):
        (folder / name).unlink(missing_ok=True)
    states = folder / STATES_FOLDER
    if states.is_dir() and all(
        p.is_file() and p.name.startswith(("step-", "segment-", ".")) for p in states.iterdir()
    ):
        shutil.rmtree(states)


class TimelineFolder:
    """Keeps a run folder's copy of a timeline up to date while the run trains."""

    def __init__(self, folder: str | Path, timeline: Timeline, source: Path | None = None):
        self.dir = Path(folder)
        self.timeline = timeline
        self.source = source  # the folder the timeline's states were read from (a branch's)
        self.parent: dict | None = None

    def note_parent(self, run: Path, step: int, settings: list[str]) -> None:
        """This run branches from `run` after `step` steps, with these --set changes."""
        self.parent = {"run": str(run), "step": step, "set": settings}

    def start(self, follow: bool = True) -> None:
        """Write what the timeline holds so far; with `follow`, every state it saves from now
        on too (kept on disk only)."""
        (self.dir / STATES_FOLDER).mkdir(parents=True, exist_ok=True)
        for k, seg in enumerate(self.timeline.segments):
            write_json(self.dir / self._network_file(k), network_as_run(seg.network))
        for entry in self.timeline.checkpoints.entries:
            self._write_state(entry)
        self.write_index()
        if follow:
            self.timeline.sink = self._saved

    def close(self) -> None:
        """The run ended (however): its figures, then the index that names them."""
        save_npz(self.dir / FIGURES_FILE, self.timeline.figures.to_arrays())
        self.write_index(figures=True)

    def write_index(self, figures: bool = False) -> None:
        tl = self.timeline
        segments = [
            {"start": seg.start, "network": self._network_file(k)}
            for k, seg in enumerate(tl.segments)
        ]
        cp = tl.checkpoints
        index = {
            "format": FORMAT,
            "steps": tl.steps,
            "every": cp.every,
            "budget_bytes": cp.budget,
            "recent_span": cp.recent_span,
            "segments": segments,
            "changes": [{"step": c.step, "settings": c.settings} for c in tl.changes],
            "checkpoints": [
                {
                    "step": e.step,
                    "segment": e.segment,
                    "file": e.file,
                    "bytes": e.nbytes,
                    "start": e.step in cp.starts,
                }
                for e in cp.entries
            ],
            "figures": FIGURES_FILE if figures else None,
            "diverged": None if tl.divergence is None else vars(tl.divergence),
            "branched_from": self.parent,
        }
        write_json(self.dir / INDEX_FILE, index)

    def _network_file(self, k: int) -> str:
        last = k == len(self.timeline.segments) - 1
        return NETWORK_FILE if last else f"{STATES_FOLDER}/segment-{k}.json"

    def _saved(self, entry: Checkpoint, dropped: list[Checkpoint]) -> None:
        self._write_state(entry)
        entry.state = None  # on disk now: read back when needed
        self.write_index()
        for old in dropped:
            if old.file is not None and old.file != entry.file:
                (self.dir / old.file).unlink(missing_ok=True)

    def _write_state(self, entry: Checkpoint) -> None:
        name = state_file(entry.step)
        target = self.dir / name
        if entry.state is not None:
            save_npz(target, to_arrays(entry.state))
        elif entry.file is not None and self.source is not None:
            _link_or_copy(self.source / entry.file, target)
        entry.file = name


def save_timeline(timeline: Timeline, folder: str | Path) -> Path:
    """Write a whole timeline into `folder` (its states, figures and networks), leaving the
    timeline as it was: what the window's File ▸ Save run writes beside the metrics."""
    folder = Path(folder)
    if timeline.folder is None or folder.resolve() != timeline.folder.resolve():
        folder.mkdir(parents=True, exist_ok=True)
        clear_timeline(folder)  # an earlier save's states there
    writer = TimelineFolder(folder, timeline, timeline.folder)
    writer.start(follow=False)
    writer.close()
    return folder


def save_run(timeline: Timeline, folder: str | Path) -> Path:
    """A run folder for a timeline (the window's File ▸ Save run): its states, figures and
    networks, and metrics.csv (the columns of `vgsim run`). Opened again with open_timeline."""
    folder = save_timeline(timeline, folder)
    figures = timeline.figures
    write_metrics(folder / "metrics.csv", figures.node_ids, figures.scalars, figures.stats)
    return folder


def _link_or_copy(src: Path, dst: Path) -> None:
    """A hard link where the file system allows (instant, no space), else a copy."""
    if src.resolve() == dst.resolve():
        return
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def open_timeline(folder: str | Path) -> Timeline:
    """The timeline saved in a run folder; StateError says what is missing or damaged."""
    folder = Path(folder)
    index_path = folder / INDEX_FILE
    if not index_path.is_file():
        raise StateError(
            f"{folder} has no saved states ({INDEX_FILE} is missing): "
            "train it with `vgsim run ... --checkpoint-every K`."
        )
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        if not isinstance(index, dict) or index.get("format") != FORMAT:
            raise StateError(f"{index_path} is not a vgsim timeline.")
        segments = [
            Segment(int(s["start"]), _network(folder / str(s["network"])))
            for s in index["segments"]
        ]
        timeline = Timeline(
            segments,
            [],
            int(index["budget_bytes"]),
            int(index["every"]),
        )
        timeline.checkpoints.recent_span = int(index["recent_span"])
        timeline.changes = [Change(int(c["step"]), dict(c["settings"])) for c in index["changes"]]
        for c in index["checkpoints"]:
            entry = Checkpoint(int(c["step"]), int(c["segment"]), int(c["bytes"]), None)
            entry.file = str(c["file"])
            timeline.checkpoints.add(entry, start=bool(c["start"]))
        steps = int(index["steps"])
        d = index.get("diverged")
        timeline.divergence = None if d is None else Divergence(**d)
    except StateError:
        raise
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise StateError(f"Cannot read {index_path}: {type(exc).__name__}: {exc}") from exc
    if not segments or not timeline.checkpoints.entries:
        raise StateError(f"{index_path} names no network or no saved state.")
    timeline.read_state = lambda file: load_state(folder / file)
    timeline.folder = folder
    figures = folder / FIGURES_FILE
    if index.get("figures") and figures.is_file():
        try:
            with np.load(figures, allow_pickle=False) as z:
                timeline.figures = FigureLog.from_arrays({k: z[k] for k in z.files})
        except (OSError, ValueError, KeyError) as exc:
            raise StateError(f"Cannot read {figures}: {exc}") from exc
    else:  # a run that was stopped before it could write them: its states replay all the same
        timeline.figures = FigureLog([])
    timeline.known_steps = steps
    return timeline


def _network(path: Path):
    try:
        net = read_network(path)
    except NetworkFileError as exc:
        raise StateError(str(exc)) from exc
    problems = validate(net)
    if problems:
        raise StateError(f"{path}: " + str(NetworkError(problems)))
    return net
