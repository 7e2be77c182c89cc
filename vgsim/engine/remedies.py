"""The lecture's remedies as edits of a network description (the window applies them as one
undoable step). Each takes a network and returns a changed copy; the original is untouched."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count

from .schema import RELU_FAMILY, SATURATING
from .spec import Network, NodeSpec
from .topology import adjacency, topological_order

DEFAULT_CLIP = 1.0
DEFAULT_L2 = 1e-4
DEFAULT_DROPOUT = 0.5


def _hidden_dense(net: Network) -> list[NodeSpec]:
    """Dense nodes in order, without the last one (the head that feeds the output)."""
    order, _ = topological_order(net)
    dense = [net.node(i) for i in order if net.node(i).type == "dense"]
    return dense[:-1]


def _activation_after(net: Network, dense_id: str) -> NodeSpec | None:
    """The activation a dense node feeds, through batch norms if any."""
    _, succs = adjacency(net)
    node = dense_id
    for _ in range(3):
        nxt = succs[node]
        if len(nxt) != 1:
            return None
        n = net.node(nxt[0])
        if n.type == "activation":
            return n
        if n.type != "batchnorm":
            return None
        node = n.id
    return None


def _fresh(taken: set[str], names: Iterator[str]) -> str:
    """The first of `names` no block has, now taken."""
    name = next(n for n in names if n not in taken)
    taken.add(name)
    return name


def set_init(net: Network, name: str) -> Network:
    out = net.copy()
    for node in _hidden_dense(out):
        node.params["init"] = name
    return out


def non_saturating(net: Network) -> Network:
    out = set_init(net, "he_normal")
    for node in out.nodes:
        if node.type == "activation" and node.params.get("function") in SATURATING:
            node.params = {"function": "relu"}
    return out


def leaky_relu(net: Network) -> Network:
    out = net.copy()
    for node in out.nodes:
        if node.type == "activation" and node.params.get("function") == "relu":
            node.params = {"function": "leaky_relu", "slope": 0.01}
    return out


def insert_batchnorm(net: Network) -> Network:
    """A batch norm between each hidden dense layer and its activation (where there is none)."""
    out = net.copy()
    taken = {n.id for n in out.nodes}
    for dense in _hidden_dense(out):
        act = _activation_after(out, dense.id)
        if act is None or (dense.id, act.id) not in out.edges:
            continue
        bn_id = _fresh(taken, (f"bn_{dense.id}{'' if k == 1 else k}" for k in count(1)))
        x, y = dense.pos or (0.0, 0.0)
        out.nodes.insert(
            out.nodes.index(dense) + 1, NodeSpec(bn_id, "batchnorm", {}, pos=(x + 60.0, y + 90.0))
        )
        i = out.edges.index((dense.id, act.id))
        out.edges[i : i + 1] = [(dense.id, bn_id), (bn_id, act.id)]
    return out


def add_dropout(net: Network) -> Network:
    """A dropout layer (rate 0.5) after the activation of each hidden dense layer, feeding
    whatever that activation fed."""
    out = net.copy()
    taken = {n.id for n in out.nodes}
    for dense in _hidden_dense(out):
        act = _activation_after(out, dense.id)
        if act is None:
            continue
        drop_id = _fresh(taken, (f"drop{k}" for k in count(1)))  # short on the canvas
        x, y = act.pos or (0.0, 0.0)
        out.nodes.insert(
            out.nodes.index(act) + 1,
            NodeSpec(drop_id, "dropout", {"rate": DEFAULT_DROPOUT}, pos=(x + 60.0, y + 90.0)),
        )
        out.edges = [(drop_id if a == act.id else a, b) for a, b in out.edges]
        out.edges.append((act.id, drop_id))
    return out


def clip(net: Network) -> Network:
    out = net.copy()
    current = out.training.get("clip", {})
    if isinstance(current, dict) and current.get("mode") == "norm":
        threshold = float(current.get("threshold", DEFAULT_CLIP)) / 2
    else:
        threshold = DEFAULT_CLIP
    out.training["clip"] = {"mode": "norm", "threshold": threshold}
    return out


def l2(net: Network) -> Network:
    out = net.copy()
    current = float(out.training.get("l2", 0.0))
    out.training["l2"] = current * 10 if current > 0 else DEFAULT_L2
    return out


def lower_lr(net: Network) -> Network:
    out = net.copy()
    out.training["lr"] = float(out.training.get("lr", 0.1)) / 10
    return out


def raise_lr(net: Network) -> Network:
    out = net.copy()
    out.training["lr"] = float(out.training.get("lr", 0.1)) * 10
    return out


def add_skips(net: Network) -> Network:
    """Residual blocks over pairs of hidden layers: the activation before a pair is added to
    the pair's last activation input (only where the widths match)."""
    out = net.copy()
    acts = [(d, _activation_after(out, d.id)) for d in _hidden_dense(out)]
    acts = [(d, a) for d, a in acts if a is not None]
    for k in range(1, len(acts) - 1, 2):
        source_dense, source = acts[k - 1]
        target_dense, target = acts[k + 1]
        same = source_dense.params.get("units") == target_dense.params.get("units")
        if same and (source.id, target.id) not in out.edges:
            out.edges.append((source.id, target.id))
    return out


def fewer_layers(net: Network) -> Network:
    """Remove the lower half of the hidden layers (each dense with its batch norm and
    activation), reconnecting the chain."""
    out = net.copy()
    hidden = _hidden_dense(out)
    drop_count = len(hidden) // 2
    for dense in hidden[1 : 1 + drop_count]:
        group = [dense.id]
        act = _activation_after(out, dense.id)
        preds, succs = adjacency(out)
        node = dense.id
        while act is not None and node != act.id:
            node = succs[node][0]
            group.append(node)
        first_in = preds[group[0]]
        last_out = succs[group[-1]]
        if len(first_in) != 1 or len(last_out) != 1:
            continue
        out.edges = [e for e in out.edges if e[0] not in group and e[1] not in group]
        out.nodes = [n for n in out.nodes if n.id not in group]
        out.edges.append((first_in[0], last_out[0]))
    return out


def apply_remedy(net: Network, key: str) -> Network:
    """The network with one remedy (a Remedy.key from diagnose.py) applied."""
    relu_net = any(
        n.type == "activation" and n.params.get("function") in RELU_FAMILY for n in net.nodes
    )
    actions = {
        "xavier_init": lambda n: set_init(n, "xavier_uniform"),
        "he_init": lambda n: set_init(n, "he_normal" if relu_net else "xavier_uniform"),
        "non_saturating": non_saturating,
        "leaky_relu": leaky_relu,
        "batchnorm": insert_batchnorm,
        "clip": clip,
        "l2": l2,
        "lower_lr": lower_lr,
        "raise_lr": raise_lr,
        "skip": add_skips,
        "fewer_layers": fewer_layers,
        "dropout": add_dropout,
    }
    if key not in actions:
        raise KeyError(f"unknown remedy {key!r}")
    return actions[key](net)
