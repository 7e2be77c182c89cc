"""A sweep: a base network, axes of values, seeds, steps; read from `vgsim.sweep/1` JSON.

    {
      "format": "vgsim.sweep/1",
      "network": "deep-tanh.json",          a network file (relative to this file) or object
      "axes": [
        {"path": "dense.sigma_w2", "values": [1.0, 1.5, 2.0]},
        {"path": "blocks", "name": "depth", "values": [10, 20, 40]}
      ],
      "seeds": [0, 1],                      training seeds; every cell runs each
      "steps": 500,                         steps per run (default: the network's own)
      "target_loss": 0.5,                   optional: record the step the train loss reaches it
      "map": {"figure": "test_accuracy"}    optional: what the map shows (x: first axis, y: second)
    }

Every combination of the axes' values, times every seed, is one run (`tasks`); each run's
network is the base network with each axis applied in order (`edits.apply`), validated before
anything runs, so a bad value is reported before a single step.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

from ...engine.errors import NetworkError
from ...engine.spec import Network, read_network
from ...engine.validate import validate
from .edits import SweepError, apply, check_path

FORMAT = "vgsim.sweep/1"
KEYS = ("format", "name", "network", "axes", "seeds", "steps", "target_loss", "map")
# Figures a run records that a map may show (see worker.FIGURES).
MAP_FIGURES = (
    "test_accuracy",
    "train_accuracy",
    "train_loss",
    "test_loss",
    "grad_ratio_start",
    "grad_ratio_end",
    "steps_to_target",
    "diverged_step",
    "wall_time_s",
)


@dataclass(frozen=True)
class Axis:
    name: str
    path: str
    values: tuple


@dataclass(frozen=True)
class Task:
    """One run: where it sits on the axes, its seed, and the network it trains."""

    key: str  # stable over re-runs of the same spec: the name of its stored result
    index: tuple[int, ...]  # position of each axis value
    values: tuple
    seed: int
    network: dict  # the network file's content, seed set
    base_dir: str | None  # where a CSV path of the network's data is relative to
    steps: int
    target_loss: float | None

    @property
    def cost(self) -> int:
        """A rough measure of its work, to start the longest runs first."""
        return self.steps * sum(1 for n in self.network["nodes"] if n.get("type") == "dense")


@dataclass
class Sweep:
    network: Network
    axes: list[Axis]
    seeds: list[int]
    steps: int
    target_loss: float | None = None
    figure: str = "test_accuracy"
    name: str = "sweep"
    source: dict = field(default_factory=dict)  # the spec as given, for sweep.json
    _tasks: list[Task] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_file(cls, path: str | Path) -> Sweep:
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SweepError(f"No such sweep file: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SweepError(f"Cannot read {path}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise SweepError(
                f"{path.name}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}."
            ) from None
        return cls.from_dict(raw, path.resolve().parent)

    @classmethod
    def check(cls, raw: object) -> None:
        """The spec's own form (keys, axes, seeds, steps), without building its networks:
        SweepError if it is wrong."""
        if not isinstance(raw, dict):
            raise SweepError("A sweep file must hold a JSON object.")
        _axes(raw.get("axes"))
        seeds = raw.get("seeds", [0])
        if not isinstance(seeds, list) or not seeds or not all(_whole(s, 0) for s in seeds):
            raise SweepError(f'"seeds" must be a list of whole numbers from 0, not {seeds!r}.')

    @classmethod
    def from_dict(
        cls, raw: object, base_dir: Path | None = None, network: Network | None = None
    ) -> Sweep:
        """`network` (the canvas's) stands in for the spec's "network" when given."""
        if not isinstance(raw, dict):
            raise SweepError("A sweep file must hold a JSON object.")
        if raw.get("format") != FORMAT:
            raise SweepError(f'A sweep file needs "format": "{FORMAT}".')
        unknown = [k for k in raw if k not in KEYS]
        if unknown:
            raise SweepError(f"Unknown sweep key {unknown[0]!r}; allowed: {', '.join(KEYS)}.")
        net = network if network is not None else _network(raw.get("network"), base_dir)
        axes = _axes(raw.get("axes"))
        seeds = raw.get("seeds", [int(net.training.get("seed", 0))])
        if not isinstance(seeds, list) or not seeds or not all(_whole(s, 0) for s in seeds):
            raise SweepError(f'"seeds" must be a list of whole numbers from 0, not {seeds!r}.')
        if len(set(seeds)) != len(seeds):
            raise SweepError(f'"seeds" lists a seed twice: {seeds!r}.')
        steps = raw.get("steps", net.training.get("steps", 500))
        if not _whole(steps, 1):
            raise SweepError(f'"steps" must be a whole number from 1, not {steps!r}.')
        target = raw.get("target_loss")
        if target is not None and (
            isinstance(target, bool) or not isinstance(target, int | float) or target <= 0
        ):
            raise SweepError(f'"target_loss" must be a positive number, not {target!r}.')
        view = raw.get("map", {})
        if not isinstance(view, dict) or any(k != "figure" for k in view):
            raise SweepError('"map" must be {"figure": name}.')
        figure = view.get("figure", "test_accuracy")
        if figure not in MAP_FIGURES:
            raise SweepError(
                f"Unknown map figure {figure!r}; choose one of {', '.join(MAP_FIGURES)}."
            )
        sweep = cls(
            net,
            axes,
            list(seeds),
            int(steps),
            float(target) if target is not None else None,
            figure,
            str(raw.get("name", net.name or "sweep")),
            dict(raw),
        )
        sweep.tasks()  # every network is built and checked now, before anything runs
        return sweep

    def tasks(self) -> list[Task]:
        """Every run, each axis value combination with each seed; SweepError names the first
        combination whose network is not valid. Built once."""
        if self._tasks is not None:
            return list(self._tasks)
        out = []
        base_dir = str(self.network.base_dir) if self.network.base_dir is not None else None
        for index in itertools.product(*(range(len(a.values)) for a in self.axes)):
            values = tuple(a.values[i] for a, i in zip(self.axes, index, strict=True))
            net = self.network
            for axis, value in zip(self.axes, values, strict=True):
                net = apply(net, axis.path, value)
            problems = validate(net)
            if problems:
                where = ", ".join(
                    f"{a.name} = {v!r}" for a, v in zip(self.axes, values, strict=True)
                )
                raise SweepError(f"At {where}: {NetworkError(problems)}")
            for seed in self.seeds:
                run = net.copy()
                run.training["seed"] = int(seed)
                content = run.to_dict()
                key = _key(seed, self.steps, self.target_loss, content)
                out.append(
                    Task(
                        key,
                        index,
                        values,
                        int(seed),
                        content,
                        base_dir,
                        self.steps,
                        self.target_loss,
                    )
                )
        self._tasks = out
        return list(out)


def _key(seed: int, steps: int, target: float | None, content: dict) -> str:
    """A digest of everything a run's result depends on."""
    text = json.dumps([content, steps, target], sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"s{seed}-{digest}"


def _whole(value: object, lowest: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= lowest


def _network(raw: object, base_dir: Path | None) -> Network:
    if isinstance(raw, str):
        path = Path(raw).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return read_network(path)
    if isinstance(raw, dict):
        return Network.from_dict(raw, base_dir)
    raise SweepError('"network" must be a network file\'s path or a network object.')


def _axes(raw: object) -> list[Axis]:
    if not isinstance(raw, list) or not raw:
        raise SweepError('"axes" must be a non-empty list of {"path": ..., "values": [...]}.')
    axes: list[Axis] = []
    for i, a in enumerate(raw):
        if not isinstance(a, dict) or any(k not in ("path", "name", "values") for k in a):
            raise SweepError(f'axis {i + 1} must be {{"path": ..., "name": ..., "values": [...]}}.')
        problem = check_path(a.get("path"))
        if problem:
            raise SweepError(f"axis {i + 1}: {problem}.")
        values = a.get("values")
        if not isinstance(values, list) or not values:
            raise SweepError(f"axis {i + 1} ({a['path']}) needs a non-empty list of values.")
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            raise SweepError(f"axis {i + 1} ({a['path']}) lists a value twice.")
        name = a.get("name", a["path"])
        if not isinstance(name, str) or not name or name in ("seed", "status"):
            raise SweepError(f"axis {i + 1}: its name must be text other than seed and status.")
        if name in (x.name for x in axes):
            raise SweepError(f"Two axes are called {name!r}: give each its own name.")
        axes.append(Axis(name, a["path"], tuple(values)))
    return axes
