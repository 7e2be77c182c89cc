"""The palette's building blocks: what each adds to the network, its glyph and what it does to
gradients. Plain data, no Qt: a palette drag carries only the block's name."""

from __future__ import annotations

from dataclasses import dataclass, field

MIME_TYPE = "application/x-vgsim-block"


@dataclass(frozen=True)
class Block:
    name: str  # registry key, carried by drags
    title: str
    node_type: str
    glyph: str
    tooltip: str
    params: dict = field(default_factory=dict)
    group: str = "Layers"


def _act(name: str, title: str, glyph: str, tip: str, **params: float) -> Block:
    return Block(name, title, "activation", glyph, tip, {"function": name, **params}, "Activations")


BLOCKS: dict[str, Block] = {
    b.name: b
    for b in [
        Block(
            "input",
            "Input",
            "input",
            "▶",
            "Where the data enters. Its width is the number of features of the data set.",
        ),
        Block(
            "dense",
            "Dense",
            "dense",
            "▦",
            "A fully connected layer, x @ W + b. Its initialiser sets how large W starts: too "
            "small and gradients vanish through depth, too large and they explode.",
            {"units": 32, "init": "xavier_uniform"},
        ),
        Block(
            "batchnorm",
            "Batch norm",
            "batchnorm",
            "≋",
            "Normalises each unit (each channel, after a convolution) over the mini-batch to "
            "mean 0 and variance 1, then scales and shifts. It keeps activations out of "
            "saturation, so gradients keep flowing.",
        ),
        Block(
            "dropout",
            "Dropout",
            "dropout",
            "⁘",
            "In training, zeroes each value with probability rate and scales the rest by "
            "1 / (1 − rate); in evaluation it does nothing. It fights overfitting, and the "
            "gradient passes only through the kept values.",
            {"rate": 0.5},
        ),
        Block(
            "output",
            "Output / loss",
            "output",
            "◎",
            "Where the loss is measured. Softmax cross-entropy for classes, mean squared error "
            "for regression.",
            {"loss": "softmax_cross_entropy"},
        ),
        Block(
            "conv2d",
            "Convolution",
            "conv2d",
            "⊞",
            "Slides small filters (e.g. 3 × 3) over an image: each output channel is one filter's "
            "match at every position. Far fewer weights than a dense layer, the same ones "
            "everywhere; He or Xavier initialisation keeps the gradient's size through depth, as "
            "for dense layers (fan-in = channels × kernel area).",
            {"filters": 16, "kernel": 3, "init": "he_normal"},
            "Image layers",
        ),
        Block(
            "maxpool",
            "Max pool",
            "maxpool",
            "⊡",
            "Keeps the largest value of each window (2 × 2 by default), halving height and "
            "width. The gradient flows back only to that largest value.",
            {"size": 2},
            "Image layers",
        ),
        Block(
            "avgpool",
            "Average pool",
            "avgpool",
            "⊡",
            "Averages each window (2 × 2 by default), halving height and width; the gradient is "
            "shared equally by the window's values.",
            {"size": 2},
            "Image layers",
        ),
        Block(
            "global_avgpool",
            "Global average pool",
            "global_avgpool",
            "◫",
            "Averages each channel over the whole image: h × w × c becomes c values, ready for a "
            "dense layer (as ResNet ends).",
            group="Image layers",
        ),
        Block(
            "flatten",
            "Flatten",
            "flatten",
            "▤",
            "Lays an image out as one vector of height × width × channels values, so a dense "
            "layer can follow.",
            group="Image layers",
        ),
        _act(
            "identity",
            "Identity",
            "∕",
            "Passes values through unchanged (f′ = 1): a network of only linear layers is itself "
            "linear.",
        ),
        _act(
            "sigmoid",
            "Sigmoid",
            "∫",
            "Squashes into (0, 1) and saturates at 0 and 1; its derivative is at most 0.25, so "
            "gradients shrink through every sigmoid layer.",
        ),
        _act(
            "tanh",
            "Tanh",
            "~",
            "Squashes into (-1, 1), zero-centred; saturates at both ends where its derivative "
            "vanishes, so deep tanh stacks need careful (Xavier) initialisation.",
        ),
        _act(
            "relu",
            "ReLU",
            "⌐",
            "max(0, z): derivative 1 for positive inputs, so gradients pass unshrunk; but a unit "
            "whose input stays negative outputs 0 for ever (a dying ReLU).",
        ),
        _act(
            "leaky_relu",
            "Leaky ReLU",
            "⌐",
            "Like ReLU, but a small slope (0.01) below zero keeps a gradient flowing, so units "
            "cannot die.",
            slope=0.01,
        ),
        _act(
            "prelu",
            "PReLU",
            "⌐",
            "A leaky ReLU whose negative slope is learnt by gradient descent (starts at 0.25).",
            alpha=0.25,
        ),
        _act(
            "elu",
            "ELU",
            "⌒",
            "Smooth below zero, alpha(e^z - 1): no dead units, and mean activations closer to 0 "
            "than ReLU's.",
            alpha=1.0,
        ),
        _act(
            "selu",
            "SELU",
            "⌒",
            "A scaled ELU that keeps activations near mean 0, variance 1 through depth when used "
            "with LeCun normal initialisation (self-normalising).",
        ),
        _act(
            "softplus",
            "Softplus",
            "⌣",
            "log(1 + e^z), a smooth ReLU; its derivative is the sigmoid, so it never quite dies.",
        ),
        _act(
            "swish",
            "Swish",
            "∿",
            "z · sigmoid(z) (SiLU): smooth and non-monotonic, with derivatives close to ReLU's.",
        ),
    ]
}

SKIP_TOOL_TIP = (
    "Skip connection: drag from a block's output to a later block's input. The "
    "target adds it to its other input (a residual block, F(x) + x), giving "
    "gradients a short path around the layers in between."
)
