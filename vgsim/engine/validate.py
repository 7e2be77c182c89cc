"""Validation: every problem at once, each as a message a student can act on.

This is the single source of truth for what makes a network valid; the canvas only displays it.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path

from . import schema
from .errors import DataError, NetworkError, Problem, shown
from .shapes import Shape, infer_shapes
from .spec import Network, NodeSpec, read_network
from .topology import adjacency, find_cycle, reachable, topological_order


def validate(net: Network) -> list[Problem]:
    problems: list[Problem] = []
    for key in net.unknown_keys:
        problems.append(Problem("format", f'Unknown top-level key "{key}".'))
    problems += _check_training(net.training)
    problems += [_node_problem(n.id, n.type, m) for n in net.nodes for m in _check_node(n)]
    problems += _check_ids_and_edges(net)
    shape, data_problems = _data_shape(net)
    problems += data_problems
    problems += _check_structure(net, shape)
    return _shortened(problems, net)


def _shortened(problems: list[Problem], net: Network) -> list[Problem]:
    """Messages name blocks by id and type: a megabyte-long id is cut to about 60 characters
    there (the problem's `where` keeps it whole, to find the block by)."""
    names = (
        {n.id for n in net.nodes} | {n.type for n in net.nodes} | {x for e in net.edges for x in e}
    )
    long = sorted((x for x in names if len(x) > 60), key=len, reverse=True)
    if not long:
        return problems
    out = []
    for p in problems:
        message = p.message
        for x in long:
            message = message.replace(x, x[:59] + "…")
        out.append(Problem(p.where, message))
    return out


def load_network(path: str | Path) -> Network:
    """Read a network file and validate it; raises NetworkError listing every problem."""
    net = read_network(path)
    problems = validate(net)
    if problems:
        raise NetworkError(problems)
    return net


def _node_problem(node_id: str, node_type: str, message: str) -> Problem:
    return Problem(node_id, f"{node_type or 'Node'} '{node_id}': {message}")


def _is_number(v: object) -> bool:
    """A finite real number (JSON also admits NaN and Infinity; neither is a setting)."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _name(v: object) -> str:
    """A value where a name belongs, as a string that never matches a table by accident."""
    return v if isinstance(v, str) else repr(v)


def _is_int(v: object) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _check_node(node: NodeSpec) -> list[str]:
    if node.type not in schema.NODE_FIELDS:
        known = ", ".join(schema.NODE_FIELDS)
        return [f"unknown block type {shown(node.type)}; known types are {known}."]
    fields = schema.NODE_FIELDS[node.type]
    p = node.params
    allowed = set(fields)
    if node.type == "activation":
        allowed |= set(schema.ACTIVATIONS.get(_name(p.get("function")), {}))
    out = [
        f"unknown field {shown(k)} (allowed: {', '.join(sorted(allowed)) or 'none'})."
        for k in p
        if k not in allowed
    ]
    out += [
        f"the field {shown(k)} is required." for k, d in fields.items() if d is None and k not in p
    ]
    if node.type == "dense":
        units = p.get("units")
        if "units" in p and not (_is_int(units) and 1 <= units <= 4096):
            out.append(f"units must be a whole number from 1 to 4096, not {shown(units)}.")
        if not isinstance(p.get("bias", True), bool):
            out.append("bias must be true or false.")
        out += _check_bias_init(p.get("bias_init", 0.0))
        out += _check_init(p.get("init", "xavier_uniform"))
    elif node.type == "activation":
        fn = _name(p.get("function"))
        if "function" in p and fn not in schema.ACTIVATIONS:
            out.append(
                f"unknown function {shown(fn)}; choose one of {', '.join(schema.ACTIVATIONS)}."
            )
        for k in schema.ACTIVATIONS.get(fn, {}):
            if k in p and not _is_number(p[k]):
                out.append(f"{k} must be a number, not {shown(p[k])}.")
        if fn == "elu" and _is_number(p.get("alpha", 1.0)) and p.get("alpha", 1.0) <= 0:
            out.append(f"ELU's alpha must be positive, not {shown(p['alpha'])}.")
    elif node.type == "batchnorm":
        mom, eps = p.get("momentum", 0.1), p.get("eps", 1e-5)
        if not (_is_number(mom) and 0 <= mom <= 1):
            out.append(f"momentum must be between 0 and 1, not {shown(mom)}.")
        if not (_is_number(eps) and eps > 0):
            out.append(f"eps must be a positive number, not {shown(eps)}.")
    elif node.type in _IMAGE_CHECKS:
        out += _IMAGE_CHECKS[node.type](p)
    elif node.type == "output":
        loss = _name(p.get("loss", "softmax_cross_entropy"))
        if loss not in schema.LOSSES:
            out.append(f"unknown loss {shown(loss)}; choose one of {', '.join(schema.LOSSES)}.")
    return out


def _whole(p: dict, key: str, default: int, lo: int, hi: int) -> list[str]:
    v = p.get(key, default)
    return (
        []
        if _is_int(v) and lo <= v <= hi
        else [f"{key} must be a whole number from {lo} to {hi}, not {shown(v)}."]
    )


def _check_conv(p: dict) -> list[str]:
    out = []
    if "filters" in p:
        out += _whole(p, "filters", 1, 1, 1024)
    out += _whole(p, "kernel", 3, 1, 15) + _whole(p, "stride", 1, 1, 8)
    padding = _name(p.get("padding", "same"))
    if padding not in schema.PADDINGS:
        out.append(
            f"padding must be one of {', '.join(schema.PADDINGS)}, not {shown(p['padding'])}."
        )
    if not isinstance(p.get("bias", True), bool):
        out.append("bias must be true or false.")
    out += _check_bias_init(p.get("bias_init", 0.0))
    return out + _check_init(p.get("init", "xavier_uniform"))


def _check_pool(p: dict) -> list[str]:
    return _whole(p, "size", 2, 1, 16) + (_whole(p, "stride", 2, 1, 16) if "stride" in p else [])


def _check_dropout(p: dict) -> list[str]:
    rate = p.get("rate", 0.5)
    if _is_number(rate) and 0 <= rate < 1:
        return []
    return [f"rate must be a number from 0 up to (not including) 1, not {shown(rate)}."]


_IMAGE_CHECKS = {
    "conv2d": _check_conv,
    "maxpool": _check_pool,
    "avgpool": _check_pool,
    "dropout": _check_dropout,
}


def _check_init(init: object) -> list[str]:
    if isinstance(init, str):
        init = {"name": init}
    if not isinstance(init, dict) or "name" not in init:
        return ['init must be a name such as "he_normal" or {"name": ..., parameters}.']
    name = _name(init["name"])
    if name not in schema.INITIALISERS:
        return [
            f"unknown initialiser {shown(name)}; choose one of {', '.join(schema.INITIALISERS)}."
        ]
    allowed = {"name", "gain", *schema.INITIALISERS[name]}
    out = [
        f"initialiser {name} has no parameter {shown(k)} (allowed: {', '.join(sorted(allowed))})."
        for k in init
        if k not in allowed
    ]
    out += [
        f"initialiser parameter {k} must be a number, not {shown(v)}."
        for k, v in init.items()
        if k != "name" and k in allowed and not _is_number(v)
    ]
    for k in ("std", "limit"):
        if _is_number(init.get(k, 1.0)) and init.get(k, 1.0) < 0:
            out.append(f"initialiser parameter {k} must not be negative, not {shown(init[k])}.")
    out += [
        f"initialiser parameter {k} {_TOO_LARGE}, not {shown(v)}."
        for k, v in init.items()
        if k != "name" and _is_number(v) and abs(v) > MAX_INIT
    ]
    return out


# Weights and biases are drawn in float64 and kept in float32 (largest 3.4e38): a larger
# setting would overflow there, and no network needs anything near it.
MAX_INIT = 1e30
_TOO_LARGE = f"must be at most {MAX_INIT:g} in size (weights are kept as float32)"


def _check_bias_init(bias_init: object) -> list[str]:
    """A number, or an initialiser that draws a vector (any but orthogonal)."""
    if _is_number(bias_init):
        return [] if abs(bias_init) <= MAX_INIT else [f"bias_init {_TOO_LARGE}."]
    if not isinstance(bias_init, str | dict):
        return [
            "bias_init must be a number or an initialiser such as "
            f'{{"name": "normal", "std": 0.22}}, not {shown(bias_init)}.'
        ]
    name = bias_init if isinstance(bias_init, str) else bias_init.get("name")
    if name == "orthogonal":
        return ["bias_init cannot be orthogonal: a bias is a vector, not a matrix."]
    return [f"bias_init: {m}" for m in _check_init(bias_init)]


def _check_training(t: dict) -> list[Problem]:
    out: list[str] = []
    allowed = set(schema.TRAINING_DEFAULTS)
    out += [f"unknown setting {shown(k)}." for k in t if k not in allowed]
    cfg = schema.training_defaults(t)
    if _name(cfg["optimizer"]) not in schema.OPTIMIZERS:
        out.append(
            f"unknown optimizer {shown(cfg['optimizer'])}; "
            f"choose one of {', '.join(schema.OPTIMIZERS)}."
        )
    positive = ("lr", "eps")
    for k in positive:
        if not (_is_number(cfg[k]) and cfg[k] > 0):
            out.append(f"{k} must be a positive number, not {shown(cfg[k])}.")
    for k in ("momentum", "beta1", "beta2", "alpha"):
        if not (_is_number(cfg[k]) and 0 <= cfg[k] < 1):
            out.append(f"{k} must be at least 0 and below 1, not {shown(cfg[k])}.")
    if not (_is_number(cfg["l2"]) and cfg["l2"] >= 0):
        out.append(f"l2 must be a number of at least 0, not {shown(cfg['l2'])}.")
    ranges = {
        "batch_size": (1, 65536),
        "seed": (0, 2**32 - 1),
        "steps": (1, 10**9),
        "bins": (2, 256),
        "eval_every": (1, 10**9),
        "eval_rows": (1, 10**9),
        "history": (16, 10**6),
    }
    words = {"eval_every": ("auto",), "eval_rows": ("auto", "all")}
    for k, (lo, hi) in ranges.items():
        if cfg[k] in words.get(k, ()):
            continue
        if not (_is_int(cfg[k]) and lo <= cfg[k] <= hi):
            also = "".join(f" or {shown(w)}" for w in words.get(k, ()))
            out.append(f"{k} must be a whole number from {lo} to {hi}{also}, not {shown(cfg[k])}.")
    if _name(cfg["dtype"]) not in schema.DTYPES:
        out.append(f"dtype must be one of {', '.join(schema.DTYPES)}, not {shown(cfg['dtype'])}.")
    clip = t.get("clip", {})
    if not isinstance(clip, dict):
        out.append('clip must be {"mode": "none" | "value" | "norm", "threshold": number}.')
    else:
        out += [f"clip has no field {shown(k)}." for k in clip if k not in ("mode", "threshold")]
        if _name(cfg["clip"]["mode"]) not in schema.CLIP_MODES:
            out.append(
                f"clip mode must be one of {', '.join(schema.CLIP_MODES)}, "
                f"not {shown(cfg['clip']['mode'])}."
            )
        thr = cfg["clip"]["threshold"]
        if not (_is_number(thr) and thr > 0):
            out.append(f"the clipping threshold must be a positive number, not {shown(thr)}.")
    return [Problem("training", f"Training: {m}") for m in out]


def _check_ids_and_edges(net: Network) -> list[Problem]:
    out: list[Problem] = []
    seen: set[str] = set()
    for n in net.nodes:
        if n.id.startswith("#"):
            out.append(Problem(n.id, f"Node {n.id} has no id: give every block a unique id."))
        elif n.id in seen:
            out.append(Problem(n.id, f"Two blocks share the id '{n.id}': ids must be unique."))
        seen.add(n.id)
    types = {n.id: n.type for n in net.nodes}
    pairs: set[tuple[str, str]] = set()
    for a, b in net.edges:
        for end in (a, b):
            if end not in types:
                out.append(
                    Problem(
                        "edges",
                        f"The edge {a} → {b} names '{end}', which is not a block of this network.",
                    )
                )
        if a == b:
            out.append(Problem(a, f"The edge {a} → {b} connects '{a}' to itself."))
        if (a, b) in pairs:
            out.append(Problem(b, f"The edge {a} → {b} appears twice."))
        pairs.add((a, b))
        if types.get(b) == "input":
            out.append(
                Problem(
                    b,
                    f"The edge {a} → {b} goes into the input '{b}': "
                    "the input takes data, not edges.",
                )
            )
        if types.get(a) == "output":
            out.append(
                Problem(
                    a, f"The edge {a} → {b} leaves the output '{a}': nothing may follow the output."
                )
            )
    return out


def _data_shape(net: Network) -> tuple[tuple[Shape, int, str] | None, list[Problem]]:
    """(input shape, number of targets, task) of the network's data, or the data's problems."""
    from .data import check_data_spec, dataset_shape, input_shape

    messages = check_data_spec(net.data) if isinstance(net.data, dict) else ["data: not an object"]
    if messages:
        return None, [Problem("data", f"Data: {m}") for m in messages]
    try:
        n_features, n_targets, task = dataset_shape(net.data, net.base_dir)
        return (input_shape(net.data, n_features), n_targets, task), []
    except DataError as exc:
        return None, [Problem("data", f"Data: {exc}")]


def _check_structure(net: Network, shape: tuple[Shape, int, str] | None) -> list[Problem]:
    out: list[Problem] = []
    inputs = [n.id for n in net.nodes if n.type == "input"]
    outputs = [n.id for n in net.nodes if n.type == "output"]
    if not inputs:
        out.append(Problem("nodes", "The network has no input block: add one where data enters."))
    if len(inputs) > 1:
        out.append(
            Problem(
                inputs[1],
                f"The network has {len(inputs)} input blocks "
                f"({', '.join(inputs)}); it needs exactly one.",
            )
        )
    if not outputs:
        out.append(Problem("nodes", "The network has no output block: add one to choose the loss."))
    if len(outputs) > 1:
        out.append(
            Problem(
                outputs[1],
                f"The network has {len(outputs)} output blocks "
                f"({', '.join(outputs)}); it needs exactly one.",
            )
        )
    order, cyclic = topological_order(net)
    if cyclic:
        cycle = find_cycle(net, cyclic)
        where = cycle[0] if cycle else cyclic[0]
        out.append(
            Problem(
                where,
                "The edges form a cycle: "
                + " → ".join(cycle or cyclic)
                + ". A network must flow one way, from input to output.",
            )
        )
    preds, succs = adjacency(net)
    from_input = reachable(inputs[:1], succs)
    to_output = reachable(outputs[:1], preds)
    for n in net.nodes:
        if n.type in ("input", "") or n.id in cyclic:
            continue
        if not preds[n.id]:
            out.append(
                _node_problem(n.id, n.type, "has no incoming edge: connect a block into it.")
            )
        elif inputs and n.id not in from_input:
            out.append(_node_problem(n.id, n.type, "cannot be reached from the input."))
    for n in net.nodes:
        if n.type != "output" and n.id not in cyclic and outputs and n.id not in to_output:
            out.append(
                _node_problem(
                    n.id,
                    n.type,
                    f"is dangling: its result never reaches the output '{outputs[0]}'.",
                )
            )
    if shape is None or cyclic:
        return out
    data_shape, n_targets, task = shape
    shapes = infer_shapes(net, order, data_shape)
    out += [Problem(node, message) for node, message in shapes.problems]
    for oid in outputs[:1]:
        if oid in shapes.shape_out:
            width = shapes.shape_out[oid][0]
            out += _check_output(net.node(oid), width, n_targets, task, net.data)
    return out


def _check_output(
    node: NodeSpec, width: int, n_targets: int, task: str, data: dict
) -> list[Problem]:
    loss = node.params.get("loss", "softmax_cross_entropy")
    name = data.get("name", "the")
    if task == "regression" and loss != "mse":
        return [
            _node_problem(
                node.id, "output", f"the {name} data set is a regression task: use the mse loss."
            )
        ]
    expected = n_targets
    if loss == "binary_cross_entropy" and n_targets == 2:
        expected = 1
    if width != expected:
        what = f"{n_targets} classes" if task == "classification" else f"{n_targets} targets"
        return [
            _node_problem(
                node.id,
                "output",
                f"receives {width} values but the {name} data "
                f"set has {what}: make the last dense layer "
                f"{expected} units wide.",
            )
        ]
    return []
