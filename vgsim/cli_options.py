"""The command line's shared pieces: argument types that refuse bad values up front, the plot
options, the progress bar and the message of a run stopped by a signal."""

from __future__ import annotations

import argparse
import math
import re
import signal
import sys
from pathlib import Path

EXIT_OK, EXIT_INVALID = 0, 2
PLOT_FORMATS = ("png", "svg")
MAX_SCALE = 8.0  # PNG pixels per screen pixel: more makes images of hundreds of megabytes
MAX_FRAMES = 2000
# A window picture's side in pixels (--size): the window's docks need the least; the most is
# what a GPU-less grab still renders in a few seconds.
MIN_WINDOW, MAX_WINDOW = 640, 8192


def scale_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_SCALE):
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is not a scale: use a number above 0 and at most {MAX_SCALE:g}"
        )
    return value


def frames_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_FRAMES:
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} frames: use a whole number from 1 to {MAX_FRAMES}"
        )
    return value


def size_arg(text: str) -> tuple[int, int]:
    """`1280x720` -> (1280, 720): a window picture's size in pixels."""
    match = re.fullmatch(r"\s*(\d{1,6})\s*[xX×]\s*(\d{1,6})\s*", text)
    size = (int(match[1]), int(match[2])) if match else None
    if size is None or not all(MIN_WINDOW <= v <= MAX_WINDOW for v in size):
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is not a window size: use WIDTHxHEIGHT, each from {MIN_WINDOW} to "
            f"{MAX_WINDOW} pixels (e.g. 1280x720)"
        )
    return size


def path_arg(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path: name a file or folder")
    return text


class Progress:
    """A progress bar with steps/s and time left on a terminal (tqdm); plain lines, about ten
    per run, when the output is not a terminal; nothing when quiet."""

    def __init__(self, total: int, quiet: bool):
        self.total = total
        self.quiet = quiet
        self.every = max(1, total // 10)
        self.shown = -self.every
        self.bar = None
        if not quiet and sys.stderr.isatty():
            import shutil

            from tqdm import tqdm

            # A terminal that reports no size (some pseudo-terminals) gets 100 columns.
            width = shutil.get_terminal_size((100, 24)).columns
            self.bar = tqdm(total=total, unit="step", ncols=width, file=sys.stderr)

    def __call__(self, done: int, text: str) -> None:
        """`done` steps so far; `text` the latest figures."""
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.update(done - self.bar.n)
        elif not self.quiet and done - 1 - self.shown >= self.every:
            self.shown = done - 1
            print(f"step {done - 1:>7}  {text}", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def formats_arg(text: str) -> tuple[str, ...]:
    """`png,svg` -> ("png", "svg"); argparse turns the ValueError into a usage error."""
    formats = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    unknown = [f for f in formats if f not in PLOT_FORMATS]
    if unknown or not formats:
        raise argparse.ArgumentTypeError(
            f"unknown plot format {', '.join(unknown) or repr(text)}: use png, svg or png,svg"
        )
    return formats


def interrupted(exc: KeyboardInterrupt, out: Path, compare: bool = False) -> int:
    """One line for a run stopped by a signal; the exit code says which (130, 143)."""
    import json

    signum = getattr(exc, "signum", signal.SIGINT)
    name = signal.Signals(signum).name
    folders = sorted(p.parent for p in out.glob("*/summary.json")) if compare else [out]
    stopped = []
    for folder in folders:
        try:
            summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(summary, dict) and summary.get("status") == "interrupted":
            stopped.append(int(summary.get("steps") or 0))
    if not stopped:
        where = f"before training began; {out} was left as it was"
    elif compare:
        where = f"after {min(stopped)} whole steps of each run; every run folder in {out} says so"
    else:
        where = f"{stopped[0]} whole steps are in {out}/metrics.csv"
    print(f"{name}: stopped {where}.", file=sys.stderr)
    return 128 + signum


def add_plot_options(
    parser: argparse.ArgumentParser, help_text: str, default: tuple[str, ...] | None
) -> None:
    parser.add_argument(
        "--plots", type=formats_arg, default=default, metavar="FORMATS", help=help_text
    )
    parser.add_argument(
        "--scale",
        type=scale_arg,
        default=2.0,
        help="PNG pixels per screen pixel (default 2: sharp on slides)",
    )
