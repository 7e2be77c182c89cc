#!/usr/bin/env python
"""Time travel: what saving states costs, how much room they take, how fast a step comes back.

    python benchmarks/bench_timetravel.py [--quick] [--steps 10000] [--config 50x64x64]
                                          [--optimizer sgd|adam] [--budget-mb 256]
                                          [--scrubs 200] [--branches 30] [--json PATH]

The network is bench_step.py's DEPTHxWIDTHxBATCH MLP (ReLU, he_normal, spiral, float32) with
the default evaluation. It trains --steps steps twice, interleaved in rounds of ROUND steps
whose order alternates, as the window's worker trains (blocks of 1/30 s): once plain, once
followed by a Timeline (every step's figures kept, a state saved every 8 steps or so within
the budget). Then, on the recorded run:

  saving      median round time with the timeline / without: its cost in training speed
  states      bytes of saved states at the end (and of the figures, kept beside them)
  scrub       Timeline.view(step) for random steps of the whole run, for steps among the last
              few hundred, and for a drag forward: restore the nearest state, replay, run the
              step with its histograms, and build everything the dashboard draws (plot data
              with the decision boundary, the diagnosis)
  branch      Timeline.branch(step, settings={clip by norm}) and the branch's first step, at
              random steps; and with a changed network (another activation in one layer: a new
              trainer is built)

Targets (issue 16): scrub p95 <= 150 ms, <= 50 ms among the last RECENT steps; states <= the
budget (256 MB); saving <= 5% of training speed; branch p95 <= 300 ms. The load average is
printed at the start and the end: other processes on the machine slow every figure alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import numpy as np  # noqa: E402
from bench_step import network_dict  # noqa: E402

from vgsim.engine import Network, Trainer  # noqa: E402
from vgsim.experiments.checkpoints import MB, Checkpoints  # noqa: E402
from vgsim.experiments.plot_sources import boundary_of  # noqa: E402
from vgsim.experiments.timeline import Timeline  # noqa: E402

ROUND = 96  # steps per timed round
BLOCK_SECONDS = 1 / 30  # as app/worker.py: the training between two published frames
PARTS = ("figures", "state", "boundary", "diagnosis", "replayed")
SHOWN = ("figures", "state", "shown", "full")
RECENT = 300  # "the last few hundred steps"
TARGETS = {"scrub_p95_ms": 150.0, "recent_p95_ms": 50.0, "saving": 0.05, "branch_p95_ms": 300.0}
FULL = {"scrub_full_p95_ms": 150.0, "recent_full_p95_ms": 50.0}  # with boundary and diagnosis


def build(config: str, optimizer: str) -> Network:
    depth, width, batch = (int(x) for x in config.split("x"))
    d = network_dict(depth, width, batch, "relu", optimizer)
    del d["training"]["eval_every"]  # the default evaluation, as the window trains
    return Network.from_dict(d)


class WindowLoop:
    """Trains as the window's worker does (app/worker.py), in blocks of the steps that fit in
    BLOCK_SECONDS (here a fixed number, from the step's CPU time: both loops train alike);
    with a timeline, each block is added to it (a state is saved at the end of the first
    block 8 or more steps after the last)."""

    def __init__(self, trainer: Trainer, block: int, timeline: Timeline | None = None):
        self.trainer, self.block, self.timeline = trainer, block, timeline

    def train(self, steps: int) -> None:
        t, end = self.trainer, self.trainer.step_count + steps
        while t.step_count < end:
            block = t.run_block(min(end - t.step_count, self.block))
            if self.timeline is not None:
                self.timeline.add(t, block)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


class Stopwatch:
    """Wall and CPU time (ms) between laps."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        out = ((wall - self.wall) * 1e3, (cpu - self.cpu) * 1e3)
        self.wall, self.cpu = wall, cpu
        return out


def timed(fn) -> float:
    return timed_both(fn)[0]


def timed_both(fn) -> tuple[float, float]:
    """Wall time and this process's CPU time of fn(), in ms. The CPU time leaves out the
    waiting for a core that other processes cause: about what it takes on an idle machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--config", default="50x64x64")
    ap.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    ap.add_argument("--budget-mb", type=float, default=256.0)
    ap.add_argument("--scrubs", type=int, default=200)
    ap.add_argument("--branches", type=int, default=30)
    ap.add_argument("--quick", action="store_true", help="2,000 steps, 40 scrubs, 8 branches")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.quick:
        args.steps, args.scrubs, args.branches = 2000, 40, 8
    rng = np.random.default_rng(0)
    load_start = os.getloadavg()
    print(f"vgsim time travel: {args.config} {args.optimizer}, {args.steps} steps")
    print(f"python {platform.python_version()}, numpy {np.__version__}; load average {load_start}")

    net = build(args.config, args.optimizer)
    warm = Trainer(net)
    warm.run_block(8)  # compile or load the kernels before timing
    cpu = time.process_time()
    warm.run_block(64)
    block = max(1, round(BLOCK_SECONDS / ((time.process_time() - cpu) / 64)))
    recorded = Trainer(net)
    tl = Timeline.follow(recorded, budget=int(args.budget_mb * MB))
    plain, rec = WindowLoop(Trainer(net), block), WindowLoop(recorded, block, tl)
    rounds: list[tuple[float, float, float, float]] = []
    while plain.trainer.step_count < args.steps:
        n = min(ROUND, args.steps - plain.trainer.step_count)
        a = b = (0.0, 0.0)
        for loop in (plain, rec) if len(rounds) % 2 else (rec, plain):
            ms = timed_both(lambda loop=loop, n=n: loop.train(n))
            a, b = (ms, b) if loop is plain else (a, ms)
        rounds.append((*a, *b))
    times = np.array(rounds)  # wall plain, cpu plain, wall timeline, cpu timeline
    step_ms = float(np.median(times[:, 0])) / ROUND
    step_cpu = float(np.median(times[:, 1])) / ROUND
    # Paired rounds: the load moves both alike within a round, so the ratio is steadier.
    saving = float(np.median(times[:, 2] / times[:, 0]) - 1)
    saving_cpu = float(np.median(times[:, 3] / times[:, 1]) - 1)
    cp: Checkpoints = tl.checkpoints
    steps = np.array(cp.steps)
    print(
        f"\ntraining: {step_ms:.2f} ms/step plain, {step_cpu:.2f} ms of CPU time "
        f"(median of {len(rounds)} rounds)"
    )
    print(
        f"saving: {saving:+.1%} training time with the timeline, {saving_cpu:+.1%} in CPU time "
        f"(median ratios of paired rounds of {ROUND} steps in blocks of {block}; median rounds "
        f"{np.median(times[:, 2]):.0f} / {np.median(times[:, 0]):.0f} ms)"
    )
    state_mb = cp.nbytes / MB
    print(
        f"states: {len(cp)} saved, {state_mb:.1f} MB of {cp.budget / MB:.0f} MB; one state "
        f"{cp.entries[-1].nbytes / MB:.2f} MB; largest gap {int(np.diff(steps).max())} steps; "
        f"figures beside them {tl.figures.nbytes / MB:.1f} MB"
    )

    # Scrubbing. The first view computes the mean-field curve once: reported apart.
    first = timed(lambda: tl.view(args.steps // 2))
    last = tl.steps - 1

    def scrub(targets) -> dict[str, list[float]]:
        """Each part of showing a step, timed apart: the recorded figures (every plot but two),
        the state (restore and replay, then the step itself for its histograms), the decision
        boundary of that state, the diagnosis."""
        out: dict[str, list[float]] = {k: [] for k in PARTS}
        cpu: dict[str, list[float]] = {k: [] for k in PARTS}
        for s in targets:
            s = int(s)
            watch = Stopwatch()
            tl.plot_at(s)
            laps = [watch.lap()]
            trainer = tl.trainer_at(s)
            trainer.step()
            laps.append(watch.lap())
            boundary_of(trainer)
            laps.append(watch.lap())
            tl.diagnose_at(s)
            laps.append(watch.lap())
            for key, (wall_ms, cpu_ms) in zip(PARTS, laps, strict=False):
                out[key].append(wall_ms)
                cpu[key].append(cpu_ms)
            out["replayed"].append(s - cp.nearest(s).step)
        for times, prefix in ((out, ""), (cpu, "cpu ")):
            times[f"{prefix}shown"] = list(np.add(times["figures"], times["state"]))
            rest = np.add(times["boundary"], times["diagnosis"])
            times[f"{prefix}full"] = list(np.add(times[f"{prefix}shown"], rest))
        out.update({k: v for k, v in cpu.items() if k.startswith("cpu ")})
        return out

    start = max(0, last - 2000)
    runs = {
        "any step": scrub(rng.integers(0, tl.steps, args.scrubs)),
        f"last {RECENT}": scrub(rng.integers(tl.steps - RECENT, tl.steps, args.scrubs // 2)),
        "drag forward": scrub(range(start, last, 3)[: args.scrubs // 2]),
    }
    print(f"\nscrub: first view {first:.0f} ms (computes the mean-field curve once)")
    print(f"  {'':<13} " + "  ".join(f"{k:>17}" for k in ("figures", "state", "shown", "full")))
    for name, r in runs.items():
        cells = "  ".join(f"{pct(r[k], 50):7.1f} {pct(r[k], 95):7.1f}  " for k in SHOWN)
        print(f"  {name:<13} {cells} ms (p50 p95); replayed max {max(r['replayed'])} steps")
    print("  in CPU time (what an idle machine would take), p50 p95:")
    for name, r in runs.items():
        print(
            f"  {name:<13} shown {pct(r['cpu shown'], 50):6.1f} {pct(r['cpu shown'], 95):6.1f}"
            f"   full {pct(r['cpu full'], 50):6.1f} {pct(r['cpu full'], 95):6.1f} ms"
        )
    r = runs["any step"]
    print(
        f"  parts of 'full', p50: boundary {pct(r['boundary'], 50):.1f} ms, diagnosis "
        f"{pct(r['diagnosis'], 50):.1f} ms (the window refreshes both a few times a second)"
    )
    anywhere, recent = runs["any step"]["shown"], runs[f"last {RECENT}"]["shown"]

    # Branching.
    clip = {"clip": {"mode": "norm", "threshold": 1.0}}
    settings_ms, network_ms = [], []
    other = net.copy()
    act = next(n for n in other.nodes if n.type == "activation")
    act.params["function"] = "tanh"
    for s in rng.integers(1, tl.steps, args.branches):
        # The student looks at step s - 1 (the state after it), then branches from there.
        tl.view(int(s) - 1, boundary=False, findings=False)

        def settings(s=int(s)) -> None:
            trainer, _ = tl.branch(s, settings=clip)
            trainer.step()

        def network(s=int(s)) -> None:
            trainer, _ = tl.branch(s, network=other)
            trainer.step()

        settings_ms.append(timed_both(settings))
        tl.view(int(s) - 1, boundary=False, findings=False)
        network_ms.append(timed_both(network))
    for name, got in (("settings", settings_ms), ("network", network_ms)):
        wall, cpu_ms = ([t[i] for t in got] for i in (0, 1))
        print(
            f"branch ({name}): p50 {pct(wall, 50):.0f}  p95 {pct(wall, 95):.0f} ms; "
            f"CPU time p50 {pct(cpu_ms, 50):.0f}  p95 {pct(cpu_ms, 95):.0f} ms"
        )
    settings_cpu = [t[1] for t in settings_ms]
    settings_ms, network_ms = [t[0] for t in settings_ms], [t[0] for t in network_ms]

    load_end = os.getloadavg()
    results = {
        "scrub_p95_ms": pct(anywhere, 95),
        "recent_p95_ms": pct(recent, 95),
        "scrub_full_p95_ms": pct(runs["any step"]["full"], 95),
        "recent_full_p95_ms": pct(runs[f"last {RECENT}"]["full"], 95),
        "saving": saving,
        "branch_p95_ms": pct(settings_ms, 95),
        "cpu scrub_p95_ms": pct(runs["any step"]["cpu shown"], 95),
        "cpu recent_p95_ms": pct(runs[f"last {RECENT}"]["cpu shown"], 95),
        "cpu scrub_full_p95_ms": pct(runs["any step"]["cpu full"], 95),
        "cpu recent_full_p95_ms": pct(runs[f"last {RECENT}"]["cpu full"], 95),
        "cpu saving": saving_cpu,
        "cpu branch_p95_ms": pct(settings_cpu, 95),
    }
    print("\ntarget                      measured   target")
    goals = {**TARGETS, **FULL}
    for key, target in [*goals.items(), *((f"cpu {k}", v) for k, v in goals.items())]:
        value = results[key]
        shown = f"{value:+.1%}" if key.endswith("saving") else f"{value:.0f} ms"
        limit = f"{target:.0%}" if key.endswith("saving") else f"{target:.0f} ms"
        print(f"{key:<26} {shown:>9}   <= {limit:<7} {'PASS' if value <= target else 'MISS'}")
    ok = state_mb <= args.budget_mb
    print(
        f"{'states_mb':<26} {state_mb:>9.1f}   <= {args.budget_mb:<7.0f} {'PASS' if ok else 'MISS'}"
    )
    print(f"load average at end: {load_end}")
    if args.json:
        out = {
            **results,
            "states_mb": state_mb,
            "states": len(cp),
            "figures_mb": tl.figures.nbytes / MB,
            "step_ms": step_ms,
            "step_cpu_ms": step_cpu,
            "first_view_ms": first,
            "branch_network_p95_ms": pct(network_ms, 95),
            "config": args.config,
            "optimizer": args.optimizer,
            "steps": args.steps,
            "load": [load_start, load_end],
        }
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
