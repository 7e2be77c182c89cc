#!/usr/bin/env python
"""Time stats.stats_and_histogram, the per-node statistics of a training step, against the
same kernel at an earlier commit and against the moments alone.

    python benchmarks/bench_histogram.py [--sizes 32768 ...] [--bins 32 ...] [--rounds N]
                                         [--baseline REV] [--json PATH]

Rows, timed interleaved (each round runs every row once, in an order that rotates), each
time the CPU time of a block of calls divided by the block's length:

  new          stats_and_histogram of this tree
  baseline     stats_and_histogram of REV (kernels/lanes.py and stats.py copied out of git
               into a temporary package; default: the bit-plane counter of 2bccfb9, whose
               bins were computed in moments' loop)
  moments      stats.value_stats, the same sums without a histogram: the floor

Data: "relu" is max(N(0, 1), 0) over ReLU's range [0, 4] (half the values share bin 0),
"normal" N(0, 1) * 2 over [-4, 4]. Before timing, both kernels must give the same figures and
the same histogram. Target: 32,768 float32 values (an 8 x 8 x 8 layer at batch 64), 32 bins,
new <= 12 us.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from vgsim.engine.kernels.stats import scratch_size, stats_and_histogram, value_stats  # noqa: E402

BASELINE = "2bccfb9"
TARGET_US = 12.0
TARGET_CASE = (32768, "float32", 32)
RANGES = {"relu": (0.0, 4.0), "normal": (-4.0, 4.0)}


def load_baseline(rev: str, folder: Path):
    """stats.py and lanes.py of `rev` as the package `histogram_baseline` under `folder`."""
    package = folder / "histogram_baseline"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in ("lanes.py", "stats.py"):
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{rev}:vgsim/engine/kernels/{name}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        (package / name).write_text(source)
    sys.path.insert(0, str(folder))
    return importlib.import_module("histogram_baseline.stats")


def sample(kind: str, size: int, dtype: str) -> np.ndarray:
    y = np.random.default_rng(size).standard_normal(size)
    y = np.maximum(y, 0.0) if kind == "relu" else y * 2.0
    return y.astype(dtype)


def time_rows(rows: dict, rounds: int, block: int) -> dict[str, float]:
    """Median CPU microseconds per call of each row, interleaved round by round."""
    names = list(rows)
    times: dict[str, list[float]] = {name: [] for name in names}
    for name in names:  # warm: load or compile
        rows[name]()
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            call = rows[name]
            start = time.thread_time_ns()
            for _ in range(block):
                call()
            times[name].append((time.thread_time_ns() - start) / block / 1e3)
    return {name: float(np.median(t)) for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[32768, 4096, 65536])
    ap.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    ap.add_argument("--bins", type=int, nargs="+", default=[32, 2, 256])
    ap.add_argument("--kinds", nargs="+", default=["relu", "normal"], choices=list(RANGES))
    ap.add_argument("--rounds", type=int, default=200, help="interleaved rounds (default 200)")
    ap.add_argument("--block", type=int, default=10, help="calls per timing (default 10)")
    ap.add_argument("--baseline", default=BASELINE, help=f"git revision (default {BASELINE})")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = ap.parse_args(argv)

    load_before = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        old = load_baseline(args.baseline, Path(folder))
        print(f"baseline {args.baseline}; load {load_before[0]:.1f}; CPU us per call, medians")
        print(f"{'case':<28} {'new':>8} {'baseline':>9} {'ratio':>6} {'moments':>8}  target")
        for dtype in args.dtypes:
            for size in args.sizes:
                for bins in args.bins:
                    for kind in args.kinds:
                        results.append(run_case(old, kind, size, dtype, bins, args))
    load_after = os.getloadavg()
    print(f"load {load_before[0]:.1f} -> {load_after[0]:.1f}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "baseline": args.baseline,
                    "load": [load_before[0], load_after[0]],
                    "results": results,
                },
                indent=1,
            )
        )
    return 0


def run_case(old, kind: str, size: int, dtype: str, bins: int, args) -> dict:
    y = sample(kind, size, dtype)
    lo, hi = RANGES[kind]
    hist, old_hist = np.zeros(bins), np.zeros(bins)
    buf = np.zeros(scratch_size(bins, size, 1), np.uint64)
    old_buf = np.zeros(old.scratch_size(bins, size, 1), np.uint64)
    figures = stats_and_histogram(y, lo, hi, hist, buf)
    old_figures = old.stats_and_histogram(y, lo, hi, old_hist, old_buf)
    if figures != old_figures or not np.array_equal(hist, old_hist):
        raise SystemExit(f"{kind} {size} {dtype} {bins}: the kernels disagree")
    times = time_rows(
        {
            "new": lambda: stats_and_histogram(y, lo, hi, hist, buf),
            "baseline": lambda: old.stats_and_histogram(y, lo, hi, old_hist, old_buf),
            "moments": lambda: value_stats(y),
        },
        args.rounds,
        args.block,
    )
    ratio = times["new"] / times["baseline"]
    case = f"{size} {dtype} {bins} bins {kind}"
    verdict = ""
    if (size, dtype, bins) == TARGET_CASE:
        verdict = "PASS" if times["new"] <= TARGET_US else "MISS"
        verdict += f" (<= {TARGET_US:g} us)"
    print(
        f"{case:<28} {times['new']:8.2f} {times['baseline']:9.2f} {ratio:6.2f} "
        f"{times['moments']:8.2f}  {verdict}",
        flush=True,
    )
    return {"kind": kind, "size": size, "dtype": dtype, "bins": bins, **times, "ratio": ratio}


if __name__ == "__main__":
    sys.exit(main())
