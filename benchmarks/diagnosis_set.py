#!/usr/bin/env python
"""The healthy/broken set the diagnosis thresholds are tuned on, and what it measures there.

    python benchmarks/diagnosis_set.py [--cache DIR] [--only NAME ...] [--seeds N] [--json PATH]

Trains every network of the set (each seed, its steps; live changes such as "lr 100 at step
1000" applied as the window would), keeps each run's telemetry in DIR (default
/tmp/vgsim-diagnosis-set; a cached run is not trained again), then diagnoses each run every
CHECK steps from its telemetry, exactly as `diagnose_telemetry` does for the window and for a
run folder. It prints, per network, the worst figure each rule compares with its threshold and
the kinds found, then the false alarms (any finding on a healthy network) and the misses (a
broken network whose expected kind is not found by its last step).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vgsim.engine import Trainer, read_network
from vgsim.engine.builders import mlp, residual_mlp
from vgsim.engine.compile import compile_network
from vgsim.engine.diagnose import (
    MEASURES,
    Telemetry,
    chance_loss,
    diagnose_telemetry,
    measure_telemetry,
    network_facts,
)
from vgsim.engine.schema import training_defaults
from vgsim.engine.spec import Network
from vgsim.engine.telemetry import Divergence

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
CHECK = 100  # diagnose every CHECK steps


@dataclass
class Case:
    name: str
    build: object  # () -> Network
    steps: int = 2000
    expect: tuple[str, ...] = ()  # () = healthy: no finding at any check
    live: dict = field(default_factory=dict)  # step -> set_live kwargs
    seeds: int = 3
    # A broken network's expected kind must be found at its last step; `from_step` also asks
    # for it at every check from that step on.
    from_step: int | None = None


def sgd(lr: float, **more) -> dict:
    return {"optimizer": "sgd", "lr": lr, **more}


def shipped(path: str):
    return lambda: read_network(RESOURCES / path)


def _with_lr(path: str, lr: float):
    def build() -> Network:
        net = read_network(RESOURCES / path)
        net.training["lr"] = lr
        return net

    return build


def _bias(net: Network, value: float) -> Network:
    for node in net.nodes:
        if node.type == "dense" and node.id != "head":
            node.params["bias_init"] = value
    return net


FIXES = [
    p.relative_to(RESOURCES).as_posix()
    for p in sorted((RESOURCES / "lessons" / "fixes").glob("*.json"))
    if p.name != "02-exploding-clipping.json"  # clipping treats it; its raw gradients are huge
]
SINE = {"name": "sine"}

HEALTHY = [
    Case("relu_he8", lambda: mlp(8, 32, 3, training=sgd(0.05)), seeds=5),
    Case(
        "tanh_xavier6",
        lambda: mlp(6, 32, 3, activation="tanh", init="xavier_uniform", training=sgd(0.05)),
        seeds=5,
    ),
    Case("residual4", lambda: residual_mlp(4, 32, 3, training=sgd(0.05)), seeds=5),
    Case("adam_relu6", lambda: mlp(6, 32, 3, training={"optimizer": "adam", "lr": 0.003})),
    Case(
        "momentum_tanh6",
        lambda: mlp(
            6,
            32,
            3,
            activation="tanh",
            init="xavier_uniform",
            training={"optimizer": "momentum", "lr": 0.02, "momentum": 0.9},
        ),
    ),
    Case(
        "sigmoid_bn8",
        lambda: mlp(
            8, 32, 3, activation="sigmoid", init="standard", batchnorm=True, training=sgd(0.5)
        ),
    ),
    Case(
        "sine_tanh3",
        lambda: mlp(
            3,
            32,
            1,
            activation="tanh",
            init="xavier_uniform",
            loss="mse",
            data=SINE,
            training=sgd(0.05),
        ),
    ),
    Case(
        "sine_relu4_adam",
        lambda: mlp(4, 32, 1, loss="mse", data=SINE, training={"optimizer": "adam", "lr": 0.003}),
    ),
    Case("moons_relu4", lambda: mlp(4, 16, 2, data={"name": "moons"}, training=sgd(0.05))),
    Case(
        "circles_tanh3",
        lambda: mlp(
            3,
            16,
            2,
            activation="tanh",
            init="xavier_uniform",
            data={"name": "circles"},
            training=sgd(0.1),
        ),
    ),
    Case("xor_relu3", lambda: mlp(3, 16, 2, data={"name": "xor"}, training=sgd(0.05))),
    Case(
        "blobs_relu3",
        lambda: mlp(3, 16, 4, data={"name": "blobs", "classes": 4}, training=sgd(0.05)),
    ),
    Case(
        "moons_bce",
        lambda: mlp(
            3, 16, 1, data={"name": "moons"}, loss="binary_cross_entropy", training=sgd(0.1)
        ),
    ),
    Case(
        "digits_relu3_adam",
        lambda: mlp(
            3, 64, 10, data={"name": "digits"}, training={"optimizer": "adam", "lr": 0.001}
        ),
        steps=1000,
    ),
    Case("example_relu_he", shipped("examples/relu-he.json")),
    Case("example_residual", shipped("examples/residual.json")),
    *[
        Case(
            "fix_" + Path(p).stem,
            shipped(p),
            steps=int(json.loads((RESOURCES / p).read_text())["training"].get("steps", 2000)),
            seeds=1 if "11-" in p else 3,
        )
        for p in FIXES
    ],
]

BROKEN = [
    Case(
        "deep_sigmoid",
        lambda: mlp(8, 32, 3, activation="sigmoid", init="standard", training=sgd(0.5)),
        expect=("vanishing", "not_learning"),
    ),
    Case(
        "big_init",
        lambda: mlp(10, 32, 3, init={"name": "normal", "std": 3.0}, training=sgd(0.1)),
        steps=100,
        expect=("diverged",),
    ),
    Case(
        "big_init_clip",
        lambda: mlp(
            10,
            32,
            3,
            init={"name": "normal", "std": 3.0},
            training=sgd(0.1, clip={"mode": "norm", "threshold": 1.0}),
        ),
        steps=300,
        expect=("exploding",),
    ),
    Case(
        "dead_relu", lambda: _bias(mlp(8, 32, 3, training=sgd(0.05)), -3.0), expect=("dying_relu",)
    ),
    Case(
        "saturated_tanh",
        lambda: mlp(
            6, 32, 3, activation="tanh", init={"name": "normal", "std": 1.0}, training=sgd(0.05)
        ),
        steps=600,
        expect=("saturated",),
    ),
    # Issue 12, case 6: ten sigmoid layers with skips, the loss stuck at ln 3.
    Case(
        "case6_residual_sigmoid",
        lambda: residual_mlp(4, 32, 3, activation="sigmoid", init="standard", training=sgd(0.5)),
        expect=("not_learning",),
    ),
    # Issue 12, case 7: a sigmoid network whose learning rate is raised to 100.
    Case(
        "case7_sigmoid_lr100",
        _with_lr("examples/deep-sigmoid.json", 100.0),
        expect=("lr_too_high",),
        steps=1000,
    ),
    Case(
        "case7_sigmoid_lr100_at1000",
        shipped("examples/deep-sigmoid.json"),
        live={1000: {"lr": 100.0}},
        expect=("lr_too_high",),
        from_step=1100,
    ),
    # Learning rates too high: a ReLU network diverges, an Adam one loses its units, tanh
    # networks saturate and stall or bounce far above the chance level, a regression diverges.
    Case(
        "relu_he_lr5_at1000",
        shipped("examples/relu-he.json"),
        live={1000: {"lr": 5.0}},
        expect=("diverged",),
        steps=1500,
    ),
    Case(
        "adam_relu6_lr0.3",
        lambda: mlp(6, 32, 3, training={"optimizer": "adam", "lr": 0.3}),
        expect=("dying_relu",),
        steps=1000,
    ),
    Case(
        "tanh_lr5",
        lambda: mlp(6, 32, 3, activation="tanh", init="xavier_uniform", training=sgd(5.0)),
        expect=("lr_too_high",),
        steps=1000,
    ),
    Case(
        "tanh_xavier6_lr2_at1000",
        lambda: mlp(6, 32, 3, activation="tanh", init="xavier_uniform", training=sgd(0.05)),
        live={1000: {"lr": 2.0}},
        expect=("lr_too_high",),
        from_step=1100,
    ),
    Case(
        "adam_tanh6_lr0.1",
        lambda: mlp(
            6,
            32,
            3,
            activation="tanh",
            init="xavier_uniform",
            training={"optimizer": "adam", "lr": 0.1},
        ),
        expect=("saturated", "not_learning"),
        steps=1000,
    ),
    Case(
        "sine_tanh3_lr3",
        lambda: mlp(
            3,
            32,
            1,
            activation="tanh",
            init="xavier_uniform",
            loss="mse",
            data=SINE,
            training=sgd(3.0),
        ),
        expect=("diverged",),
        steps=1000,
    ),
    Case("relu_he8_lr1e-6", lambda: mlp(8, 32, 3, training=sgd(1e-6)), expect=("not_learning",)),
    Case(
        "sine_tanh3_lr1e-6",
        lambda: mlp(
            3,
            32,
            1,
            activation="tanh",
            init="xavier_uniform",
            loss="mse",
            data=SINE,
            training=sgd(1e-6),
        ),
        expect=("not_learning",),
    ),
    Case(
        "lesson01",
        shipped("lessons/01-vanishing-gradients.json"),
        expect=("vanishing", "not_learning"),
    ),
    Case(
        "lesson02", shipped("lessons/02-exploding-gradients.json"), steps=200, expect=("diverged",)
    ),
    Case("lesson03", shipped("lessons/03-xavier-initialisation.json"), expect=("saturated",)),
    Case("lesson05", shipped("lessons/05-dying-relu.json"), expect=("dying_relu",)),
    Case("lesson14", shipped("lessons/14-dropout.json"), expect=("overfitting",)),
]
CASES = {c.name: c for c in HEALTHY + BROKEN}


# --- recording ------------------------------------------------------------------------------
def record(case: Case, seed: int, cache: Path) -> Path:
    path = cache / f"{case.name}-s{seed}.npz"
    if path.is_file():
        return path
    net = case.build()
    net.training["seed"] = seed
    net.training["history"] = max(case.steps + 16, 2048)
    t = Trainer(net)
    started = time.perf_counter()
    marks = sorted(case.live) + [case.steps]
    for mark in marks:
        while t.step_count < mark and t.divergence is None:
            t.run_block(mark - t.step_count)
        if mark in case.live:
            t.set_live(**case.live[mark])
    steps, scalars, stats = t.history.recent()
    d = t.divergence
    np.savez_compressed(
        path,
        steps=steps,
        scalars=scalars,
        stats=stats,
        divergence=json.dumps(None if d is None else [d.step, d.node, d.quantity]),
        network=net.to_json(),
        base_dir=str(net.base_dir or ""),
        features=t.data.n_features,
        y_train=t.data.y_train,
        live=json.dumps({str(k): v for k, v in case.live.items()}),
        seconds=time.perf_counter() - started,
    )
    return path


def load(path: Path):
    with np.load(path, allow_pickle=False) as z:
        d = json.loads(str(z["divergence"]))
        base = str(z["base_dir"])
        net = Network.from_json(str(z["network"]), Path(base) if base else None)
        return {
            "steps": z["steps"],
            "scalars": z["scalars"],
            "stats": z["stats"],
            "divergence": None if d is None else Divergence(int(d[0]), d[1], d[2]),
            "network": net,
            "features": int(z["features"]),
            "y_train": z["y_train"],
            "live": {int(k): v for k, v in json.loads(str(z["live"])).items()},
        }


# --- diagnosing ----------------------------------------------------------------------------
def checks(run: dict, case: Case):
    """(step count, facts, telemetry) every CHECK steps of a recorded run, and at its end."""
    net, d = run["network"], run["divergence"]
    y = run["y_train"]
    classes = int(y.max()) + 1 if y.dtype.kind == "i" else 0
    plan = compile_network(net, run["features"])
    chance = chance_loss(plan.loss, y, classes, plan.width_out[plan.out_idx])
    steps = run["steps"]
    last = int(steps[-1]) + 1 if len(steps) else 0
    marks = sorted({*range(CHECK, last + 1, CHECK), last})
    for mark in marks:
        settings = training_defaults(net.training)
        for at, change in sorted(run["live"].items()):
            if at < mark:
                settings.update(change)
        facts = network_facts(net, run["features"], chance, classes, settings, plan)
        keep = steps < mark
        div = d if d is not None and d.step < mark else None
        tel = Telemetry.of(steps[keep], run["scalars"][keep], run["stats"][keep], div)
        yield mark, facts, tel


def report(cases: list[Case], args: argparse.Namespace) -> int:
    rows = []
    alarms, misses = [], []
    for case in cases:
        healthy = not case.expect
        worst: dict[str, list[float]] = {k: [] for k in MEASURES}
        found: dict[str, set[int]] = {}
        for seed in range(min(case.seeds, args.seeds or case.seeds)):
            run = load(args.cache / f"{case.name}-s{seed}.npz")
            end_kinds: set[str] = set()
            for mark, facts, tel in checks(run, case):
                findings = diagnose_telemetry(facts, tel)
                kinds = {f.kind for f in findings}
                for f in findings:
                    found.setdefault(f.kind, set()).add(seed)
                m = measure_telemetry(facts, tel)
                for k, v in m.items():
                    worst[k].append(v)
                if healthy and findings:
                    alarms.append((case.name, seed, mark, sorted(kinds), findings[0].evidence))
                if case.from_step is not None and mark >= case.from_step:
                    missing = set(case.expect[:1]) - kinds
                    if missing:
                        misses.append((case.name, seed, mark, sorted(missing)))
                end_kinds = kinds
            missing = set(case.expect) - end_kinds
            if missing:
                misses.append((case.name, seed, "end", sorted(missing)))
        summary = {}
        for k, vals in worst.items():
            v = np.array(vals, float)
            v = v[np.isfinite(v)]
            if v.size:
                summary[k] = (float(v.min()), float(v.max()))
        rows.append(
            {
                "name": case.name,
                "healthy": healthy,
                "expect": list(case.expect),
                "found": {k: sorted(v) for k, v in found.items()},
                "range": summary,
            }
        )
    for r in rows:
        figures = "  ".join(f"{k} {lo:.3g}..{hi:.3g}" for k, (lo, hi) in r["range"].items())
        print(
            f"{'healthy' if r['healthy'] else 'broken '} {r['name']:<34} "
            f"found {r['found']}\n        {figures}"
        )
    print(f"\nfalse alarms: {len(alarms)}")
    for a in alarms:
        print("  ", *a)
    print(f"misses: {len(misses)}")
    for m in misses:
        print("  ", *m)
    if args.json:
        args.json.write_text(
            json.dumps({"rows": rows, "alarms": alarms, "misses": misses}, indent=1, default=str)
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/vgsim-diagnosis-set"))
    parser.add_argument("--only", nargs="*", help="network names (default: all)")
    parser.add_argument("--seeds", type=int, help="at most this many seeds per network")
    parser.add_argument("--record-only", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the table as JSON")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    cases = [CASES[n] for n in args.only] if args.only else list(CASES.values())
    for case in cases:
        for seed in range(min(case.seeds, args.seeds or case.seeds)):
            started = time.perf_counter()
            record(case, seed, args.cache)
            print(
                f"recorded {case.name} seed {seed} ({time.perf_counter() - started:.1f} s)",
                flush=True,
            )
    if args.record_only:
        return 0
    return report(cases, args)


if __name__ == "__main__":
    sys.exit(main())
