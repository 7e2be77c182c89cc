#!/usr/bin/env python
"""Sweeps on one and two workers, local process pool and Dask LocalCluster.

    python benchmarks/bench_sweep.py [--runs N] [--steps N] [--repeats R] [--no-dask]
                                     [--dask-defaults] [--workers 1,2] [--json PATH]

The sweep: N runs (seeds 0 … N−1) of a 20 × 64 tanh chain (20 hidden dense layers of 64 units,
Xavier init) on the digits, SGD, batch 32, `--steps` steps each (default 500). Each repeat
runs, interleaved so the load from other processes hits all alike: local pool with 1 worker,
with 2; Dask LocalCluster (processes, one thread each, loopback, the sweep's worker settings:
experiments/sweeps/dask_workers.py) with 1 worker, with 2. `--dask-defaults` adds a Dask
LocalCluster as Dask sets it up (profiler on, 20 ms tick, 100 ms memory monitor), the baseline
of those settings. `--workers 1` runs the one-worker sweeps only (the overhead, not the
speedup: what a loaded machine can still measure).

Reported, medians over the repeats:

  wall        the whole sweep, from run_sweep's call to its return (the local pool's start-up
              included; a Dask cluster is started before, as a running scheduler would be)
  steady      time per run between the first and the last result (start-up excluded)
  speedup     wall(1 worker) / wall(2 workers), and the same for steady
  overhead    with 1 worker: steady time per run minus the same run's time in-process
              (run_task called directly, median over the repeats): what dispatching a run and
              receiving, storing and tallying its result add, as a share of the run
  where       the overhead split, with 1 worker (medians, ms per run): the task's own time in
              the worker (run_task's wall, network and kernels included) minus the same in-process
              ("in task": the worker's threads, monitors and profiler slowing the run), and the
              steady time per result minus the task's time in the worker ("round trip": dispatch,
              result, the runner's storing)
  CPU         with 1 worker, CPU time per run (medians): the run's thread in the worker (and
              in-process), the worker's other threads meanwhile (event loop, profiler,
              monitors), the runner's own process (for a LocalCluster also its scheduler and
              nannies); their sum over the run's CPU in-process. CPU times hold under load,
              where the wall times do not: two workers on two cores share them with these.

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
from vgsim.experiments.sweeps import Sweep, Task, run_sweep
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
        started, cpu = time.perf_counter(), time.process_time()
        state = run_sweep(
            sweep,
            Path(folder),
            workers=workers,
            client=client,
            progress=lambda p: stamps.append(time.perf_counter()),
        )
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    results = stamps[1:]  # the first call comes before any run
    steady = (results[-1] - results[0]) / (len(results) - 1)
    assert state.finished == len(results) and state.failed == 0
    # The first run on each worker loads the kernels: the steady runs are the others.
    tasks = [r["worker"] for r in state.records.values() if r["worker"]["runs"] > 1]
    return {
        "wall": wall,
        "steady": steady,
        "task": statistics.median(t["task_s"] for t in tasks),
        "task_cpu": statistics.median(t["task_cpu_s"] for t in tasks),
        # The worker's other threads (event loop, profiler, monitors) while a run trains:
        "others_cpu": statistics.median(t["process_cpu_s"] - t["task_cpu_s"] for t in tasks),
        # This process (the runner; a LocalCluster's scheduler and nannies):
        "runner_cpu": cpu / len(results),
    }


def in_process(task: Task) -> dict:
    started = time.perf_counter()
    record = run_task(task)
    return {
        "wall": time.perf_counter() - started,
        "task": record["worker"]["task_s"],
        "task_cpu": record["worker"]["task_cpu_s"],
        "others_cpu": record["worker"]["process_cpu_s"] - record["worker"]["task_cpu_s"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--dask-defaults", action="store_true")
    parser.add_argument("--workers", default="1,2", help="worker counts, e.g. 1 or 1,2")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    counts = sorted({int(n) for n in args.workers.split(",")})
    sweep = make_sweep(args.runs, args.steps)
    load_before = os.getloadavg()
    engines = ["local"]
    if not args.no_dask:
        try:
            import distributed  # noqa: F401

            engines += ["dask", "dask-default"] if args.dask_defaults else ["dask"]
        except ImportError:
            print("Dask distributed is not installed: local pool only.")
    task = sweep.tasks()[0]
    run_task(task)  # kernels and data loaded in this process first
    times: dict[str, list[dict]] = {}
    direct: list[dict] = []
    for repeat in range(args.repeats):
        for engine in engines:
            direct.append(in_process(task))  # as often as the sweeps, between them
            for workers in counts:
                key = f"{engine}-{workers}"
                if engine == "local":
                    result = timed(sweep, workers)
                else:
                    result = _dask(sweep, workers, defaults=engine == "dask-default")
                times.setdefault(key, []).append(result)
                print(
                    f"repeat {repeat + 1}: {key:<14} wall {result['wall']:6.2f} s, "
                    f"steady {result['steady']:6.3f} s/run, task {result['task']:6.3f} s "
                    f"(CPU {result['task_cpu']:6.3f} s)",
                    flush=True,
                )
    load_after = os.getloadavg()
    run = {k: statistics.median(d[k] for d in direct) for k in direct[0]}
    run_s = run["wall"]
    print(
        f"\n{args.runs} runs of a 20x64 tanh chain, {args.steps} steps; in-process run "
        f"{run_s:.3f} s, task {run['task']:.3f} s, CPU {run['task_cpu']:.3f} s (medians)"
    )
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    table = {}
    for engine in engines:
        medians = {
            n: {
                k: statistics.median(r[k] for r in times[f"{engine}-{n}"])
                for k in times[f"{engine}-{n}"][0]
            }
            for n in counts
        }
        one = medians[counts[0]]
        overhead = (one["steady"] - run_s) / run_s
        in_task, round_trip = one["task"] - run["task"], one["steady"] - one["task"]
        cpu = one["task_cpu"] + one["others_cpu"] + one["runner_cpu"]
        cpu_overhead = (cpu - run["task_cpu"]) / run["task_cpu"]
        row = {
            "steady_1": one["steady"],
            "wall_1": one["wall"],
            "overhead_share": overhead,
            "in_task_s": in_task,
            "round_trip_s": round_trip,
            "task_s": one["task"],
            "task_cpu_s": one["task_cpu"],
            "others_cpu_s": one["others_cpu"],
            "runner_cpu_s": one["runner_cpu"],
            "cpu_overhead_share": cpu_overhead,
        }
        line = f"{engine:<13}"
        if len(counts) > 1:
            two = medians[counts[-1]]
            speedup = one["wall"] / two["wall"]
            steady_speedup = one["steady"] / two["steady"]
            row.update(
                wall_2=two["wall"],
                steady_2=two["steady"],
                speedup=speedup,
                steady_speedup=steady_speedup,
            )
            line += (
                f" wall 1 worker {one['wall']:.2f} s, {counts[-1]} workers {two['wall']:.2f} s: "
                f"speedup {speedup:.2f} ({'PASS' if speedup >= 1.7 else 'MISS'} >= 1.7); "
                f"steady {one['steady']:.3f} / {two['steady']:.3f} s per run: "
                f"{steady_speedup:.2f};"
            )
        line += (
            f" overhead per run {overhead * 100:+.1f}% of a run "
            f"({'PASS' if overhead <= 0.05 else 'MISS'} <= 5%)\n{'':<13} where (1 worker, ms per"
            f" run): in task {in_task * 1e3:+.1f}, round trip {round_trip * 1e3:+.1f}\n"
            f"{'':<13} CPU per run (ms): the run's thread {one['task_cpu'] * 1e3:.1f} "
            f"(in-process {run['task_cpu'] * 1e3:.1f}), the worker's other threads "
            f"{one['others_cpu'] * 1e3:.1f}, the runner's process {one['runner_cpu'] * 1e3:.1f}:"
            f" {cpu_overhead * 100:+.1f}% of the run's CPU in-process"
        )
        table[engine] = row
        print(line)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "runs": args.runs,
                    "steps": args.steps,
                    "repeats": args.repeats,
                    "run_in_process_s": run_s,
                    "in_process": direct,
                    "load": [load_before, load_after],
                    "engines": table,
                    "times": times,
                },
                indent=2,
            )
        )
    return 0


def _dask(sweep: Sweep, workers: int, defaults: bool = False) -> dict:
    import dask
    import distributed

    from vgsim.experiments.sweeps.dask_workers import SWITCH, local_cluster

    if defaults:
        # Dask's own settings, and the sweep leaves them as they are.
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
        )
    else:
        cluster = local_cluster(workers)
    with cluster, distributed.Client(cluster) as client, dask.config.set({SWITCH: not defaults}):
        # Timed from the sweep's start: a cluster is there before a sweep uses it.
        return timed(sweep, workers, client)


if __name__ == "__main__":
    sys.exit(main())
