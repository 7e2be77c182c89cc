"""The docs cannot rot: docs/api.md's examples run, docs/network-format.md's networks validate.

* Every ```python block of docs/api.md is executed, in order, in one namespace (later blocks use
  what earlier ones defined), in an empty working folder.
* Every ```json block of docs/network-format.md must be JSON. A complete network (it has
  "format") must load with Network.from_dict, validate with no problems and train a step. A
  snippet that is only a "training" section, or a single node, is put into the first complete
  network (the node replaces the one with its id) and must validate; a snippet that is only a
  built-in "data" section must build.
* Every name in the engine's tables (node types, fields, activations, initialisers, losses,
  optimizers, training settings, data sets and their parameters, telemetry figures, Trainer
  methods) is mentioned in the docs, so a new one cannot go undocumented.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
from pathlib import Path

import pytest

from vgsim.engine import Network, Trainer, load_dataset, schema, validate
from vgsim.engine.data import COMMON_PARAMS, DATASETS
from vgsim.engine.kernels.stats import STAT_NAMES
from vgsim.engine.telemetry import SCALARS

DOCS = Path(__file__).resolve().parents[2] / "docs"
API = DOCS / "api.md"
FORMAT_DOC = DOCS / "network-format.md"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def fenced(path: Path, lang: str) -> list[tuple[int, str]]:
    """(line of the first code line, code) for each ```lang block of a Markdown file."""
    text = path.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, m.start(2)) + 1, m.group(2))
        for m in FENCE.finditer(text)
        if m.group(1) == lang
    ]


def _id(block: tuple[int, str]) -> str:
    return f"line{block[0]}"


JSON_BLOCKS = fenced(FORMAT_DOC, "json")
NETWORKS = [b for b in JSON_BLOCKS if "format" in json.loads(b[1])]


def test_the_docs_have_examples() -> None:
    assert len(fenced(API, "python")) >= 10
    assert len(NETWORKS) >= 2
    assert any(
        len(json.loads(code)["edges"]) > len(json.loads(code)["nodes"]) - 1 for _, code in NETWORKS
    ), "no network with a skip connection"


def test_api_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "docs_api"}
    for line, code in fenced(API, "python"):
        # Pad so that a traceback points at the line of docs/api.md itself.
        exec(compile("\n" * (line - 1) + code, str(API), "exec"), namespace)


@pytest.mark.parametrize("block", NETWORKS, ids=_id)
def test_complete_networks_are_valid(block: tuple[int, str]) -> None:
    net = Network.from_dict(json.loads(block[1]))
    problems = validate(net)
    assert problems == [], [str(p) for p in problems]
    assert Trainer(net).step().status == "ok"


@pytest.mark.parametrize("block", JSON_BLOCKS, ids=_id)
def test_json_snippets_are_valid(block: tuple[int, str]) -> None:
    d = json.loads(block[1])
    assert isinstance(d, dict)
    if set(d) == {"training"}:
        net = json.loads(NETWORKS[0][1])
        net["training"] = copy.deepcopy(d["training"])
        problems = validate(Network.from_dict(net))
        assert problems == [], [str(p) for p in problems]
    elif set(d) == {"data"} and d["data"].get("name") != "csv":
        load_dataset(d["data"])
    elif "id" in d and "type" in d:
        # A node: it takes the place of the node with its id in the first complete network.
        net = json.loads(NETWORKS[0][1])
        ids = [n["id"] for n in net["nodes"]]
        assert d["id"] in ids, f"use an id of the first example network ({ids})"
        net["nodes"][ids.index(d["id"])] = d
        problems = validate(Network.from_dict(net))
        assert problems == [], [str(p) for p in problems]
    else:
        unknown = set(d) - set(schema.TOP_LEVEL)
        assert not unknown, f"not keys of a network file: {unknown}"


def _mentions(path: Path) -> set[str]:
    """Every `code span` of a Markdown file, and each word inside one."""
    text = path.read_text(encoding="utf-8")
    spans = re.findall(r"`([^`\n]+)`", text)
    return set(spans) | {w for s in spans for w in re.findall(r"[\w./<>-]+", s)}


def test_every_name_in_the_schema_is_documented() -> None:
    text = FORMAT_DOC.read_text(encoding="utf-8")
    mentioned = _mentions(FORMAT_DOC)
    names = [
        *schema.TOP_LEVEL,
        *schema.NODE_FIELDS,
        *schema.LAYOUT_FIELDS,
        *schema.LOSSES,
        *schema.ACTIVATIONS,
        *schema.INITIALISERS,
        *schema.OPTIMIZERS,
        *schema.CLIP_MODES,
        *schema.DTYPES,
        *schema.TRAINING_DEFAULTS,
        *DATASETS,
        *COMMON_PARAMS,
    ]
    names += [f for fields in schema.NODE_FIELDS.values() for f in fields]
    names += [p for params in schema.ACTIVATIONS.values() for p in params]
    names += [p for params in schema.INITIALISERS.values() for p in params]
    names += [p for params in schema.OPTIMIZERS.values() for p in params]
    names += [p for d in DATASETS.values() for p in d["params"]]
    missing = sorted({n for n in names if n not in mentioned})
    assert not missing, f"docs/network-format.md never mentions {missing}"
    assert schema.FORMAT in text


def test_every_figure_and_trainer_method_is_documented() -> None:
    mentioned = _mentions(API)
    methods = [n for n, _ in inspect.getmembers(Trainer) if not n.startswith("_")]
    names = [*SCALARS, *STAT_NAMES, *methods]
    missing = sorted({n for n in names if n not in mentioned})
    assert not missing, f"docs/api.md never mentions {missing}"
