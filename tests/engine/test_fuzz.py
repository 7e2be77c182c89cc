"""Property-based fuzzing: mutated example and lesson files and random JSON go through
`read_network` and `validate`, and the valid ones through a few training steps. Nothing but
the project's documented errors may come out (NetworkFileError from reading, a list of
problems from validate, NetworkError or DataError from the Trainer), and no numpy warning
(the test settings turn warnings into errors). The number of examples is bounded so the suite
stays fast; `derandomize` makes every run try the same examples."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from vgsim.engine.errors import NetworkError, NetworkFileError, VgsimError
from vgsim.engine.schema import TRAINING_DEFAULTS
from vgsim.engine.spec import Network, read_network
from vgsim.engine.train import Trainer
from vgsim.engine.validate import validate

REPO = Path(__file__).resolve().parents[2]
SOURCES = [  # the shipped networks (the lessons' folder also holds sweeps)
    p
    for p in sorted((REPO / "resources").glob("**/*.json"))
    if json.loads(p.read_text(encoding="utf-8")).get("format") == "vgsim.network/1"
]
ORIGINALS = [json.loads(p.read_text(encoding="utf-8")) for p in SOURCES]
FUZZ = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2, 10**308, 2**31, 65536, 4097]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 1e-320, 3.5e38, 1e39, 0.0, -0.0, 0.5]),
    st.text(max_size=12),
    st.sampled_from(["relu", "tanh", "csv", "dense", "input", "output", "auto", "all", "x" * 500]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON document a mutation can touch."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated_files(draw) -> dict:
    doc = copy.deepcopy(draw(st.sampled_from(ORIGINALS)))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            key = draw(st.sampled_from([*TRAINING_DEFAULTS, "units", "init", "bias_init", "zz"]))
            parent[key] = draw(json_values)
        else:
            parent[path[-1]] = draw(json_values)
    return doc


EXTREMES = st.sampled_from(
    [1e308, -1e308, 1e39, 3.4e38, 1e30, 1e-320, 5e-324, 0.0, -0.0, 1e15, 2**63, -(2**63), 0.999999]
)
# Where a number belongs in a valid file: (node type or "training", field).
NUMERIC_FIELDS = [
    ("dense", "bias_init"),
    ("dense", ("init", "std")),
    ("dense", ("init", "limit")),
    ("dense", ("init", "gain")),
    ("dense", ("init", "value")),
    ("activation", "alpha"),
    ("activation", "slope"),
    ("activation", "negative_slope"),
    ("batchnorm", "momentum"),
    ("batchnorm", "eps"),
    *(("training", k) for k in ("lr", "l2", "momentum", "beta1", "beta2", "eps", "alpha")),
    ("training", ("clip", "threshold")),
]


@st.composite
def extreme_settings(draw) -> dict:
    """A valid file with one or two numbers set to the edge of what a float holds."""
    doc = copy.deepcopy(draw(st.sampled_from(ORIGINALS)))
    for _ in range(draw(st.integers(1, 2))):
        kind, field = draw(st.sampled_from(NUMERIC_FIELDS))
        value = draw(EXTREMES)
        targets = (
            [doc.setdefault("training", {})]
            if kind == "training"
            else [n for n in doc["nodes"] if n.get("type") == kind]
        )
        for target in targets[: draw(st.integers(1, 3))]:
            if isinstance(field, tuple):
                outer = target.get(field[0])
                if not isinstance(outer, dict):
                    outer = {"name": "normal"} if field[0] == "init" else {"mode": "norm"}
                    if field[1] == "limit":
                        outer = {"name": "uniform"}
                    if field[1] == "value":
                        outer = {"name": "constant"}
                target[field[0]] = {**outer, field[1]: value}
            else:
                target[field] = value
    return doc


def _read(text: str, tmp_path: Path) -> Network | None:
    path = tmp_path / "fuzz.json"
    path.write_text(text, encoding="utf-8")
    try:
        return read_network(path)
    except NetworkFileError:
        return None


def _small_enough(net: Network) -> bool:
    """A few steps of a network a student could build, not of a million-parameter one."""
    units = [n.params.get("units", 0) for n in net.nodes]
    data = net.data if isinstance(net.data, dict) else {}
    return (
        len(net.nodes) <= 300
        and sum(u for u in units if isinstance(u, int) and u > 0) <= 4096
        and data.get("samples", 600) in range(0, 5001)
        and net.training.get("batch_size", 32) in range(0, 1025)
    )


def _check(net: Network | None) -> None:
    if net is None:
        return
    problems = validate(net)
    assert isinstance(problems, list)
    if problems or not _small_enough(net):
        return
    try:
        trainer = Trainer(net)
    except (NetworkError, VgsimError):
        return
    for _ in range(3):
        record = trainer.step()
        assert record.status in ("ok", "diverged")
    trainer.run_block(4)
    assert math.isfinite(trainer.step_count)


@pytest.mark.slow  # about 6 s
@FUZZ
@given(doc=mutated_files())
def test_mutated_example_and_lesson_files(doc, tmp_path_factory) -> None:
    try:
        text = json.dumps(doc)
    except (ValueError, TypeError):
        assume(False)
    _check(_read(text, tmp_path_factory.mktemp("f")))


@settings(FUZZ, max_examples=50)
@given(doc=extreme_settings())
def test_extreme_numbers_in_valid_files(doc, tmp_path_factory) -> None:
    _check(_read(json.dumps(doc), tmp_path_factory.mktemp("e")))


@settings(FUZZ, max_examples=40)
@given(doc=json_values)
def test_random_json(doc, tmp_path_factory) -> None:
    tmp = tmp_path_factory.mktemp("j")
    _check(_read(json.dumps(doc), tmp))
    _check(_read(json.dumps({"format": "vgsim.network/1", "nodes": doc}), tmp))
    _check(_read(json.dumps({"format": "vgsim.network/1", "training": doc}), tmp))


@settings(FUZZ, max_examples=40)
@given(text=st.text(max_size=200))
def test_random_text(text, tmp_path_factory) -> None:
    _check(_read(text, tmp_path_factory.mktemp("t")))


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_every_shipped_file_passes_the_check(source: Path) -> None:
    """The fuzzer's starting points are themselves valid networks."""
    assert validate(read_network(source)) == []
