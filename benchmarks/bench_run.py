"""End to end: a whole `vgsim run` process per step against PyTorch's bare step, and what the
run's evaluation and metrics.csv cost.

    python benchmarks/bench_run.py [--steps 1000] [--rounds 3] [--torch-threads N] [--json PATH]

Networks (issue 13): DEPTH dense layers of WIDTH units with tanh (xavier_uniform), a dense head
to 2 classes, softmax cross-entropy, SGD lr 0.01, float32, on a 4,096-sample CSV (8 features):
50x64 with batch 64 and 100x32 with batch 32, default settings otherwise.

Rows, interleaved round by round (medians over rounds):
- `vgsim run`: the wall time of `python -m vgsim.cli run NET --steps N --quiet` (start-up,
  CSV load, kernel cache load, training, evaluations, metrics.csv, snapshot, summary) / N.
- `torch`: PyTorch CPU eager's bare step on the same MLP and batches of the same data
  (`zero_grad`, forward, `CrossEntropyLoss`, `backward`, `SGD.step`), per step.
- evaluation share: in one process, the time inside `Trainer.evaluate` during `run_network`
  over that run's wall time (default settings: see docs/api.md, "Evaluation"); that run's
  time per step is the in-process column (everything but the process's start-up).
- metrics share: on the 100-layer network, the time `MetricsFile.add` + `flush` take per row
  over the time `Trainer.run_block` takes per step, for the same blocks.

Targets: vgsim run / torch <= 0.5 (50x64x64) and <= 0.25 (100x32x32); evaluation <= 10% of a
run; metrics.csv <= 15% of a step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIGS = ((50, 64, 64, 0.5), (100, 32, 32, 0.25))  # depth, width, batch, target ratio
SAMPLES, FEATURES, LR = 4096, 8, 0.01
EVAL_TARGET, METRICS_TARGET = 0.10, 0.15


def write_inputs(folder: Path) -> dict[tuple[int, int, int], Path]:
    from vgsim.engine.builders import mlp
    from vgsim.engine.spec import save_network

    rng = np.random.default_rng(0)
    X = rng.normal(size=(SAMPLES, FEATURES))
    y = (X[:, 0] + 0.5 * X[:, 1] - X[:, 2] > 0).astype(int)
    header = ",".join([f"x{i}" for i in range(FEATURES)] + ["label"])
    np.savetxt(folder / "data.csv", np.column_stack([X, y]), delimiter=",", fmt="%.6g",
               header=header, comments="")  # fmt: skip
    files = {}
    for depth, width, batch, _ in CONFIGS:
        net = mlp(
            depth,
            width,
            2,
            activation="tanh",
            init="xavier_uniform",
            data={"name": "csv", "path": "data.csv", "target": "label"},
            training={"optimizer": "sgd", "lr": LR, "batch_size": batch, "dtype": "float32"},
            name=f"bench-{depth}x{width}x{batch}",
        )
        files[(depth, width, batch)] = folder / f"net-{depth}x{width}x{batch}.json"
        save_network(net, files[(depth, width, batch)])
    return files


def time_vgsim_run(net: Path, steps: int, out: Path) -> float:
    """Seconds per step of a whole `vgsim run` process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "vgsim.cli", "run", str(net), "--steps", str(steps)]
    started = time.perf_counter()
    subprocess.run([*cmd, "--out", str(out), "--quiet"], check=True, env=env)
    return (time.perf_counter() - started) / steps


class TorchStep:
    """The bare PyTorch step of the same MLP on batches of the same (standardised) data."""

    def __init__(self, net_file: Path, threads: int | None):
        import torch
        from torch import nn

        from vgsim.engine.train import Trainer
        from vgsim.engine.validate import load_network

        if threads:
            torch.set_num_threads(threads)
        trainer = Trainer(load_network(net_file))
        self.torch = torch
        self.X = torch.from_numpy(np.ascontiguousarray(trainer.X_train, np.float32))
        self.y = torch.from_numpy(np.ascontiguousarray(trainer.lab_train, np.int64))
        layers: list = []
        dense = [s for s in trainer.plan.params if s.name == "W"]
        for i, slot in enumerate(dense):
            layers.append(nn.Linear(*slot.shape))
            if i < len(dense) - 1:
                layers.append(nn.Tanh())
        self.model = nn.Sequential(*layers)
        self.loss = nn.CrossEntropyLoss()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR)
        self.batch = trainer.batch_size
        self.rng = np.random.default_rng(5)

    def per_step(self, steps: int) -> float:
        torch = self.torch
        batches = [
            torch.from_numpy(self.rng.integers(0, len(self.X), self.batch)) for _ in range(steps)
        ]
        started = time.perf_counter()
        for idx in batches:
            self.opt.zero_grad(set_to_none=True)
            self.loss(self.model(self.X[idx]), self.y[idx]).backward()
            self.opt.step()
        return (time.perf_counter() - started) / steps


def evaluation_share(net_file: Path, steps: int, out: Path) -> tuple[float, dict, float]:
    """Time inside Trainer.evaluate over the run's wall time, what was evaluated, and the
    run's seconds per step in this process (everything but start-up)."""
    from vgsim.engine.train import Trainer
    from vgsim.engine.validate import load_network
    from vgsim.experiments.runs import run_network

    spent = [0.0]
    original = Trainer.evaluate

    def timed(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - started

    Trainer.evaluate = timed
    try:
        started = time.perf_counter()
        summary = run_network(load_network(net_file), steps, out)
        wall = time.perf_counter() - started
    finally:
        Trainer.evaluate = original
    return spent[0] / wall, summary["evaluation"], wall / steps


def metrics_share(net_file: Path, blocks: int, out: Path) -> float:
    """metrics.csv's time per row over the step's time, on the same blocks."""
    from vgsim.engine.files import MetricsFile
    from vgsim.engine.train import Trainer
    from vgsim.engine.validate import load_network

    trainer = Trainer(load_network(net_file))
    warm = MetricsFile(out / "warm.csv", trainer.node_ids)  # the writer's kernel, loaded once
    block = trainer.run_block(8)
    warm.add(block.scalars, block.node_stats)
    warm.close()
    metrics = MetricsFile(out / "metrics.csv", trainer.node_ids)
    stepping = writing = 0.0
    rows = 0
    for _ in range(blocks):
        started = time.perf_counter()
        block = trainer.run_block(256)
        stepping += time.perf_counter() - started
        started = time.perf_counter()
        metrics.add(block.scalars, block.node_stats)
        metrics.flush()
        writing += time.perf_counter() - started
        rows += len(block.steps)
    metrics.close()
    return (writing / rows) / (stepping / rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--torch-threads", type=int, default=None)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    results: dict = {"steps": args.steps, "configs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = write_inputs(folder)
        torches = {key: TorchStep(path, args.torch_threads) for key, path in files.items()}
        for key, path in files.items():  # warm: kernel caches, torch's first calls
            time_vgsim_run(path, 20, folder / "warm")
            torches[key].per_step(50)
        runs: dict = {key: [] for key in files}
        torch_times: dict = {key: [] for key in files}
        for r in range(args.rounds):
            for key, path in files.items():
                order = [0, 1] if r % 2 == 0 else [1, 0]
                for which in order:
                    if which == 0:
                        runs[key].append(time_vgsim_run(path, args.steps, folder / "out"))
                    else:
                        torch_times[key].append(torches[key].per_step(min(args.steps, 500)))
        for depth, width, batch, target in CONFIGS:
            key = (depth, width, batch)
            vg, tt = statistics.median(runs[key]), statistics.median(torch_times[key])
            share, evaluated, inside = evaluation_share(files[key], args.steps, folder / "eval")
            results["configs"][f"{depth}x{width}x{batch}"] = {
                "vgsim_run_ms_per_step": vg * 1e3,
                "torch_ms_per_step": tt * 1e3,
                "ratio": vg / tt,
                "in_process_ms_per_step": inside * 1e3,
                "in_process_ratio": inside / tt,
                "target": target,
                "evaluation_share": share,
                "evaluation": evaluated,
            }
        results["metrics_share_100_layers"] = metrics_share(files[(100, 32, 32)], 6, folder)
    print(f"load average at end: {os.getloadavg()}")
    print(f"{'config':<10} {'run ms/step':>11} {'torch ms':>9} {'ratio':>6} {'target':>6}"
          f" {'eval share':>10}   {'in-process ms/step (ratio)':>27}")  # fmt: skip
    for name, c in results["configs"].items():
        ok = "PASS" if c["ratio"] <= c["target"] else "MISS"
        ev_ok = "PASS" if c["evaluation_share"] <= EVAL_TARGET else "MISS"
        print(
            f"{name:<10} {c['vgsim_run_ms_per_step']:>11.3f} {c['torch_ms_per_step']:>9.3f}"
            f" {c['ratio']:>6.2f} {c['target']:>6.2f} {ok}  {c['evaluation_share']:>7.1%} {ev_ok}"
            f"  {c['in_process_ms_per_step']:>8.3f} ({c['in_process_ratio']:.2f})"
            f"  (evaluated every {c['evaluation']['every']} steps,"
            f" {c['evaluation']['train_rows']} + {c['evaluation']['test_rows']} rows)"
        )
    m = results["metrics_share_100_layers"]
    verdict = "PASS" if m <= METRICS_TARGET else "MISS"
    print(f"metrics.csv per row / step, 100 layers: {m:.1%} {verdict}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
