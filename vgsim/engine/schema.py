"""What a network file may say: node types, their fields and defaults, and training settings.

Kept apart from parsing and validation so that the canvas palette, the inspector and the docs can
read the same tables.
"""

from __future__ import annotations

FORMAT = "vgsim.network/1"

# Field -> default. A default of None means the field is required.
NODE_FIELDS: dict[str, dict[str, object]] = {
    "input": {},
    "dense": {"units": None, "init": "xavier_uniform", "bias": True, "bias_init": 0.0},
    "activation": {"function": None},
    "batchnorm": {"momentum": 0.1, "eps": 1e-5},
    "conv2d": {
        "filters": None,
        "kernel": 3,
        "stride": 1,
        "padding": "same",
        "init": "xavier_uniform",
        "bias": True,
        "bias_init": 0.0,
    },
    "maxpool": {"size": 2, "stride": 2},
    "avgpool": {"size": 2, "stride": 2},
    "global_avgpool": {},
    "flatten": {},
    "dropout": {"rate": 0.5},
    "output": {"loss": "softmax_cross_entropy"},
}
PADDINGS = ("same", "valid")
# Pools whose stride, when not given, is their size (as PyTorch's).
POOLS = ("maxpool", "avgpool")
# Fields any node may carry for the canvas; they never change the maths.
LAYOUT_FIELDS = ("label", "pos")

# Activation function -> its own parameters with defaults.
ACTIVATIONS: dict[str, dict[str, float]] = {
    "identity": {},
    "sigmoid": {},
    "tanh": {},
    "relu": {},
    "leaky_relu": {"slope": 0.01},
    "prelu": {"alpha": 0.25},
    "elu": {"alpha": 1.0},
    "selu": {},
    "softplus": {},
    "swish": {},
}
# Functions whose units can saturate (derivative near zero at both ends).
SATURATING = ("sigmoid", "tanh")
# Functions whose units can die (output stuck at the flat part for every sample).
RELU_FAMILY = ("relu", "leaky_relu", "prelu", "elu", "selu")

LOSSES = ("softmax_cross_entropy", "mse", "binary_cross_entropy")

# Initialiser -> its parameters with defaults. Every initialiser also takes "gain".
INITIALISERS: dict[str, dict[str, float]] = {
    "zeros": {},
    "constant": {"value": 0.0},
    "normal": {"std": 0.01, "mean": 0.0},
    "uniform": {"limit": 0.05},
    "standard": {},
    "xavier_uniform": {},
    "xavier_normal": {},
    "he_uniform": {},
    "he_normal": {},
    "lecun_normal": {},
    "orthogonal": {},
}

OPTIMIZERS: dict[str, dict[str, float]] = {
    "sgd": {},
    "momentum": {"momentum": 0.9},
    "nesterov": {"momentum": 0.9},
    "adam": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "rmsprop": {"alpha": 0.99, "eps": 1e-8},
}
CLIP_MODES = ("none", "value", "norm")
DTYPES = ("float32", "float64")

TRAINING_DEFAULTS: dict[str, object] = {
    "optimizer": "sgd",
    "lr": 0.1,
    "batch_size": 32,
    "l2": 0.0,
    "clip": {"mode": "none", "threshold": 1.0},
    "seed": 0,
    "dtype": "float32",
    "steps": 500,
    # Optimizer hyper-parameters (only those of the chosen optimizer are used).
    "momentum": 0.9,
    "beta1": 0.9,
    "beta2": 0.999,
    "eps": 1e-8,
    "alpha": 0.99,
    # Telemetry: histogram bins; how often and on how many rows of each set the training and
    # test figures are evaluated ("auto": see trainer_evaluation.evaluation_plan); ring length.
    "bins": 32,
    "eval_every": "auto",
    "eval_rows": "auto",
    "history": 2048,
}

TOP_LEVEL = ("format", "name", "description", "data", "nodes", "edges", "training", "lesson")


def node_defaults(node_type: str, params: dict) -> dict:
    """The node's fields with defaults filled in (activation parameters by function)."""
    merged = {k: v for k, v in NODE_FIELDS.get(node_type, {}).items() if v is not None}
    if node_type == "activation":
        merged.update(ACTIVATIONS.get(str(params.get("function")), {}))
    if node_type in POOLS and "size" in params and "stride" not in params:
        merged["stride"] = params["size"]
    merged.update(params)
    return merged


def init_defaults(init: object) -> dict:
    """An initialiser given as a name or as {"name": ..., params} -> a full dict with defaults."""
    spec = {"name": init} if isinstance(init, str) else dict(init)  # type: ignore[arg-type]
    out: dict = {"gain": 1.0, **INITIALISERS.get(str(spec.get("name")), {})}
    out.update(spec)
    return out


def training_defaults(training: dict) -> dict:
    out = dict(TRAINING_DEFAULTS)
    out.update(training)
    clip = dict(TRAINING_DEFAULTS["clip"])  # type: ignore[arg-type]
    if isinstance(training.get("clip"), dict):
        clip.update(training["clip"])
    out["clip"] = clip
    return out
