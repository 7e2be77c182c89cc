"""Lessons: ordinary network files that carry a top-level "lesson" object.

A lesson file is a `vgsim.network/1` network (it runs with `vgsim run` like any other); its
"lesson" object says where it sits in the lecture, what to read and look at, how long to train,
and which paired networks ("fixes") show the remedy side by side. Fix files carry a lesson
object too, with a title and text but no "order", so they stay out of the lessons list.

The engine itself never reads the lesson object while training; this module is for the window
(the Lessons menu, "Try the fix") and for the tests that check every lesson's claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import NetworkFileError
from .schema import TRAINING_DEFAULTS
from .spec import Network, read_network

# Dashboard plots a lesson may point at, with the names the lesson texts use for them.
PLOT_TITLES: dict[str, str] = {
    "gradient-flow": "Gradient flow",
    "gradient-history": "Gradient history",
    "activations": "Activations",
    "loss": "Loss",
    "accuracy": "Accuracy",
    "decision-boundary": "Decision boundary",
    "weight-norms": "Weight norms",
    "update-ratio": "Update / weight ratio",
    "unit-health": "Saturated and dead units",
}
PLOT_KEYS = tuple(PLOT_TITLES)
LESSON_KEYS = ("order", "title", "text", "look_at", "steps", "seeds", "fixes", "compare", "sweep")
_MAX_SEED = 2**32 - 1  # the trainer's seed range (training.seed)


@dataclass(frozen=True)
class Lesson:
    """One lesson (or fix) file's lesson object, checked, with the fix paths resolved."""

    path: Path
    name: str  # the network's name
    order: int | None  # position in the lecture; None for a fix network
    title: str
    text: str  # paragraphs separated by a blank line
    look_at: list[str]  # dashboard plot keys, from PLOT_KEYS
    steps: int  # recommended number of steps
    seeds: list[int]  # the default seed first, then others the claim was checked on
    fixes: list[Path]  # paired networks, absolute paths
    compare: bool  # open as a side-by-side comparison of itself and its fixes
    sweep: Path | None = None  # a sweep file (vgsim.sweep/1) whose map opens with the lesson

    @property
    def paragraphs(self) -> list[str]:
        return [p.strip() for p in self.text.split("\n\n") if p.strip()]


def _is_int(value: object) -> bool:
    # JSON true/false are Python bools, which are ints: never accept them as numbers.
    return isinstance(value, int) and not isinstance(value, bool)


def _setting(training: dict, key: str, lowest: int) -> int:
    """training[key] if it is a whole number >= lowest, else the engine's default."""
    value = training.get(key)
    return value if _is_int(value) and value >= lowest else int(TRAINING_DEFAULTS[key])


def read_lesson(path: str | Path) -> Lesson:
    """Read a lesson (or fix) file; NetworkFileError names the file and the key at fault."""
    path = Path(path)
    # read_network raises NetworkFileError itself if the file is not a network at all.
    return _lesson_of(read_network(path), path)


def _lesson_of(net: Network, path: Path) -> Lesson:
    where = path.name

    def fail(key: str, problem: str) -> NetworkFileError:
        return NetworkFileError(f'{where}: lesson key "{key}" {problem}')

    raw = net.lesson
    if raw is None:
        raise NetworkFileError(
            f'{where}: has no "lesson" object (a JSON object at the top '
            'level, next to "nodes" and "training").'
        )
    unknown = [k for k in raw if k not in LESSON_KEYS]
    if unknown:
        raise fail(unknown[0], f"is not a lesson key; allowed: {', '.join(LESSON_KEYS)}.")

    for key in ("title", "text"):
        value = raw.get(key)
        if value is None:
            raise fail(key, "is missing.")
        if not isinstance(value, str) or not value.strip():
            raise fail(key, f"must be non-empty text, not {value!r}.")

    order = raw.get("order")
    if order is not None and (not _is_int(order) or order < 1):
        raise fail("order", f"must be a whole number from 1 up, not {order!r}.")

    look_at = raw.get("look_at", [])
    if not isinstance(look_at, list) or not all(isinstance(k, str) for k in look_at):
        raise fail("look_at", f"must be a list of plot keys, not {look_at!r}.")
    for key in look_at:
        if key not in PLOT_TITLES:
            raise fail(
                "look_at", f"names an unknown plot {key!r}; known plots: {', '.join(PLOT_KEYS)}."
            )

    # Defaults follow the network's own training settings (when they are sound), so a fix
    # file needs no more than a title and a text.
    steps = raw.get("steps", _setting(net.training, "steps", 1))
    if not _is_int(steps) or steps < 1:
        raise fail("steps", f"must be a whole number from 1 up, not {steps!r}.")
    seeds = raw.get("seeds", [_setting(net.training, "seed", 0)])
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(_is_int(s) and 0 <= s <= _MAX_SEED for s in seeds)
    ):
        raise fail(
            "seeds",
            f"must be a non-empty list of whole numbers from 0 to {_MAX_SEED}, not {seeds!r}.",
        )

    fixes_raw = raw.get("fixes", [])
    if not isinstance(fixes_raw, list) or not all(isinstance(f, str) for f in fixes_raw):
        raise fail("fixes", f"must be a list of file paths, not {fixes_raw!r}.")
    fixes = []
    for rel in fixes_raw:
        # Relative to the lesson file, so the lessons folder can move as a whole.
        fix_path = (path.parent / rel).resolve()
        if not fix_path.is_file():
            raise fail("fixes", f"lists {rel!r}, but there is no such file ({fix_path}).")
        if fix_path == path.resolve():
            raise fail("fixes", f"lists the lesson file itself ({rel!r}).")
        fixes.append(fix_path)

    compare = raw.get("compare", False)
    if not isinstance(compare, bool):
        raise fail("compare", f"must be true or false, not {compare!r}.")
    if compare and not fixes:
        raise fail("compare", 'is true, but "fixes" lists no network to compare with.')

    sweep = raw.get("sweep")
    if sweep is not None:
        if not isinstance(sweep, str):
            raise fail("sweep", f"must be the path of a sweep file, not {sweep!r}.")
        sweep_path = (path.parent / sweep).resolve()
        if not sweep_path.is_file():
            raise fail("sweep", f"names {sweep!r}, but there is no such file ({sweep_path}).")
        sweep = sweep_path

    return Lesson(
        path=path,
        name=net.name,
        order=order,
        title=raw["title"].strip(),
        text=raw["text"].strip(),
        look_at=list(look_at),
        steps=steps,
        seeds=list(seeds),
        fixes=fixes,
        compare=compare,
        sweep=sweep,
    )


def list_lessons(folder: str | Path) -> list[Lesson]:
    """The lessons in `folder` (not its subfolders), in the lecture's order.

    Only files whose lesson object has an "order" count; other network files (and files
    without a lesson object) are skipped. A malformed lesson object raises NetworkFileError, as
    do two lessons with the same order, so a broken lesson never silently disappears."""
    lessons: list[Lesson] = []
    for path in sorted(Path(folder).glob("*.json")):
        net = read_network(path)
        if net.lesson is None:
            continue
        lesson = _lesson_of(net, path)
        if lesson.order is not None:
            lessons.append(lesson)
    lessons.sort(key=lambda lesson: lesson.order or 0)
    for a, b in zip(lessons, lessons[1:], strict=False):
        if a.order == b.order:
            raise NetworkFileError(
                f"{a.path.name} and {b.path.name} both have lesson order {a.order}."
            )
    return lessons
