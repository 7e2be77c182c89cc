"""The `vgsim` command: the window by default; `run` and `validate` headless.

    vgsim                                      open the window
    vgsim run NETWORK.json --steps N --out DIR train headless, write metrics.csv + summary.json
    vgsim validate NETWORK.json                list every problem of a network file
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .engine.errors import VgsimError
from .engine.spec import load_network, read_network
from .engine.validate import validate

EXIT_OK, EXIT_INVALID = 0, 2


def _run(args: argparse.Namespace) -> int:
    from .runs import run_network

    net = load_network(args.network)
    steps = args.steps if args.steps is not None else int(net.training.get("steps", 500))
    if args.dump_state is not None and args.dump_at is None:
        print("--dump-state needs --dump-at STEP (the step whose state to save).",
              file=sys.stderr)
        return EXIT_INVALID
    if args.dump_at is not None and not 0 <= args.dump_at < steps:
        print(f"--dump-at {args.dump_at} is outside the run's steps 0..{steps - 1}.",
              file=sys.stderr)
        return EXIT_INVALID
    dump = Path(args.dump_state) if args.dump_state else None

    every = max(1, steps // 10)
    shown = [-every]

    def progress(record) -> None:
        if not args.quiet and record.step - shown[0] >= every:
            shown[0] = record.step
            print(f"step {record.step:>7}  loss {record.loss:.5g}", flush=True)

    summary = run_network(net, steps, Path(args.out), seed=args.seed, dump_state=dump,
                          dump_at=args.dump_at, progress=progress)
    if summary["diverged"]:
        print(summary["diverged"]["message"], file=sys.stderr)
    if dump is not None and summary["dumped_state"] is None:
        print(f"No state was saved: training stopped before step {args.dump_at}.",
              file=sys.stderr)
    if not args.quiet:
        rate = summary["steps_per_second"] or 0.0
        print(f"{summary['status']}: {summary['steps']} steps in {summary['wall_time_s']:.2f} s"
              f" ({rate:.0f} steps/s); wrote {args.out}/metrics.csv and summary.json")
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
    parser.add_argument("--screenshot", metavar="OUT.png",
                        help="train --steps steps in the window, save a screenshot and quit")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="train a network headless and write its metrics")
    run.add_argument("network", help="network file (JSON)")
    run.add_argument("--steps", type=int, help="steps to train (default: the file's steps)")
    run.add_argument("--seed", type=int, help="training seed (overrides the file's)")
    run.add_argument("--out", required=True, help="folder for metrics.csv and summary.json")
    run.add_argument("--dump-state", metavar="FILE.npz", help="save one step's full state")
    run.add_argument("--dump-at", type=int, metavar="STEP", help="the step to save (from 0)")
    run.add_argument("--quiet", action="store_true", help="print nothing but problems")
    run.set_defaults(func=_run)
    check = sub.add_parser("validate", help="list every problem of a network file")
    check.add_argument("network")
    check.set_defaults(func=_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        from .app.launch import launch

        return launch(args)
    if args.command == "run" and args.steps is not None and args.steps < 1:
        print("--steps must be at least 1.", file=sys.stderr)
        return EXIT_INVALID
    try:
        return args.func(args)
    except VgsimError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"Cannot write the results: {exc}", file=sys.stderr)
        return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
