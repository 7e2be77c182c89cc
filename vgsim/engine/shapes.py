"""The shape of every node's output, inferred from the data: a flat vector (n,) or an image
(height, width, channels). Shared by validation (which explains what does not fit), compilation
(which sizes the buffers) and the canvas (which shows shapes on the blocks).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .schema import node_defaults
from .spec import Network
from .topology import adjacency

Shape = tuple[int, ...]
# Node types that need an image at their input, and those that need a flat vector.
IMAGE_INPUT = ("conv2d", "maxpool", "avgpool", "global_avgpool")
FLAT_INPUT = ("dense", "output")


def input_shape_of(net: Network, features: int | Shape) -> Shape:
    """What `net`'s input gives: `features` itself when it is a shape; for a number of
    features, the image its data set makes of them when the data asks for images ("shape":
    "image"), else a vector of that many values."""
    if not isinstance(features, int):
        return tuple(features)
    from .data import input_shape
    from .errors import DataError

    try:
        return input_shape(net.data, features) if isinstance(net.data, dict) else (features,)
    except DataError:
        return (features,)


def shape_text(shape: Shape) -> str:
    """ "8×8×16" for an image, "64" for a vector."""
    return "×".join(str(s) for s in shape)


def _values(shape: Shape) -> str:
    return f"{shape[0]} values" if len(shape) == 1 else shape_text(shape)


def size_of(shape: Shape) -> int:
    out = 1
    for s in shape:
        out *= s
    return out


def same_pad(kernel: int) -> int:
    """Zeros before the first pixel with "same" padding; PyTorch puts the odd one after."""
    return (kernel - 1) // 2


def conv_output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    """ceil(size / stride) with "same" padding, floor((size − kernel) / stride) + 1 with
    "valid" (PyTorch's formula with padding 0; "same" with stride 1 keeps the size)."""
    if padding == "same":
        return -(-size // stride)
    return (size - kernel) // stride + 1


def pool_output_size(size: int, window: int, stride: int) -> int:
    """floor((size − window) / stride) + 1, as PyTorch's pools without padding."""
    return (size - window) // stride + 1


@dataclass
class Shapes:
    """Each node's input and output shape (nodes after a problem may have none), and the
    problems found, as (node id, message)."""

    shape_in: dict[str, Shape] = field(default_factory=dict)
    shape_out: dict[str, Shape] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)


def _flat_hint(node_id: str, kind: str, shape: Shape) -> str:
    what = "a dense layer" if kind == "dense" else "the output"
    return (
        f"{kind} '{node_id}' receives {shape_text(shape)} images, but {what} takes a flat "
        "vector: put a flatten or global_avgpool block before it."
    )


def _image_hint(node_id: str, kind: str, shape: Shape, data_name: str) -> str:
    hint = (
        'set "shape": "image" in the data section'
        if data_name == "digits"
        else "convolve the images before any dense layer or flatten"
    )
    return (
        f"{kind} '{node_id}' needs images (height × width × channels) but receives "
        f"{shape[0]} values: {hint}."
    )


def _output_shape(node_id: str, kind: str, p: dict, x: Shape, data_name: str, out: Shapes):
    """The node's output shape for input shape x, or None (with a problem) if it cannot take x."""
    if kind in IMAGE_INPUT and len(x) != 3:
        out.problems.append((node_id, _image_hint(node_id, kind, x, data_name)))
        return None
    if kind in FLAT_INPUT and len(x) != 1:
        out.problems.append((node_id, _flat_hint(node_id, kind, x)))
        return None
    if kind == "dense":
        units = p.get("units")
        return (units,) if isinstance(units, int) and units > 0 else None
    if kind == "flatten":
        return (size_of(x),)
    if kind == "global_avgpool":
        return (x[2],)
    if kind == "conv2d":
        k, s, filters = p.get("kernel"), p.get("stride"), p.get("filters")
        if not all(isinstance(v, int) and v > 0 for v in (k, s, filters)):
            return None  # the field itself is reported
        padding = p.get("padding")
        oh, ow = (conv_output_size(d, k, s, padding) for d in x[:2])
        if oh < 1 or ow < 1:
            out.problems.append(
                (
                    node_id,
                    f"conv2d '{node_id}': its {k}×{k} kernel does not fit the "
                    f'{shape_text(x)} input without padding: use padding "same" '
                    "or a smaller kernel.",
                )
            )
            return None
        return (oh, ow, filters)
    if kind in ("maxpool", "avgpool"):
        size, s = p.get("size"), p.get("stride")
        if not all(isinstance(v, int) and v > 0 for v in (size, s)):
            return None
        if size > x[0] or size > x[1]:
            out.problems.append(
                (
                    node_id,
                    f"{kind} '{node_id}': its {size}×{size} window does not fit the "
                    f"{shape_text(x)} input: use a smaller size.",
                )
            )
            return None
        return (pool_output_size(x[0], size, s), pool_output_size(x[1], size, s), x[2])
    return x  # input, activation, batchnorm, dropout: element-wise


def _sum_problem(node_id: str, a: str, sa: Shape, b: str, sb: Shape) -> str:
    if len(sa) == 1 and len(sb) == 1:
        return (
            f"'{node_id}' adds its inputs, but '{a}' gives {sa[0]} values and "
            f"'{b}' gives {sb[0]}: the widths must match (put a dense "
            "projection on the skip path)."
        )
    hint = (
        "put a 1×1 conv2d projection on the skip path (with a stride where the size shrinks)"
        if len(sa) == 3 and len(sb) == 3
        else "both must be images or both flat vectors"
    )
    return (
        f"'{node_id}' adds its inputs: '{a}' gives {_values(sa)} but '{b}' gives "
        f"{_values(sb)}: the sizes must match ({hint})."
    )


def infer_shapes(net: Network, order: list[str], input_shape: Shape) -> Shapes:
    """Shapes along `order` (a topological order) from the data's `input_shape`."""
    preds, _ = adjacency(net)
    nodes = {n.id: n for n in net.nodes}
    data_name = net.data.get("name", "") if isinstance(net.data, dict) else ""
    out = Shapes()
    for node_id in order:
        node = nodes[node_id]
        if node.type == "input":
            x: Shape | None = tuple(input_shape)
        else:
            incoming = [p for p in preds[node_id] if p in out.shape_out]
            if not incoming or len(incoming) < len(preds[node_id]):
                continue  # a predecessor's shape is unknown: nothing to say here
            first = incoming[0]
            x = out.shape_out[first]
            for other in incoming[1:]:
                if out.shape_out[other] != x:
                    out.problems.append(
                        (node_id, _sum_problem(node_id, first, x, other, out.shape_out[other]))
                    )
        out.shape_in[node_id] = x
        params = node_defaults(node.type, node.params)
        y = _output_shape(node_id, node.type, params, x, data_name, out)
        if y is not None:
            out.shape_out[node_id] = y
    return out


def infer_widths(
    net: Network, order: list[str], data_shape: int | tuple[int, ...]
) -> tuple[dict[str, int], dict[str, int], list[tuple[str, str, int, str, int]]]:
    """(input width, output width) per node along `order` (a width is all values of a
    sample: height × width × channels for an image), and the sums whose inputs differ, as
    (node, first pred, its width, other pred, its width). `data_shape`: the number of input
    features, or the shape the data gives (see input_shape_of)."""
    shapes = infer_shapes(net, order, input_shape_of(net, data_shape))
    width_in = {node: size_of(s) for node, s in shapes.shape_in.items()}
    width_out = {node: size_of(s) for node, s in shapes.shape_out.items()}
    preds, _ = adjacency(net)
    mismatches = []
    for node in order:
        incoming = [p for p in preds[node] if p in shapes.shape_out]
        for other in incoming[1:]:
            if shapes.shape_out[other] != shapes.shape_out[incoming[0]]:
                first = incoming[0]
                mismatches.append((node, first, width_out[first], other, width_out[other]))
    return width_in, width_out, mismatches


def shapes_on_canvas(net: Network) -> dict[str, Shape]:
    """Each node's output shape for the canvas, {} where the network or its data cannot say
    (a cycle leaves its nodes out; a CSV file is never read here: it gives no images)."""
    from .data import dataset_shape
    from .errors import VgsimError
    from .topology import topological_order

    data = net.data if isinstance(net.data, dict) else {}
    if data.get("name") == "csv":
        return {}
    try:
        order, _ = topological_order(net)
        features = dataset_shape(data, net.base_dir)[0]
        return dict(infer_shapes(net, order, input_shape_of(net, features)).shape_out)
    except (VgsimError, KeyError, TypeError, ValueError):
        return {}
