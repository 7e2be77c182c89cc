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

from .kernels import activations, conv, images, losses
from .kernels import plan as k
from .schema import RELU_FAMILY, node_defaults
from .shapes import Shape, infer_shapes, input_shape_of, same_pad, size_of
from .spec import Network
from .topology import adjacency, topological_order

KIND_CODES = {
    "input": k.INPUT,
    "dense": k.DENSE,
    "activation": k.ACT,
    "batchnorm": k.BATCHNORM,
    "output": k.OUTPUT,
    "conv2d": images.CONV,
    "maxpool": images.MAXPOOL,
    "avgpool": images.AVGPOOL,
    "global_avgpool": images.GLOBAL_AVGPOOL,
    "flatten": images.FLATTEN,
    "dropout": images.DROPOUT,
}
F_SEED = 5  # fpar's column after plan.py's: the training seed (dropout's masks)
N_FPAR = 6
assert k.N_COLS == images.K_H, "the image columns of ops follow plan.py's"
# Histogram range by activation function; everything else uses (-4, 4).
HIST_RANGES = {
    "sigmoid": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "relu": (0.0, 4.0),
    "softplus": (0.0, 4.0),
}
# Nodes whose values stay within their input's range (a ReLU's pooled or flattened outputs are
# still >= 0): their histograms take their input's bins.
RANGE_KEEPING = ("flatten", "maxpool", "avgpool", "global_avgpool", "dropout")


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
    # Input and output shape per node: (values,) or (height, width, channels).
    shape_in: list[Shape]
    shape_out: list[Shape]
    # Per node: (kernel or window size, stride, zeros before the first pixel); 0s elsewhere.
    windows: list[tuple[int, int, int]]

    def layout(self, rows: int) -> tuple[np.ndarray, int, int, int]:
        """The ops table for buffers of `rows` rows, and the sizes of acts, grads and aux."""
        return _layout(self, rows)


def compile_network(net: Network, input_shape: int | Shape) -> Plan:
    """Assumes `net` is valid (see validate.py). `input_shape`: what the data gives, an
    image's (height, width, channels) or a number of features (made an image when the data
    set gives images)."""
    order, _ = topological_order(net)
    inferred = infer_shapes(net, order, input_shape_of(net, input_shape))
    shape_in, shape_out = inferred.shape_in, inferred.shape_out
    nodes = {n.id: n for n in net.nodes}
    preds_by_id, _ = adjacency(net)
    index = {node_id: i for i, node_id in enumerate(order)}
    fpar = np.zeros((len(order), N_FPAR))
    functions: list[str] = []
    windows: list[tuple[int, int, int]] = []
    params: list[ParamSlot] = []
    offset = 0
    bn_size = 0
    seed = float(net.training.get("seed", 0))
    for i, node_id in enumerate(order):
        node = nodes[node_id]
        p = node_defaults(node.type, node.params)
        fn = p.get("function", "")
        functions.append(fn)
        fpar[i, k.F_A] = p.get("slope", p.get("alpha", p.get("rate", 0.0)))
        fpar[i, k.F_MOMENTUM] = p.get("momentum", 0.1)
        fpar[i, k.F_EPS] = p.get("eps", 1e-5)
        fpar[i, k.F_LO], fpar[i, k.F_HI] = HIST_RANGES.get(fn, (-4.0, 4.0))
        if node.type in RANGE_KEEPING and len(preds_by_id[node_id]) == 1:
            before = index[preds_by_id[node_id][0]]
            fpar[i, k.F_LO], fpar[i, k.F_HI] = fpar[before, k.F_LO], fpar[before, k.F_HI]
        fpar[i, F_SEED] = seed
        win, wout = size_of(shape_in[node_id]), size_of(shape_out[node_id])
        channels = shape_out[node_id][-1]
        size = p.get("kernel", p.get("size", 0))
        pad = same_pad(size) if p.get("padding") == "same" else 0
        windows.append((size, p.get("stride", 0), pad))
        shapes: list[tuple[str, tuple[int, ...]]] = []
        if node.type == "dense":
            shapes.append(("W", (win, wout)))
            if p["bias"]:
                shapes.append(("b", (wout,)))
        elif node.type == "conv2d":
            shapes.append(("W", (size, size, shape_in[node_id][-1], channels)))
            if p["bias"]:
                shapes.append(("b", (channels,)))
        elif node.type == "batchnorm":
            shapes += [("gamma", (channels,)), ("beta", (channels,))]
            bn_size += 2 * channels
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
        width_in=[size_of(shape_in[node_id]) for node_id in order],
        width_out=[size_of(shape_out[node_id]) for node_id in order],
        preds=np.asarray(preds, dtype=np.int64),
        fpar=fpar,
        out_idx=out_idx,
        params=params,
        n_params=offset,
        bn_size=bn_size,
        pred_counts=[len(preds_by_id[node_id]) for node_id in order],
        functions=functions,
        loss=node_defaults("output", nodes[order[out_idx]].params)["loss"],
        shape_in=[shape_in[node_id] for node_id in order],
        shape_out=[shape_out[node_id] for node_id in order],
        windows=windows,
    )


def _layout(plan: Plan, rows: int) -> tuple[np.ndarray, int, int, int]:
    n = len(plan.order)
    ops = np.full((n, images.N_COLS), -1, dtype=np.int64)
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
    scratch = 0  # the convolutions' shared scratch, placed after everything else
    for i, node_id in enumerate(plan.order):
        kind = plan.types[i]
        win, wout = plan.width_in[i], plan.width_out[i]
        aux, scratch = _image_layout(plan, i, rows, ops, aux, scratch)
        ops[i, k.K_KIND] = KIND_CODES[kind]
        ops[i, k.K_WIN], ops[i, k.K_WOUT] = win, wout
        ops[i, k.K_NPRED] = npred[i]
        ops[i, k.K_SUMIN] = int(npred[i] > 1)
        if npred[i] == 1:
            ops[i, k.K_IN] = ops[pred_lists[i][0], k.K_OUT]
        elif npred[i] > 1:
            ops[i, k.K_IN], acts = acts, acts + rows * win
        if kind in ("output", "flatten"):  # the same values: no copy of their own
            ops[i, k.K_OUT] = ops[i, k.K_IN]
        else:
            ops[i, k.K_OUT], acts = acts, acts + rows * wout
        if kind == "input":
            ops[i, k.K_IN] = ops[i, k.K_OUT]
        # Gradient at this node's output: its own block (the output node's may alias below).
        alias = npred[i] == 1 and nsucc[pred_lists[i][0]] == 1
        if kind == "output" and alias:
            ops[i, k.K_DOUT] = ops[pred_lists[i][0], k.K_DOUT]
        elif kind != "flatten":
            ops[i, k.K_DOUT], grads = grads, grads + rows * wout
        if kind == "output":
            ops[i, k.K_DIN] = ops[i, k.K_DOUT]
        elif alias:
            ops[i, k.K_DIN] = ops[pred_lists[i][0], k.K_DOUT]
        elif npred[i] > 0:
            ops[i, k.K_DIN], grads = grads, grads + rows * win
        if kind == "flatten":  # its successors' gradient is its input's: one block for both
            ops[i, k.K_DOUT] = ops[i, k.K_DIN]
        ops[i, k.K_SCATTER] = int(npred[i] > 0 and not alias)
        ops[i, k.K_NEEDDX] = int(any(plan.types[p] != "input" for p in pred_lists[i]))
        fn = plan.functions[i]
        ops[i, k.K_FN] = activations.CODES[fn] if fn else 0
        ops[i, k.K_LOSS] = losses.CODES[plan.loss]
        ops[i, k.K_L2] = int(kind in ("dense", "conv2d"))
        ops[i, k.K_DEADSTAT] = int(fn in RELU_FAMILY)
        if kind == "batchnorm":
            channels = plan.shape_out[i][-1]
            ops[i, k.K_XHAT], aux = aux, aux + rows * wout
            ops[i, k.K_INVSTD], aux = aux, aux + channels
            ops[i, k.K_RUN], bn = bn, bn + 2 * channels
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
        if plan.types[i] == "conv2d":
            ops[i, images.K_SCRATCH] = aux
    return ops, acts, grads, max(aux + scratch, 1)


def _as_image(shape: Shape) -> tuple[int, int, int]:
    """A vector of w values as a 1 × 1 × w image."""
    return (shape[0], shape[1], shape[2]) if len(shape) == 3 else (1, 1, shape[0])


def _image_layout(plan: Plan, i: int, rows: int, ops: np.ndarray, aux: int, scratch: int):
    """Node i's geometry columns, and room in `aux` for what its backward pass needs. Returns
    the new end of aux and the size of the convolutions' shared scratch."""
    h, w, c = _as_image(plan.shape_in[i])
    oh, ow, oc = _as_image(plan.shape_out[i])
    size, stride, pad = plan.windows[i]
    ops[i, images.K_H : images.K_OC + 1] = (h, w, c, oh, ow, oc)
    ops[i, images.K_SIZE : images.K_PAD + 1] = (size, stride, pad)
    ops[i, images.K_KEEP] = -1
    kind = plan.types[i]
    if kind == "conv2d":
        ops[i, images.K_NW] = size * size * c * oc
        keep = conv.padded_input_size(rows, h, w, c, oh, ow, size, stride, pad)
        scratch = max(scratch, conv.scratch_size(rows, h, w, c, oc, size))
    else:
        ops[i, images.K_NW] = plan.width_in[i] * plan.width_out[i] if kind == "dense" else 0
        keep = rows * plan.width_out[i] if kind in ("maxpool", "dropout") else 0
    if keep:
        ops[i, images.K_KEEP] = aux
    return aux + keep, scratch
