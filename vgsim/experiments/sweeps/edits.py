"""Axis paths: how one value of a sweep axis changes a network.

A path names a field of the network file, or one of a few structural settings of a chain:

    training.<key>            a training setting: training.lr, training.optimizer, ...
    data.<key>                a data setting: data.samples, ...
    nodes.<id>.<field>[.<p>]  one block's field, or a parameter of its initialiser
    dense.<field>[.<p>]       the same field of every hidden dense layer (all but the readout,
                              the dense layer that feeds the output): dense.units,
                              dense.init.gain, dense.bias_init
    activation.<field>        every activation block: activation.function, activation.slope
    dense.sigma_w2            every hidden layer's weights drawn from N(0, v / n_in)
    dense.sigma_b2            every hidden layer's biases drawn from N(0, v)
    blocks                    the number of repeated hidden blocks (dense [→ batchnorm] →
                              activation) of a chain: the depth
    batchnorm                 true: batch norm between each hidden dense layer and its
                              activation; false: none
    skip                      true: each hidden block after the first adds its input to its
                              activation's input (a residual chain); false: a plain chain

The structural paths need the base network to be a chain input → blocks → readout → output
whose blocks repeat one pattern; anything else is refused with a SweepError saying why.
"""

from __future__ import annotations

import math

from ...engine.errors import VgsimError
from ...engine.schema import init_defaults
from ...engine.spec import Network, NodeSpec, clone

STRUCTURAL = ("blocks", "batchnorm", "skip")
SECTIONS = ("training", "data", "nodes", "dense", "activation")


class SweepError(VgsimError):
    """A sweep spec that cannot be run; the message says what to change."""


def check_path(path: object) -> str | None:
    """None if `path` is a path of the forms above, else why not."""
    if not isinstance(path, str) or not path:
        return f"an axis path must be text such as 'training.lr', not {path!r}"
    if path in STRUCTURAL:
        return None
    parts = path.split(".")
    if parts[0] not in SECTIONS:
        return (
            f"unknown axis path {path!r}: it must start with one of {', '.join(SECTIONS)} "
            f"or be one of {', '.join(STRUCTURAL)}"
        )
    least = 3 if parts[0] == "nodes" else 2
    if len(parts) < least or not all(parts):
        return f"the axis path {path!r} is incomplete"
    return None


def apply(net: Network, path: str, value: object) -> Network:
    """A copy of `net` with `path` set to `value`."""
    net = net.copy()
    section, *rest = path.split(".")
    if section in ("training", "data"):
        target = net.training if section == "training" else net.data
        _set(target, rest, value)
    elif section == "nodes":
        try:
            node = net.node(rest[0])
        except KeyError:
            raise SweepError(
                f"The axis {path!r} names no block '{rest[0]}' of the network."
            ) from None
        _set_node(node, rest[1:], value)
    elif section == "dense":
        for node in _hidden_dense(net, path):
            _set_node(node, rest, value)
    elif section == "activation":
        acts = [n for n in net.nodes if n.type == "activation"]
        if not acts:
            raise SweepError(f"The axis {path!r} needs an activation block; the network has none.")
        for node in acts:
            _set(node.params, rest, value)
    elif section == "blocks":
        net = _with_blocks(net, _whole(path, value, 1))
    elif section == "batchnorm":
        net = _with_batchnorm(net, _flag(path, value))
    elif section == "skip":
        net = _with_skips(net, _flag(path, value))
    return net


def _set(target: dict, keys: list[str], value: object) -> None:
    for key in keys[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[keys[-1]] = clone(value)


def _set_node(node: NodeSpec, keys: list[str], value: object) -> None:
    if node.type == "dense" and keys == ["sigma_w2"]:
        node.params["init"] = {"name": "lecun_normal", "gain": math.sqrt(_variance(keys, value))}
    elif node.type == "dense" and keys == ["sigma_b2"]:
        node.params["bias_init"] = {"name": "normal", "std": math.sqrt(_variance(keys, value))}
    elif len(keys) > 1 and keys[0] in ("init", "bias_init"):
        # A parameter of an initialiser given by name: spell the initialiser out first.
        current = node.params.get(keys[0], "xavier_uniform" if keys[0] == "init" else 0.0)
        if isinstance(current, str | dict):
            node.params[keys[0]] = {k: v for k, v in init_defaults(current).items()}
        _set(node.params, keys, value)
    else:
        _set(node.params, keys, value)


def _variance(keys: list[str], value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise SweepError(f"{keys[0]} must be a variance of at least 0, not {value!r}.")
    return float(value)


def _whole(path: str, value: object, lowest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        raise SweepError(f"{path} must be a whole number from {lowest} up, not {value!r}.")
    return value


def _flag(path: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise SweepError(f"{path} must be true or false, not {value!r}.")
    return value


# --- chains -------------------------------------------------------------------------------------
def _chain(net: Network, path: str) -> list[str]:
    """The node ids from input to output of a plain chain (skips allowed into activations)."""
    preds: dict[str, list[str]] = {n.id: [] for n in net.nodes}
    succs: dict[str, list[str]] = {n.id: [] for n in net.nodes}
    for a, b in net.edges:
        if a in preds and b in preds:
            preds[b].append(a)
            succs[a].append(b)
    inputs = [n.id for n in net.nodes if n.type == "input"]
    if len(inputs) != 1:
        raise SweepError(f"The axis {path!r} needs a network with one input block.")
    order, node = [inputs[0]], inputs[0]
    while True:
        # The main path: the successor that is not a skip's end (a block fed by several is
        # reached by its main edge, the one from the block just before it on the path).
        nxt = [s for s in succs[node] if preds[s][0] == node or len(preds[s]) == 1]
        if not nxt:
            break
        if len(nxt) > 1:
            raise SweepError(
                f"The axis {path!r} needs a chain of blocks, but '{node}' feeds "
                f"{', '.join(nxt)}; sweep a chain (one path from input to output)."
            )
        node = nxt[0]
        order.append(node)
    if len(order) != len(net.nodes):
        raise SweepError(f"The axis {path!r} needs a chain: some blocks are off the main path.")
    return order


def _hidden_dense(net: Network, path: str) -> list[NodeSpec]:
    """Every dense layer but the readout (a dense layer with no dense layer after it)."""
    dense = [n for n in net.nodes if n.type == "dense"]
    try:
        order = _chain(net, path)
        dense = sorted(dense, key=lambda n: order.index(n.id))
    except SweepError:
        pass
    if len(dense) < 2:
        raise SweepError(
            f"The axis {path!r} sets the hidden dense layers, and the network has none "
            "(only a readout)."
        )
    return dense[:-1]


def _blocks(net: Network, path: str) -> tuple[list[str], list[list[str]], list[str]]:
    """(head, repeated blocks, tail) of a chain: head is the input, tail the readout dense
    layer and what follows it; each block starts at a dense layer."""
    order = _chain(net, path)
    types = {n.id: n.type for n in net.nodes}
    dense_at = [i for i, node in enumerate(order) if types[node] == "dense"]
    if len(dense_at) < 2:
        raise SweepError(f"The axis {path!r} needs at least one hidden dense layer.")
    if dense_at[0] != 1:
        raise SweepError(f"The axis {path!r} needs the input to feed a dense layer.")
    readout = dense_at[-1]
    starts = dense_at[:-1] + [readout]
    blocks = [order[a:b] for a, b in zip(starts, starts[1:], strict=False)]
    return order[:1], blocks, order[readout:]


def _signature(net: Network, block: list[str]) -> list[tuple]:
    kinds = []
    for node_id in block:
        n = net.node(node_id)
        kinds.append((n.type, n.params.get("function")))
    return kinds


def _rebuild(
    net: Network, head: list[str], blocks: list[list[NodeSpec]], tail: list[str], skips: bool
) -> Network:
    """The chain head → blocks → tail, laid out left to right, with skips if asked."""
    from ...engine.builders import SPACING

    out = net.copy()
    ids = [*head, *(n.id for b in blocks for n in b), *tail]
    keep = {n.id: n for n in out.nodes}
    nodes = [keep[i] for i in head] + [n for b in blocks for n in b] + [keep[i] for i in tail]
    for i, node in enumerate(nodes):
        node.pos = (i * SPACING, 0.0)
    out.nodes = nodes
    out.edges = list(zip(ids, ids[1:], strict=False))
    if skips:
        prev_out = None
        for block in blocks:
            act = next((n for n in block if n.type == "activation"), None)
            if prev_out is not None and act is not None:
                out.edges.append((prev_out, act.id))
            prev_out = block[-1].id
    return out


def _has_skips(net: Network) -> bool:
    targets = [b for _, b in net.edges]
    return len(targets) != len(set(targets))


def _with_blocks(net: Network, count: int) -> Network:
    head, blocks, tail = _blocks(net, "blocks")
    pattern = _signature(net, blocks[0])
    if any(_signature(net, b) != pattern for b in blocks):
        raise SweepError(
            "The axis 'blocks' repeats the network's hidden block, but its hidden blocks differ "
            f"({' | '.join(' → '.join(b) for b in blocks)}); give every block the same layers."
        )
    built = [[net.node(i) for i in b] for b in blocks[:count]]
    taken = {n.id for n in net.nodes}
    template = blocks[-1]
    for k in range(len(blocks), count):
        fresh = []
        for node_id in template:
            src = net.node(node_id)
            new_id = _fresh_id(src.type, src.params.get("function"), k + 1, taken)
            fresh.append(NodeSpec(new_id, src.type, clone(src.params), None, None))
        built.append(fresh)
    return _rebuild(net, head, built, tail, _has_skips(net))


def _fresh_id(kind: str, function: object, number: int, taken: set[str]) -> str:
    stem = {"dense": "dense", "batchnorm": "bn", "activation": "act"}.get(kind, kind)
    new_id, n = f"{stem}{number}", number
    while new_id in taken:
        n += 1000
        new_id = f"{stem}{n}"
    taken.add(new_id)
    return new_id


def _with_batchnorm(net: Network, on: bool) -> Network:
    head, blocks, tail = _blocks(net, "batchnorm")
    taken = {n.id for n in net.nodes}
    built = []
    for k, block in enumerate(blocks):
        nodes = [net.node(i) for i in block if net.node(i).type != "batchnorm"]
        if on:
            bn = NodeSpec(_fresh_id("batchnorm", None, k + 1, taken), "batchnorm", {}, None, None)
            nodes.insert(1, bn)
        built.append(nodes)
    return _rebuild(net, head, built, tail, _has_skips(net))


def _with_skips(net: Network, on: bool) -> Network:
    head, blocks, tail = _blocks(net, "skip")
    built = [[net.node(i) for i in b] for b in blocks]
    return _rebuild(net, head, built, tail, on)
