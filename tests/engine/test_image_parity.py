"""Parity with PyTorch in float64 for image networks: Conv2d with padding and stride, MaxPool2d,
AvgPool2d, AdaptiveAvgPool2d, BatchNorm2d and dropout (with the engine's dumped mask). The same
network, weights and batches give the same activations, loss and every gradient at each step,
the same parameters after each optimizer step, and the same running statistics."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from test_torch_parity import (  # noqa: E402
    HYPER,
    LR,
    RTOL,
    _activation,
    _t,
    close,
    torch_loss,
    torch_optimizer,
)

from vgsim.engine.kernels import plan as k  # noqa: E402
from vgsim.engine.spec import Network  # noqa: E402
from vgsim.engine.train import Trainer  # noqa: E402

pytestmark = pytest.mark.kernels
DIGITS = {"name": "digits", "shape": "image", "samples": 300}


def nchw(a: np.ndarray) -> np.ndarray:
    """vgsim's images (batch, height, width, channels) in PyTorch's order."""
    return a.transpose(0, 3, 1, 2) if a.ndim == 4 else a


def nhwc(a: np.ndarray) -> np.ndarray:
    return a.transpose(0, 2, 3, 1) if a.ndim == 4 else a


class Same(torch.nn.Module):
    """vgsim's "same" padding before a stride-s convolution: (k − 1) // 2 zeros before, the
    rest of what the last window reaches after (PyTorch's padding="same" for stride 1)."""

    def __init__(self, k: int, s: int, h: int, w: int):
        super().__init__()
        oh, ow = -(-h // s), -(-w // s)
        lo = (k - 1) // 2
        self.pad = (lo, (ow - 1) * s + k - w - lo, lo, (oh - 1) * s + k - h - lo)

    def forward(self, x):
        return F.pad(x, self.pad)


class Masked(torch.nn.Module):
    """Inverted dropout with a given mask (NCHW or flat): x · mask / (1 − rate)."""

    def __init__(self, rate: float):
        super().__init__()
        self.rate = rate
        self.mask: torch.Tensor | None = None

    def forward(self, x):
        return x * self.mask / (1 - self.rate) if self.training else x


class TorchImageNet(torch.nn.Module):
    """Interprets a vgsim image network in NCHW; a flatten reads the image in vgsim's order
    (height, width, channels), so dense weights need no reordering."""

    def __init__(self, net: dict, tr: Trainer):
        super().__init__()
        self.spec = {n["id"]: n for n in net["nodes"]}
        self.order = list(tr.node_ids)
        self.preds = {i: [e["from"] for e in net["edges"] if e["to"] == i] for i in self.order}
        s = tr.state_arrays()
        self.mods = torch.nn.ModuleDict()
        for idx, i in enumerate(self.order):
            node, kind = self.spec[i], self.spec[i]["type"]
            shape_in = tr.plan.shape_in[idx]
            if kind == "conv2d":
                W = s[f"param/{i}/W"]
                kk, _, c, f = W.shape
                stride = node.get("stride", 1)
                conv = torch.nn.Conv2d(
                    c, f, kk, stride=stride, bias=f"param/{i}/b" in s, dtype=torch.float64
                )
                with torch.no_grad():
                    conv.weight.copy_(_t(W.transpose(3, 2, 0, 1)))
                    if conv.bias is not None:
                        conv.bias.copy_(_t(s[f"param/{i}/b"]))
                pad = (
                    [Same(kk, stride, *shape_in[:2])]
                    if node.get("padding", "same") == "same"
                    else []
                )
                self.mods[i] = torch.nn.Sequential(*pad, conv)
            elif kind == "dense":
                W = s[f"param/{i}/W"]
                lin = torch.nn.Linear(*W.shape, bias=f"param/{i}/b" in s, dtype=torch.float64)
                with torch.no_grad():
                    lin.weight.copy_(_t(W.T))
                    if lin.bias is not None:
                        lin.bias.copy_(_t(s[f"param/{i}/b"]))
                self.mods[i] = lin
            elif kind == "activation":
                self.mods[i] = _activation(node, s.get(f"param/{i}/alpha"))
            elif kind == "batchnorm":
                off, c = int(tr.ops[idx, k.K_RUN]), tr.plan.shape_out[idx][-1]
                cls = torch.nn.BatchNorm2d if len(shape_in) == 3 else torch.nn.BatchNorm1d
                bn = cls(
                    c,
                    eps=node.get("eps", 1e-5),
                    momentum=node.get("momentum", 0.1),
                    dtype=torch.float64,
                )
                with torch.no_grad():
                    bn.weight.copy_(_t(s[f"param/{i}/gamma"]))
                    bn.bias.copy_(_t(s[f"param/{i}/beta"]))
                    bn.running_mean.copy_(_t(tr.bn_run[off : off + c]))
                    bn.running_var.copy_(_t(tr.bn_run[off + c : off + 2 * c]))
                self.mods[i] = bn
            elif kind in ("maxpool", "avgpool"):
                size = node.get("size", 2)
                cls = torch.nn.MaxPool2d if kind == "maxpool" else torch.nn.AvgPool2d
                self.mods[i] = cls(size, stride=node.get("stride", size))
            elif kind == "global_avgpool":
                self.mods[i] = torch.nn.Sequential(
                    torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()
                )
            elif kind == "flatten":
                self.mods[i] = torch.nn.Flatten()  # applied to NHWC below
            elif kind == "dropout":
                self.mods[i] = Masked(node.get("rate", 0.5))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        acts: dict[str, torch.Tensor] = {}
        for i in self.order:
            kind = self.spec[i]["type"]
            if kind == "input":
                acts[i] = x
                continue
            v = sum(acts[p] for p in self.preds[i])
            if kind == "flatten" and v.ndim == 4:
                v = v.permute(0, 2, 3, 1)
            acts[i] = self.mods[i](v) if i in self.mods else v
        return acts

    def param(self, node_id: str, name: str) -> torch.Tensor:
        m = self.mods[node_id]
        if isinstance(m, torch.nn.Sequential):
            m = m[-1]
        return m.bias if name in ("b", "beta") else m.weight

    def as_engine(self, node_id: str, name: str, grad: bool = False) -> np.ndarray:
        p = self.param(node_id, name)
        a = (p.grad if grad else p).detach().numpy()
        if name == "W":
            return a.transpose(2, 3, 1, 0) if a.ndim == 4 else a.T
        return a


def run_parity(net: dict, steps: int = 3) -> Trainer:
    tr = Trainer(Network.from_dict(net))
    cfg = tr.cfg
    model = TorchImageNet(net, tr)
    model.train()
    opt = torch_optimizer(cfg["optimizer"], model.parameters(), cfg["lr"])
    weights = [model.param(s.node_id, "W") for s in tr.plan.params if s.name == "W"]
    droppers = [i for i in tr.node_ids if model.spec[i]["type"] == "dropout"]
    for step in range(steps):
        record, state = tr.step_with_state()
        assert record.divergence is None
        for i in droppers:
            model.mods[i].mask = _t(nchw(state[f"mask/{i}"]))
        opt.zero_grad()
        acts = model(_t(nchw(state["x"])))
        for i in tr.node_ids:
            close(state[f"act/{i}"], nhwc(acts[i].detach().numpy()), f"step {step} act/{i}")
        loss = torch_loss("softmax_cross_entropy", acts[tr.node_ids[tr.plan.out_idx]], state["y"])
        if cfg["l2"] > 0:
            loss = loss + cfg["l2"] * sum((W**2).sum() for W in weights)
        loss.backward()
        assert float(state["loss"]) == pytest.approx(loss.item(), rel=RTOL)
        for s in tr.plan.params:
            key = f"grad/{s.node_id}/{s.name}"
            close(state[key], model.as_engine(s.node_id, s.name, grad=True), f"step {step} {key}")
        if cfg["clip"]["mode"] == "norm":
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip"]["threshold"])
            assert record.scalars["grad_norm_before_clip"] == pytest.approx(norm.item(), rel=RTOL)
        opt.step()
        after = tr.state_arrays()
        for s in tr.plan.params:
            key = f"param/{s.node_id}/{s.name}"
            close(after[key], model.as_engine(s.node_id, s.name), f"after step {step} {key}")
        for idx, kind in enumerate(tr.plan.types):
            if kind == "batchnorm":
                bn = model.mods[tr.node_ids[idx]]
                off, c = int(tr.ops[idx, k.K_RUN]), tr.plan.shape_out[idx][-1]
                close(tr.bn_run[off : off + c], bn.running_mean.numpy(), f"step {step} mean")
                close(tr.bn_run[off + c : off + 2 * c], bn.running_var.numpy(), f"step {step} var")
    # Evaluation mode: running statistics, no dropout, over the whole test set.
    model.eval()
    with torch.no_grad():
        z = model(_t(nchw(tr.data.X_test.reshape(-1, *tr.data.input_shape))))
    out = z[tr.node_ids[tr.plan.out_idx]].numpy()
    close(tr.predict(tr.data.X_test), out, "predictions in evaluation mode")
    return tr


def make_net(nodes, edges, optimizer="sgd", l2=0.0, clip=None, batch=16, data=DIGITS) -> dict:
    return {
        "format": "vgsim.network/1",
        "name": "image parity",
        "data": data,
        "nodes": [{"id": "in", "type": "input"}, *nodes, {"id": "out", "type": "output"}],
        "edges": [{"from": a, "to": b} for a, b in edges],
        "training": {
            "optimizer": optimizer,
            "lr": LR[optimizer],
            "dtype": "float64",
            "batch_size": batch,
            "seed": 7,
            "l2": l2,
            "clip": clip or {"mode": "none", "threshold": 1.0},
            **HYPER,
        },
    }


def chain(*ids):
    return list(zip(ids[:-1], ids[1:], strict=True))


def conv(i, filters, **kw):
    return {"id": i, "type": "conv2d", "filters": filters, "init": "he_normal", **kw}


def act(i, fn="relu"):
    return {"id": i, "type": "activation", "function": fn}


def strided_net(**kw) -> dict:
    """Conv2d with "same" and "valid" padding, strides 1 and 2, an even kernel, max pooling."""
    nodes = [
        conv("c1", 6),
        act("a1"),
        conv("c2", 8, stride=2),
        act("a2", "elu"),
        conv("c3", 5, kernel=2, padding="valid"),
        act("a3", "tanh"),
        {"id": "mp", "type": "maxpool", "size": 2, "stride": 1},
        {"id": "f", "type": "flatten"},
        {"id": "d", "type": "dense", "units": 10},
    ]
    return make_net(
        nodes, chain("in", "c1", "a1", "c2", "a2", "c3", "a3", "mp", "f", "d", "out"), **kw
    )


def bn_pool_net(**kw) -> dict:
    """BatchNorm2d after convolutions, average pooling, a global average, dropout on images
    and on vectors."""
    nodes = [
        conv("c1", 6, bias=False),
        {"id": "bn1", "type": "batchnorm"},
        act("a1"),
        {"id": "ap", "type": "avgpool", "size": 2},
        {"id": "dr1", "type": "dropout", "rate": 0.2},
        conv("c2", 8, kernel=3, bias=False),
        {"id": "bn2", "type": "batchnorm", "momentum": 0.3, "eps": 1e-3},
        act("a2", "leaky_relu"),
        {"id": "g", "type": "global_avgpool"},
        {"id": "d1", "type": "dense", "units": 12},
        act("a3", "tanh"),
        {"id": "dr2", "type": "dropout", "rate": 0.5},
        {"id": "d2", "type": "dense", "units": 10},
    ]
    ids = (
        "in",
        "c1",
        "bn1",
        "a1",
        "ap",
        "dr1",
        "c2",
        "bn2",
        "a2",
        "g",
        "d1",
        "a3",
        "dr2",
        "d2",
        "out",
    )
    return make_net(nodes, chain(*ids), **kw)


def residual_net(**kw) -> dict:
    """An identity skip across two convolutions and a 1×1 projection with stride 2."""
    nodes = [
        conv("c0", 6),
        act("a0"),
        conv("c1", 6),
        act("a1"),
        conv("c2", 6),
        act("a2"),
        conv("c3", 10, stride=2),
        conv("proj", 10, kernel=1, stride=2, bias=False),
        act("a3"),
        {"id": "g", "type": "global_avgpool"},
        {"id": "d", "type": "dense", "units": 10},
    ]
    edges = chain("in", "c0", "a0", "c1", "a1", "c2", "a2", "c3", "a3", "g", "d", "out")
    edges += [("a0", "a2"), ("a2", "proj"), ("proj", "a3")]
    return make_net(nodes, edges, **kw)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_strided_and_padded_convolutions(optimizer):
    run_parity(strided_net(optimizer=optimizer, l2=0.01))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_batchnorm2d_pools_and_dropout(optimizer):
    tr = run_parity(bn_pool_net(optimizer=optimizer, clip={"mode": "norm", "threshold": 0.5}), 4)
    assert not np.allclose(tr.bn_run[:6], 0.0)  # the running statistics really moved


def test_residual_convolutions():
    run_parity(residual_net(optimizer="momentum", l2=0.005))


def test_stripes():
    nodes = [
        conv("c1", 4, kernel=5, stride=2),
        act("a1", "sigmoid"),
        {"id": "mp", "type": "maxpool", "size": 2},
        {"id": "f", "type": "flatten"},
        {"id": "d", "type": "dense", "units": 4},
    ]
    data = {"name": "stripes", "samples": 200}
    run_parity(make_net(nodes, chain("in", "c1", "a1", "mp", "f", "d", "out"), data=data))
