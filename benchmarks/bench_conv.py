#!/usr/bin/env python
"""Time one training step of a convolutional network: vgsim's Trainer.step() against PyTorch.

    python benchmarks/bench_conv.py [--quick] [--configs 8x16 4x8 ...] [--batch 64]
                                    [--threads N] [--json PATH]

Each configuration DEPTHxFILTERS is DEPTH convolutions of FILTERS filters, 3 × 3, "same"
padding, each followed by ReLU (he_normal), then flatten, a dense layer to the 10 classes and
softmax cross-entropy; float32, SGD lr 0.01, on the digits as 8 × 8 × 1 images, batch 64. Both
start from the same weights (copied from the vgsim Trainer) and draw a fresh random mini-batch
every step.

Rows, timed interleaved in round-robin blocks (bench_step.py's machinery):

  vgsim       Trainer.step() with its full per-layer telemetry (the figure the targets use);
              eval_every is 10**9, so no whole-set evaluation runs inside the timed steps.
  vgsim-bare  the same step with `trainer.telemetry = False`: telemetry's share of a step.
  torch       PyTorch CPU eager: nn.Sequential(Conv2d(padding=1), ReLU, ..., Flatten, Linear),
              CrossEntropyLoss, torch.optim.SGD, zero_grad(set_to_none=True).

Targets are for median(vgsim) / median(torch) of wall time. The last column, CPU vg/torch,
is the same ratio of the process's CPU time per step (medians over the timed blocks): on a
machine others load, a step's wall time also counts the time it waited for a core, which moves
both rows by more than a change to the kernels does; its CPU time moves far less. --threads N
pins BLAS/OpenMP/torch threads (default: each library's own default; vgsim's convolutions do
not call BLAS); the CPU column compares like with like only with --threads 1.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import numpy as np  # noqa: E402
from bench_args import Timing, add_timing_arguments, parse_timing, set_torch_threads  # noqa: E402
from bench_step import (  # noqa: E402
    Batcher,
    Series,
    VgsimBareImpl,
    VgsimImpl,
    cpu_capacity,
    environment,
    fmt_load,
    fmt_us,
    run_block,
    source_fingerprint,
    warm_up,
)

# (depth, filters) -> target for median(vgsim) / median(torch)
TARGETS: dict[tuple[int, int], float] = {(8, 16): 0.6, (4, 8): 0.3}
DATA = {"name": "digits", "shape": "image"}
LR = 0.01
TIMING = Timing(repeats=(30, 4), block=(0.15, 0.05), budget=(60.0, 5.0), warmup=(0.5, 0.2))
SEED = 0


def parse_config(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected DEPTHxFILTERS, e.g. 8x16, got {text!r}")
    return int(parts[0]), int(parts[1])


def network_dict(depth: int, filters: int, batch: int) -> dict:
    nodes: list[dict] = [{"id": "in", "type": "input"}]
    for i in range(1, depth + 1):
        nodes.append({"id": f"c{i}", "type": "conv2d", "filters": filters, "init": "he_normal"})
        nodes.append({"id": f"a{i}", "type": "activation", "function": "relu"})
    nodes += [
        {"id": "flat", "type": "flatten"},
        {"id": "logits", "type": "dense", "units": 10, "init": "he_normal"},
        {"id": "out", "type": "output"},
    ]
    edges = [{"from": a["id"], "to": b["id"]} for a, b in zip(nodes, nodes[1:], strict=False)]
    return {
        "format": "vgsim.network/1",
        "name": f"bench-conv-{depth}x{filters}",
        "data": dict(DATA),
        "nodes": nodes,
        "edges": edges,
        "training": {
            "optimizer": "sgd",
            "lr": LR,
            "batch_size": batch,
            "dtype": "float32",
            "seed": SEED,
            "eval_every": 10**9,
        },
    }


class TorchConvImpl:
    """The same network in PyTorch (NCHW), from the vgsim trainer's weights. The flatten reads
    the image in vgsim's order (height, width, channels), so the dense weights match too."""

    name = "torch"

    def __init__(self, trainer, batch: int):
        import torch

        self.torch = torch
        state = trainer.state_arrays()
        layers: list = []
        for node, kind in zip(trainer.plan.order, trainer.plan.types, strict=True):
            if kind == "conv2d":
                W = state[f"param/{node}/W"]
                conv = torch.nn.Conv2d(W.shape[2], W.shape[3], W.shape[0], padding=1)
                with torch.no_grad():
                    conv.weight.copy_(torch.from_numpy(W.transpose(3, 2, 0, 1).copy()))
                    conv.bias.copy_(torch.from_numpy(state[f"param/{node}/b"]))
                layers += [conv, torch.nn.ReLU()]
            elif kind == "dense":
                W = state[f"param/{node}/W"]
                lin = torch.nn.Linear(*W.shape)
                with torch.no_grad():
                    lin.weight.copy_(torch.from_numpy(W.T.copy()))
                    lin.bias.copy_(torch.from_numpy(state[f"param/{node}/b"]))
                layers += [_NHWCFlatten(torch), lin]
        self.model = torch.nn.Sequential(*layers)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR)
        images = trainer.X_train.reshape(-1, *trainer.data.input_shape).transpose(0, 3, 1, 2)
        self.X = torch.from_numpy(np.ascontiguousarray(images, np.float32))
        self.y = torch.from_numpy(trainer.lab_train.astype(np.int64))
        self.batcher = Batcher(len(self.y), batch, SEED + 1)
        self.first = [p.detach().clone() for p in self.model.parameters()]

    def step(self):
        idx = self.torch.from_numpy(self.batcher.next())
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(self.X[idx]), self.y[idx])
        loss.backward()
        self.opt.step()
        return loss

    def ok(self, loss) -> bool:
        return bool(self.torch.isfinite(loss))

    def recover(self) -> None:
        with self.torch.no_grad():
            for p, p0 in zip(self.model.parameters(), self.first, strict=True):
                p.copy_(p0)

    def gradients(self, idx: np.ndarray) -> tuple[float, np.ndarray]:
        """Loss and the first convolution's weight gradient (vgsim's layout) on rows idx."""
        t = self.torch.from_numpy(idx)
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(self.X[t]), self.y[t])
        loss.backward()
        g = self.model[0].weight.grad.numpy().transpose(2, 3, 1, 0)
        self.opt.zero_grad(set_to_none=True)
        return float(loss.detach()), g


def _NHWCFlatten(torch):
    class NHWCFlatten(torch.nn.Module):
        def forward(self, x):
            return x.permute(0, 2, 3, 1).flatten(1)

    return NHWCFlatten()


def agreement(trainer, torch_impl: TorchConvImpl) -> dict[str, float]:
    """The same loss and first-layer gradient on one batch, before anything trains."""
    idx = np.arange(trainer.batch_size, dtype=np.int64)
    state = trainer.forward_backward(idx)
    loss, g = torch_impl.gradients(idx)
    ours = state["grad/c1/W"]
    err = float(np.abs(ours - g).max() / max(np.abs(g).max(), 1e-12))
    return {"loss_vgsim": float(state["loss"]), "loss_torch": loss, "grad_rel_err": err}


def bench_config(cfg: tuple[int, int], args, torch_ok: bool) -> dict:
    depth, filters = cfg
    net_d = network_dict(depth, filters, args.batch)
    vg = VgsimImpl(net_d)
    impls: list = [vg, VgsimBareImpl(net_d)]
    check: dict = {}
    if torch_ok:
        torch_impl = TorchConvImpl(vg.trainer, args.batch)
        check = agreement(vg.trainer, torch_impl)
        impls.append(torch_impl)
    series: dict[str, Series] = {}
    for impl in impls:
        t_step = warm_up(impl, args.warmup)
        series[impl.name] = Series(block=max(2, min(100_000, round(args.block / t_step))))
    for impl in impls:
        impl.recover()
    gc.collect()
    cap_ns = 4 * args.block * 1e9
    cpu: dict[str, list[float]] = {impl.name: [] for impl in impls}  # per step, each block
    t_start = time.perf_counter()
    rounds = 0
    for r in range(args.repeats):
        for impl in impls[r % len(impls) :] + impls[: r % len(impls)]:
            c0 = time.process_time_ns()
            run_block(impl, series[impl.name].block, series[impl.name], cap_ns)
            cpu[impl.name].append(
                (time.process_time_ns() - c0) / series[impl.name].times_ns[-1].size
            )
        rounds += 1
        if time.perf_counter() - t_start > args.budget:
            break
    res: dict = {
        "config": f"{depth}x{filters}",
        "batch": args.batch,
        "target_vgsim_over_torch": TARGETS.get(cfg),
        "rounds": rounds,
        "check": check,
        "impls": {},
    }
    for name, s in series.items():
        t = s.all() / 1e3
        res["impls"][name] = {
            "median_us": float(np.median(t)),
            "p90_us": float(np.percentile(t, 90)),
            "steps": int(t.size),
            "resets": s.resets,
            "cpu_median_us": float(np.median(cpu[name])) / 1e3,
        }
    med = {n: v["median_us"] for n, v in res["impls"].items()}
    res["telemetry_share"] = 1 - med["vgsim-bare"] / med["vgsim"]
    ratio = med["vgsim"] / med["torch"] if "torch" in med else None
    res["vgsim_over_torch"] = ratio
    cpu_med = {n: v["cpu_median_us"] for n, v in res["impls"].items()}
    res["cpu_vgsim_over_torch"] = (
        cpu_med["vgsim"] / cpu_med["torch"] if "torch" in cpu_med else None
    )
    tgt = res["target_vgsim_over_torch"]
    res["result"] = "-" if tgt is None or ratio is None else ("PASS" if ratio <= tgt else "MISS")
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--configs", nargs="+", type=parse_config, metavar="DxF")
    ap.add_argument("--batch", type=int, default=64)
    add_timing_arguments(ap, TIMING)
    args = parse_timing(ap, argv, TIMING, __file__)
    configs = args.configs or list(TARGETS)
    torch_threads = set_torch_threads(
        args, "PyTorch is not installed: the torch column is skipped."
    )
    env = environment(torch_threads)
    env["parallel_cpu_capacity"] = cpu_capacity()
    env["vgsim_source"] = source_fingerprint()
    env["loadavg_start"] = list(os.getloadavg())
    print(
        "vgsim convolution benchmark: one training step, float32, 3×3 'same' convolutions + "
        f"ReLU (he_normal) on the digits as 8×8×1 images, batch {args.batch}, SGD lr {LR}"
    )
    print(f"vgsim measured: {env['vgsim_source']}")
    print(
        f"python {env['python']}  numpy {env['numpy']}  numba {env['numba']}  "
        f"torch {env['torch']}  on {env['platform']}, {env['cpu_count']} CPUs; torch threads "
        f"{env.get('torch_threads')}; parallel CPU capacity {env['parallel_cpu_capacity']:.2f}; "
        f"load average {fmt_load(env['loadavg_start'])}"
    )
    print()
    results = [bench_config(cfg, args, torch_threads is not None) for cfg in configs]
    env["loadavg_end"] = list(os.getloadavg())
    cols = ["vgsim", "vgsim-bare", "torch"]
    head = f"{'config':<8}" + "".join(f"{c + ' med/p90 µs':>24}" for c in cols)
    head += f"{'vg/torch':>10}{'target':>8}  result{'telemetry':>11}{'CPU vg/torch':>14}"
    print(head)
    print("-" * len(head))
    for r in results:
        line = f"{r['config']:<8}"
        for c in cols:
            v = r["impls"].get(c)
            cell = f"{fmt_us(v['median_us'])} / {fmt_us(v['p90_us'])}" if v else "-"
            line += f"{cell:>24}"
        ratio, tgt = r["vgsim_over_torch"], r["target_vgsim_over_torch"]
        line += f"{ratio:>10.3f}" if ratio is not None else f"{'-':>10}"
        line += f"{'<=' + format(tgt, 'g'):>8}" if tgt is not None else f"{'-':>8}"
        line += f"  {r['result']:<6}{r['telemetry_share']:>10.1%}"
        cpu_ratio = r["cpu_vgsim_over_torch"]
        line += f"{cpu_ratio:>14.3f}" if cpu_ratio is not None else f"{'-':>14}"
        print(line)
        c = r["check"]
        if c:
            print(
                f"  same weights, one batch: loss vgsim {c['loss_vgsim']:.6f} torch "
                f"{c['loss_torch']:.6f}; first conv dW max rel err {c['grad_rel_err']:.1e}; "
                f"{r['rounds']} rounds"
            )
    print(f"\nload average at the end: {fmt_load(env['loadavg_end'])}")
    if args.json:
        Path(args.json).write_text(json.dumps({"environment": env, "results": results}, indent=2))
    return 0 if all(r["result"] != "MISS" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
