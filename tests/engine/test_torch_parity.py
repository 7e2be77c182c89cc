"""Parity with PyTorch in float64: the same network, weights and batch give the same loss, every
gradient, every activation, the same parameters after each optimizer step (with clipping and L2)
and the same batch-norm running statistics."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from vgsim.engine.kernels import plan as k  # noqa: E402
from vgsim.engine.spec import Network  # noqa: E402
from vgsim.engine.train import Trainer  # noqa: E402

# Also run as plain Python, with the JIT off, in .ci/run.
pytestmark = pytest.mark.kernels

RTOL = 1e-10
STEPS = 3
HYPER = {"momentum": 0.8, "beta1": 0.85, "beta2": 0.97, "eps": 1e-6, "alpha": 0.9}
LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adam": 0.01, "rmsprop": 0.01}


def make_net(nodes, edges, data, optimizer="sgd", l2=0.0, clip=None, batch=16) -> dict:
    return {
        "format": "vgsim.network/1",
        "name": "parity",
        "data": data,
        "nodes": [{"id": "in", "type": "input"}, *nodes],
        "edges": [{"from": a, "to": b} for a, b in edges],
        "training": {
            "optimizer": optimizer,
            "lr": LR[optimizer],
            "dtype": "float64",
            "batch_size": batch,
            "seed": 5,
            "l2": l2,
            "clip": clip or {"mode": "none", "threshold": 1.0},
            **HYPER,
        },
    }


def chain(*ids):
    return list(zip(ids[:-1], ids[1:], strict=True))


SPIRAL = {"name": "spiral", "classes": 3, "samples": 300}


def mlp(fn="tanh", fn2="relu", data=SPIRAL, loss="softmax_cross_entropy", n_out=3, **kw) -> dict:
    nodes = [
        {"id": "d1", "type": "dense", "units": 8, "init": "he_normal"},
        {"id": "a1", "type": "activation", "function": fn},
        {"id": "d2", "type": "dense", "units": 6},
        {"id": "a2", "type": "activation", "function": fn2},
        {"id": "d3", "type": "dense", "units": n_out},
        {"id": "out", "type": "output", "loss": loss},
    ]
    return make_net(nodes, chain("in", "d1", "a1", "d2", "a2", "d3", "out"), data, **kw)


def bn_net(**kw) -> dict:
    # No bias before a batch norm: its gradient is 0 up to rounding, which Adam would amplify.
    nodes = [
        {"id": "d1", "type": "dense", "units": 6, "bias": False},
        {"id": "bn1", "type": "batchnorm"},
        {"id": "a1", "type": "activation", "function": "relu"},
        {"id": "d2", "type": "dense", "units": 5, "bias": False},
        {"id": "bn2", "type": "batchnorm", "momentum": 0.3, "eps": 1e-3},
        {"id": "a2", "type": "activation", "function": "prelu"},
        {"id": "d3", "type": "dense", "units": 3},
        {"id": "out", "type": "output"},
    ]
    # 480 training rows: evaluation runs in two chunks (256 + 224).
    return make_net(
        nodes,
        chain("in", "d1", "bn1", "a1", "d2", "bn2", "a2", "d3", "out"),
        {**SPIRAL, "samples": 600},
        **kw,
    )


def residual_net(**kw) -> dict:
    """An identity skip into a3 and a projection of the input into the output."""
    nodes = [
        {"id": "d1", "type": "dense", "units": 6},
        {"id": "a1", "type": "activation", "function": "elu", "alpha": 0.5},
        {"id": "d2", "type": "dense", "units": 6},
        {"id": "a2", "type": "activation", "function": "swish"},
        {"id": "d3", "type": "dense", "units": 6},
        {"id": "a3", "type": "activation", "function": "leaky_relu", "slope": 0.2},
        {"id": "d4", "type": "dense", "units": 3},
        {"id": "proj", "type": "dense", "units": 3, "bias": False},
        {"id": "out", "type": "output"},
    ]
    edges = chain("in", "d1", "a1", "d2", "a2", "d3", "a3", "d4", "out")
    edges += [("a1", "a3"), ("in", "proj"), ("proj", "out")]
    return make_net(nodes, edges, SPIRAL, **kw)


# --- the same network in torch ------------------------------------------------------------------
def _t(a) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64)


def _activation(node: dict, alpha: np.ndarray | None) -> torch.nn.Module:
    fn = node["function"]
    if fn == "prelu":
        m = torch.nn.PReLU(1, dtype=torch.float64)
        with torch.no_grad():
            m.weight.copy_(_t(alpha))
        return m
    return {
        "identity": torch.nn.Identity(),
        "sigmoid": torch.nn.Sigmoid(),
        "tanh": torch.nn.Tanh(),
        "relu": torch.nn.ReLU(),
        "leaky_relu": torch.nn.LeakyReLU(node.get("slope", 0.01)),
        "elu": torch.nn.ELU(node.get("alpha", 1.0)),
        "selu": torch.nn.SELU(),
        "softplus": torch.nn.Softplus(),
        "swish": torch.nn.SiLU(),
    }[fn]


class TorchNet(torch.nn.Module):
    """Interprets a vgsim network description; a node with several inputs sums them."""

    def __init__(self, net: dict, tr: Trainer):
        super().__init__()
        self.spec = {n["id"]: n for n in net["nodes"]}
        self.order = list(tr.node_ids)
        self.preds = {i: [e["from"] for e in net["edges"] if e["to"] == i] for i in self.order}
        s = tr.state_arrays()
        self.mods = torch.nn.ModuleDict()
        for i in self.order:
            node = self.spec[i]
            if node["type"] == "dense":
                W = s[f"param/{i}/W"]
                lin = torch.nn.Linear(*W.shape, bias=f"param/{i}/b" in s, dtype=torch.float64)
                with torch.no_grad():
                    lin.weight.copy_(_t(W.T))  # torch stores (outputs, inputs)
                    if lin.bias is not None:
                        lin.bias.copy_(_t(s[f"param/{i}/b"]))
                self.mods[i] = lin
            elif node["type"] == "activation":
                self.mods[i] = _activation(node, s.get(f"param/{i}/alpha"))
            elif node["type"] == "batchnorm":
                idx = tr.node_ids.index(i)
                off, w = int(tr.ops[idx, k.K_RUN]), tr.plan.width_out[idx]
                bn = torch.nn.BatchNorm1d(
                    w,
                    eps=node.get("eps", 1e-5),
                    momentum=node.get("momentum", 0.1),
                    dtype=torch.float64,
                )
                with torch.no_grad():
                    bn.weight.copy_(_t(s[f"param/{i}/gamma"]))
                    bn.bias.copy_(_t(s[f"param/{i}/beta"]))
                    bn.running_mean.copy_(_t(tr.bn_run[off : off + w]))
                    bn.running_var.copy_(_t(tr.bn_run[off + w : off + 2 * w]))
                self.mods[i] = bn

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        acts: dict[str, torch.Tensor] = {}
        for i in self.order:
            if self.spec[i]["type"] == "input":
                acts[i] = x
                continue
            v = sum(acts[p] for p in self.preds[i])
            acts[i] = self.mods[i](v) if i in self.mods else v
        return acts

    def param(self, node_id: str, name: str) -> torch.Tensor:
        m = self.mods[node_id]
        return {
            "W": lambda: m.weight,
            "b": lambda: m.bias,
            "gamma": lambda: m.weight,
            "beta": lambda: m.bias,
            "alpha": lambda: m.weight,
        }[name]()

    def as_engine(self, node_id: str, name: str, grad: bool = False) -> np.ndarray:
        p = self.param(node_id, name)
        a = (p.grad if grad else p).detach().numpy()
        return a.T if name == "W" else a


def torch_loss(name: str, z: torch.Tensor, y: np.ndarray) -> torch.Tensor:
    if name == "softmax_cross_entropy":
        return F.cross_entropy(z, torch.tensor(y))
    if y.dtype.kind == "f":  # regression targets
        return F.mse_loss(z, _t(y).reshape(z.shape))
    if name == "binary_cross_entropy" and z.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(z, _t(y).reshape(-1, 1))
    t = F.one_hot(torch.tensor(y), z.shape[1]).to(torch.float64)
    if name == "binary_cross_entropy":
        return F.binary_cross_entropy_with_logits(z, t)
    return F.mse_loss(z, t)


def torch_optimizer(name: str, params, lr: float):
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(
            params, lr=lr, momentum=HYPER["momentum"], nesterov=name == "nesterov"
        )
    if name == "adam":
        return torch.optim.Adam(
            params, lr=lr, betas=(HYPER["beta1"], HYPER["beta2"]), eps=HYPER["eps"]
        )
    return torch.optim.RMSprop(params, lr=lr, alpha=HYPER["alpha"], eps=HYPER["eps"])


def close(actual, expected, what: str, rtol: float = RTOL) -> None:
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(float(np.abs(expected).max()) if expected.size else 0.0, 1e-8)
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64), expected, rtol=rtol, atol=rtol * scale, err_msg=what
    )


def run_parity(net: dict, steps: int = STEPS) -> Trainer:
    """Train the engine and torch side by side on the engine's batches; compare everything."""
    tr = Trainer(Network.from_dict(net))
    cfg = tr.cfg
    model = TorchNet(net, tr)
    model.train()
    opt = torch_optimizer(cfg["optimizer"], model.parameters(), cfg["lr"])
    loss_name = next(n for n in net["nodes"] if n["type"] == "output").get(
        "loss", "softmax_cross_entropy"
    )
    clip = cfg["clip"]
    weights = [model.param(s.node_id, "W") for s in tr.plan.params if s.name == "W"]
    fired_any = False
    for step in range(steps):
        record, state = tr.step_with_state()
        assert record.divergence is None
        opt.zero_grad()
        acts = model(_t(state["x"]))
        for i in tr.node_ids:
            close(state[f"act/{i}"], acts[i].detach().numpy(), f"step {step} act/{i}")
        loss = torch_loss(loss_name, acts[tr.node_ids[tr.plan.out_idx]], state["y"])
        if cfg["l2"] > 0:
            loss = loss + cfg["l2"] * sum((W**2).sum() for W in weights)
        loss.backward()
        assert float(state["loss"]) == pytest.approx(loss.item(), rel=RTOL)
        assert record.scalars["loss"] == pytest.approx(loss.item(), rel=RTOL)
        for s in tr.plan.params:
            key = f"grad/{s.node_id}/{s.name}"
            close(state[key], model.as_engine(s.node_id, s.name, grad=True), f"step {step} {key}")
        if clip["mode"] == "norm":
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip["threshold"]).item()
            assert record.scalars["grad_norm_before_clip"] == pytest.approx(norm, rel=RTOL)
            fired_any |= norm > clip["threshold"]
        elif clip["mode"] == "value":
            torch.nn.utils.clip_grad_value_(model.parameters(), clip["threshold"])
        fired_any |= bool(record.scalars["clip_fired"])
        opt.step()
        after = tr.state_arrays()
        for s in tr.plan.params:
            key = f"param/{s.node_id}/{s.name}"
            close(after[key], model.as_engine(s.node_id, s.name), f"after step {step} {key}")
        for i, kind in enumerate(tr.plan.types):
            if kind == "batchnorm":
                bn = model.mods[tr.node_ids[i]]
                off, w = int(tr.ops[i, k.K_RUN]), tr.plan.width_out[i]
                close(
                    tr.bn_run[off : off + w],
                    bn.running_mean.numpy(),
                    f"step {step} {tr.node_ids[i]} running mean",
                )
                close(
                    tr.bn_run[off + w : off + 2 * w],
                    bn.running_var.numpy(),
                    f"step {step} {tr.node_ids[i]} running var",
                )
    assert fired_any == (clip["mode"] != "none")
    check_evaluation(tr, model, loss_name)
    return tr


def check_evaluation(tr: Trainer, model: TorchNet, loss_name: str) -> None:
    """Trainer.evaluate: the data loss (no L2 term) and accuracy over whole sets, in evaluation
    mode (batch norm normalises with its running statistics)."""
    got = tr.evaluate()
    model.eval()
    out = tr.node_ids[tr.plan.out_idx]
    with torch.no_grad():
        for split, X, y in (
            ("train", tr.data.X_train, tr.data.y_train),
            ("test", tr.data.X_test, tr.data.y_test),
        ):
            z = model(_t(X))[out]
            loss = torch_loss(loss_name, z, y).item()
            assert got[f"{split}_loss"] == pytest.approx(loss, rel=RTOL), split
            if tr.classify:
                zn = z.numpy()
                hit = (zn[:, 0] > 0) == (y == 1) if zn.shape[1] == 1 else zn.argmax(1) == y
                assert got[f"{split}_accuracy"] == pytest.approx(hit.mean(), abs=1e-12)
            else:
                assert np.isnan(got[f"{split}_accuracy"])
    model.train()


OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam", "rmsprop"]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_mlp_each_optimizer(name):
    run_parity(mlp(optimizer=name))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_mlp_each_optimizer_with_clip_norm_and_l2(name):
    run_parity(mlp(optimizer=name, l2=0.01, clip={"mode": "norm", "threshold": 0.1}))


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_mlp_clip_by_value(name):
    run_parity(mlp(optimizer=name, clip={"mode": "value", "threshold": 0.01}))


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_batchnorm_network(name):
    tr = run_parity(
        bn_net(optimizer=name, l2=0.001, clip={"mode": "norm", "threshold": 0.5}), steps=4
    )
    assert not np.allclose(tr.bn_run[:6], 0.0)  # the running statistics really moved


def test_residual_network():
    run_parity(residual_net(optimizer="adam", l2=0.01))


ACTIVATIONS = ["identity", "sigmoid", "softplus", "selu", "swish", "leaky_relu", "elu", "prelu"]


@pytest.mark.parametrize("fn", ACTIVATIONS)
def test_each_activation(fn):
    run_parity(mlp(fn, fn, optimizer="momentum"), steps=2)


LOSSES = [  # id, data, loss, outputs
    ("mse_regression", {"name": "sine", "samples": 200}, "mse", 1),
    ("mse_classification", SPIRAL, "mse", 3),
    ("bce_1_output", {"name": "moons", "samples": 200}, "binary_cross_entropy", 1),
    ("bce_several", SPIRAL, "binary_cross_entropy", 3),
]


@pytest.mark.parametrize(
    ("data", "loss", "n_out"), [c[1:] for c in LOSSES], ids=[c[0] for c in LOSSES]
)
def test_each_loss(data, loss, n_out):
    run_parity(mlp(data=data, loss=loss, n_out=n_out, optimizer="adam"), steps=2)
