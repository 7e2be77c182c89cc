"""Network description -> an ordered plan of ops over flat, preallocated buffers.

Each node owns a block of the activation buffer for its output. A node with one predecessor
reads that predecessor's block directly; a node with several gets its own block for their sum.
Gradients mirror this: a node writes the gradient for its input straight into its predecessor's
block when it is that predecessor's only consumer, and otherwise into a scratch block that is
then added into each predecessor's (which start the backward pass zeroed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels import activations, losses
from .kernels import plan as k
from .schema import RELU_FAMILY, node_defaults
from .spec import Network
from .topology import adjacency, infer_widths, topological_order

KIND_CODES = {
    "input": k.INPUT,
    "dense": k.DENSE,
    "activation": k.ACT,
    "batchnorm": k.BATCHNORM,
    "output": k.OUTPUT,
}
# Histogram range by activation function; everything else uses (-4, 4).
HIST_RANGES = {
    "sigmoid": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "relu": (0.0, 4.0),
    "softplus": (0.0, 4.0),
}


@dataclass(frozen=True)
class ParamSlot:
    node_id: str
    name: str  # "W", "b", "gamma", "beta" or "alpha"
    offset: int
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class Plan:
    order: list[str]
    types: list[str]
    width_in: list[int]
    width_out: list[int]
    preds: np.ndarray
    fpar: np.ndarray
    out_idx: int
    params: list[ParamSlot]
    n_params: int
    bn_size: int
    pred_counts: list[int]
    functions: list[str]  # activation function per node ("" for other kinds)
    loss: str

    def layout(self, rows: int) -> tuple[np.ndarray, int, int, int]:
        """The ops table for buffers of `rows` rows, and the sizes of acts, grads and aux."""
        return _layout(self, rows)


def compile_network(net: Network, n_features: int) -> Plan:
    """Assumes `net` is valid (see validate.py)."""
    order, _ = topological_order(net)
    width_in, width_out, _ = infer_widths(net, order, n_features)
    nodes = {n.id: n for n in net.nodes}
    preds_by_id, _ = adjacency(net)
    index = {node_id: i for i, node_id in enumerate(order)}
    fpar = np.zeros((len(order), 5))
    functions: list[str] = []
    params: list[ParamSlot] = []
    offset = 0
    bn_size = 0
    for i, node_id in enumerate(order):
        node = nodes[node_id]
        p = node_defaults(node.type, node.params)
        fn = p.get("function", "")
        functions.append(fn)
        fpar[i, k.F_A] = p.get("slope", p.get("alpha", 0.0))
        fpar[i, k.F_MOMENTUM] = p.get("momentum", 0.1)
        fpar[i, k.F_EPS] = p.get("eps", 1e-5)
        fpar[i, k.F_LO], fpar[i, k.F_HI] = HIST_RANGES.get(fn, (-4.0, 4.0))
        win, wout = width_in[node_id], width_out[node_id]
        shapes: list[tuple[str, tuple[int, ...]]] = []
        if node.type == "dense":
            shapes.append(("W", (win, wout)))
            if p["bias"]:
                shapes.append(("b", (wout,)))
        elif node.type == "batchnorm":
            shapes += [("gamma", (wout,)), ("beta", (wout,))]
            bn_size += 2 * wout
        elif node.type == "activation" and fn == "prelu":
            shapes.append(("alpha", (1,)))
        for name, shape in shapes:
            params.append(ParamSlot(node_id, name, offset, shape))
            offset += int(np.prod(shape))
    preds = [index[p] for node_id in order for p in preds_by_id[node_id]]
    out_idx = next(i for i, node_id in enumerate(order) if nodes[node_id].type == "output")
    return Plan(
        order=order,
        types=[nodes[node_id].type for node_id in order],
        width_in=[width_in[node_id] for node_id in order],
        width_out=[width_out[node_id] for node_id in order],
        preds=np.asarray(preds, dtype=np.int64),
        fpar=fpar,
        out_idx=out_idx,
        params=params,
        n_params=offset,
        bn_size=bn_size,
        pred_counts=[len(preds_by_id[node_id]) for node_id in order],
        functions=functions,
        loss=node_defaults("output", nodes[order[out_idx]].params)["loss"],
    )


def _layout(plan: Plan, rows: int) -> tuple[np.ndarray, int, int, int]:
    n = len(plan.order)
    ops = np.full((n, k.N_COLS), -1, dtype=np.int64)
    npred = np.zeros(n, dtype=np.int64)
    nsucc = np.zeros(n, dtype=np.int64)
    pred_lists: list[list[int]] = []
    cursor = 0
    for i in range(n):
        count = plan.pred_counts[i]
        pred_lists.append(list(plan.preds[cursor : cursor + count]))
        ops[i, k.K_PRED0] = cursor
        cursor += count
        npred[i] = count
        for p in pred_lists[i]:
            nsucc[p] += 1
    slots = {(s.node_id, s.name): s for s in plan.params}
    acts = grads = aux = bn = 0
    for i, node_id in enumerate(plan.order):
        kind = plan.types[i]
        win, wout = plan.width_in[i], plan.width_out[i]
        ops[i, k.K_KIND] = KIND_CODES[kind]
        ops[i, k.K_WIN], ops[i, k.K_WOUT] = win, wout
        ops[i, k.K_NPRED] = npred[i]
        ops[i, k.K_SUMIN] = int(npred[i] > 1)
        if npred[i] == 1:
            ops[i, k.K_IN] = ops[pred_lists[i][0], k.K_OUT]
        elif npred[i] > 1:
            ops[i, k.K_IN], acts = acts, acts + rows * win
        if kind == "output":
            ops[i, k.K_OUT] = ops[i, k.K_IN]
        else:
            ops[i, k.K_OUT], acts = acts, acts + rows * wout
        if kind == "input":
            ops[i, k.K_IN] = ops[i, k.K_OUT]
        # Gradient at this node's output: its own block (the output node's may alias below).
        alias = npred[i] == 1 and nsucc[pred_lists[i][0]] == 1
        if kind == "output" and alias:
            ops[i, k.K_DOUT] = ops[pred_lists[i][0], k.K_DOUT]
        else:
            ops[i, k.K_DOUT], grads = grads, grads + rows * wout
        if kind == "output":
            ops[i, k.K_DIN] = ops[i, k.K_DOUT]
        elif alias:
            ops[i, k.K_DIN] = ops[pred_lists[i][0], k.K_DOUT]
        elif npred[i] > 0:
            ops[i, k.K_DIN], grads = grads, grads + rows * win
        ops[i, k.K_SCATTER] = int(npred[i] > 0 and not alias)
        ops[i, k.K_NEEDDX] = int(any(plan.types[p] != "input" for p in pred_lists[i]))
        fn = plan.functions[i]
        ops[i, k.K_FN] = activations.CODES[fn] if fn else 0
        ops[i, k.K_LOSS] = losses.CODES[plan.loss]
        ops[i, k.K_L2] = int(kind == "dense")
        ops[i, k.K_DEADSTAT] = int(fn in RELU_FAMILY)
        if kind == "batchnorm":
            ops[i, k.K_XHAT], aux = aux, aux + rows * wout
            ops[i, k.K_INVSTD], aux = aux, aux + wout
            ops[i, k.K_RUN], bn = bn, bn + 2 * wout
        own = [s for s in plan.params if s.node_id == node_id]
        ops[i, k.K_PSTART] = own[0].offset if own else 0
        ops[i, k.K_PEND] = own[-1].offset + own[-1].size if own else 0
        for name, col in (
            ("W", k.K_PW),
            ("b", k.K_PB),
            ("gamma", k.K_PA),
            ("alpha", k.K_PA),
            ("beta", k.K_PBETA),
        ):
            if (node_id, name) in slots:
                ops[i, col] = slots[(node_id, name)].offset
    ops[:, k.K_ZERO] = 0
    for i in range(n):
        if ops[i, k.K_SCATTER]:
            for p in pred_lists[i]:
                ops[p, k.K_ZERO] = 1
    return ops, acts, grads, max(aux, 1)
