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
import signal
import sys
from pathlib import Path

from .cli_many import compare_command, draw_comparison, sweep_command
from .cli_options import (
    EXIT_INVALID,
    EXIT_OK,
    PLOT_FORMATS,
    Progress,
    add_plot_options,
    frames_arg,
    interrupted,
    path_arg,
    scale_arg,
    size_arg,
)
from .cli_timeline import add_replay_command, add_run_options
from .engine.errors import VgsimError
from .engine.spec import read_network
from .engine.validate import load_network, validate
from .exiting import exit_now


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
    bar = Progress(steps, args.quiet)
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
        return interrupted(exc, Path(args.out))
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
        draw_comparison(run_dir, folder, args.plots, args.scale, args.quiet)
    else:
        _draw_run(run_dir, folder, args.plots, args.scale, args.quiet)
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
        type=size_arg,
        metavar="WxH",
        help="with --screenshot: the window's size in pixels (default 1600x1000)",
    )
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="train a network headless and write its metrics")
    run.add_argument("network", help="network file (JSON), or with --from a run folder")
    run.add_argument("--steps", type=int, help="steps to train (default: the file's steps)")
    run.add_argument("--seed", type=int, help="training seed (overrides the file's)")
    run.add_argument(
        "--out", required=True, type=path_arg, help="folder for metrics.csv and summary.json"
    )
    run.add_argument(
        "--dump-state", type=path_arg, metavar="FILE.npz", help="save one step's full state"
    )
    run.add_argument("--dump-at", type=int, metavar="STEP", help="the step to save (from 0)")
    run.add_argument("--quiet", action="store_true", help="print nothing but problems")
    add_plot_options(run, "also draw the plots into DIR/plots (e.g. png,svg)", None)
    add_run_options(run)
    run.set_defaults(func=_run)
    add_replay_command(sub)
    redraw = sub.add_parser("export-plots", help="draw a finished run's plots again")
    redraw.add_argument(
        "run_dir", metavar="RUN_DIR", help="a folder written by vgsim run (or vgsim compare)"
    )
    redraw.add_argument(
        "--out", type=path_arg, metavar="FOLDER", help="where to write (default RUN_DIR/plots)"
    )
    redraw.add_argument("--quiet", action="store_true", help="print nothing but problems")
    add_plot_options(redraw, "image formats (default png,svg)", PLOT_FORMATS)
    redraw.set_defaults(func=_export_plots)
    movie = sub.add_parser("animate", help="a plot over a training run, as an animated GIF")
    movie.add_argument("network", help="network file (JSON)")
    movie.add_argument("--steps", type=int, help="steps to train (default: the file's steps)")
    movie.add_argument("--out", required=True, type=path_arg, metavar="FILE.gif")
    movie.add_argument(
        "--plot",
        default="gradient-flow",
        help="which plot (default gradient-flow; any key of the dashboard)",
    )
    movie.add_argument(
        "--frames", type=frames_arg, default=60, help="frames over the run (default 60)"
    )
    movie.add_argument("--seed", type=int, help="training seed (overrides the file's)")
    movie.add_argument("--scale", type=scale_arg, default=1.0, help="pixels per screen pixel")
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
        type=path_arg,
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
    add_plot_options(compare, "also draw the overlay plots into DIR/plots (e.g. png,svg)", None)
    compare.set_defaults(func=compare_command)
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
    add_plot_options(sweep, "image formats of the map (default png,svg)", PLOT_FORMATS)
    sweep.set_defaults(func=sweep_command)
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


def main(argv: list[str] | None = None, exit_quickly: bool = False) -> int:
    """The `vgsim` command. `exit_quickly`: end the process when a headless command is done
    (`exit_now`), as the command line does; a caller in Python leaves it False."""
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
    code = _command(args)
    if exit_quickly:
        exit_now(code)
    return code


def _command(args: argparse.Namespace) -> int:
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


def entry() -> int:
    """The installed `vgsim` script."""
    return main(exit_quickly=True)


if __name__ == "__main__":
    sys.exit(main(exit_quickly=True))
