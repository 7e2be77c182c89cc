"""The `vgsim` command: the window by default; `run`, `compare` and `validate` headless.

vgsim                                      open the window
vgsim run NETWORK.json --steps N --out DIR train headless, write metrics.csv + summary.json
vgsim compare A.json B.json --steps N --out DIR   train side by side, in lockstep
vgsim export-plots RUN_DIR                 draw a finished run's plots again (PNG + SVG)
vgsim animate NETWORK.json --steps N --out FILE.gif   a plot over the run, as a GIF
vgsim diagnose RUN_DIR                     the findings of a finished run, from its files
vgsim validate NETWORK.json                list every problem of a network file
vgsim sweep SPEC.json --out DIR            a grid of runs on all cores (or a Dask cluster)
vgsim replay RUN_DIR --at N --dump-state F.npz   recreate a step from a run's saved states
"""

from __future__ import annotations

import argparse
import math
import re
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .experiments.comparisons import Comparison
    from .experiments.sweeps.spec import Sweep

from .cli_timeline import add_replay_command, add_run_options
from .engine.errors import NetworkError, VgsimError
from .engine.spec import read_network
from .engine.validate import load_network, validate

EXIT_OK, EXIT_INVALID = 0, 2
PLOT_FORMATS = ("png", "svg")
MAX_SCALE = 8.0  # PNG pixels per screen pixel: more makes images of hundreds of megabytes
MAX_FRAMES = 2000
# A window picture's side in pixels (--size): the window's docks need the least; the most is
# what a GPU-less grab still renders in a few seconds.
MIN_WINDOW, MAX_WINDOW = 640, 8192


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_SCALE):
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is not a scale: use a number above 0 and at most {MAX_SCALE:g}"
        )
    return value


def _frames(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_FRAMES:
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} frames: use a whole number from 1 to {MAX_FRAMES}"
        )
    return value


def _size(text: str) -> tuple[int, int]:
    """`1280x720` -> (1280, 720): a window picture's size in pixels."""
    match = re.fullmatch(r"\s*(\d{1,6})\s*[xX×]\s*(\d{1,6})\s*", text)
    size = (int(match[1]), int(match[2])) if match else None
    if size is None or not all(MIN_WINDOW <= v <= MAX_WINDOW for v in size):
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is not a window size: use WIDTHxHEIGHT, each from {MIN_WINDOW} to "
            f"{MAX_WINDOW} pixels (e.g. 1280x720)"
        )
    return size


def _path(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path: name a file or folder")
    return text


def _stop_on_signals() -> None:
    """Ctrl-C (SIGINT) and SIGTERM raise `Interrupted` once, so a run writes its folder's
    final state and the command ends with 128 + the signal's number; a second signal during
    that clean-up is ignored."""
    from .experiments.runs import Interrupted

    def stop(signum: int, _frame: object) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        raise Interrupted(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)


class _Progress:
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


def _formats(text: str) -> tuple[str, ...]:
    """`png,svg` -> ("png", "svg"); argparse turns the ValueError into a usage error."""
    formats = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    unknown = [f for f in formats if f not in PLOT_FORMATS]
    if unknown or not formats:
        raise argparse.ArgumentTypeError(
            f"unknown plot format {', '.join(unknown) or repr(text)}: use png, svg or png,svg"
        )
    return formats


def _draw_run(
    run_dir: Path, folder: Path, formats: tuple[str, ...], scale: float, quiet: bool
) -> None:
    """Draw a finished run's plots offscreen: the window's dashboard, exported."""
    from .app.headless import render_plots
    from .app.plots.export import ImageOptions
    from .experiments.plot_sources import from_run

    written = render_plots(from_run(run_dir), folder, formats, ImageOptions(scale=scale))
    if not quiet:
        print(f"wrote {len(written)} plot files to {folder}")


def _run(args: argparse.Namespace) -> int:
    from .cli_timeline import run_inputs
    from .experiments.runs import run_network

    net, steps, timeline = run_inputs(args)  # a network file, or a run to branch (--from)
    if args.dump_state is not None and args.dump_at is None:
        print("--dump-state needs --dump-at STEP (the step whose state to save).", file=sys.stderr)
        return EXIT_INVALID
    if args.dump_at is not None and not 0 <= args.dump_at < steps:
        print(
            f"--dump-at {args.dump_at} is outside the run's steps 0..{steps - 1}.", file=sys.stderr
        )
        return EXIT_INVALID
    dump = Path(args.dump_state) if args.dump_state else None
    bar = _Progress(steps, args.quiet)
    try:
        summary = run_network(
            net,
            steps,
            Path(args.out),
            seed=args.seed,
            dump_state=dump,
            dump_at=args.dump_at,
            progress=lambda record: bar(record.step + 1, f"loss {record.loss:.5g}"),
            **timeline,
        )
    except KeyboardInterrupt as exc:
        bar.close()
        return _interrupted(exc, Path(args.out))
    finally:
        bar.close()
    if summary["diverged"]:
        print(summary["diverged"]["message"], file=sys.stderr)
    if dump is not None and summary["dumped_state"] is None:
        print(f"No state was saved: training stopped before step {args.dump_at}.", file=sys.stderr)
    if not args.quiet:
        rate = summary["steps_per_second"] or 0.0
        print(
            f"{summary['status']}: {summary['steps']} steps in {summary['wall_time_s']:.2f} s"
            f" ({rate:.0f} steps/s); wrote {args.out}/metrics.csv and summary.json"
        )
        from .engine.diagnose import findings_report

        print("\n".join(findings_report(summary["findings"], summary["steps"])))
    if args.plots:
        _draw_run(Path(args.out), Path(args.out) / "plots", args.plots, args.scale, args.quiet)
    return EXIT_OK


def _draw_comparison(
    out_dir: Path, folder: Path, formats: tuple[str, ...], scale: float, quiet: bool
) -> None:
    """The overlay plots of a finished `vgsim compare`, drawn offscreen."""
    from .app.compare.headless import render_comparison_plots
    from .app.plots.export import ImageOptions
    from .experiments.comparison_data import from_compare_dir

    written = render_comparison_plots(
        from_compare_dir(out_dir), folder, formats, ImageOptions(scale=scale)
    )
    if not quiet:
        print(f"wrote {len(written)} plot files to {folder}")


def _animate(args: argparse.Namespace) -> int:
    from .app.headless import animate
    from .engine.train import Trainer

    net = load_network(args.network)
    if args.seed is not None:
        net.training["seed"] = args.seed
    steps = args.steps if args.steps is not None else int(net.training.get("steps", 500))
    path = animate(
        Trainer(net), steps, Path(args.out), args.plot, args.frames, args.scale, net.name
    )
    if not args.quiet:
        print(f"wrote {path} ({args.plot}, {args.frames} frames over {steps} steps)")
    return EXIT_OK


def _export_plots(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    folder = Path(args.out) if args.out else run_dir / "plots"
    if (run_dir / "comparison.json").is_file():
        _draw_comparison(run_dir, folder, args.plots, args.scale, args.quiet)
    else:
        _draw_run(run_dir, folder, args.plots, args.scale, args.quiet)
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from .experiments.comparisons import compare_networks

    if len(args.networks) < 2:
        print(
            f"vgsim compare needs at least two network files (got {len(args.networks)}); "
            "to train one network use vgsim run.",
            file=sys.stderr,
        )
        return EXIT_INVALID
    if args.steps < 1:
        print("--steps must be at least 1.", file=sys.stderr)
        return EXIT_INVALID
    # Check every file first, so one call names all the broken ones.
    broken = False
    for path in args.networks:
        try:
            load_network(path)
        except VgsimError as exc:
            # A file error names the file already; a list of problems does not.
            print(f"{path}: {exc}" if isinstance(exc, NetworkError) else str(exc), file=sys.stderr)
            broken = True
    if broken:
        return EXIT_INVALID

    bar = _Progress(args.steps, args.quiet)

    def progress(comparison: Comparison) -> None:
        losses = "  ".join(f"{s.label}: {s.loss:.5g}" for s in comparison.status().values())
        bar(comparison.step_count, f"loss  {losses}")

    try:
        result = compare_networks(
            args.networks, args.steps, Path(args.out), seed=args.seed, progress=progress
        )
    except KeyboardInterrupt as exc:
        bar.close()
        return _interrupted(exc, Path(args.out), compare=True)
    finally:
        bar.close()
    for run in result["runs"]:
        if run["diverged"]:
            print(f"{run['label']}: {run['diverged']['message']}", file=sys.stderr)
    if args.plots:
        _draw_comparison(
            Path(args.out), Path(args.out) / "plots", args.plots, args.scale, args.quiet
        )
    if not args.quiet:
        from .engine.diagnose import findings_report

        print(_compare_table(result["runs"]))
        for run in result["runs"]:
            print(f"{run['label']}: " + "\n".join(findings_report(run["findings"], run["steps"])))
        print(f"wrote {args.out}/comparison.json and one folder per run")
    return EXIT_OK


def _diagnose(args: argparse.Namespace) -> int:
    """The findings of a finished run folder (each run's, for a `vgsim compare` folder), from
    its files: the same as the run wrote into its summary.json."""
    import json

    from .engine.diagnose import findings_report
    from .experiments.findings import RunFolderError, diagnose_folder, findings_json, read_summary

    run_dir = Path(args.run_dir)
    folders: list[tuple[str | None, Path]] = [(None, run_dir)]
    if (run_dir / "comparison.json").is_file():
        try:
            result = json.loads((run_dir / "comparison.json").read_text(encoding="utf-8"))
            folders = [(str(run["label"]), run_dir / str(run["folder"])) for run in result["runs"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RunFolderError(f"Cannot read {run_dir / 'comparison.json'}: {exc}") from exc
    out = {}
    for label, folder in folders:
        summary = read_summary(folder)
        found = findings_json(diagnose_folder(folder, summary))
        out[label or str(folder)] = found
        if not args.json:
            head = f"{label}: " if label else ""
            print(head + "\n".join(findings_report(found, int(summary.get("steps") or 0))))
    if args.json:
        print(json.dumps(out if folders[0][0] else out[str(run_dir)], indent=2))
    return EXIT_OK


def _interrupted(exc: KeyboardInterrupt, out: Path, compare: bool = False) -> int:
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


def _compare_table(runs: list[dict]) -> str:
    """Final figures of each run, one row each."""

    def fig(v: float | None, fmt: str) -> str:
        return format(v, fmt) if v is not None else "-"

    width = max(len("run"), *(len(r["label"]) for r in runs))
    lines = [
        f"{'run':<{width}}  {'status':<8} {'steps':>7}  {'train loss':>10}  {'train acc':>9}"
        f"  {'test acc':>9}"
    ]
    for r in runs:
        final = r["final"]
        lines.append(
            f"{r['label']:<{width}}  {r['status']:<8} {r['steps']:>7}  "
            f"{fig(final.get('train_loss'), '10.4g')}  "
            f"{fig(final.get('train_accuracy'), '9.3f')}  "
            f"{fig(final.get('test_accuracy'), '9.3f')}"
        )
    return "\n".join(lines)


def _sweep(args: argparse.Namespace) -> int:
    from .experiments.sweeps import Sweep, run_sweep
    from .experiments.sweeps.progress import TerminalBar, summary

    sweep = Sweep.from_file(args.spec)
    if args.workers is not None and args.workers < 1:
        print("--workers must be at least 1.", file=sys.stderr)
        return EXIT_INVALID
    bar = None if args.quiet else TerminalBar()
    try:
        state = run_sweep(
            sweep, Path(args.out), workers=args.workers, scheduler=args.scheduler, progress=bar
        )
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: the runs in flight are lost
        if bar is not None:
            bar.close()
        signum = getattr(exc, "signum", signal.SIGINT)
        print(
            f"{signal.Signals(signum).name}: stopped; the finished runs are kept in {args.out}, "
            "and the same command goes on from there.",
            file=sys.stderr,
        )
        return 128 + signum
    if bar is not None:
        bar.close()
    if args.plots:
        _draw_map(sweep, state.records, Path(args.out), args.plots, args.scale, args.quiet)
    if not args.quiet:
        print(summary(state))
        print(f"wrote {args.out}/sweep.csv and sweep.json")
    return EXIT_OK


def _draw_map(
    sweep: Sweep,
    records: dict[str, dict],
    folder: Path,
    formats: tuple[str, ...],
    scale: float,
    quiet: bool,
) -> None:
    from .app.plots.export import ImageOptions
    from .app.sweep.headless import render_map
    from .experiments.sweeps.grid import map_data

    written = render_map(map_data(sweep, records), folder, formats, ImageOptions(scale=scale))
    if not quiet:
        print(f"wrote the map: {', '.join(p.name for p in written)}")


def _validate(args: argparse.Namespace) -> int:
    problems = validate(read_network(args.network))
    for p in problems:
        print(f"{p.where}: {p.message}")
    if not problems:
        print(f"{args.network}: valid")
    return EXIT_INVALID if problems else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vgsim", description=__doc__.splitlines()[0])
    parser.add_argument("--open", metavar="NETWORK.json", help="open this network in the window")
    parser.add_argument("--steps", type=int, help="with --screenshot: train this many steps")
    parser.add_argument(
        "--screenshot",
        metavar="OUT.png",
        help="train --steps steps in the window, save a screenshot and quit",
    )
    parser.add_argument(
        "--size",
        type=_size,
        metavar="WxH",
        help="with --screenshot: the window's size in pixels (default 1600x1000)",
    )
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="train a network headless and write its metrics")
    run.add_argument("network", help="network file (JSON), or with --from a run folder")
    run.add_argument("--steps", type=int, help="steps to train (default: the file's steps)")
    run.add_argument("--seed", type=int, help="training seed (overrides the file's)")
    run.add_argument(
        "--out", required=True, type=_path, help="folder for metrics.csv and summary.json"
    )
    run.add_argument(
        "--dump-state", type=_path, metavar="FILE.npz", help="save one step's full state"
    )
    run.add_argument("--dump-at", type=int, metavar="STEP", help="the step to save (from 0)")
    run.add_argument("--quiet", action="store_true", help="print nothing but problems")
    _plot_options(run, "also draw the plots into DIR/plots (e.g. png,svg)", None)
    add_run_options(run)
    run.set_defaults(func=_run)
    add_replay_command(sub)
    redraw = sub.add_parser("export-plots", help="draw a finished run's plots again")
    redraw.add_argument(
        "run_dir", metavar="RUN_DIR", help="a folder written by vgsim run (or vgsim compare)"
    )
    redraw.add_argument(
        "--out", type=_path, metavar="FOLDER", help="where to write (default RUN_DIR/plots)"
    )
    redraw.add_argument("--quiet", action="store_true", help="print nothing but problems")
    _plot_options(redraw, "image formats (default png,svg)", PLOT_FORMATS)
    redraw.set_defaults(func=_export_plots)
    movie = sub.add_parser("animate", help="a plot over a training run, as an animated GIF")
    movie.add_argument("network", help="network file (JSON)")
    movie.add_argument("--steps", type=int, help="steps to train (default: the file's steps)")
    movie.add_argument("--out", required=True, type=_path, metavar="FILE.gif")
    movie.add_argument(
        "--plot",
        default="gradient-flow",
        help="which plot (default gradient-flow; any key of the dashboard)",
    )
    movie.add_argument(
        "--frames", type=_frames, default=60, help="frames over the run (default 60)"
    )
    movie.add_argument("--seed", type=int, help="training seed (overrides the file's)")
    movie.add_argument("--scale", type=_scale, default=1.0, help="pixels per screen pixel")
    movie.add_argument("--quiet", action="store_true", help="print nothing but problems")
    movie.set_defaults(func=_animate)
    compare = sub.add_parser("compare", help="train networks side by side on the same data")
    compare.add_argument(
        "networks",
        nargs="+",
        metavar="NETWORK.json",
        help="two or more network files (JSON) with the same data",
    )
    compare.add_argument(
        "--steps", type=int, required=True, metavar="N", help="steps to train each network"
    )
    compare.add_argument(
        "--out",
        required=True,
        type=_path,
        metavar="DIR",
        help="folder for comparison.json and one folder per run",
    )
    compare.add_argument(
        "--seed",
        type=int,
        metavar="S",
        help="training seed for every network "
        "(overrides the files': same initialisation seed and batch order)",
    )
    compare.add_argument("--quiet", action="store_true", help="print nothing but problems")
    _plot_options(compare, "also draw the overlay plots into DIR/plots (e.g. png,svg)", None)
    compare.set_defaults(func=_compare)
    sweep = sub.add_parser(
        "sweep", help="train a grid of settings x seeds on all cores, or on a Dask cluster"
    )
    sweep.add_argument("spec", metavar="SPEC.json", help="sweep file (docs/sweeps.md)")
    sweep.add_argument(
        "--out", required=True, metavar="DIR", help="folder for sweep.csv, sweep.json, the map"
    )
    sweep.add_argument("--workers", type=int, metavar="N", help="processes (default: all cores)")
    sweep.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help='a running Dask scheduler, e.g. tcp://host:8786 (pip install "vgsim[cluster]")',
    )
    sweep.add_argument("--quiet", action="store_true", help="print nothing but problems")
    _plot_options(sweep, "image formats of the map (default png,svg)", PLOT_FORMATS)
    sweep.set_defaults(func=_sweep)
    again = sub.add_parser("diagnose", help="diagnose a finished run folder again")
    again.add_argument(
        "run_dir", metavar="RUN_DIR", help="a folder written by vgsim run (or vgsim compare)"
    )
    again.add_argument(
        "--json", action="store_true", help="print the findings as summary.json keeps them"
    )
    again.set_defaults(func=_diagnose)
    check = sub.add_parser("validate", help="list every problem of a network file")
    check.add_argument("network")
    check.set_defaults(func=_validate)
    return parser


def _plot_options(
    parser: argparse.ArgumentParser, help_text: str, default: tuple[str, ...] | None
) -> None:
    parser.add_argument(
        "--plots", type=_formats, default=default, metavar="FORMATS", help=help_text
    )
    parser.add_argument(
        "--scale",
        type=_scale,
        default=2.0,
        help="PNG pixels per screen pixel (default 2: sharp on slides)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None and args.size is not None and not args.screenshot:
        parser.error("--size sets the size of a --screenshot: give --screenshot OUT.png too")
    if args.command is None:
        from .app.launch import launch

        return launch(args)
    if args.command in ("run", "animate") and args.steps is not None and args.steps < 1:
        print("--steps must be at least 1.", file=sys.stderr)
        return EXIT_INVALID
    _stop_on_signals()
    try:
        return args.func(args)
    except VgsimError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"Cannot write the results: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt as exc:  # a command that writes no run folder
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"{signal.Signals(signum).name}: stopped.", file=sys.stderr)
        return 128 + signum


if __name__ == "__main__":
    sys.exit(main())
