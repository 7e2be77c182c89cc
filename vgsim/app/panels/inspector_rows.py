"""The inspector's rows: each field of a block, the data and the training, with the values the
network file accepts (the same bounds as validation) and a tooltip that teaches."""

from __future__ import annotations

from ...engine import schema
from ...engine.data import DATASETS, MAX_SAMPLES
from ...engine.validate import MAX_INIT
from .fields import Accepts

INIT_KEYS = {"gain", *(k for d in schema.INITIALISERS.values() for k in d)}
FUNCTION_KEYS = {k for d in schema.ACTIVATIONS.values() for k in d}

# What the network file takes (engine/validate.py, engine/data.py), field by field.
# Initialiser settings and a bias start: weights are kept as float32 (validate.MAX_INIT).
INIT_ANY = Accepts(lo=-MAX_INIT, hi=MAX_INIT, step=0.1)
INIT_NOT_NEGATIVE = Accepts(lo=0.0, hi=MAX_INIT, step=0.01)
NOT_NEGATIVE = Accepts(lo=0.0, step=0.01)
POSITIVE_LOG = Accepts(lo=0.0, lo_open=True, log=True)  # a rate or an epsilon: any size > 0
DECAY = Accepts(lo=0.0, hi=1.0, hi_open=True, step=0.01)  # at least 0, below 1
FRACTION = Accepts(lo=0.0, hi=1.0, lo_open=True, hi_open=True, step=0.05)  # strictly between
ELU_ALPHA = Accepts(lo=0.0, lo_open=True, step=0.05)  # ELU's alpha; PReLU's may be any number
EXACT = 2**53  # whole numbers a spin box holds exactly
POOL_STRIDE_MAX, CONV_STRIDE_MAX = 16, 8


def whole(lo: int, hi: int = EXACT) -> Accepts:
    return Accepts(lo=lo, hi=hi, whole=True)


CONV_STRIDE = whole(1, CONV_STRIDE_MAX)  # a convolution's stride; a pool's goes to 16


# (key, label, editor, tooltip). Editor: Accepts a number, a table or tuple of names a choice,
# a string a check box with that text, None a line of text.
BLOCK_ROWS = (
    ("units", "Units", whole(1, 4096), "Width of the layer: its number of outputs."),
    (
        "filters",
        "Filters",
        whole(1, 1024),
        "Output channels: each filter is one pattern looked for at every position.",
    ),
    (
        "kernel",
        "Kernel",
        whole(1, 15),
        "Each filter sees kernel × kernel pixels of every input channel: its fan-in is "
        "channels × kernel², which He and Xavier scale the weights by.",
    ),
    (
        "stride",
        "Stride",
        whole(1, POOL_STRIDE_MAX),
        "Steps between positions: 2 halves the image's height and width.",
    ),
    (
        "padding",
        "Padding",
        schema.PADDINGS,
        "same: zeros around the image keep its size (at stride 1); valid: no padding, the "
        "image shrinks by kernel − 1.",
    ),
    ("size", "Window", whole(1, 16), "The pool's window is size × size pixels."),
    (
        "rate",
        "Rate",
        Accepts(lo=0.0, hi=1.0, hi_open=True, step=0.05),
        "The fraction of values zeroed in each training step (the rest are scaled by "
        "1 / (1 − rate)); none in evaluation.",
    ),
    ("init", "Initialiser", schema.INITIALISERS, "How large W starts."),
    ("gain", "Gain", INIT_ANY, "Multiplies the initialiser's scale."),
    ("std", "Std", INIT_NOT_NEGATIVE, "Standard deviation of the weights."),
    ("mean", "Mean", INIT_ANY, "Mean of the weights."),
    ("limit", "Limit", INIT_NOT_NEGATIVE, "Weights are drawn from [-limit, limit]."),
    ("value", "Value", INIT_ANY, "Every weight starts at this value."),
    ("bias", "Bias", "add a bias b", "Without a bias the layer is x @ W."),
    ("bias_init", "Bias start", INIT_ANY, "Initial value of every bias."),
    ("function", "Function", schema.ACTIVATIONS, ""),
    ("slope", "Slope", Accepts(step=0.01), "Slope below zero."),
    ("alpha", "Alpha", Accepts(step=0.05), ""),
    (
        "momentum",
        "Momentum",
        Accepts(lo=0.0, hi=1.0, step=0.01),
        "Weight of each batch in the running statistics.",
    ),
    ("eps", "Eps", POSITIVE_LOG, "Added to the variance before dividing by it."),
    ("loss", "Loss", schema.LOSSES, "What training minimises."),
)
DATA_ROWS = (
    ("name", "Data set", DATASETS, ""),
    ("classes", "Classes", whole(2), ""),
    ("samples", "Samples", whole(2, MAX_SAMPLES), "Training and test samples together."),
    ("noise", "Noise", Accepts(lo=0.0, step=0.05), ""),
    ("factor", "Factor", FRACTION, "Radius of the inner circle."),
    (
        "periods",
        "Periods",
        Accepts(lo=0.0, lo_open=True, step=0.5),
        "How many periods of the sine x spans.",
    ),
    (
        "shape",
        "Shape",
        ("flat", "image"),
        "image: each sample is height × width × channels, for convolutions; flat: one vector.",
    ),
    ("side", "Side", whole(4, 64), "Images are side × side pixels."),
    ("path", "CSV file", None, "Relative to the network file's folder, or absolute."),
    ("target", "Target", None, "Column name or index of the target; empty for the last."),
    ("task", "Task", ("classification", "regression"), ""),
    ("standardize", "Scale", "standardise features", "To mean 0 and variance 1."),
    ("header", "Header", "first row names columns", ""),
    ("seed", "Seed", whole(0), "Seeds the sampling and the train/test split."),
    ("test_fraction", "Test part", FRACTION, "Held out to measure generalisation."),
)
TRAINING_ROWS = (
    ("optimizer", "Optimizer", schema.OPTIMIZERS, ""),
    ("lr", "Learning rate", POSITIVE_LOG, "Step size of each update: any number above 0."),
    ("momentum", "Momentum", DECAY, ""),
    ("beta1", "Beta1", DECAY, "Decay of the gradient average."),
    ("beta2", "Beta2", DECAY, "Decay of the squared-gradient average."),
    ("alpha", "Alpha", DECAY, "Decay of the squared-gradient average."),
    ("eps", "Eps", POSITIVE_LOG, "Keeps the division by the gradient scale finite."),
    ("batch_size", "Batch size", whole(1, 65536), ""),
    ("l2", "L2", Accepts(lo=0.0, step=0.0001), "Weight decay."),
    ("clip_mode", "Clipping", schema.CLIP_MODES, "Clip each value, or rescale to a norm."),
    ("threshold", "Threshold", POSITIVE_LOG, ""),
    ("seed", "Seed", whole(0, 2**32 - 1), "Seeds the initial weights and the batches."),
    ("dtype", "Precision", schema.DTYPES, ""),
    ("steps", "Steps", whole(1, 10**9), "The recommended length of a run."),
)
