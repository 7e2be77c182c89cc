"""Image data: the shape of an image data set, and `stripes`, a synthetic set made offline.

Images are stored flat, row by row (height × width × channels, channels last), one sample per
row of X; a data set's "shape" says whether the network sees them as images or as flat vectors.
"""

from __future__ import annotations

import numpy as np

# Data sets that are pictures: name -> (height, width, channels) as a function of the spec.
IMAGE_SETS = ("digits", "stripes")
STRIPE_CLASSES = ("horizontal", "vertical", "diagonal /", "diagonal \\")


def image_shape(p: dict) -> tuple[int, int, int]:
    """(height, width, channels) of an image data set's samples (p: its full parameters)."""
    if p["name"] == "digits":
        return (8, 8, 1)
    return (p["side"], p["side"], 1)


def input_shape(p: dict, n_features: int) -> tuple[int, ...]:
    """What the network's input gives: an image for an image set with "shape": "image", else a
    vector of n_features values."""
    if p.get("name") in IMAGE_SETS and p.get("shape") == "image":
        return image_shape(p)
    return (n_features,)


def stripes(p: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """side × side gratings 0.5 + 0.5 sin(2π (u · x) / period + phase), one class per
    direction u (horizontal, vertical and the two diagonal stripes), with a random period of 3
    to 6 pixels and a random phase, plus Gaussian pixel noise, clipped to [0, 1].

    Every class has the same mean image (the phase is uniform), so no fixed weighting of the
    pixels tells them apart: the class is in how neighbouring pixels vary together, which a
    small convolution sees at once."""
    k = len(STRIPE_CLASSES)
    m = p["samples"] // k
    side = p["side"]
    y = np.repeat(np.arange(k), m)
    angles = np.array([0.5, 0.0, 0.25, 0.75])[y] * np.pi  # stripes run across u
    u = np.column_stack([np.cos(angles), np.sin(angles)])
    period = rng.uniform(3.0, 6.0, len(y))
    phase = rng.uniform(0.0, 2 * np.pi, len(y))
    r, c = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    along = u[:, 0, None, None] * c + u[:, 1, None, None] * r
    X = 0.5 + 0.5 * np.sin(2 * np.pi * along / period[:, None, None] + phase[:, None, None])
    X = X + rng.normal(0.0, p["noise"], X.shape)
    return np.clip(X, 0.0, 1.0).reshape(len(y), side * side), y


def pixel_names(shape: tuple[int, int, int]) -> list[str]:
    h, w, _ = shape
    return [f"pixel_{r}_{c}" for r in range(h) for c in range(w)]
