"""Validation: one check per rule, each problem attributed to its culprit and naming it.

Every test starts from a valid network (tests/engine/networks/spiral_small.json), introduces one
mistake, and asserts that validate() reports a Problem whose `where` is the culprit and whose
message names what is wrong (the node, the field, the value given).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from vgsim.engine import (
    Network,
    NetworkError,
    NetworkFileError,
    Problem,
    Trainer,
    load_network,
    read_network,
    validate,
)
from vgsim.engine.schema import FORMAT

NETWORKS = Path(__file__).resolve().parent / "networks"
BASE = json.loads((NETWORKS / "spiral_small.json").read_text(encoding="utf-8"))


def base() -> dict:
    """A fresh, valid network dict: in -> d1 -> a1 -> d2 -> a2 -> d3 -> out (spiral, 3 classes)."""
    return copy.deepcopy(BASE)


def node(d: dict, node_id: str) -> dict:
    return next(n for n in d["nodes"] if n["id"] == node_id)


def remove_node(d: dict, node_id: str) -> None:
    d["nodes"] = [n for n in d["nodes"] if n["id"] != node_id]
    d["edges"] = [e for e in d["edges"] if node_id not in (e["from"], e["to"])]


def problems_of(d: dict) -> list[Problem]:
    return validate(Network.from_dict(d))


def find(problems: list[Problem], where: str, *needles: str) -> Problem:
    """The problem at `where` whose message contains every needle; fails with the full list."""
    for p in problems:
        if p.where == where and all(n in p.message for n in needles):
            return p
    listing = "\n".join(f"  [{p.where}] {p.message}" for p in problems) or "  (none)"
    raise AssertionError(f"no problem at {where!r} mentioning {needles!r}; got:\n{listing}")


def only(d: dict, where: str, *needles: str) -> Problem:
    """Like find(), and the mistake produced exactly one problem (no noise around it)."""
    problems = problems_of(d)
    p = find(problems, where, *needles)
    assert len(problems) == 1, [str(q) for q in problems]
    return p


# ---- the baseline --------------------------------------------------------------------------


def test_fixture_is_valid() -> None:
    assert problems_of(base()) == []
    load_network(NETWORKS / "spiral_small.json")  # does not raise
    load_network(NETWORKS / "residual_bn.json")


def test_problem_and_error_carry_every_message() -> None:
    d = base()
    d["training"]["lr"] = -1
    node(d, "d2")["units"] = 0
    with pytest.raises(NetworkError) as exc:
        Trainer(Network.from_dict(d))
    wheres = {p.where for p in exc.value.problems}
    assert {"training", "d2"} <= wheres
    for p in exc.value.problems:
        assert p.message in str(exc.value)


# ---- node types and fields -----------------------------------------------------------------


def test_unknown_node_type() -> None:
    d = base()
    node(d, "d2")["type"] = "lstm"
    p = find(problems_of(d), "d2", "d2", "'lstm'")
    assert "dense" in p.message  # lists the known types


def test_unknown_node_field() -> None:
    d = base()
    node(d, "d1")["activation"] = "relu"
    only(d, "d1", "d1", "'activation'")


def test_unknown_training_field() -> None:
    d = base()
    d["training"]["learning_rate"] = 0.1
    only(d, "training", "'learning_rate'")


def test_unknown_top_level_key() -> None:
    d = base()
    d["optimiser"] = "adam"
    only(d, "format", "optimiser")


def test_missing_dense_units() -> None:
    d = base()
    del node(d, "d2")["units"]
    find(problems_of(d), "d2", "d2", "'units'", "required")


def test_missing_activation_function() -> None:
    d = base()
    del node(d, "a1")["function"]
    only(d, "a1", "a1", "'function'", "required")


@pytest.mark.parametrize("units", [0, 5000, "8", 2.5, True, -3])
def test_bad_units(units: object) -> None:
    d = base()
    node(d, "d2")["units"] = units
    find(problems_of(d), "d2", "d2", "units", repr(units))


@pytest.mark.parametrize("units", [1, 4096])
def test_units_at_the_limits_are_fine(units: int) -> None:
    d = base()
    node(d, "d2")["units"] = units
    assert problems_of(d) == []


def test_bias_must_be_boolean() -> None:
    d = base()
    node(d, "d2")["bias"] = "yes"
    only(d, "d2", "d2", "bias")


def test_unknown_initialiser() -> None:
    d = base()
    node(d, "d1")["init"] = "kaiming"
    only(d, "d1", "d1", "'kaiming'", "he_normal")  # names the culprit and the choices


def test_unknown_initialiser_parameter() -> None:
    d = base()
    node(d, "d1")["init"] = {"name": "normal", "sigma": 1.0}
    only(d, "d1", "d1", "normal", "'sigma'")


def test_non_numeric_initialiser_parameter() -> None:
    d = base()
    node(d, "d1")["init"] = {"name": "normal", "std": "big"}
    only(d, "d1", "d1", "std", "'big'")


def test_negative_initialiser_std_names_the_value() -> None:
    d = base()
    node(d, "d1")["init"] = {"name": "normal", "std": -0.5}
    only(d, "d1", "d1", "std", "-0.5")


def test_init_of_the_wrong_shape() -> None:
    d = base()
    node(d, "d1")["init"] = ["he_normal"]
    only(d, "d1", "d1", "init")


def test_unknown_activation_function() -> None:
    d = base()
    node(d, "a1")["function"] = "gelu"
    only(d, "a1", "a1", "'gelu'", "relu")


def test_activation_parameter_belongs_to_its_function() -> None:
    d = base()
    node(d, "a1")["slope"] = 0.1  # leaky_relu's parameter on a relu
    only(d, "a1", "a1", "'slope'")
    node(d, "a1")["function"] = "leaky_relu"
    assert problems_of(d) == []


def test_non_numeric_activation_parameter() -> None:
    d = base()
    node(d, "a1").update(function="leaky_relu", slope="steep")
    only(d, "a1", "a1", "slope", "'steep'")


@pytest.mark.parametrize("alpha", [0, 0.0])
def test_elu_alpha_zero(alpha: float) -> None:
    d = base()
    node(d, "a1").update(function="elu", alpha=alpha)
    only(d, "a1", "a1", "alpha")


def test_elu_negative_alpha_names_the_value() -> None:
    d = base()
    node(d, "a1").update(function="elu", alpha=-0.5)
    only(d, "a1", "a1", "alpha", "-0.5")


def with_batchnorm(d: dict, **params: object) -> dict:
    """Insert a batchnorm 'bn' between d1 and a1."""
    d["nodes"].insert(2, {"id": "bn", "type": "batchnorm", **params})
    d["edges"] = [e for e in d["edges"] if (e["from"], e["to"]) != ("d1", "a1")]
    d["edges"] += [{"from": "d1", "to": "bn"}, {"from": "bn", "to": "a1"}]
    return d


def test_batchnorm_fixture_is_valid() -> None:
    assert problems_of(with_batchnorm(base(), momentum=1.0, eps=1e-3)) == []


@pytest.mark.parametrize("momentum", [1.5, -0.1, "0.1"])
def test_batchnorm_momentum_out_of_range(momentum: object) -> None:
    only(with_batchnorm(base(), momentum=momentum), "bn", "bn", "momentum", repr(momentum))


@pytest.mark.parametrize("eps", [0, -1e-5])
def test_batchnorm_eps_not_positive(eps: float) -> None:
    only(with_batchnorm(base(), eps=eps), "bn", "bn", "eps", repr(eps))


def test_unknown_loss() -> None:
    d = base()
    node(d, "out")["loss"] = "hinge"
    only(d, "out", "out", "'hinge'", "mse")


# ---- training settings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("lr", 0),
        ("lr", -0.1),
        ("lr", "fast"),
        ("batch_size", 0),
        ("batch_size", 8.0),
        ("batch_size", 100000),
        ("l2", -0.01),
        ("momentum", 1.0),
        ("beta2", -0.5),
        ("seed", -1),
        ("bins", 1),
        ("history", 4),
        ("eps", 0),
    ],
)
def test_bad_training_value(key: str, value: object) -> None:
    d = base()
    d["training"][key] = value
    only(d, "training", key, repr(value))


def test_unknown_optimizer() -> None:
    d = base()
    d["training"]["optimizer"] = "adagrad"
    only(d, "training", "'adagrad'", "adam")


def test_bad_clip_mode() -> None:
    d = base()
    d["training"]["clip"] = {"mode": "global", "threshold": 1.0}
    only(d, "training", "clip", "'global'")


@pytest.mark.parametrize("threshold", [0, -1.0, "1"])
def test_bad_clip_threshold(threshold: object) -> None:
    d = base()
    d["training"]["clip"] = {"mode": "norm", "threshold": threshold}
    only(d, "training", "threshold", repr(threshold))


def test_unknown_clip_field() -> None:
    d = base()
    d["training"]["clip"] = {"mode": "norm", "max_norm": 1.0}
    only(d, "training", "clip", "'max_norm'")


def test_clip_must_be_an_object() -> None:
    d = base()
    d["training"]["clip"] = "norm"
    find(problems_of(d), "training", "clip")


def test_bad_dtype() -> None:
    d = base()
    d["training"]["dtype"] = "float16"
    only(d, "training", "dtype", "'float16'", "float32")


# ---- ids and edges -------------------------------------------------------------------------


def test_duplicate_id() -> None:
    d = base()
    d["nodes"].append({"id": "d1", "type": "dense", "units": 4})
    find(problems_of(d), "d1", "'d1'", "unique")


def test_node_without_id() -> None:
    d = base()
    d["nodes"].append({"type": "dense", "units": 4})
    p = find(problems_of(d), "#8", "#8", "id")
    assert "8" in p.message


def test_edge_names_unknown_node() -> None:
    d = base()
    d["edges"].append({"from": "a2", "to": "ghost"})
    only(d, "edges", "a2", "'ghost'")


def test_self_loop() -> None:
    d = base()
    d["edges"].append({"from": "d2", "to": "d2"})
    p = only(d, "d2", "'d2'", "itself")
    assert "d2 → d2" in p.message


def test_duplicate_edge() -> None:
    d = base()
    d["edges"].append({"from": "d1", "to": "a1"})
    only(d, "a1", "d1 → a1", "twice")


def test_edge_into_input() -> None:
    d = base()
    d["edges"].append({"from": "a1", "to": "in"})
    find(problems_of(d), "in", "a1 → in", "input")


def test_edge_out_of_output() -> None:
    d = base()
    d["edges"].append({"from": "out", "to": "d2"})
    find(problems_of(d), "out", "out → d2", "output")


# ---- structure -----------------------------------------------------------------------------


def test_no_input() -> None:
    d = base()
    remove_node(d, "in")
    problems = problems_of(d)
    find(problems, "nodes", "no input")
    find(problems, "d1", "d1", "no incoming edge")


def test_two_inputs() -> None:
    d = base()
    d["nodes"].insert(1, {"id": "in2", "type": "input"})
    d["edges"].append({"from": "in2", "to": "d1"})
    only(d, "in2", "2 input", "in, in2")


def test_no_output() -> None:
    d = base()
    remove_node(d, "out")
    find(problems_of(d), "nodes", "no output")


def test_two_outputs() -> None:
    d = base()
    d["nodes"].append({"id": "out2", "type": "output"})
    d["edges"].append({"from": "d3", "to": "out2"})
    find(problems_of(d), "out2", "2 output", "out, out2")


def _cycle_in(message: str) -> list[str]:
    m = re.search(r"cycle: (.*?)\. ", message)
    assert m, message
    return m.group(1).split(" → ")


def _assert_is_cycle(path: list[str], members: set[str], edges: list[dict]) -> None:
    assert path[0] == path[-1], f"{path} does not close"
    assert set(path[:-1]) == members, f"{path} is not the cycle {sorted(members)}"
    pairs = {(e["from"], e["to"]) for e in edges}
    for a, b in zip(path, path[1:], strict=False):
        assert (a, b) in pairs, f"{a} → {b} is not an edge"


def test_cycle_lists_the_cycle() -> None:
    d = base()
    # a2 -> d1 closes d1 -> a1 -> d2 -> a2 -> d1. The back edge comes after a2 -> d3 in the
    # file, so a walk that only follows each node's first successor ends at the output.
    d["edges"].append({"from": "a2", "to": "d1"})
    members = {"d1", "a1", "d2", "a2"}
    problems = problems_of(d)
    (p,) = [p for p in problems if "cycle" in p.message]
    assert p.where in members
    _assert_is_cycle(_cycle_in(p.message), members, d["edges"])


def test_cycle_short_back_edge() -> None:
    d = base()
    d["edges"].append({"from": "a2", "to": "d2"})
    problems = problems_of(d)
    p = next((p for p in problems if "cycle" in p.message), None)
    assert p is not None, [str(q) for q in problems]
    assert p.where in ("d2", "a2")
    _assert_is_cycle(_cycle_in(p.message), {"d2", "a2"}, d["edges"])


def test_cycle_found_when_first_successor_leads_into_it() -> None:
    d = base()
    d["edges"].insert(0, {"from": "a2", "to": "d2"})  # back edge first: the easy case
    p = next(p for p in problems_of(d) if "cycle" in p.message)
    _assert_is_cycle(_cycle_in(p.message), {"d2", "a2"}, d["edges"])


def test_node_with_no_incoming_edge() -> None:
    d = base()
    d["edges"] = [e for e in d["edges"] if e["to"] != "d2"]
    problems = problems_of(d)
    find(problems, "d2", "d2", "no incoming edge")
    find(problems, "a1", "a1", "dangling", "'out'")  # a1 now leads nowhere


def test_unreachable_node() -> None:
    d = base()
    d["edges"] = [e for e in d["edges"] if e["to"] != "d2"]
    d["nodes"].append({"id": "orphan", "type": "dense", "units": 16})
    d["edges"] += [{"from": "orphan", "to": "d2"}, {"from": "a1", "to": "out"}]
    problems = problems_of(d)
    find(problems, "orphan", "orphan", "no incoming edge")
    find(problems, "d2", "d2", "cannot be reached from the input")
    find(problems, "a2", "a2", "cannot be reached from the input")


def test_dangling_node() -> None:
    d = base()
    d["nodes"].append({"id": "extra", "type": "dense", "units": 4})
    d["edges"].append({"from": "a1", "to": "extra"})
    only(d, "extra", "'extra'", "dangling", "'out'")


def test_width_mismatch_at_a_sum() -> None:
    d = base()
    node(d, "d2")["units"] = 8
    d["edges"].append({"from": "a1", "to": "d3"})  # skip path: a1 (16) + a2 (8) into d3
    p = only(d, "d3", "'d3'")
    for needle in ("'a1'", "'a2'", "16", "8"):
        assert needle in p.message, p.message
    # each width is next to its own node
    assert re.search(r"'a2' gives 8\b", p.message), p.message
    assert re.search(r"'a1' gives 16\b", p.message), p.message


def test_matching_widths_at_a_sum_are_fine() -> None:
    d = base()
    d["edges"].append({"from": "a1", "to": "d3"})
    assert problems_of(d) == []


def test_output_width_must_match_classes() -> None:
    d = base()
    node(d, "d3")["units"] = 16
    p = only(d, "out", "'out'", "16", "3 classes")
    assert "spiral" in p.message


def test_binary_cross_entropy_takes_one_unit_for_two_classes() -> None:
    d = base()
    d["data"] = {"name": "moons"}
    node(d, "out")["loss"] = "binary_cross_entropy"
    node(d, "d3")["units"] = 1
    assert problems_of(d) == []
    node(d, "d3")["units"] = 3
    only(d, "out", "3 values", "1 units")


def test_regression_data_needs_mse() -> None:
    d = base()
    d["data"] = {"name": "sine"}
    node(d, "d3")["units"] = 1
    p = only(d, "out", "'out'", "sine", "mse")
    assert "regression" in p.message
    node(d, "out")["loss"] = "mse"
    assert problems_of(d) == []


def test_unknown_data_set() -> None:
    d = base()
    d["data"] = {"name": "spirals"}
    p = only(d, "data", "'spirals'")
    assert "'spiral'" in p.message  # the suggestion


def test_unknown_data_parameter() -> None:
    d = base()
    d["data"]["clases"] = 3
    only(d, "data", "clases")


def test_bad_data_value() -> None:
    d = base()
    d["data"]["samples"] = -5
    only(d, "data", "samples", "-5")


# ---- values JSON can hold but no rule expects ----------------------------------------------


def _set(d: dict, path: tuple[str, str], value: object) -> None:
    section, key = path
    target = d[section] if section in ("training", "data") else node(d, section)
    target[key] = value


@pytest.mark.parametrize(
    ("where", "path", "value"),
    [
        ("d1", ("d1", "init"), {"name": ["he_normal"]}),
        ("a1", ("a1", "function"), ["relu"]),
        ("a1", ("a1", "function"), {"name": "relu"}),
        ("training", ("training", "optimizer"), ["adam"]),
        ("data", ("data", "name"), ["spiral"]),
        ("out", ("out", "loss"), ["mse"]),
        ("training", ("training", "dtype"), ["float32"]),
    ],
)
def test_list_or_object_where_a_name_belongs_is_a_problem_not_a_crash(
    where: str, path: tuple[str, str], value: object
) -> None:
    d = base()
    _set(d, path, value)
    problems = problems_of(d)  # must not raise (e.g. TypeError: unhashable type)
    find(problems, where)


@pytest.mark.parametrize(
    ("where", "path", "value"),
    [
        ("training", ("training", "lr"), float("inf")),
        ("training", ("training", "l2"), float("inf")),
        ("d1", ("d1", "bias_init"), float("nan")),
        ("d1", ("d1", "init"), {"name": "normal", "std": float("inf")}),
    ],
)
def test_non_finite_numbers_are_refused(where: str, path: tuple[str, str], value: object) -> None:
    """JSON as Python reads it allows NaN and Infinity; none of these settings can use them
    (data parameters already demand finite numbers)."""
    d = base()
    _set(d, path, value)
    find(problems_of(d), where)


# ---- every problem at once -----------------------------------------------------------------


def test_all_problems_come_at_once() -> None:
    d = base()
    d["training"]["lr"] = -1
    node(d, "d2")["units"] = 0
    node(d, "a1")["function"] = "gelu"
    d["edges"].append({"from": "a2", "to": "ghost"})
    d["data"]["clases"] = 3
    problems = problems_of(d)
    assert len(problems) >= 5
    find(problems, "training", "lr", "-1")
    find(problems, "d2", "units", "0")
    find(problems, "a1", "'gelu'")
    find(problems, "edges", "'ghost'")
    find(problems, "data", "clases")


def test_load_network_raises_with_every_problem(tmp_path: Path) -> None:
    d = base()
    d["training"]["optimizer"] = "adagrad"
    node(d, "d1")["init"] = "kaiming"
    node(d, "out")["loss"] = "hinge"
    d["edges"].append({"from": "d2", "to": "d2"})
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(d), encoding="utf-8")
    with pytest.raises(NetworkError) as exc:
        load_network(path)
    wheres = [p.where for p in exc.value.problems]
    assert {"training", "d1", "out", "d2"} <= set(wheres), wheres
    for needle in ("adagrad", "kaiming", "hinge", "itself"):
        assert needle in str(exc.value)


# ---- the file format -----------------------------------------------------------------------


def test_unknown_format_version_is_refused() -> None:
    d = base()
    d["format"] = "vgsim.network/2"
    with pytest.raises(NetworkFileError) as exc:
        Network.from_dict(d)
    assert "vgsim.network/2" in str(exc.value)
    assert FORMAT in str(exc.value)  # says which version this build reads


def test_missing_format_is_refused() -> None:
    d = base()
    del d["format"]
    with pytest.raises(NetworkFileError) as exc:
        Network.from_dict(d)
    assert '"format"' in str(exc.value)
    assert FORMAT in str(exc.value)


@pytest.mark.parametrize("top", [[1, 2], "network", 3])
def test_top_level_must_be_an_object(top: object) -> None:
    with pytest.raises(NetworkFileError):
        Network.from_dict(top)


@pytest.mark.parametrize(
    ("key", "value"), [("nodes", {"id": "in"}), ("edges", ["in", "out"]), ("training", [])]
)
def test_sections_of_the_wrong_kind_are_refused(key: str, value: object) -> None:
    d = base()
    d[key] = value
    with pytest.raises(NetworkFileError) as exc:
        Network.from_dict(d)
    assert key in str(exc.value)


def test_non_json_text_gives_line_and_column() -> None:
    text = '{\n  "format": "vgsim.network/1",\n  "nodes": [,]\n}\n'
    with pytest.raises(NetworkFileError) as exc:
        Network.from_json(text)
    assert "line 3" in str(exc.value)
    assert "column 13" in str(exc.value)


def test_read_network_non_json_names_file_and_position(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"format": "vgsim.network/1",\n "name": oops}\n', encoding="utf-8")
    with pytest.raises(NetworkFileError) as exc:
        read_network(path)
    msg = str(exc.value)
    assert "broken.json" in msg
    assert "line 2" in msg and "column" in msg


def test_read_network_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "nowhere.json"
    with pytest.raises(NetworkFileError) as exc:
        read_network(path)
    assert str(path) in str(exc.value)


def test_read_network_undecodable_file(tmp_path: Path) -> None:
    path = tmp_path / "binary.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(NetworkFileError) as exc:
        read_network(path)
    assert str(path) in str(exc.value)


def test_loading_never_executes_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    path = NETWORKS / "not_code.json"
    text = path.read_text(encoding="utf-8").replace("@PAYLOAD@", payload.replace("'", "\\u0027"))
    target = tmp_path / "not_code.json"
    target.write_text(text, encoding="utf-8")

    net = read_network(target)
    assert not marker.exists()
    assert net.name == payload  # a string stays a string
    assert net.description == "!!python/object/apply:os.system ['echo hi']"
    d1 = net.node("d1")
    assert d1.params["__class__"] == "os.system"
    assert d1.params["init"] == {"name": "he_normal", "__reduce__": payload}
    assert net.lesson == {"steps": [{"eval": payload}]}
    problems = validate(net)
    assert not marker.exists()
    find(problems, "d1", "'__class__'")
    find(problems, "d1", "'__reduce__'")
    find(problems, "format", "__builtins__")


@pytest.mark.parametrize(
    ("bias_init", "message"),
    [
        ("orthogonal", "bias_init cannot be orthogonal"),
        ({"name": "normal", "std": -1.0}, "bias_init: initialiser parameter std must not be"),
        ({"name": "bogus"}, "bias_init: unknown initialiser 'bogus'"),
        ({"std": 0.2}, "bias_init: init must be a name"),
        ([0.1], "bias_init must be a number or an initialiser"),
        (True, "bias_init must be a number or an initialiser"),
    ],
)
def test_a_bias_initialiser_is_checked(bias_init: object, message: str) -> None:
    d = base()
    _set(d, ("d1", "bias_init"), bias_init)
    assert any(message in p.message for p in problems_of(d) if p.where == "d1"), problems_of(d)


@pytest.mark.parametrize("bias_init", [0.25, "he_normal", {"name": "normal", "std": 0.22}])
def test_a_bias_initialiser_or_number_is_valid(bias_init: object) -> None:
    d = base()
    _set(d, ("d1", "bias_init"), bias_init)
    assert not [p for p in problems_of(d) if p.where == "d1"]
