"""Build common networks in code: plain MLPs and residual MLPs of any depth.

Used by the presets, the lessons, the benchmarks and the window's "add N layers" shortcut.
"""

from __future__ import annotations

from .spec import Network, NodeSpec

SPACING = 140.0  # canvas distance between consecutive blocks


def _layout(nodes: list[NodeSpec]) -> None:
    for i, node in enumerate(nodes):
        node.pos = (i * SPACING, 0.0)


def mlp(
    depth: int,
    width: int,
    outputs: int,
    *,
    activation: str = "relu",
    init: str | dict = "he_normal",
    batchnorm: bool = False,
    data: dict | None = None,
    training: dict | None = None,
    loss: str = "softmax_cross_entropy",
    name: str = "mlp",
    activation_params: dict | None = None,
) -> Network:
    """input → depth × (dense → [batchnorm →] activation) → dense → output."""
    nodes = [NodeSpec("in", "input")]
    for layer in range(1, depth + 1):
        nodes.append(NodeSpec(f"dense{layer}", "dense", {"units": width, "init": init}))
        if batchnorm:
            nodes.append(NodeSpec(f"bn{layer}", "batchnorm"))
        nodes.append(
            NodeSpec(
                f"act{layer}", "activation", {"function": activation, **(activation_params or {})}
            )
        )
    nodes.append(NodeSpec("head", "dense", {"units": outputs, "init": "xavier_uniform"}))
    nodes.append(NodeSpec("out", "output", {"loss": loss}))
    _layout(nodes)
    edges = [(a.id, b.id) for a, b in zip(nodes, nodes[1:], strict=False)]
    return Network(
        name=name,
        data=data or {"name": "spiral"},
        nodes=nodes,
        edges=edges,
        training=dict(training or {}),
    )


def residual_mlp(
    blocks: int,
    width: int,
    outputs: int,
    *,
    activation: str = "relu",
    init: str | dict = "he_normal",
    layers_per_block: int = 2,
    data: dict | None = None,
    training: dict | None = None,
    loss: str = "softmax_cross_entropy",
    name: str = "resnet",
) -> Network:
    """input → dense stem → blocks × [layers_per_block × (dense → act), + skip] → head.

    Each block adds its input to its last dense layer's output before the activation, as in
    He et al. (2016): out = act(F(x) + x).
    """
    nodes = [
        NodeSpec("in", "input"),
        NodeSpec("stem", "dense", {"units": width, "init": init}),
        NodeSpec("stem_act", "activation", {"function": activation}),
    ]
    edges = [("in", "stem"), ("stem", "stem_act")]
    prev = "stem_act"
    for b in range(1, blocks + 1):
        block_in = prev
        for layer in range(1, layers_per_block + 1):
            dense_id = f"b{b}_dense{layer}"
            nodes.append(NodeSpec(dense_id, "dense", {"units": width, "init": init}))
            edges.append((prev, dense_id))
            prev = dense_id
            if layer < layers_per_block:
                act_id = f"b{b}_act{layer}"
                nodes.append(NodeSpec(act_id, "activation", {"function": activation}))
                edges.append((prev, act_id))
                prev = act_id
        act_id = f"b{b}_out"
        nodes.append(NodeSpec(act_id, "activation", {"function": activation}))
        edges += [(prev, act_id), (block_in, act_id)]  # the skip: act receives F(x) + x
        prev = act_id
    nodes.append(NodeSpec("head", "dense", {"units": outputs, "init": "xavier_uniform"}))
    nodes.append(NodeSpec("out", "output", {"loss": loss}))
    edges += [(prev, "head"), ("head", "out")]
    _layout(nodes)
    return Network(
        name=name,
        data=data or {"name": "spiral"},
        nodes=nodes,
        edges=edges,
        training=dict(training or {}),
    )


def conv_net(
    blocks: int,
    widths: tuple[int, ...],
    outputs: int,
    *,
    residual: bool,
    data: dict | None = None,
    training: dict | None = None,
    name: str = "convnet",
) -> Network:
    """He et al. (2016)'s networks for small images, 6n + 2 layers for n = `blocks`: a 3 × 3
    convolution, then one stage per width of n blocks of two 3 × 3 convolutions (each stage
    after the first starts with stride 2), global average pooling and a dense layer. Every
    convolution is followed by batch norm; ReLU after each, He initialisation.

    `residual`: each block adds its input to its second batch norm's output before the last
    ReLU, through a 1 × 1 convolution with stride 2 where a stage changes size and width."""
    init = "he_normal"
    nodes = [NodeSpec("in", "input")]
    edges: list[tuple[str, str]] = []

    def add(node: NodeSpec, *sources: str) -> str:
        nodes.append(node)
        edges.extend((s, node.id) for s in sources)
        return node.id

    def conv_bn(prefix: str, source: str, filters: int, stride: int) -> str:
        conv = add(
            NodeSpec(
                f"{prefix}_conv",
                "conv2d",
                {"filters": filters, "stride": stride, "init": init, "bias": False},
            ),
            source,
        )
        return add(NodeSpec(f"{prefix}_bn", "batchnorm"), conv)

    prev = add(
        NodeSpec("stem_act", "activation", {"function": "relu"}),
        conv_bn("stem", "in", widths[0], 1),
    )
    for s, width in enumerate(widths, start=1):
        for b in range(1, blocks + 1):
            tag = f"s{s}b{b}"
            stride = 2 if s > 1 and b == 1 else 1
            first = conv_bn(f"{tag}_1", prev, width, stride)
            mid = add(NodeSpec(f"{tag}_act1", "activation", {"function": "relu"}), first)
            second = conv_bn(f"{tag}_2", mid, width, 1)
            sources = [second]
            if residual:
                skip = prev
                if stride != 1:  # the projection shortcut
                    skip = conv_bn(f"{tag}_proj", prev, width, stride)
                sources.append(skip)
            prev = add(NodeSpec(f"{tag}_out", "activation", {"function": "relu"}), *sources)
    pool = add(NodeSpec("pool", "global_avgpool"), prev)
    head = add(NodeSpec("head", "dense", {"units": outputs, "init": "xavier_uniform"}), pool)
    add(NodeSpec("out", "output"), head)
    _layout(nodes)
    return Network(
        name=name,
        data=data or {"name": "digits", "shape": "image"},
        nodes=nodes,
        edges=edges,
        training=dict(training or {}),
    )
