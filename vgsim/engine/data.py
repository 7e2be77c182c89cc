"""Data sets for training: small synthetic 2-D problems, real 8x8 digits, and the student's CSV.

Everything is deterministic: the same `data` spec gives bit-identical arrays, so a run can be
replayed exactly. Only numpy and the standard library are used; nothing is downloaded.
"""

from __future__ import annotations

import difflib
import functools
import gzip
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vgsim.engine import data_images
from vgsim.engine.data_csv import is_whole, read_csv
from vgsim.engine.data_images import STRIPE_CLASSES
from vgsim.engine.errors import DataError, shown

DIGITS_PATH = Path(__file__).resolve().parents[2] / "resources" / "data" / "digits.csv.gz"

COMMON_PARAMS: dict[str, Any] = {"seed": 0, "test_fraction": 0.2}
DATASETS: dict[str, dict] = {
    "spiral": {
        "task": "classification",
        "params": {"classes": 3, "samples": 600, "noise": 0.2},
        "doc": "Interleaved spiral arms, one per class; noise jitters the angle.",
    },
    "moons": {
        "task": "classification",
        "params": {"samples": 600, "noise": 0.1},
        "doc": "Two interlocking half-circles.",
    },
    "circles": {
        "task": "classification",
        "params": {"samples": 600, "noise": 0.05, "factor": 0.5},
        "doc": "A small circle (radius factor) inside a unit circle.",
    },
    "xor": {
        "task": "classification",
        "params": {"samples": 600, "noise": 0.1},
        "doc": "Four quadrants; class 1 where x and y have the same sign.",
    },
    "blobs": {
        "task": "classification",
        "params": {"classes": 3, "samples": 600, "noise": 1.0},
        "doc": "Gaussian blobs (std noise) centred on a circle of radius 4, scaled by 1/4.",
    },
    "sine": {
        "task": "regression",
        "params": {"samples": 400, "noise": 0.05, "periods": 1.0},
        "doc": "Regression of y = sin(x) + noise with x spanning the given periods.",
    },
    "digits": {
        "task": "classification",
        "params": {"samples": 1797, "shape": "flat"},
        "doc": "Real 8x8 handwritten digits (UCI), 64 pixels scaled to [0, 1]; "
        '"shape": "image" gives 8×8×1 images.',
    },
    "stripes": {
        "task": "classification",
        "params": {"samples": 800, "noise": 0.2, "side": 16, "shape": "image"},
        "doc": "Synthetic side×side×1 images of stripes in four directions (horizontal, "
        "vertical, diagonal /, diagonal \\) with random period and phase: the class is in the "
        "spatial structure, not in any pixel.",
    },
    "csv": {
        "task": "classification",
        "params": {
            "path": None,
            "target": None,
            "task": "classification",
            "standardize": True,
            "header": True,
        },
        "doc": "Your own CSV file: one row per sample, numeric features, one target column.",
    },
}
MAX_SAMPLES = 200_000  # keeps the simulator responsive


@dataclass(frozen=True, eq=False)  # eq=False: comparing/hashing numpy arrays is ambiguous
class Dataset:
    name: str
    task: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_features: int
    n_classes: int
    n_targets: int
    feature_names: list[str]
    # What the network's input gives: (n_features,), or (height, width, channels) for images.
    input_shape: tuple[int, ...] = ()


def _is_num(v: Any) -> bool:
    return is_whole(v) or (isinstance(v, (float, np.floating)) and math.isfinite(v))


# param -> (test, description used in the message)
_RULES: dict[str, tuple[Any, str]] = {
    "seed": (lambda v: is_whole(v) and v >= 0, "a whole number >= 0"),
    "test_fraction": (lambda v: _is_num(v) and 0 < v < 1, "a number between 0 and 1 (exclusive)"),
    "classes": (lambda v: is_whole(v) and v >= 2, "a whole number >= 2"),
    "samples": (
        lambda v: is_whole(v) and 2 <= v <= MAX_SAMPLES,
        f"a whole number 2..{MAX_SAMPLES}",
    ),
    "noise": (lambda v: _is_num(v) and v >= 0, "a number >= 0"),
    "factor": (lambda v: _is_num(v) and 0 < v < 1, "a number between 0 and 1 (exclusive)"),
    "periods": (lambda v: _is_num(v) and v > 0, "a number > 0"),
    "path": (lambda v: isinstance(v, str) and v.strip() != "", "a file path (text)"),
    "target": (
        lambda v: v is None or isinstance(v, str) or is_whole(v),
        "a column name or a column index",
    ),
    "task": (lambda v: v in ("classification", "regression"), "'classification' or 'regression'"),
    "standardize": (lambda v: isinstance(v, bool), "true or false"),
    "header": (lambda v: isinstance(v, bool), "true or false"),
    "shape": (lambda v: v in ("flat", "image"), "'flat' or 'image'"),
    "side": (lambda v: is_whole(v) and 4 <= v <= 64, "a whole number 4..64"),
}


def check_data_spec(spec: dict) -> list[str]:
    """Every problem with a `data` section, as messages (the CSV file itself is checked in load)."""
    if not isinstance(spec, dict):
        return [f'The data section must be an object like {{"name": "spiral"}}, got {shown(spec)}.']
    problems: list[str] = []
    name = spec.get("name")
    if not isinstance(name, str):
        name = repr(name) if name is not None else None  # a list or object is never a name
    if "name" not in spec:
        problems.append(f"data.name is missing; choose one of: {', '.join(DATASETS)}.")
    if name not in DATASETS:
        close = difflib.get_close_matches(str(name), DATASETS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        if "name" in spec:
            problems.append(
                f"Unknown data set {shown(name)} in data.name; choose one of: "
                f"{', '.join(DATASETS)}.{hint}"
            )
        allowed = set(COMMON_PARAMS).union(*(d["params"] for d in DATASETS.values()))
    else:
        allowed = set(COMMON_PARAMS) | set(DATASETS[name]["params"])
    for key in spec:
        if key == "name":
            continue
        if key not in allowed:
            where = f"data set '{name}'" if name in DATASETS else "any data set"
            problems.append(
                f"Unknown parameter data.{key} for {where}; allowed: {', '.join(sorted(allowed))}."
            )
        elif not _RULES[key][0](spec[key]):
            problems.append(f"data.{key} must be {_RULES[key][1]}, got {shown(spec[key])}.")
    if name == "csv" and "path" not in spec:
        problems.append("data.path is required for the csv data set (the CSV file to read).")
    if name in DATASETS and name != "csv":
        ok = {k: v for k, v in spec.items() if k in _RULES and k in allowed and _RULES[k][0](v)}
        p = {**DATASETS[name]["params"], **ok}  # cross-checks use only values that passed above
        n_cls = p.get("classes", {"digits": 10, "stripes": len(STRIPE_CLASSES)}.get(name, 2))
        sure = "classes" not in spec or "classes" in ok  # no cross-check against a bad value
        if DATASETS[name]["task"] == "classification" and sure and p["samples"] < 2 * n_cls:
            problems.append(
                f"data.samples must be at least 2 per class ({2 * n_cls} for "
                f"{n_cls} classes), got {p['samples']}."
            )
        if name == "digits" and p["samples"] > 1797:
            problems.append(f"data.samples for digits can be at most 1797, got {p['samples']}.")
    return problems


def _params(spec: dict) -> dict:
    problems = check_data_spec(spec)
    if problems:
        raise DataError("The data section is not valid:\n" + "\n".join(f"- {m}" for m in problems))
    return {**COMMON_PARAMS, **DATASETS[spec["name"]]["params"], **spec}


# Synthetic sets give every class samples // classes points, so classes are exactly balanced.


def _spiral(p: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    k = p["classes"]
    m = p["samples"] // k
    r = np.tile(np.linspace(0.0, 1.0, m), k)
    y = np.repeat(np.arange(k), m)
    t = np.tile(np.linspace(0.0, 4.0, m), k) + 2 * np.pi * y / k + rng.normal(0, p["noise"], m * k)
    return np.column_stack([r * np.sin(t), r * np.cos(t)]), y


def _moons(p: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    m = p["samples"] // 2
    t = np.linspace(0.0, np.pi, m)
    X = np.concatenate(
        [np.column_stack([np.cos(t), np.sin(t)]), np.column_stack([1 - np.cos(t), 0.5 - np.sin(t)])]
    )
    X = X + rng.normal(0, p["noise"], X.shape)
    return (X - [0.5, 0.25]) / 1.5, np.repeat([0, 1], m)  # centre; x spans about [-1, 1]


def _circles(p: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    m = p["samples"] // 2
    t = np.linspace(0.0, 2 * np.pi, m, endpoint=False)
    ring = np.column_stack([np.cos(t), np.sin(t)])
    X = np.concatenate([ring, p["factor"] * ring])
    return X + rng.normal(0, p["noise"], X.shape), np.repeat([0, 1], m)


def _xor(p: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    m = p["samples"] // 2
    # class 1 alternates quadrants I/III, class 0 II/IV; the label comes from the clean point
    sx = np.concatenate([np.where(np.arange(m) % 2, -1.0, 1.0)] * 2)
    sy = sx * np.repeat([-1.0, 1.0], m)
    X = np.column_stack([sx, sy]) * rng.uniform(0.05, 1.0, (2 * m, 2))
    return X + rng.normal(0, p["noise"], X.shape), np.repeat([0, 1], m)


def _blobs(p: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    k = p["classes"]
    m = p["samples"] // k
    a = 2 * np.pi * np.arange(k) / k
    y = np.repeat(np.arange(k), m)
    X = 4.0 * np.column_stack([np.cos(a), np.sin(a)])[y] + rng.normal(0, p["noise"], (m * k, 2))
    return X / 4.0, y  # centres on the unit circle keep inputs in a range nets train well on


def _sine(p: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    u = rng.uniform(-1.0, 1.0, p["samples"])
    y = np.sin(np.pi * p["periods"] * u) + rng.normal(0, p["noise"], p["samples"])
    return u[:, None], y[:, None]


_SYNTHETIC = {
    "spiral": _spiral,
    "moons": _moons,
    "circles": _circles,
    "xor": _xor,
    "blobs": _blobs,
    "sine": _sine,
}


@functools.lru_cache(maxsize=1)
def _digits_raw(path: Path) -> np.ndarray:
    if not path.is_file():
        raise DataError(
            f"The digits data file is missing: {path}. It ships with vgsim in "
            "resources/data/; restore it from the repository."
        )
    try:
        with gzip.open(path, "rt") as f:
            raw = np.loadtxt(f, delimiter=",")
    except (OSError, ValueError) as e:
        raise DataError(f"The digits data file {path} is damaged ({e}); restore it.") from e
    if raw.ndim != 2 or raw.shape[1] != 65:
        raise DataError(f"The digits data file {path} should have 65 columns, has {raw.shape}.")
    raw.setflags(write=False)  # cached: callers get slices/copies, never this array
    return raw


def dataset_shape(spec: dict, base_dir: Path | None = None) -> tuple[int, int, str]:
    """(n_features, n_targets, task), generating nothing for built-in sets; csv reads the file."""
    p = _params(spec)
    name = p["name"]
    if name == "csv":
        X, _, _, k = read_csv(p, base_dir)
        return X.shape[1], (k or 1), p["task"]
    if name == "digits":
        return 64, 10, "classification"
    if name == "stripes":
        return p["side"] ** 2, len(STRIPE_CLASSES), "classification"
    if name == "sine":
        return 1, 1, "regression"
    return 2, p.get("classes", 2), "classification"


def input_shape(spec: dict, n_features: int) -> tuple[int, ...]:
    """The shape the network's input gives for a valid `spec` with n_features features: an
    image (height, width, channels) for an image set with "shape": "image", else (n_features,)."""
    return data_images.input_shape(_params(spec), n_features)


def load_dataset(spec: dict, base_dir: Path | None = None) -> Dataset:
    """Build the data set deterministically from spec (same spec -> bit-identical arrays)."""
    p = _params(spec)
    name = p["name"]
    rng = np.random.default_rng(p["seed"])
    if name == "csv":
        X, y, feature_names, n_classes = read_csv(p, base_dir)
        task = p["task"]
    elif name == "digits":
        raw = _digits_raw(DIGITS_PATH)[rng.permutation(1797)[: p["samples"]]]
        X, y = raw[:, :64] / 16.0, raw[:, 64].astype(np.int64)
        feature_names = data_images.pixel_names((8, 8, 1))
        n_classes, task = 10, "classification"
    elif name == "stripes":
        X, y = data_images.stripes(p, rng)
        feature_names = data_images.pixel_names(data_images.image_shape(p))
        n_classes, task = len(STRIPE_CLASSES), "classification"
    else:
        X, y = _SYNTHETIC[name](p, rng)
        task = DATASETS[name]["task"]
        n_classes = 0 if task == "regression" else int(y.max()) + 1
        feature_names = ["x"] if X.shape[1] == 1 else ["x1", "x2"]
    n = len(X)
    if n < 2:
        raise DataError(
            f"Data set '{name}' has {n} sample(s); at least 2 are needed to split "
            "into training and test sets."
        )
    order = rng.permutation(n)
    # Shuffled into a new array (a cached CSV stays as read), standardised in place, split into
    # two views of it: a large CSV is held twice at most, not five times.
    X = np.ascontiguousarray(X[order], dtype=np.float64)
    y = np.ascontiguousarray(y[order], dtype=np.int64 if n_classes else np.float64)
    n_test = min(max(round(p["test_fraction"] * n), 1), n - 1)
    if name == "csv" and p["standardize"]:
        mu, sd = X[: n - n_test].mean(axis=0), X[: n - n_test].std(axis=0)
        sd[sd == 0] = 1.0  # a constant column stays constant instead of becoming NaN
        X -= mu
        X /= sd
    X_tr, X_te = X[: n - n_test], X[n - n_test :]
    return Dataset(
        name=name,
        task=task,
        X_train=X_tr,
        y_train=y[: n - n_test].copy(),
        X_test=X_te,
        y_test=y[n - n_test :].copy(),
        n_features=X.shape[1],
        n_classes=n_classes,
        n_targets=n_classes or y.shape[1],
        feature_names=list(feature_names),
        input_shape=data_images.input_shape(p, X.shape[1]),
    )
