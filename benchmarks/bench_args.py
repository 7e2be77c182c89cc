"""The command line the interleaved step benchmarks share (bench_step.py, bench_conv.py): the
timing options with their defaults, --threads (the script restarts itself so that BLAS reads
the thread counts), --no-torch and --json, and PyTorch's thread count."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class Timing:
    """Default (full run, --quick) of each timing option."""

    repeats: tuple[int, int]
    block: tuple[float, float]
    budget: tuple[float, float]
    warmup: tuple[float, float]


def add_timing_arguments(ap: argparse.ArgumentParser, timing: Timing) -> None:
    """--quick, --repeats, --block, --budget, --warmup, --threads, --no-torch and --json."""

    def default(pair: tuple) -> str:
        return f"default {pair[0]:g}, quick {pair[1]:g}"

    ap.add_argument("--quick", action="store_true", help="short smoke-test run")
    ap.add_argument("--repeats", type=int, help=f"round-robin rounds ({default(timing.repeats)})")
    ap.add_argument(
        "--block",
        type=float,
        help=f"seconds per implementation per round ({default(timing.block)})",
    )
    ap.add_argument(
        "--budget",
        type=float,
        help="seconds of timed rounds per configuration; "
        f"stops early after a round past it ({default(timing.budget)})",
    )
    ap.add_argument(
        "--warmup",
        type=float,
        help=f"warm-up seconds per implementation ({default(timing.warmup)})",
    )
    ap.add_argument(
        "--threads",
        type=int,
        help="set OPENBLAS/OMP/MKL_NUM_THREADS (the script "
        "restarts itself so BLAS reads them) and torch's threads to N; default: "
        "every library's own default",
    )
    ap.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON here")


def parse_timing(
    ap: argparse.ArgumentParser, argv: list[str] | None, timing: Timing, script: str
) -> argparse.Namespace:
    """Parse; with --threads N, first restart `script` with the thread variables set to N (BLAS
    reads them when it loads); fill the timing options the command line left out."""
    args = ap.parse_args(argv)
    if args.threads is not None and os.environ.get("VGSIM_BENCH_THREADS") != str(args.threads):
        env = dict(os.environ, VGSIM_BENCH_THREADS=str(args.threads))
        for key in THREAD_VARIABLES:
            env[key] = str(args.threads)
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, os.path.abspath(script), *sys.argv[1:]], env)
    pick = 1 if args.quick else 0
    args.repeats = args.repeats or timing.repeats[pick]
    args.block = args.block or timing.block[pick]
    args.warmup = args.warmup or timing.warmup[pick]
    args.budget = args.budget or timing.budget[pick]
    return args


def set_torch_threads(args: argparse.Namespace, missing: str) -> int | None:
    """PyTorch's intra-op threads: --torch-threads where the script has it, else --threads, else
    torch's own default; None (after printing `missing`) with --no-torch or without torch."""
    if args.no_torch:
        return None
    try:
        import torch
    except ImportError:
        print(missing)
        return None
    threads = getattr(args, "torch_threads", None) or args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    return threads
