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
