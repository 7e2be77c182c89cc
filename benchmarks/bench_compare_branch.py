#!/usr/bin/env python
"""Compare with original…: how long a branch and the run it left take to open side by side.

    python benchmarks/bench_compare_branch.py [--quick] [--steps 10000] [--config 50x64x64]
                                              [--trials 20] [--json PATH]

The network is bench_step.py's DEPTHxWIDTHxBATCH MLP (ReLU, he_normal, spiral, float32), trained
--steps steps and recorded as the window records it (a Timeline: every step's figures, a state
every 8 steps or so within 256 MB). Then, at random steps k, paired in each trial:

  branch   Recording.branch(k, clip by norm): the baseline, what Branch from here costs
           (issue 16: within 300 ms p95)
  sides    Recording.sides(): the state at k and the figures before it, taken on the training
           thread (the window's training waits for it)
  open     Comparison(sides): the comparison window's two trainers built, the state restored
           and the figures refilled into their histories, before its first frame
  step     the comparison's first lockstep step (both sides)

It prints medians and p95 and the median paired ratio (sides + open) / branch. The load average
is printed at the start and the end: other processes slow every figure alike.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import numpy as np  # noqa: E402
from bench_timetravel import WindowLoop, build, pct, timed_both  # noqa: E402

from vgsim.engine import Trainer  # noqa: E402
from vgsim.experiments.comparisons import Comparison  # noqa: E402
from vgsim.experiments.recording import Recording  # noqa: E402
from vgsim.experiments.timeline import Timeline  # noqa: E402

CLIP = {"clip": {"mode": "norm", "threshold": 1.0}}
PARTS = ("branch", "sides", "open", "step")


def trial(tl: Timeline, k: int) -> list[tuple[float, float]]:
    """Branch the recorded run at k, then open it beside the run it left: each part timed."""
    rec = Recording(tl)
    out: dict = {}
    return [
        timed_both(lambda: rec.branch(k, settings=CLIP)),
        timed_both(lambda: out.update(sides=rec.sides())),
        timed_both(lambda: out.update(comparison=Comparison(out["sides"]))),
        timed_both(lambda: out["comparison"].step_block(1)),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--config", default="50x64x64")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="2,000 steps, 8 trials")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.quick:
        args.steps, args.trials = 2000, 8
    load_start = os.getloadavg()
    print(f"vgsim compare with original: {args.config}, {args.steps} steps, {args.trials} trials")
    print(f"load average at the start {load_start}")
    net = build(args.config, "sgd")
    warm = Trainer(net)
    warm.run_block(8)  # compile or load the kernels before timing
    trainer = Trainer(net)
    tl = Timeline.follow(trainer)
    WindowLoop(trainer, 64, tl).train(args.steps)
    rng = np.random.default_rng(0)
    wall: dict[str, list[float]] = {k: [] for k in PARTS}
    cpu: dict[str, list[float]] = {k: [] for k in PARTS}
    ratios: list[float] = []
    for k in rng.integers(1, args.steps, args.trials):
        laps = trial(tl, int(k))
        for key, (w, c) in zip(PARTS, laps, strict=True):
            wall[key].append(w)
            cpu[key].append(c)
        ratios.append((laps[1][0] + laps[2][0]) / laps[0][0])
    load_end = os.getloadavg()
    print(f"\n{'':8} {'wall p50':>9} {'p95':>7} {'cpu p50':>9} {'p95':>7}  (ms)")
    for key in PARTS:
        print(
            f"{key:8} {pct(wall[key], 50):9.1f} {pct(wall[key], 95):7.1f} "
            f"{pct(cpu[key], 50):9.1f} {pct(cpu[key], 95):7.1f}"
        )
    opening = [s + o for s, o in zip(wall["sides"], wall["open"], strict=True)]
    print(
        f"\nopening the comparison (sides + open): p50 {pct(opening, 50):.1f} ms, p95 "
        f"{pct(opening, 95):.1f} ms; {np.median(ratios):.2f}x a branch (median of paired trials)"
    )
    print(f"load average at the end {load_end}")
    if args.json is not None:
        result = {
            "config": args.config,
            "steps": args.steps,
            "trials": args.trials,
            "load": [load_start, load_end],
            "wall_ms": {k: [pct(v, 50), pct(v, 95)] for k, v in wall.items()},
            "cpu_ms": {k: [pct(v, 50), pct(v, 95)] for k, v in cpu.items()},
            "opening_ms": [pct(opening, 50), pct(opening, 95)],
            "ratio_to_branch": float(np.median(ratios)),
        }
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
