"""`vgsim compare` and `vgsim sweep`: many networks at once, and their plots."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .experiments.comparisons import Comparison
    from .experiments.sweeps.spec import Sweep

from .cli_options import EXIT_INVALID, EXIT_OK, Progress, interrupted
from .engine.errors import NetworkError, VgsimError
from .engine.validate import load_network


def draw_comparison(
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


def compare_command(args: argparse.Namespace) -> int:
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

    bar = Progress(args.steps, args.quiet)

    def progress(comparison: Comparison) -> None:
        losses = "  ".join(f"{s.label}: {s.loss:.5g}" for s in comparison.status().values())
        bar(comparison.step_count, f"loss  {losses}")

    try:
        result = compare_networks(
            args.networks, args.steps, Path(args.out), seed=args.seed, progress=progress
        )
    except KeyboardInterrupt as exc:
        bar.close()
        return interrupted(exc, Path(args.out), compare=True)
    finally:
        bar.close()
    for run in result["runs"]:
        if run["diverged"]:
            print(f"{run['label']}: {run['diverged']['message']}", file=sys.stderr)
    if args.plots:
        draw_comparison(
            Path(args.out), Path(args.out) / "plots", args.plots, args.scale, args.quiet
        )
    if not args.quiet:
        from .engine.diagnose import findings_report

        print(compare_table(result["runs"]))
        for run in result["runs"]:
            print(f"{run['label']}: " + "\n".join(findings_report(run["findings"], run["steps"])))
        print(f"wrote {args.out}/comparison.json and one folder per run")
    return EXIT_OK


def compare_table(runs: list[dict]) -> str:
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


def sweep_command(args: argparse.Namespace) -> int:
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
        draw_map(sweep, state.records, Path(args.out), args.plots, args.scale, args.quiet)
    if not args.quiet:
        print(summary(state))
        print(f"wrote {args.out}/sweep.csv and sweep.json")
    return EXIT_OK


def draw_map(
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
