"""The network description: JSON round trips, atomic saving, and paths relative to the file."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest

from vgsim.engine import (
    Network,
    NodeSpec,
    Trainer,
    load_network,
    read_network,
    save_network,
    validate,
)
from vgsim.engine.schema import FORMAT

NETWORKS = Path(__file__).resolve().parent / "networks"
FIXTURES = ["spiral_small.json", "residual_bn.json", "conv_small.json"]


def meaning(net: Network) -> dict:
    """Everything a network says, independent of how it is stored."""
    return {
        "name": net.name,
        "description": net.description,
        "data": net.data,
        "nodes": [(n.id, n.type, n.params, n.label, n.pos) for n in net.nodes],
        "edges": list(net.edges),
        "training": net.training,
        "lesson": net.lesson,
    }


def rich_network() -> Network:
    net = read_network(NETWORKS / "spiral_small.json")
    net.lesson = {"title": "first steps", "steps": [{"text": "press Step", "expect": 3}]}
    net.node("d1").params["init"] = {"name": "normal", "std": 0.5, "gain": 2.0}
    net.node("d2").params.update(bias=False, bias_init=0.25)
    net.node("a2").params.update(function="leaky_relu", slope=0.2)
    net.training.update(clip={"mode": "value", "threshold": 0.5}, l2=1e-4, dtype="float64")
    return net


# ---- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", FIXTURES)
def test_dict_round_trip_keeps_the_meaning(fixture: str) -> None:
    net = read_network(NETWORKS / fixture)
    d = net.to_dict()
    assert d["format"] == FORMAT
    again = Network.from_dict(d)
    assert meaning(again) == meaning(net)
    assert again.to_dict() == d
    # and the dict is what the file said (keys may be ordered differently)
    raw = json.loads((NETWORKS / fixture).read_text(encoding="utf-8"))
    assert Network.from_dict(raw).to_dict() == d


def test_round_trip_of_every_kind_of_content() -> None:
    net = rich_network()
    again = Network.from_json(net.to_json())
    assert meaning(again) == meaning(net)
    assert again.node("in").label == "x"
    assert again.node("in").pos == (0.0, 0.0)
    assert again.node("d1").pos == (120.0, 0.0)
    assert again.node("d2").label == "hidden 2"
    assert again.node("d2").pos is None
    assert again.node("d1").params == {
        "units": 16,
        "init": {"name": "normal", "std": 0.5, "gain": 2.0},
    }
    assert again.edges == [
        ("in", "d1"),
        ("d1", "a1"),
        ("a1", "d2"),
        ("d2", "a2"),
        ("a2", "d3"),
        ("d3", "out"),
    ]
    assert again.training["clip"] == {"mode": "value", "threshold": 0.5}
    assert again.lesson == net.lesson
    assert validate(again) == []


def test_layout_fields_are_not_parameters() -> None:
    net = read_network(NETWORKS / "spiral_small.json")
    for n in net.nodes:
        assert "label" not in n.params and "pos" not in n.params
        assert "id" not in n.params and "type" not in n.params


def test_built_network_round_trips() -> None:
    net = Network(
        name="built",
        data={"name": "moons", "samples": 200},
        nodes=[
            NodeSpec("i", "input", pos=(1.5, -2.25)),
            NodeSpec("d", "dense", {"units": 2}),
            NodeSpec("o", "output", {"loss": "mse"}, label="loss"),
        ],
        edges=[("i", "d"), ("d", "o")],
        training={"lr": 0.5},
    )
    again = Network.from_dict(json.loads(net.to_json()))
    assert meaning(again) == meaning(net)
    assert validate(again) == []


def test_save_and_read_round_trip(tmp_path: Path) -> None:
    net = rich_network()
    path = tmp_path / "net.json"
    save_network(net, path)
    again = read_network(path)
    assert meaning(again) == meaning(net)
    assert again.base_dir == tmp_path.resolve()
    assert [p.name for p in tmp_path.iterdir()] == ["net.json"]


def test_network_and_its_dict_do_not_share_nested_objects() -> None:
    """An editor keeps undo copies as dicts: changing one must not change the other."""
    d = rich_network().to_dict()
    net = Network.from_dict(d)
    d["nodes"][1]["init"]["std"] = 99.0
    d["training"]["clip"]["threshold"] = 99.0
    assert net.node("d1").params["init"]["std"] == 0.5
    assert net.training["clip"]["threshold"] == 0.5

    out = net.to_dict()
    out["nodes"][1]["init"]["gain"] = 99.0
    out["training"]["clip"]["mode"] = "norm"
    assert net.node("d1").params["init"]["gain"] == 2.0
    assert net.training["clip"]["mode"] == "value"


def test_copy_is_deep() -> None:
    net = rich_network()
    other = net.copy()
    other.node("d1").params["init"]["std"] = 3.0
    other.edges.append(("a1", "d3"))
    assert net.node("d1").params["init"]["std"] == 0.5
    assert ("a1", "d3") not in net.edges


# ---- atomic saving -------------------------------------------------------------------------


def _existing(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "net.json"
    save_network(read_network(NETWORKS / "spiral_small.json"), path)
    return path, path.read_bytes()


@contextlib.contextmanager
def read_only(folder: Path):
    """Make `folder` read-only; root ignores permission bits, so it gets the immutable flag."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        chattr = shutil.which("chattr")
        if (
            chattr is None
            or subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode
        ):
            pytest.skip("running as root and cannot make a folder immutable")
        try:
            yield
        finally:
            subprocess.run([chattr, "-i", str(folder)], check=True)
    else:
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            yield
        finally:
            folder.chmod(stat.S_IRWXU)


def test_save_into_read_only_directory(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path, before = _existing(folder)
    with read_only(folder):
        with pytest.raises(OSError):
            (folder / "probe").write_text("x", encoding="utf-8")  # the folder is read-only
        with pytest.raises(OSError):
            save_network(rich_network(), path)
        with pytest.raises(OSError):
            save_network(rich_network(), folder / "new.json")
        assert sorted(p.name for p in folder.iterdir()) == ["net.json"]
        assert path.read_bytes() == before


def test_save_into_missing_folder_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        save_network(rich_network(), tmp_path / "missing" / "net.json")
    assert list(tmp_path.iterdir()) == []


def test_save_where_a_file_stands_in_for_the_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "notadir"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(OSError):
        save_network(rich_network(), blocker / "net.json")
    assert [p.name for p in tmp_path.iterdir()] == ["notadir"]


def test_disk_full_mid_write_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, before = _existing(tmp_path)
    real_write_text = Path.write_text

    def half_then_fail(self: Path, data: str, *args, **kwargs) -> int:
        real_write_text(self, data[: len(data) // 2], *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_text", half_then_fail)
    with pytest.raises(OSError):
        save_network(rich_network(), path)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["net.json"]  # no .tmp left over
    assert path.read_bytes() == before
    read_network(path)  # still a readable network


def test_failed_rename_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, before = _existing(tmp_path)

    def refuse(self: Path, target: object) -> Path:
        raise PermissionError(errno.EACCES, "Permission denied", str(target))

    monkeypatch.setattr(Path, "replace", refuse)
    with pytest.raises(OSError):
        save_network(rich_network(), path)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["net.json"]
    assert path.read_bytes() == before


def test_unserialisable_content_never_touches_the_file(tmp_path: Path) -> None:
    path, before = _existing(tmp_path)
    net = rich_network()
    net.node("d1").params["units"] = {16}  # a set: not JSON
    with pytest.raises(TypeError):
        save_network(net, path)
    assert [p.name for p in tmp_path.iterdir()] == ["net.json"]
    assert path.read_bytes() == before


def test_save_overwrites_completely(tmp_path: Path) -> None:
    path, before = _existing(tmp_path)
    small = Network(name="tiny", nodes=[NodeSpec("i", "input")])
    save_network(small, path)
    assert len(path.read_bytes()) < len(before)
    assert read_network(path).name == "tiny"


# ---- paths relative to the network file ----------------------------------------------------


def _csv_project(folder: Path, csv_name: str = "data.csv") -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    lines = ["a,b,c,label"] + [
        f"{r[0]:.5f},{r[1]:.5f},{r[2]:.5f},{c}" for r, c in zip(x, y, strict=True)
    ]
    (folder / csv_name).parent.mkdir(parents=True, exist_ok=True)
    (folder / csv_name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    net = {
        "format": FORMAT,
        "data": {"name": "csv", "path": csv_name, "target": "label"},
        "nodes": [
            {"id": "in", "type": "input"},
            {"id": "d", "type": "dense", "units": 2},
            {"id": "out", "type": "output"},
        ],
        "edges": [{"from": "in", "to": "d"}, {"from": "d", "to": "out"}],
        "training": {"batch_size": 8},
    }
    path = folder / "net.json"
    path.write_text(json.dumps(net), encoding="utf-8")
    return path


@pytest.mark.parametrize("csv_name", ["data.csv", "sub/data.csv"])
def test_relative_csv_path_resolves_against_the_network_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, csv_name: str
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    path = _csv_project(project, csv_name)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    net = load_network(path)  # validates, which reads the CSV
    trainer = Trainer(net)
    assert trainer.data.n_features == 3
    assert trainer.data.X_train.shape[0] + trainer.data.X_test.shape[0] == 60
    trainer.step()


def test_relative_csv_path_is_not_read_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    path = _csv_project(project)
    other = tmp_path / "other"
    other.mkdir()
    (other / "net.json").write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(project)  # data.csv sits in the working directory, not next to the file

    problems = validate(read_network(other / "net.json"))
    assert [p.where for p in problems] == ["data"]
    assert str(other.resolve() / "data.csv") in problems[0].message
