"""Input that once crashed or hung, each case reproduced: deep nesting, huge integers, devices
and FIFOs as files, a CSV parsed three times, a nan target taken for class names, megabyte
values quoted whole, numpy warnings from extreme settings."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from vgsim.cli import main
from vgsim.engine import data, data_csv
from vgsim.engine.builders import mlp
from vgsim.engine.errors import DataError, NetworkFileError
from vgsim.engine.spec import read_network, save_network
from vgsim.engine.train import Trainer
from vgsim.engine.validate import load_network, validate

GOOD = mlp(2, 4, 2, data={"name": "moons", "samples": 100}).to_dict()


def write(tmp_path: Path, text: str, name: str = "net.json") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_json_nested_a_thousand_levels_is_a_file_error(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, '{"a":' * 1000 + "1" + "}" * 1000)
    with pytest.raises(NetworkFileError, match="nests objects or lists more than 64 levels"):
        read_network(path)
    assert main(["validate", str(path)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_nesting_inside_training_is_a_file_error(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(GOOD))
    deep: object = 1
    for _ in range(500):
        deep = {"a": deep}
    doc["training"]["x"] = deep
    with pytest.raises(NetworkFileError, match="levels"):
        read_network(write(tmp_path, json.dumps(doc)))


def test_an_integer_of_thousands_of_digits_is_a_file_error(tmp_path: Path) -> None:
    text = json.dumps(GOOD)[:-1] + ', "name": ' + "9" * 5000 + "}"
    with pytest.raises(NetworkFileError, match="thousands of digits"):
        read_network(write(tmp_path, text))


def _fifo(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    os.mkfifo(path)
    return path


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("where", ["/dev/zero", "fifo"])
def test_a_device_or_fifo_as_network_file_is_refused_at_once(tmp_path: Path, where: str) -> None:
    path = Path(where) if where != "fifo" else _fifo(tmp_path, "net.json")
    result: list[BaseException] = []
    reader = threading.Thread(target=lambda: _catch(result, read_network, path), daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "reading hung"
    assert isinstance(result[0], NetworkFileError) and "not a regular file" in str(result[0])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("where", ["/dev/zero", "fifo"])
def test_a_device_or_fifo_as_csv_path_is_a_data_problem(tmp_path: Path, where: str) -> None:
    path = "/dev/zero" if where != "fifo" else str(_fifo(tmp_path, "d.csv"))
    net = mlp(2, 4, 2, data={"name": "csv", "path": path})
    result: list[object] = []
    checker = threading.Thread(target=lambda: result.append(validate(net)), daemon=True)
    checker.start()
    checker.join(timeout=10)
    assert not checker.is_alive(), "validation hung"
    assert any(
        "not a regular file, so it cannot be a CSV data file" in p.message for p in result[0]
    )


def _catch(into: list, fn, *args) -> None:
    try:
        fn(*args)
    except BaseException as exc:  # what the reader raised, for the test to check
        into.append(exc)


def test_an_oversized_file_names_the_limit(tmp_path: Path, monkeypatch) -> None:
    from vgsim.engine import spec

    monkeypatch.setattr(spec, "MAX_NETWORK_BYTES", 1000)
    path = write(tmp_path, json.dumps(GOOD) + " " * 2000)
    with pytest.raises(NetworkFileError, match="a network file may be at most"):
        read_network(path)


def test_a_csv_is_parsed_once_for_validation_and_training(tmp_path, monkeypatch) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    rows = "\n".join(f"{a:.5f},{b:.5f},{c:.5f},{int(a > 0)}" for a, b, c in X)
    write(tmp_path, "a,b,c,label\n" + rows + "\n", "d.csv")
    save_network(mlp(2, 4, 2, data={"name": "csv", "path": "d.csv"}), tmp_path / "net.json")
    parsed = []
    real = data_csv._parse_csv
    monkeypatch.setattr(data_csv, "_parse_csv", lambda *a: parsed.append(1) or real(*a))
    Trainer(load_network(tmp_path / "net.json")).step()
    assert len(parsed) == 1
    os.utime(tmp_path / "d.csv", ns=(1, 1))  # changed on disk: read again
    Trainer(load_network(tmp_path / "net.json"))
    assert len(parsed) == 2


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_a_non_finite_target_cell_is_named(tmp_path: Path, bad: str) -> None:
    text = "a,b,label\n" + "\n".join(f"{i},{i % 3},{i % 2}" for i in range(20))
    text += f"\n1,2,{bad}\n"
    write(tmp_path, text, "d.csv")
    with pytest.raises(DataError, match=rf"line 22, target column 'label': '{bad}'"):
        data.load_dataset({"name": "csv", "path": str(tmp_path / "d.csv")})


def test_a_non_finite_feature_cell_is_named(tmp_path: Path) -> None:
    text = "a,b,label\n" + "\n".join(f"{i},{i % 3},{i % 2}" for i in range(20)) + "\nnan,1,0\n"
    write(tmp_path, text, "d.csv")
    with pytest.raises(DataError, match="line 22, column 'a': 'nan' is not a number"):
        data.load_dataset({"name": "csv", "path": str(tmp_path / "d.csv")})


def test_messages_quote_at_most_about_80_characters_of_a_value(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(GOOD))
    doc["training"]["optimizer"] = "x" * 1_000_000
    doc["training"]["lr"] = "y" * 1_000_000
    doc["nodes"][1]["units"] = ["z"] * 100_000
    doc["data"]["noise"] = "w" * 100_000
    problems = validate(read_network(write(tmp_path, json.dumps(doc))))
    assert len(problems) == 4
    assert all(len(p.message) < 300 for p in problems), [len(p.message) for p in problems]
    cell = "c" * 10_000
    write(tmp_path, f"a,label\n{cell},1\n1,0\n", "d.csv")
    with pytest.raises(DataError) as exc:
        data.load_dataset({"name": "csv", "path": str(tmp_path / "d.csv")})
    assert len(str(exc.value)) < 300 + len(str(tmp_path))


@pytest.mark.parametrize(
    ("node", "field", "value"),
    [
        ("dense1", "bias_init", 1e308),
        ("dense1", "init", {"name": "normal", "std": 1e300}),
        ("dense1", "init", {"name": "uniform", "limit": 1e39}),
        ("dense1", "init", {"name": "constant", "value": -1e35}),
    ],
)
def test_settings_too_large_for_float32_are_problems_not_warnings(node, field, value) -> None:
    net = mlp(2, 4, 2, data={"name": "moons", "samples": 100})
    net.node(node).params[field] = value
    problems = validate(net)
    assert len(problems) == 1 and "at most 1e+30 in size" in problems[0].message


def test_a_megabyte_block_id_or_type_is_cut_in_messages(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(GOOD))
    long_id, long_type = "i" * 1_000_000, "t" * 1_000_000
    doc["nodes"][1]["id"] = long_id
    doc["nodes"][2]["type"] = long_type
    problems = validate(read_network(write(tmp_path, json.dumps(doc))))
    assert problems and all(len(p.message) < 400 for p in problems)
    assert any(p.where == long_id for p in problems)  # the block is still found by its id
