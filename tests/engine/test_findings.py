"""The diagnosis of headless runs: findings in summary.json, `vgsim diagnose` finding them again
from the folder's files, and comparisons diagnosing each network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vgsim.cli import main
from vgsim.engine import Trainer, read_network
from vgsim.engine.builders import mlp
from vgsim.engine.diagnose import KINDS, SEVERITIES, diagnose, finding_from_dict
from vgsim.engine.spec import save_network
from vgsim.experiments import findings as folder_findings
from vgsim.experiments.comparisons import compare_networks
from vgsim.experiments.findings import RunFolderError, diagnose_folder, findings_json
from vgsim.experiments.runs import run_network

KEYS = {"kind", "title", "severity", "nodes", "step", "evidence", "explanation", "remedies"}


def vanishing():
    return mlp(
        8, 32, 3, activation="sigmoid", init="standard", training={"optimizer": "sgd", "lr": 0.5}
    )


def exploding():
    return mlp(
        10,
        32,
        3,
        init={"name": "normal", "std": 3.0},
        training={"optimizer": "sgd", "lr": 0.1, "clip": {"mode": "norm", "threshold": 1.0}},
    )


def healthy():
    return mlp(3, 16, 3, training={"optimizer": "sgd", "lr": 0.1})


def summary_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def check_keys(findings: list[dict], node_ids: set[str]) -> None:
    for f in findings:
        assert KEYS <= set(f)
        assert f["kind"] in KINDS and f["severity"] in SEVERITIES
        assert f["nodes"] and set(f["nodes"]) <= node_ids
        assert isinstance(f["step"], int) and f["evidence"]
        assert f["remedies"] and all(set(r) == {"key", "title"} for r in f["remedies"])


@pytest.mark.parametrize(
    ("build", "steps", "kind"),
    [(vanishing, 100, "vanishing"), (exploding, 60, "exploding"), (healthy, 600, None)],
    ids=["vanishing", "exploding", "healthy"],
)
def test_summary_json_holds_the_findings_of_the_run(build, steps, kind, tmp_path: Path):
    net = build()
    summary = run_network(net, steps, tmp_path / "run", seed=0)
    written = summary_of(tmp_path / "run")
    assert written["findings"] == summary["findings"]
    check_keys(written["findings"], set(Trainer(net).node_ids))
    kinds = [f["kind"] for f in written["findings"]]
    if kind is None:
        assert kinds == []
    else:
        assert kind in kinds and "not_learning" not in kinds  # too early to say
        f = next(f for f in written["findings"] if f["kind"] == kind)
        assert f["step"] == steps - 1 and f["nodes"][0] == "dense1"
    # the same figures trained in memory give the same findings (one implementation)
    net.training["seed"] = 0
    t = Trainer(net)
    for _ in t.run(steps):
        pass
    assert diagnose(t) == [finding_from_dict(f) for f in written["findings"]]


def test_the_folder_keeps_the_network_and_the_data_facts(tmp_path: Path):
    net = vanishing()
    run_network(net, 20, tmp_path / "run", seed=4)
    kept = read_network(tmp_path / "run" / "network.json")
    assert kept.training["seed"] == 4 and kept.to_dict()["nodes"] == net.to_dict()["nodes"]
    data = summary_of(tmp_path / "run")["data"]
    assert data["features"] == 2 and data["classes"] == 3 and data["train_rows"] == 480
    assert data["chance_loss"] == pytest.approx(1.0986, abs=2e-3)  # ln 3, nearly balanced


def test_vgsim_diagnose_finds_what_the_run_found(tmp_path: Path, capsys):
    path = tmp_path / "net.json"
    save_network(vanishing(), path)
    out = tmp_path / "run"
    assert main(["run", str(path), "--steps", "600", "--seed", "0", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    findings = summary_of(out)["findings"]
    assert [f["kind"] for f in findings] == ["not_learning", "vanishing"]
    assert "diagnosis: 2 findings" in printed
    lines = [line.strip() for line in printed.splitlines() if line.startswith("  ")]
    assert lines[0].startswith("error: not_learning at dense1 (step 599): After 600 steps")
    assert "Remedies: Add batch normalisation; Switch to Xavier" in lines[0]
    assert main(["diagnose", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == [f"  {x}" for x in lines]
    assert main(["diagnose", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == findings


def test_a_diverged_run_is_diagnosed_from_the_steps_before_its_blow_up(tmp_path: Path):
    net = exploding()
    net.training.pop("clip")
    summary = run_network(net, 50, tmp_path / "run", seed=0)
    assert summary["status"] == "diverged"
    kinds = [f["kind"] for f in summary["findings"]]
    assert kinds[0] == "diverged" and "exploding" in kinds
    assert summary["findings"][0]["step"] == summary["diverged"]["step"]
    assert findings_json(diagnose_folder(tmp_path / "run")) == summary["findings"]


def test_long_rows_are_read_back_in_small_pieces_alike(tmp_path: Path, monkeypatch):
    run_network(vanishing(), 1200, tmp_path / "run", seed=1)
    whole = findings_json(diagnose_folder(tmp_path / "run"))
    monkeypatch.setattr(folder_findings, "_CHUNK", 97)  # far shorter than a row
    assert findings_json(diagnose_folder(tmp_path / "run")) == whole
    assert whole == summary_of(tmp_path / "run")["findings"]


def test_a_folder_that_is_no_run_gets_a_clear_message(tmp_path: Path, capsys):
    assert main(["diagnose", str(tmp_path)]) == 2
    assert "summary.json is missing" in capsys.readouterr().err
    run_network(healthy(), 10, tmp_path / "run", seed=0)
    (tmp_path / "run" / "network.json").unlink()
    assert main(["diagnose", str(tmp_path / "run")]) == 2
    assert "has no network.json" in capsys.readouterr().err
    run_network(healthy(), 10, tmp_path / "run", seed=0)
    other = mlp(2, 16, 3)
    save_network(other, tmp_path / "run" / "network.json")
    with pytest.raises(RunFolderError, match="do not belong to the same network"):
        diagnose_folder(tmp_path / "run")


def test_compare_diagnoses_each_network(tmp_path: Path, capsys):
    files = []
    for name, net in (("stuck", vanishing()), ("fine", healthy())):
        net.name = name
        files.append(tmp_path / f"{name}.json")
        save_network(net, files[-1])
    out = tmp_path / "cmp"
    result = compare_networks(files, 120, out, seed=0)
    stuck, fine = result["runs"]
    assert "vanishing" in [f["kind"] for f in stuck["findings"]] and fine["findings"] == []
    assert stuck["findings"] == summary_of(out / stuck["folder"])["findings"]
    assert main(["diagnose", str(out), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again == {"stuck": stuck["findings"], "fine": []}
    assert main(["compare", *map(str, files), "--steps", "30", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "stuck: diagnosis:" in printed and "fine: diagnosis: no findings" in printed
