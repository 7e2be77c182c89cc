#!/usr/bin/env python
"""Time one training step of an MLP: vgsim's Trainer.step() against plain NumPy and PyTorch.

    python benchmarks/bench_step.py [--quick] [--configs 5x16x16 ...] [--repeats N]
                                    [--activation relu|tanh] [--optimizer sgd|adam]
                                    [--threads N] [--json PATH]

Each configuration DEPTHxWIDTHxBATCH is an MLP of DEPTH hidden dense layers of WIDTH units, each
followed by an activation (ReLU + he_normal by default, tanh + xavier_uniform with
--activation tanh), then a dense layer to the classes and softmax cross-entropy; float32; the
"spiral" data set (2 input features, 3 classes). All implementations start from the same
weights (copied from the vgsim Trainer) and draw a fresh random mini-batch every step.

Implementations, timed interleaved in round-robin blocks so machine noise hits all alike:

  vgsim        Trainer.step(): a Numba kernel call with the full per-layer telemetry, plus the
               Python-side records and history. The trainer's "eval_every" is set to 10**9, so
               no full train/test evaluation runs inside the timed steps.
  vgsim-block  (b) the lightest telemetry the trainer allows, if it has Trainer.run_block(k):
               k steps per kernel call, per-step figures kept, histograms for the last step
               only; reported per step. Without run_block there is no such switch and the row
               is left out: telemetry's cost then shows in vgsim vs numpy.
  vgsim-bare   Trainer.step() with `trainer.telemetry = False`: the same step without the
               per-node figures. Telemetry's share of a step = 1 - vgsim-bare / vgsim.
  kernel       (diagnostic) the step kernel vgsim.engine.kernels.plan.train_steps, one batch, on a
               second trainer's buffers: Trainer.step's work minus its Python side.
  numpy        (c) a plain NumPy step (np.dot, float32): forward, softmax CE, backward, update.
  torch        (d) PyTorch CPU eager without telemetry: nn.Sequential(Linear, ReLU, ...),
               CrossEntropyLoss, torch.optim.SGD/Adam, zero_grad(set_to_none=True).

Targets are for median(vgsim) / median(torch). --threads N pins BLAS/OpenMP/torch threads
(default: each library's own default); see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from bench_args import Timing, add_timing_arguments, parse_timing, set_torch_threads  # noqa: E402

# (depth, width, batch) -> target for median(vgsim) / median(torch).
TARGETS: dict[tuple[int, int, int], float] = {
    (5, 16, 16): 0.06,
    (10, 64, 64): 0.35,
    (50, 64, 64): 0.45,
    (100, 32, 32): 0.15,
    (20, 256, 256): 1.1,
}
# Telemetry's share of a step (1 - bare / full) at most this; at most 30% at width <= 32.
SHARE_TARGET, SHARE_TARGET_NARROW = 0.20, 0.30
DATA = {"name": "spiral", "classes": 3, "samples": 1200}  # 960 training rows, 2 features
LR = 0.01
TIMING = Timing(repeats=(40, 5), block=(0.12, 0.03), budget=(40.0, 4.0), warmup=(0.5, 0.1))
SEED = 0
EVAL_EVERY = 10**9


# --- configurations ---------------------------------------------------------------------------
def parse_config(text: str) -> tuple[int, int, int]:
    parts = text.lower().replace(",", "x").split("x")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected DEPTHxWIDTHxBATCH, e.g. 10x64x64, got {text!r}")
    depth, width, batch = (int(p) for p in parts)
    if min(depth, width, batch) < 1:
        raise argparse.ArgumentTypeError(f"every number must be >= 1 in {text!r}")
    return depth, width, batch


def network_dict(depth: int, width: int, batch: int, activation: str, optimizer: str) -> dict:
    init = "he_normal" if activation == "relu" else "xavier_uniform"
    nodes: list[dict] = [{"id": "in", "type": "input"}]
    for i in range(1, depth + 1):
        nodes.append({"id": f"d{i}", "type": "dense", "units": width, "init": init})
        nodes.append({"id": f"a{i}", "type": "activation", "function": activation})
    nodes.append({"id": "logits", "type": "dense", "units": DATA["classes"], "init": init})
    nodes.append({"id": "out", "type": "output", "loss": "softmax_cross_entropy"})
    edges = [{"from": a["id"], "to": b["id"]} for a, b in zip(nodes, nodes[1:], strict=False)]
    return {
        "format": "vgsim.network/1",
        "name": f"bench-{depth}x{width}x{batch}",
        "data": dict(DATA),
        "nodes": nodes,
        "edges": edges,
        "training": {
            "optimizer": optimizer,
            "lr": LR,
            "batch_size": batch,
            "dtype": "float32",
            "seed": SEED,
            "eval_every": EVAL_EVERY,
        },
    }


class Batcher:
    """A fresh permutation of the training rows every epoch, like Trainer._next_batch."""

    def __init__(self, n_rows: int, batch: int, seed: int):
        self.n, self.batch = n_rows, batch
        self.rng = np.random.default_rng(seed)
        self.perm = np.empty(0, np.int64)
        self.cursor = 0

    def next(self) -> np.ndarray:
        if self.cursor + self.batch > self.perm.size:
            self.perm = self.rng.permutation(self.n).astype(np.int64)
            self.cursor = 0
        idx = self.perm[self.cursor : self.cursor + self.batch]
        self.cursor += self.batch
        return idx


# --- (a) vgsim and the raw kernel --------------------------------------------------------------
def make_trainer(net_d: dict):
    from vgsim.engine import Network, Trainer

    return Trainer(Network.from_dict(net_d))


def initial_weights(trainer) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(W (in, out), b), ...] for every dense layer, in order, from the trainer's parameters."""
    slots = {(s.node_id, s.name): s for s in trainer.plan.params}
    out = []
    for node_id, kind in zip(trainer.plan.order, trainer.plan.types, strict=True):
        if kind != "dense":
            continue
        sw, sb = slots[(node_id, "W")], slots[(node_id, "b")]
        W = trainer.params[sw.offset : sw.offset + sw.size].reshape(sw.shape).copy()
        b = trainer.params[sb.offset : sb.offset + sb.size].reshape(sb.shape).copy()
        out.append((W, b))
    return out


class VgsimImpl:
    name = "vgsim"

    def __init__(self, net_d: dict):
        self.trainer = make_trainer(net_d)
        self.step = self.trainer.step

    def ok(self, record) -> bool:
        return record.divergence is None

    def recover(self) -> None:
        self.trainer.reset()


class VgsimBareImpl(VgsimImpl):
    """The same Trainer.step() with the trainer's telemetry switched off (no per-node figures,
    no histograms; the Python side unchanged): the baseline for telemetry's share of a step."""

    name = "vgsim-bare"

    def __init__(self, net_d: dict):
        super().__init__(net_d)
        self.trainer.telemetry = False


class VgsimBlockImpl:
    """(b) The lightest telemetry the trainer offers: Trainer.run_block(count) runs `count`
    steps in one kernel call, keeps every step's scalars and per-node figures but computes the
    histograms for the last step only. One timed call = `per_call` steps."""

    name = "vgsim-block"

    def __init__(self, net_d: dict, per_call: int):
        self.trainer = make_trainer(net_d)
        self.per_call = per_call

    def step(self):
        return self.trainer.run_block(self.per_call)

    def ok(self, block) -> bool:
        return block is not None and block.last.divergence is None

    def recover(self) -> None:
        self.trainer.reset()


class KernelImpl:
    """(diagnostic) The raw step kernel vgsim.engine.kernels.plan.train_steps, one batch, on a
    second trainer's buffers with batch indices drawn beforehand: Trainer.step's work without
    its Python wrapper. The kernel's arguments are matched by name to the trainer's attributes
    (its signature changes as the engine evolves); an unknown name skips this row."""

    name = "kernel"
    SPECIAL = {
        "data": "_train_set",
        "evaluation": "_no_evaluation",
        "out": "_no_out",
    }

    def __init__(self, net_d: dict, n_pre: int = 4096):
        import inspect

        from vgsim.engine.kernels import plan as k

        self.tr = tr = make_trainer(net_d)
        batcher = Batcher(tr.X_train.shape[0], tr.batch_size, SEED + 7)
        self.batches = [np.ascontiguousarray(batcher.next()) for _ in range(n_pre)]
        self.i = 0
        self.t = 0
        # The one-step kernel call: the step loop kernel given a single batch.
        self.kernel = k.train_steps
        params = inspect.signature(getattr(k.train_steps, "py_func", k.train_steps)).parameters
        self.args: list = []
        self.idx_pos = self.t_pos = -1
        for pos, (name, prm) in enumerate(params.items()):
            if name == "batches":
                self.idx_pos = pos
                self.args.append(None)
            elif name == "t0":
                self.t_pos = pos
                self.args.append(0)
            elif prm.default is not inspect.Parameter.empty:
                break  # optional switches keep their defaults (full telemetry)
            else:
                attr = self.SPECIAL.get(name, name)
                found = [
                    getattr(owner, a)
                    for owner in (tr, tr.plan)
                    for a in (attr, "_" + attr)  # the kernel's bundles are private to the trainer
                    if hasattr(owner, a)
                ]
                if found:
                    self.args.append(found[0])
                else:
                    raise LookupError(f"train_steps parameter {name!r} has no Trainer attribute")
        if self.idx_pos < 0 or self.t_pos < 0:
            raise LookupError("train_steps has no 'batches' or 't0' parameter")
        try:  # one trial call (also loads or compiles the kernel)
            self.step()
        except Exception as exc:
            raise LookupError(f"train_steps call failed: {exc}") from None
        self.recover()

    def step(self):
        args = self.args
        args[self.idx_pos] = self.batches[self.i][None, :]
        self.i = (self.i + 1) % len(self.batches)
        self.t += 1
        args[self.t_pos] = self.t
        return self.kernel(*args)

    def ok(self, status) -> bool:
        from vgsim.engine.kernels import plan as k

        return status == 1 and np.isnan(self.tr.glob_block[0, k.G_BAD_NODE])

    def recover(self) -> None:
        self.tr.reset()
        self.t = 0


# --- (c) plain NumPy ---------------------------------------------------------------------------
class NumpyImpl:
    name = "numpy"

    def __init__(self, weights, X, y, batch: int, activation: str, optimizer: str):
        self.w0 = [(W.astype(np.float32), b.astype(np.float32)) for W, b in weights]
        self.X = np.ascontiguousarray(X, np.float32)
        self.y = np.ascontiguousarray(y, np.int64)
        self.activation, self.optimizer = activation, optimizer
        self.batcher = Batcher(len(X), batch, SEED + 3)
        self.recover()

    def recover(self) -> None:
        self.W = [W.copy() for W, _ in self.w0]
        self.b = [b.copy() for _, b in self.w0]
        self.m = [np.zeros_like(p) for p in self.W + self.b]
        self.v = [np.zeros_like(p) for p in self.W + self.b]
        self.t = 0

    def forward_backward(self, x: np.ndarray, y: np.ndarray):
        """Loss and the gradients (dW list, db list) on one batch."""
        W, b, relu = self.W, self.b, self.activation == "relu"
        L = len(W)
        hs = [x]  # the input of each dense layer
        h = x
        for i in range(L - 1):
            z = np.dot(h, W[i]) + b[i]
            h = np.maximum(z, 0) if relu else np.tanh(z)
            hs.append(h)
        z = np.dot(h, W[-1]) + b[-1]
        n = z.shape[0]
        rows = np.arange(n)
        zmax = z.max(axis=1, keepdims=True)
        e = np.exp(z - zmax)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) - (z[rows, y] - zmax[:, 0])))
        dz = e / s
        dz[rows, y] -= 1
        dz /= n
        dW, db = [None] * L, [None] * L
        for i in range(L - 1, -1, -1):
            dW[i] = np.dot(hs[i].T, dz)
            db[i] = dz.sum(axis=0)
            if i > 0:
                dh = np.dot(dz, W[i].T)
                h = hs[i]
                dz = dh * (h > 0) if relu else dh * (1 - h * h)
        return loss, dW, db

    def step(self) -> float:
        idx = self.batcher.next()
        loss, dW, db = self.forward_backward(self.X[idx], self.y[idx])
        params, grads = self.W + self.b, dW + db
        if self.optimizer == "sgd":
            for p, g in zip(params, grads, strict=True):
                p -= LR * g
        else:  # adam, torch's rule (no weight decay, no amsgrad)
            self.t += 1
            b1, b2, eps = 0.9, 0.999, 1e-8
            step_size = LR / (1 - b1**self.t)
            root_bc2 = math.sqrt(1 - b2**self.t)
            for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * g * g
                p -= step_size * m / (np.sqrt(v) / root_bc2 + eps)
        return loss

    def ok(self, loss) -> bool:
        return math.isfinite(loss)


# --- (d) PyTorch -------------------------------------------------------------------------------
class TorchImpl:
    name = "torch"

    def __init__(self, weights, X, y, batch: int, activation: str, optimizer: str):
        import torch
        from torch import nn

        self.torch = torch
        self.w0 = weights
        self.X = torch.from_numpy(np.ascontiguousarray(X, np.float32))
        self.y = torch.from_numpy(np.ascontiguousarray(y, np.int64))
        self.batcher = Batcher(len(X), batch, SEED + 5)
        layers: list = []
        for i, (W, _) in enumerate(weights):
            layers.append(nn.Linear(W.shape[0], W.shape[1]))
            if i < len(weights) - 1:
                layers.append(nn.ReLU() if activation == "relu" else nn.Tanh())
        self.model = nn.Sequential(*layers)
        self.linears = [m for m in self.model if isinstance(m, nn.Linear)]
        self.loss_fn = nn.CrossEntropyLoss()
        self.optimizer = optimizer
        self.recover()

    def recover(self) -> None:
        torch = self.torch
        with torch.no_grad():
            for lin, (W, b) in zip(self.linears, self.w0, strict=True):
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T, np.float32)))
                lin.bias.copy_(torch.from_numpy(b.astype(np.float32)))
        params = self.model.parameters()
        self.opt = (
            torch.optim.SGD(params, lr=LR)
            if self.optimizer == "sgd"
            else torch.optim.Adam(params, lr=LR)
        )

    def step(self):
        idx = self.torch.from_numpy(self.batcher.next())
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(self.X[idx]), self.y[idx])
        loss.backward()
        self.opt.step()
        return loss

    def ok(self, loss) -> bool:
        return math.isfinite(loss.item())


# --- agreement check ---------------------------------------------------------------------------
def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    denom = max(np.linalg.norm(b), 1e-30)
    return float(np.linalg.norm(a - b) / denom)


def agreement(trainer, np_impl: NumpyImpl, torch_impl: TorchImpl | None) -> dict[str, float]:
    """Loss and gradients of every implementation on one batch from the same weights."""
    idx = np.arange(trainer.batch_size, dtype=np.int64)
    st = trainer.forward_backward(idx)
    plan = trainer.plan
    dense = [n for n, kind in zip(plan.order, plan.types, strict=True) if kind == "dense"]
    vg_dW = [st[f"grad/{n}/W"] for n in dense]
    x, y = np_impl.X[idx], np_impl.y[idx]
    loss_np, dW_np, _ = np_impl.forward_backward(x, y)
    out = {
        "loss_vgsim": float(st["loss"]),
        "loss_numpy": loss_np,
        "grad_rel_err_numpy": max(rel_err(a, b) for a, b in zip(dW_np, vg_dW, strict=True)),
    }
    if torch_impl is not None:
        torch = torch_impl.torch
        torch_impl.model.zero_grad(set_to_none=True)
        loss = torch_impl.loss_fn(torch_impl.model(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        dW_t = [lin.weight.grad.numpy().T for lin in torch_impl.linears]
        torch_impl.model.zero_grad(set_to_none=True)
        out["loss_torch"] = loss.item()
        out["grad_rel_err_torch"] = max(rel_err(a, b) for a, b in zip(dW_t, vg_dW, strict=True))
    return out


# --- timing ------------------------------------------------------------------------------------
@dataclass
class Series:
    times_ns: list[np.ndarray] = field(default_factory=list)
    block: int = 1
    resets: int = 0
    per_call: int = 1  # steps per timed call (vgsim-block)

    def all(self) -> np.ndarray:
        return np.concatenate(self.times_ns) if self.times_ns else np.empty(0)


def run_block(impl, n: int, series: Series, cap_ns: float) -> None:
    """n timed steps, or fewer once they have taken cap_ns (a stalled machine must not stretch
    the run without bound)."""
    step, ok, pc = impl.step, impl.ok, time.perf_counter_ns
    out = np.empty(n)
    spent = 0
    i = 0
    while i < n and spent < cap_ns:
        t0 = pc()
        r = step()
        dt = pc() - t0
        out[i] = dt
        spent += dt
        i += 1
        if not ok(r):  # checked outside the timed region
            series.resets += 1
            impl.recover()
    series.times_ns.append(out[:i])


def warm_up(impl, seconds: float, min_steps: int = 20) -> float:
    """Run until both limits are passed (numba loads or compiles on the first call);
    returns the median step time in seconds, used to size the timed blocks."""
    pc = time.perf_counter
    for _ in range(3):
        r = impl.step()
        if not impl.ok(r):
            impl.recover()
    times = []
    t_end = pc() + seconds
    while len(times) < min_steps or pc() < t_end:
        t0 = pc()
        r = impl.step()
        times.append(pc() - t0)
        if not impl.ok(r):
            impl.recover()
    return float(np.median(times))


def bench_config(cfg, args, torch_ok: bool) -> dict:
    depth, width, batch = cfg
    net_d = network_dict(depth, width, batch, args.activation, args.optimizer)
    t_build = time.perf_counter()
    vg = VgsimImpl(net_d)
    tr = vg.trainer
    weights = initial_weights(tr)
    impls: list = [vg]
    notes: list[str] = []
    if hasattr(tr, "run_block") and not args.no_block:
        # Steps per call: about one timing block's worth, within the trainer's own limit.
        t_one = warm_up(vg, min(args.warmup, 0.2), min_steps=3)
        limit = getattr(sys.modules[type(tr).__module__], "MAX_BLOCK", 256)
        per_call = max(8, min(limit, args.max_per_call, round(args.block / t_one)))
        impls.append(VgsimBlockImpl(net_d, per_call))
        vg.recover()
    if hasattr(tr, "telemetry"):
        impls.append(VgsimBareImpl(net_d))
    if not args.no_kernel:
        try:
            impls.append(KernelImpl(net_d))
        except LookupError as exc:
            notes.append(f"raw-kernel row skipped: {exc}")
    np_impl = NumpyImpl(weights, tr.X_train, tr.lab_train, batch, args.activation, args.optimizer)
    impls.append(np_impl)
    torch_impl = None
    if torch_ok:
        torch_impl = TorchImpl(
            weights, tr.X_train, tr.lab_train, batch, args.activation, args.optimizer
        )
        impls.append(torch_impl)
    try:
        check = agreement(tr, np_impl, torch_impl)
    except Exception as exc:
        check = {}
        notes.append(f"same-weights check skipped: {type(exc).__name__}: {exc}")
    build_s = time.perf_counter() - t_build

    series: dict[str, Series] = {}
    for impl in impls:
        t_call = warm_up(impl, args.warmup, min_steps=3 if hasattr(impl, "per_call") else 20)
        series[impl.name] = Series(
            block=max(
                1 if hasattr(impl, "per_call") else 2, min(100_000, round(args.block / t_call))
            ),
            per_call=getattr(impl, "per_call", 1),
        )
    for impl in impls:  # warm-up steps may have diverged: start timing from the same weights
        impl.recover()
    gc.collect()
    cap_ns = 4 * args.block * 1e9
    t_start = time.perf_counter()
    rounds = 0
    for r in range(args.repeats):
        order = impls[r % len(impls) :] + impls[: r % len(impls)]
        for impl in order:
            run_block(impl, series[impl.name].block, series[impl.name], cap_ns)
        rounds += 1
        if time.perf_counter() - t_start > args.budget:
            break

    res: dict = {
        "config": f"{depth}x{width}x{batch}",
        "depth": depth,
        "width": width,
        "batch": batch,
        "target_vgsim_over_torch": TARGETS.get(cfg),
        "setup_s": build_s,
        "rounds": rounds,
        "check": check,
        "notes": notes,
        "impls": {},
    }
    for name, s in series.items():
        t = s.all() / 1e3 / s.per_call
        res["impls"][name] = {
            "median_us": float(np.median(t)),
            "p90_us": float(np.percentile(t, 90)),
            "steps": int(t.size * s.per_call),
            "block": s.block,
            "resets": s.resets,
            "steps_per_call": s.per_call,
        }
    med = {n: v["median_us"] for n, v in res["impls"].items()}
    res["vgsim_over_numpy"] = med["vgsim"] / med["numpy"]
    res["vgsim_over_torch"] = med["vgsim"] / med["torch"] if "torch" in med else None
    tgt, ratio = res["target_vgsim_over_torch"], res["vgsim_over_torch"]
    res["result"] = "-" if tgt is None or ratio is None else ("PASS" if ratio <= tgt else "MISS")
    if "vgsim-bare" in med:
        share = 1 - med["vgsim-bare"] / med["vgsim"]
        limit = SHARE_TARGET_NARROW if width <= 32 else SHARE_TARGET
        res["telemetry_share"] = share
        res["telemetry_share_target"] = limit
        res["telemetry_result"] = "PASS" if share <= limit else "MISS"
    return res


# --- environment -------------------------------------------------------------------------------
def environment(torch_threads: int | None) -> dict:
    import numba

    env: dict = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
    }
    try:
        import scipy

        env["scipy"] = scipy.__version__
    except ImportError:
        env["scipy"] = None
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        env["numpy_blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:
        env["numpy_blas"] = "unknown"
    try:
        from threadpoolctl import threadpool_info

        env["blas_threads"] = [
            f"{d.get('internal_api')} {d.get('num_threads')} ({Path(d.get('filepath', '')).name})"
            for d in threadpool_info()
        ]
    except ImportError:
        env["blas_threads"] = "unknown (threadpoolctl not installed)"
    env["thread_env"] = {
        k: os.environ[k]
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
        if k in os.environ
    }
    if torch_threads is not None:
        import torch

        env["torch"] = torch.__version__
        env["torch_threads"] = torch.get_num_threads()
        env["torch_interop_threads"] = torch.get_num_interop_threads()
    else:
        env["torch"] = None
    return env


def cpu_capacity(seconds: float = 0.3) -> float:
    """How many CPUs' worth of work cpu_count busy processes get done together, relative to one
    process alone (a VM may show more vCPUs than it can run at once)."""
    code = (
        f"import time\nt = time.perf_counter() + {seconds!r}\nn = 0\n"
        "while time.perf_counter() < t:\n    n += 1\nprint(n)"
    )

    def work(k: int) -> int:
        procs = [
            subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE) for _ in range(k)
        ]
        return sum(int(p.communicate()[0]) for p in procs)

    return work(os.cpu_count() or 1) / max(work(1), 1)


IMPL_ORDER = ("vgsim", "vgsim-bare", "vgsim-block", "kernel", "numpy", "torch")


def source_fingerprint() -> str:
    """Which engine was measured: git HEAD, whether vgsim/ has local changes, and a hash of the
    engine's sources as they were read (other people may be editing the tree)."""
    h = hashlib.sha1()
    for f in sorted((ROOT / "vgsim" / "engine").rglob("*.py")):
        h.update(f.relative_to(ROOT).as_posix().encode() + b"\0" + f.read_bytes())
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "vgsim"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.strip()
        git = f"git {head}{' + local changes in vgsim/' if dirty else ''}"
    except (OSError, subprocess.CalledProcessError):
        git = "git unknown"
    return f"{git}; engine sources sha1 {h.hexdigest()[:12]}"


def fmt_load(load: list[float] | None) -> str:
    return "unknown" if load is None else " ".join(f"{x:.2f}" for x in load)


def fmt_us(v: float) -> str:
    return f"{v:,.1f}" if v < 1000 else f"{v:,.0f}"


def print_table(results: list[dict]) -> None:
    present = {name for r in results for name in r["impls"]}
    cols = [c for c in IMPL_ORDER if c in present]
    head = f"{'config':<11}" + "".join(f"{c:>20}" for c in cols)
    head += f"{'vg/torch':>9}{'target':>8}{'vg/numpy':>9}  result{'telemetry':>11}{'target':>8}"
    print(head)
    print("-" * len(head))
    for r in results:
        line = f"{r['config']:<11}"
        for c in cols:
            v = r["impls"].get(c)
            cell = f"{fmt_us(v['median_us'])} / {fmt_us(v['p90_us'])}" if v else "-"
            line += f" {cell:>19}"
        vt = r["vgsim_over_torch"]
        tgt = r["target_vgsim_over_torch"]
        line += f"{vt:>9.3f}" if vt is not None else f"{'-':>9}"
        line += f"{'<=' + format(tgt, 'g'):>8}" if tgt is not None else f"{'-':>8}"
        line += f"{r['vgsim_over_numpy']:>9.3f}  {r['result']:<6}"
        if "telemetry_share" in r:
            limit = "<=" + format(r["telemetry_share_target"], ".0%")
            line += f"{r['telemetry_share']:>10.1%} {limit:>7}  {r['telemetry_result']}"
        print(line)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--configs",
        nargs="+",
        type=parse_config,
        metavar="DxWxB",
        help="configurations, e.g. 5x16x16 20x256x256 (default: the five targets)",
    )
    add_timing_arguments(ap, TIMING)
    ap.add_argument("--activation", choices=("relu", "tanh"), default="relu")
    ap.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    ap.add_argument(
        "--torch-threads",
        type=int,
        help="torch intra-op threads (default: --threads, else torch's default)",
    )
    ap.add_argument("--no-kernel", action="store_true", help="skip the raw-kernel diagnostic")
    ap.add_argument(
        "--no-block",
        action="store_true",
        help="skip the vgsim-block row (Trainer.run_block, lighter telemetry)",
    )
    ap.add_argument(
        "--max-per-call",
        type=int,
        default=256,
        help="most steps per Trainer.run_block call in the vgsim-block row",
    )
    args = parse_timing(ap, argv, TIMING, __file__)
    configs = args.configs or list(TARGETS)
    torch_threads = set_torch_threads(
        args, "PyTorch is not installed: the torch column and vgsim/torch are skipped."
    )
    env = environment(torch_threads)
    env["parallel_cpu_capacity"] = cpu_capacity()
    env["vgsim_source"] = source_fingerprint()
    env["loadavg_start"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None

    print(
        "vgsim step benchmark: one mini-batch training step, float32, "
        f"{args.activation} ({'he_normal' if args.activation == 'relu' else 'xavier_uniform'}), "
        f"optimizer {args.optimizer} lr {LR}, data {DATA['name']} "
        f"({DATA['classes']} classes, 2 features, {DATA['samples']} samples)"
    )
    print(
        f"vgsim trainer eval_every = {EVAL_EVERY:.0e}: no full train/test evaluation inside "
        "the timed steps"
    )
    print(f"vgsim measured: {env['vgsim_source']}")
    print(
        f"python {env['python']}  numpy {env['numpy']}  numba {env['numba']}  "
        f"scipy {env['scipy']}  torch {env['torch']}  on {env['platform']}, "
        f"{env['cpu_count']} CPUs"
    )
    bt = env["blas_threads"]
    print(
        f"BLAS threads: {bt if isinstance(bt, str) else '; '.join(bt)}  "
        f"(numpy BLAS: {env['numpy_blas']}; numba's np.dot calls SciPy's BLAS)"
    )
    if torch_threads is not None:
        how = (
            "--torch-threads"
            if args.torch_threads
            else "--threads"
            if args.threads
            else "torch's default"
        )
        print(
            f"torch threads: intra-op {env['torch_threads']} (set explicitly to "
            f"{how}), "
            f"inter-op {env['torch_interop_threads']}"
        )
    print(
        f"numba threads: {env['numba_threads']} (the vgsim kernels are serial)"
        + (f"; thread env: {env['thread_env']}" if env["thread_env"] else "")
    )
    print(
        f"parallel CPU capacity: {env['parallel_cpu_capacity']:.2f} CPUs' worth when all "
        f"{env['cpu_count']} are busy (1.0 would mean threads cannot run in parallel here); "
        f"load average {fmt_load(env['loadavg_start'])}"
    )
    print(
        f"timing: {args.repeats} round-robin rounds (fewer if a configuration passes "
        f"{args.budget:g} s), ~{args.block * 1e3:.0f} ms per implementation per round, after "
        f"{args.warmup:.1f} s warm-up each; median and p90 of per-step times"
    )
    print()

    results = []
    t0 = time.perf_counter()
    for cfg in configs:
        r = bench_config(cfg, args, torch_threads is not None)
        results.append(r)
        c = r["check"]
        agree = (
            "skipped"
            if not c
            else (
                f"loss vgsim {c['loss_vgsim']:.5f} numpy {c['loss_numpy']:.5f}"
                + (f" torch {c['loss_torch']:.5f}" if "loss_torch" in c else "")
                + f"; max dW rel err numpy {c['grad_rel_err_numpy']:.1e}"
                + (f" torch {c['grad_rel_err_torch']:.1e}" if "grad_rel_err_torch" in c else "")
            )
        )
        resets = {n: v["resets"] for n, v in r["impls"].items() if v["resets"]}
        steps = ", ".join(f"{n} {v['steps']}" for n, v in r["impls"].items())
        print(
            f"  {r['config']}: done ({time.perf_counter() - t0:.0f} s, {r['rounds']} rounds); "
            "same-weights check: "
            f"{agree}; steps timed: {steps}" + (f"; divergence resets: {resets}" if resets else ""),
            flush=True,
        )
    print()
    env["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    print_table(results)
    print()
    print(
        "Cells: median / p90 µs per step. vg = vgsim = Trainer.step() with full telemetry; "
        "vg/torch and vg/numpy are ratios of medians;\nresult = PASS when vg/torch <= target."
    )
    present = {name for r in results for name in r["impls"]}
    if "vgsim-bare" in present:
        print(
            "vgsim-bare = Trainer.step() with trainer.telemetry = False; telemetry = its share "
            "of the step, 1 - vgsim-bare / vgsim (target 20%, 30% at width <= 32)."
        )
    if "vgsim-block" in present:
        print(
            "vgsim-block = Trainer.run_block(k): k steps per kernel call, histograms on the "
            "last step only (the lightest telemetry the trainer offers);\n  each sample is a "
            "call's time / k, so its p90 is of k-step averages. k per config: "
            + ", ".join(
                f"{r['config']} {r['impls']['vgsim-block']['steps_per_call']}"
                for r in results
                if "vgsim-block" in r["impls"]
            )
        )
    else:
        print(
            "no vgsim-block row: this Trainer has no run_block (no lighter-telemetry path); "
            "telemetry's cost shows in vgsim vs numpy."
        )
    if "kernel" in present:
        print(
            "kernel = the raw Numba step kernel (train_steps, one batch), full telemetry; "
            "vgsim - kernel "
            "is Trainer.step's Python side (batches, records, history)."
        )
    for r in results:
        med = {n: v["median_us"] for n, v in r["impls"].items()}
        parts = [f"vgsim - numpy {med['vgsim'] - med['numpy']:+,.1f} µs"]
        if "kernel" in med:
            parts.append(f"vgsim - kernel {med['vgsim'] - med['kernel']:+,.1f} µs")
        if "vgsim-block" in med:
            parts.append(f"vgsim-block/numpy {med['vgsim-block'] / med['numpy']:.3f}")
            if "torch" in med:
                parts.append(f"vgsim-block/torch {med['vgsim-block'] / med['torch']:.3f}")
        print(f"  {r['config']}: " + "; ".join(parts) + "".join(f"; note: {n}" for n in r["notes"]))
    print(
        f"load average at the end: {fmt_load(env['loadavg_end'])} (other processes compete "
        f"for the {env['cpu_count']} CPUs when it exceeds the threads this run uses)"
    )
    if args.json:
        out = {
            "environment": env,
            "settings": {
                "activation": args.activation,
                "optimizer": args.optimizer,
                "lr": LR,
                "data": DATA,
                "dtype": "float32",
                "eval_every": EVAL_EVERY,
                "repeats": args.repeats,
                "block_s": args.block,
                "warmup_s": args.warmup,
                "budget_s": args.budget,
                "threads": args.threads,
                "quick": args.quick,
            },
            "results": results,
        }
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        print(f"\nJSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
