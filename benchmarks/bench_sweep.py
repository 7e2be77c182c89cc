#!/usr/bin/env python
"""Sweeps on one and two workers, local process pool and Dask LocalCluster.

    python benchmarks/bench_sweep.py [--runs N] [--steps N] [--repeats R] [--no-dask]
                                     [--json PATH]

The sweep: N runs (seeds 0 … N−1) of a 20 × 64 tanh chain (20 hidden dense layers of 64 units,
Xavier init) on the digits, SGD, batch 32, `--steps` steps each (default 500). Each repeat
runs, interleaved so the load from other processes hits all alike: local pool with 1 worker,
with 2; Dask LocalCluster (processes, one thread each, loopback) with 1 worker, with 2.

Reported, medians over the repeats:

  wall        the whole sweep, from run_sweep's call to its return (the local pool's start-up
              included; a Dask cluster is started before, as a running scheduler would be)
  steady      time per run between the first and the last result (start-up excluded)
  speedup     wall(1 worker) / wall(2 workers), and the same for steady
  overhead    with 1 worker: steady time per run minus the same run's time in-process
              (run_task called directly, median over the repeats): what dispatching a run and
              receiving, storing and tallying its result add, as a share of the run

Targets: speedup ≥ 1.7 on two cores; overhead ≤ 5% of a run. The load average before and
after is printed: others share the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vgsim.engine.builders import mlp
from vgsim.experiments.sweeps import Sweep, run_sweep
from vgsim.experiments.sweeps.worker import run_task


def make_sweep(runs: int, steps: int) -> Sweep:
    net = mlp(
        20,
        64,
        10,
        activation="tanh",
        init="xavier_uniform",
        data={"name": "digits"},
        training={"optimizer": "sgd", "lr": 0.01, "batch_size": 32},
        name="20x64 tanh",
    )
    spec = {
        "format": "vgsim.sweep/1",
        "axes": [{"path": "training.lr", "name": "lr", "values": [0.01]}],
        "seeds": list(range(runs)),
        "steps": steps,
    }
    return Sweep.from_dict(spec, network=net)


def timed(sweep: Sweep, workers: int, client=None) -> dict:
    stamps: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        state = run_sweep(
            sweep,
            Path(folder),
            workers=workers,
            client=client,
            progress=lambda p: stamps.append(time.perf_counter()),
        )
        wall = time.perf_counter() - started
    results = stamps[1:]  # the first call comes before any run
    steady = (results[-1] - results[0]) / (len(results) - 1)
    assert state.finished == len(results) and state.failed == 0
    return {"wall": wall, "steady": steady}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    sweep = make_sweep(args.runs, args.steps)
    load_before = os.getloadavg()
    engines = ["local"]
    if not args.no_dask:
        try:
            import distributed  # noqa: F401

            engines.append("dask")
        except ImportError:
            print("Dask distributed is not installed: local pool only.")
    task = sweep.tasks()[0]
    run_task(task)  # kernels and data loaded in this process first
    times: dict[str, list[dict]] = {}
    direct: list[float] = []
    for repeat in range(args.repeats):
        started = time.perf_counter()
        run_task(task)
        direct.append(time.perf_counter() - started)
        for engine in engines:
            for workers in (1, 2):
                key = f"{engine}-{workers}"
                if engine == "local":
                    result = timed(sweep, workers)
                else:
                    result = _dask(sweep, workers)
                times.setdefault(key, []).append(result)
                print(
                    f"repeat {repeat + 1}: {key:<8} wall {result['wall']:6.2f} s, "
                    f"steady {result['steady']:6.3f} s/run",
                    flush=True,
                )
    load_after = os.getloadavg()
    run_s = statistics.median(direct)
    table = {}
    print(
        f"\n{args.runs} runs of a 20x64 tanh chain, {args.steps} steps; in-process run "
        f"{run_s:.3f} s (median)"
    )
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    for engine in engines:
        one = {k: statistics.median(r[k] for r in times[f"{engine}-1"]) for k in ("wall", "steady")}
        two = {k: statistics.median(r[k] for r in times[f"{engine}-2"]) for k in ("wall", "steady")}
        speedup = one["wall"] / two["wall"]
        steady_speedup = one["steady"] / (two["steady"])
        overhead = (one["steady"] - run_s) / run_s
        table[engine] = {
            "wall_1": one["wall"],
            "wall_2": two["wall"],
            "steady_1": one["steady"],
            "steady_2": two["steady"],
            "speedup": speedup,
            "steady_speedup": steady_speedup,
            "overhead_share": overhead,
        }
        print(
            f"{engine:<6} wall 1 worker {one['wall']:.2f} s, 2 workers {two['wall']:.2f} s: "
            f"speedup {speedup:.2f} ({'PASS' if speedup >= 1.7 else 'MISS'} >= 1.7); "
            f"steady {one['steady']:.3f} / {two['steady']:.3f} s per run: {steady_speedup:.2f}; "
            f"overhead per run {overhead * 100:+.1f}% of a run "
            f"({'PASS' if overhead <= 0.05 else 'MISS'} <= 5%)"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "runs": args.runs,
                    "steps": args.steps,
                    "repeats": args.repeats,
                    "run_in_process_s": run_s,
                    "load": [load_before, load_after],
                    "engines": table,
                    "times": times,
                },
                indent=2,
            )
        )
    return 0


def _dask(sweep: Sweep, workers: int) -> dict:
    import distributed

    with (
        distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # Timed from the sweep's start: a cluster is there before a sweep uses it.
        return timed(sweep, workers, client)


if __name__ == "__main__":
    sys.exit(main())
