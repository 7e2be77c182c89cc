#!/usr/bin/env python
"""Time a fresh process that imports vgsim.engine, builds a Trainer and runs 10 steps.

    python benchmarks/bench_startup.py [--quick] [--repeats N] [--cold-repeats N] [--json PATH]

  warm  the package in this tree, whose Numba on-disk cache (in __pycache__ next to the
        kernel sources) is filled first by one untimed run; median of --repeats runs.
  cold  a copy of vgsim/ and resources/ in a fresh temporary folder (no __pycache__, so every
        kernel is compiled), run with PYTHONPATH pointing at the copy; median of
        --cold-repeats runs, each on a new copy.
  cold copy, 2nd run   the same copy run once more: shows the cache the cold run wrote works.

The network is a tiny one like the examples (spiral data, two hidden dense layers of 16 ReLU
units, Adam, batch 32) with the default training settings, so the 10 steps include one full
train/test evaluation (eval_every = 10, at step 0) and its kernel is loaded/compiled too.
Wall time is measured around the whole subprocess (interpreter start-up included).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_WARM_S = 3.0
TARGET_COLD_S = 15.0

NET = {
    "format": "vgsim.network/1",
    "name": "startup-tiny",
    "data": {"name": "spiral", "classes": 3, "samples": 600},
    "nodes": [
        {"id": "in", "type": "input"},
        {"id": "d1", "type": "dense", "units": 16, "init": "he_normal"},
        {"id": "a1", "type": "activation", "function": "relu"},
        {"id": "d2", "type": "dense", "units": 16, "init": "he_normal"},
        {"id": "a2", "type": "activation", "function": "relu"},
        {"id": "d3", "type": "dense", "units": 3},
        {"id": "out", "type": "output", "loss": "softmax_cross_entropy"},
    ],
    "edges": [
        {"from": a, "to": b}
        for a, b in (
            ("in", "d1"),
            ("d1", "a1"),
            ("a1", "d2"),
            ("d2", "a2"),
            ("a2", "d3"),
            ("d3", "out"),
        )
    ],
    "training": {"optimizer": "adam", "lr": 0.01, "batch_size": 32},
}

SNIPPET_BODY = """\
import json, time
t0 = time.perf_counter()
import vgsim.engine as E
t1 = time.perf_counter()
tr = E.Trainer(E.Network.from_dict(json.loads(NET_JSON)))
t2 = time.perf_counter()
recs = list(tr.run(10))
t3 = time.perf_counter()
print(json.dumps({"file": E.__file__, "import_s": t1 - t0, "build_s": t2 - t1,
                  "steps_s": t3 - t2, "steps": len(recs), "loss": recs[-1].loss}))
"""
SNIPPET = f"NET_JSON = {json.dumps(NET)!r}\n" + SNIPPET_BODY


def run_once(pythonpath: Path, env_extra: dict | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    env.update(env_extra or {})
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", SNIPPET],
        cwd=tempfile.gettempdir(),
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"the subprocess failed:\n{proc.stderr}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    where = Path(out["file"]).resolve()
    if not where.is_relative_to(pythonpath.resolve()):
        raise RuntimeError(f"imported vgsim from {where}, not from {pythonpath}")
    if out["steps"] != 10:
        raise RuntimeError(f"ran {out['steps']} steps, not 10 (diverged?)")
    out["wall_s"] = wall
    return out


def run_cli(pythonpath: Path, net_file: Path, env_extra: dict | None = None) -> float:
    """Wall seconds of `vgsim run NET --steps 10` (the command line, as users run it)."""
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    env.update(env_extra or {})
    with tempfile.TemporaryDirectory(prefix="vgsim-run-") as out:
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "vgsim.cli",
                "run",
                str(net_file),
                "--steps",
                "10",
                "--out",
                out,
            ],
            cwd=tempfile.gettempdir(),
            env=env,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - t0


def warm_everything(pythonpath: Path, env_extra: dict | None = None) -> float:
    """Wall seconds of `python -m vgsim.engine.warm float32`: every kernel path, micro-steps
    included, as a window compiles them on its first start."""
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    env.update(env_extra or {})
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "vgsim.engine.warm", "float32"],
        cwd=tempfile.gettempdir(),
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - t0


def fresh_copy(dest: Path) -> None:
    """vgsim/ and resources/ side by side (data files are found relative to the package),
    without any __pycache__, so Numba's on-disk cache starts empty."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
    shutil.copytree(ROOT / "vgsim", dest / "vgsim", ignore=ignore)
    shutil.copytree(ROOT / "resources", dest / "resources", ignore=ignore)


def summary(runs: list[dict]) -> dict:
    keys = ("wall_s", "import_s", "build_s", "steps_s")
    out = {k: statistics.median(r[k] for r in runs) for k in keys}
    out["min_wall_s"] = min(r["wall_s"] for r in runs)
    out["max_wall_s"] = max(r["wall_s"] for r in runs)
    out["runs"] = len(runs)
    out["walls_s"] = [r["wall_s"] for r in runs]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 warm runs (default 5)")
    ap.add_argument("--repeats", type=int, help="warm runs (default 5, quick 3)")
    ap.add_argument("--cold-repeats", type=int, default=1, help="cold runs (default 1)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = ap.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)

    import numba
    import numpy

    print(
        "vgsim start-up benchmark: fresh `python -c` process: import vgsim.engine, build a "
        "Trainer for a tiny net (2x16 ReLU, Adam, spiral), run 10 steps (incl. one "
        "evaluation)"
    )
    print(
        f"python {sys.version.split()[0]}  numpy {numpy.__version__}  numba {numba.__version__}"
        f"  {os.cpu_count()} CPUs; wall time around the whole subprocess"
    )
    if hasattr(os, "getloadavg"):
        print(
            "load average: "
            + " ".join(f"{x:.2f}" for x in os.getloadavg())
            + " (other processes compete for the CPUs when it is above ~1)"
        )
    env_note = {
        k: os.environ[k] for k in ("NUMBA_CACHE_DIR", "NUMBA_DISABLE_JIT") if k in os.environ
    }
    if env_note:
        print(f"note: numba environment {env_note}")

    results: dict = {}
    run_once(ROOT)  # fills the cache in this tree if anything was stale
    warm = [run_once(ROOT) for _ in range(repeats)]
    results["warm"] = summary(warm)
    # NUMBA_CACHE_DIR would move the cache elsewhere; keep it next to each copy.
    env_extra = {"NUMBA_CACHE_DIR": ""} if "NUMBA_CACHE_DIR" in os.environ else None
    with tempfile.TemporaryDirectory(prefix="vgsim-net-") as tmp:
        net_file = Path(tmp) / "startup-tiny.json"
        net_file.write_text(json.dumps(NET), encoding="utf-8")
        run_cli(ROOT, net_file)
        cli_warm = [run_cli(ROOT, net_file) for _ in range(repeats)]
        cold, second, cli_cold, everything = [], [], [], []
        for _ in range(args.cold_repeats):
            for runs, how in ((cold, "api"), (cli_cold, "cli"), (everything, "all")):
                with tempfile.TemporaryDirectory(prefix="vgsim-cold-") as copy:
                    fresh_copy(Path(copy))
                    if how == "api":
                        runs.append(run_once(Path(copy), env_extra))
                        second.append(run_once(Path(copy), env_extra))
                    elif how == "cli":
                        runs.append(run_cli(Path(copy), net_file, env_extra))
                    else:
                        runs.append(warm_everything(Path(copy), env_extra))
    results["cold"] = summary(cold)
    results["cold_copy_second_run"] = summary(second)
    results["cli"] = {
        "warm_s": statistics.median(cli_warm),
        "warm_runs_s": cli_warm,
        "cold_s": statistics.median(cli_cold),
        "cold_runs_s": cli_cold,
        "every_kernel_cold_s": statistics.median(everything),
        "every_kernel_cold_runs_s": everything,
    }

    print()
    head = (
        f"{'case':<22}{'runs':>5}{'wall median s':>15}{'min..max s':>14}{'import s':>10}"
        f"{'Trainer s':>11}{'10 steps s':>12}{'target':>9}  result"
    )
    print(head)
    print("-" * len(head))
    for key, label, target in (
        ("warm", "warm cache", TARGET_WARM_S),
        ("cold", "cold compile", TARGET_COLD_S),
        ("cold_copy_second_run", "cold copy, 2nd run", None),
    ):
        s = results[key]
        s["target_s"] = target
        s["result"] = "-" if target is None else ("PASS" if s["wall_s"] < target else "MISS")
        rng = f"{s['min_wall_s']:.2f}..{s['max_wall_s']:.2f}"
        tgt = f"< {target:g}" if target is not None else "-"
        print(
            f"{label:<22}{s['runs']:>5}{s['wall_s']:>15.2f}{rng:>14}{s['import_s']:>10.2f}"
            f"{s['build_s']:>11.2f}{s['steps_s']:>12.2f}{tgt:>9}  {s['result']}"
        )
    print()
    print(
        "import/Trainer/10-steps columns are medians measured inside the subprocess; the rest "
        "of the wall time is interpreter start-up and exit."
    )
    c = results["cli"]
    print()
    print(
        "`vgsim run NET --steps 10` (the command line; a cold cache compiles the backward pass "
        "in a second process meanwhile):"
    )
    for label, value, target in (
        ("warm cache", c["warm_s"], TARGET_WARM_S),
        ("cold compile", c["cold_s"], TARGET_COLD_S),
        ("every kernel, cold (warm module)", c["every_kernel_cold_s"], None),
    ):
        verdict = "-" if target is None else ("PASS" if value < target else "MISS")
        tgt = f"< {target:g}" if target is not None else "-"
        print(f"  {label:<34}{value:>8.2f} s  {tgt:>6}  {verdict}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"JSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
