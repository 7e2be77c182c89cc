"""Weight initialisers by name. W has shape (n_in, n_out); fan-in is n_in, fan-out n_out.

Every initialiser takes an optional `gain` that multiplies its scale (its std or limit).
A bias starts at one number for every entry, or is drawn by an initialiser (its scale computed
from the layer's fan-in and fan-out, like its weights'): random biases of variance sigma_b^2
are what the mean-field theory of deep networks assumes (theory.mean_field).
"""

from __future__ import annotations

import math

import numpy as np

from .schema import init_defaults


def init_scale(name: str, n_in: int, n_out: int, p: dict) -> tuple[str, float]:
    """("uniform", limit) or ("normal", std) or ("constant", value) for a named initialiser."""
    gain = float(p.get("gain", 1.0))
    if name == "zeros":
        return "constant", 0.0
    if name == "constant":
        return "constant", gain * float(p["value"])
    if name == "normal":
        return "normal", gain * float(p["std"])
    if name == "uniform":
        return "uniform", gain * float(p["limit"])
    if name == "standard":
        # The classic heuristic Glorot & Bengio compare against: U[-1/sqrt(n_in), 1/sqrt(n_in)].
        return "uniform", gain / math.sqrt(n_in)
    if name == "xavier_uniform":
        return "uniform", gain * math.sqrt(6.0 / (n_in + n_out))
    if name == "xavier_normal":
        return "normal", gain * math.sqrt(2.0 / (n_in + n_out))
    if name == "he_uniform":
        return "uniform", gain * math.sqrt(6.0 / n_in)
    if name == "he_normal":
        return "normal", gain * math.sqrt(2.0 / n_in)
    if name == "lecun_normal":
        return "normal", gain * math.sqrt(1.0 / n_in)
    if name == "orthogonal":
        return "orthogonal", gain
    raise ValueError(f"unknown initialiser {name!r}")


def initialise(
    init: str | dict,
    n_in: int,
    n_out: int,
    rng: np.random.Generator,
    fans: tuple[int, int] | None = None,
) -> np.ndarray:
    """A float64 (n_in, n_out) weight matrix. `fans`: (fan-in, fan-out) where they differ from
    (n_in, n_out): a convolution's (kernel² × channels, kernel² × filters), as PyTorch's."""
    p = init_defaults(init)
    kind, scale = init_scale(p["name"], *(fans or (n_in, n_out)), p)
    if kind == "constant":
        return np.full((n_in, n_out), scale)
    if kind == "uniform":
        return rng.uniform(-scale, scale, size=(n_in, n_out))
    if kind == "normal":
        return float(p.get("mean", 0.0)) + rng.normal(0.0, scale, size=(n_in, n_out))
    # Orthogonal (Saxe et al.): Q of a Gaussian matrix, signs fixed so the result is unique.
    a = rng.normal(size=(max(n_in, n_out), min(n_in, n_out)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))
    w = q if n_in >= n_out else q.T
    return scale * w


def initialise_bias(
    bias_init: float | str | dict,
    n_in: int,
    n_out: int,
    rng: np.random.Generator,
    fans: tuple[int, int] | None = None,
) -> np.ndarray:
    """A float64 (n_out,) bias: `bias_init` everywhere, or drawn by the initialiser it names.
    Draws from `rng` only for a random initialiser, so constant biases leave the weights'
    random stream as it was. `fans`: as for initialise."""
    if not isinstance(bias_init, str | dict):
        return np.full(n_out, float(bias_init))
    p = init_defaults(bias_init)
    kind, scale = init_scale(p["name"], *(fans or (n_in, n_out)), p)
    if kind == "constant":
        return np.full(n_out, scale)
    if kind == "uniform":
        return rng.uniform(-scale, scale, size=n_out)
    if kind == "normal":
        return float(p.get("mean", 0.0)) + rng.normal(0.0, scale, size=n_out)
    raise ValueError(f"the initialiser {p['name']!r} cannot draw a bias")
