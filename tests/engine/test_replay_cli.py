"""`vgsim run --checkpoint-every`, `vgsim replay` and `vgsim run RUN_DIR --from N --set ...`:
recreated dumps are a straight run's, bit for bit; branches; the budget on disk; bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vgsim.cli import main
from vgsim.engine import read_network
from vgsim.engine.spec import save_network
from vgsim.experiments.runs import run_network
from vgsim.experiments.timeline_files import open_timeline

NETWORKS = Path(__file__).resolve().parent / "networks"


def same_dumps(a: Path, b: Path) -> bool:
    with np.load(a, allow_pickle=False) as x, np.load(b, allow_pickle=False) as y:
        return sorted(x.files) == sorted(y.files) and all(
            x[k].dtype == y[k].dtype and x[k].tobytes() == y[k].tobytes() for k in x.files
        )


@pytest.fixture
def net_file(tmp_path: Path, request) -> Path:
    """The residual batch-norm fixture: momentum, clipping by norm, L2."""
    net = read_network(NETWORKS / "residual_bn.json")
    net.training.update(getattr(request, "param", {}))
    path = tmp_path / "net.json"
    save_network(net, path)
    return path


def run(*argv: object) -> int:
    return main([str(a) for a in argv])


@pytest.mark.parametrize(
    "net_file",
    [{"dtype": "float32"}, {"dtype": "float64", "optimizer": "adam", "lr": 0.01}],
    indirect=True,
)
def test_replay_recreates_a_straight_runs_dump(net_file: Path, tmp_path: Path):
    out = tmp_path / "run"
    assert (
        run("run", net_file, "--steps", 120, "--out", out, "--checkpoint-every", 25, "--quiet") == 0
    )
    plain = tmp_path / "plain"
    assert run("run", net_file, "--steps", 120, "--out", plain, "--quiet") == 0
    # Saving states changes nothing the run computes.
    assert (out / "metrics.csv").read_bytes() == (plain / "metrics.csv").read_bytes()
    for step in (0, 50, 74, 119):
        straight, replayed = tmp_path / f"s{step}.npz", tmp_path / f"r{step}.npz"
        args = ("--steps", 120, "--quiet")
        assert (
            run(
                "run",
                net_file,
                *args,
                "--out",
                tmp_path / "d",
                "--dump-at",
                step,
                "--dump-state",
                straight,
            )
            == 0
        )
        assert run("replay", out, "--at", step, "--dump-state", replayed, "--quiet") == 0
        assert same_dumps(straight, replayed), step


def test_a_branch_continues_from_its_step_with_its_settings(net_file: Path, tmp_path: Path):
    out, branch = tmp_path / "run", tmp_path / "branch"
    assert (
        run("run", net_file, "--steps", 90, "--out", out, "--checkpoint-every", 20, "--quiet") == 0
    )
    change = ["--set", "training.clip.mode=value", "--set", "training.clip.threshold=0.01"]
    assert run("run", out, "--from", 50, *change, "--out", branch, "--quiet") == 0
    rows, branched = ((p / "metrics.csv").read_text().splitlines() for p in (out, branch))
    assert len(branched) == len(rows) == 91  # the run's length by default, with a header
    assert branched[:51] == rows[:51] and branched[51] != rows[51]
    clip = [json.loads(r.split(",")[10]) for r in branched[51:]]
    assert all(c == 1.0 for c in clip)  # clipping by value at 0.01 fires every step
    net = read_network(branch / "network.json")
    assert net.training["clip"] == {"mode": "value", "threshold": 0.01}
    index = json.loads((branch / "timeline.json").read_text())
    assert [s["start"] for s in index["segments"]] == [0, 50]
    assert index["branched_from"] == {"run": str(out), "step": 50, "set": change[1::2]}
    # Its past replays as the run, its present as the branch trained it.
    assert run("replay", branch, "--at", 30, "--dump-state", tmp_path / "b30.npz", "--quiet") == 0
    assert run("replay", out, "--at", 30, "--dump-state", tmp_path / "r30.npz", "--quiet") == 0
    assert same_dumps(tmp_path / "b30.npz", tmp_path / "r30.npz")
    again = tmp_path / "again"
    dump = tmp_path / "b73-straight.npz"
    assert (
        run(
            "run",
            out,
            "--from",
            50,
            *change,
            "--out",
            again,
            "--dump-at",
            73,
            "--dump-state",
            dump,
            "--quiet",
        )
        == 0
    )
    assert run("replay", branch, "--at", 73, "--dump-state", tmp_path / "b73.npz", "--quiet") == 0
    assert same_dumps(dump, tmp_path / "b73.npz")


def test_a_small_budget_on_disk_thins_states_and_stays_exact(net_file: Path, tmp_path: Path):
    out = tmp_path / "run"
    state = 5704  # bytes of one state of this network (momentum: parameters and moments)
    budget_mb = 12 * state / (1 << 20)
    args = ("--steps", 400, "--out", out, "--checkpoint-every", 5, "--quiet")
    assert run("run", net_file, *args, "--checkpoint-budget", budget_mb) == 0
    index = json.loads((out / "timeline.json").read_text())
    files = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert files == sorted(Path(c["file"]).name for c in index["checkpoints"])
    assert sum(c["bytes"] for c in index["checkpoints"]) <= budget_mb * (1 << 20)
    assert index["checkpoints"][0]["step"] == 0 and index["checkpoints"][-1]["step"] == 400
    straight = tmp_path / "s.npz"
    args = ("--steps", 400, "--out", tmp_path / "d", "--quiet")
    assert run("run", net_file, *args, "--dump-at", 123, "--dump-state", straight) == 0
    assert run("replay", out, "--at", 123, "--dump-state", tmp_path / "r.npz", "--quiet") == 0
    assert same_dumps(straight, tmp_path / "r.npz")


def test_an_interrupted_run_keeps_its_states_and_figures(net_file: Path, tmp_path: Path):
    out = tmp_path / "run"

    def stop(record) -> None:
        if record.step >= 60:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_network(read_network(net_file), 200, out, progress=stop, checkpoint_every=10)
    timeline = open_timeline(out)
    assert timeline.steps == len(timeline.figures) and 60 < timeline.steps < 200
    assert json.loads((out / "summary.json").read_text())["status"] == "interrupted"
    assert run("replay", out, "--at", 55, "--dump-state", tmp_path / "r.npz", "--quiet") == 0


def test_a_new_run_in_the_folder_removes_the_old_states(net_file: Path, tmp_path: Path):
    out = tmp_path / "run"
    assert (
        run("run", net_file, "--steps", 30, "--out", out, "--checkpoint-every", 5, "--quiet") == 0
    )
    assert run("run", net_file, "--steps", 30, "--out", out, "--quiet") == 0
    assert not (out / "checkpoints").exists() and not (out / "timeline.json").exists()


def test_bad_requests_are_refused_with_a_reason(net_file: Path, tmp_path: Path, capsys):
    out = tmp_path / "run"
    assert run("run", net_file, "--steps", 40, "--out", out, "--quiet") == 0
    assert run("replay", out, "--at", 3, "--dump-state", tmp_path / "x.npz") == 2
    assert "--checkpoint-every" in capsys.readouterr().err
    assert (
        run("run", net_file, "--steps", 40, "--out", out, "--checkpoint-every", 10, "--quiet") == 0
    )
    cases = [
        (("replay", out, "--at", 40, "--dump-state", tmp_path / "x.npz"), "steps 0..39"),
        (("run", out, "--out", tmp_path / "b"), "--from"),
        (("run", out, "--from", 10, "--out", out), "another folder"),
        (("run", out, "--from", 10, "--seed", 2, "--out", tmp_path / "b"), "--seed"),
        (("run", out, "--from", 10, "--set", "training.lr", "--out", tmp_path / "b"), "PATH=VALUE"),
        (
            ("run", out, "--from", 10, "--set", "nodes.d2.bias=true", "--out", tmp_path / "b"),
            "other shapes",
        ),
        (("run", out, "--from", 10, "--set", "training.lr=-1", "--out", tmp_path / "b"), "lr"),
        (
            ("run", out, "--from", 10, "--set", "data.noise=0.5", "--out", tmp_path / "b"),
            "same data",
        ),
        (("run", net_file, "--set", "foo.bar=1", "--out", tmp_path / "b"), "unknown axis path"),
    ]
    for argv, reason in cases:
        assert run(*argv) == 2, argv
        assert reason in capsys.readouterr().err, argv
    assert not (tmp_path / "b").exists()


def test_set_changes_a_plain_run_too(net_file: Path, tmp_path: Path):
    out = tmp_path / "run"
    assert (
        run("run", net_file, "--steps", 5, "--out", out, "--set", "training.lr=0.02", "--quiet")
        == 0
    )
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[0].split(",")[13] == "lr"
    assert float(rows[1].split(",")[13]) == 0.02
