"""A run folder is always consistent: a run that did not finish says so, a re-run never mixes
with an earlier run's files, and metrics.csv ends with a whole row."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest

from vgsim.engine import files
from vgsim.engine.builders import mlp
from vgsim.experiments.runs import run_network

TRAINING = {"optimizer": "sgd", "lr": 0.1, "batch_size": 16, "eval_every": 5, "seed": 3}


def network():
    return mlp(2, 8, 2, training=TRAINING, data={"name": "moons", "samples": 200})


def summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def metrics_steps(folder: Path) -> list[int]:
    rows = np.loadtxt(folder / "metrics.csv", delimiter=",", skiprows=1, ndmin=2)
    return rows[:, 0].astype(int).tolist()


def test_an_interrupted_run_says_where_it_stopped(tmp_path: Path) -> None:
    def stop_after_a_few(record) -> None:
        if record.step >= 40:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_network(network(), 500, tmp_path, progress=stop_after_a_few)
    s = summary(tmp_path)
    steps = metrics_steps(tmp_path)
    assert s["status"] == "interrupted" and s["error"] is None
    assert s["last_step"] == steps[-1] and s["steps"] == len(steps) == steps[-1] + 1
    assert not (tmp_path / "snapshot.npz").exists()


def test_a_rerun_never_mixes_with_the_files_of_an_earlier_one(tmp_path: Path) -> None:
    run_network(network(), 30, tmp_path)
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "loss.png").write_bytes(b"old")
    assert summary(tmp_path)["status"] == "ok" and (tmp_path / "snapshot.npz").is_file()

    def interrupt(record) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_network(network(), 30, tmp_path, progress=interrupt)
    assert summary(tmp_path)["status"] == "interrupted"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "metrics.csv",
        "network.json",  # of the new run
        "summary.json",
    ]


def test_a_failed_state_dump_leaves_a_failed_run(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(OSError):
        run_network(network(), 30, tmp_path / "run", dump_state=blocker / "s.npz", dump_at=3)
    s = summary(tmp_path / "run")
    assert s["status"] == "failed" and "s.npz" in s["error"]
    assert metrics_steps(tmp_path / "run") == [0, 1, 2] and s["last_step"] == 2


def test_a_full_disk_fails_the_run_with_whole_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An injected ENOSPC on the second block of rows (a tmpfs test in test_cli.py fills a
    real one where it can be mounted)."""
    real_write = files.os.write
    calls = []

    def full_after_a_while(fd: int, data) -> int:
        calls.append(len(data))
        if len(calls) > 2:
            real_write(fd, bytes(data[: len(data) // 3]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(files.os, "write", full_after_a_while)
    with pytest.raises(OSError):
        run_network(network(), 2000, tmp_path)
    monkeypatch.undo()
    s = summary(tmp_path)
    steps = metrics_steps(tmp_path)
    assert s["status"] == "failed" and "No space left" in s["error"]
    assert steps == list(range(len(steps))) and s["last_step"] == steps[-1]
    assert (tmp_path / "metrics.csv").read_bytes().endswith(b"\n")


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 256 kB tmpfs, where the system lets this process mount one."""
    import subprocess

    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (test_a_full_disk_... injects the error instead)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_a_real_full_disk_fails_the_run_with_whole_rows(tiny_disk: Path) -> None:
    with pytest.raises(OSError, match="No space left"):
        run_network(network(), 100_000, tiny_disk / "run")
    s = summary(tiny_disk / "run")
    steps = metrics_steps(tiny_disk / "run")
    assert s["status"] == "failed" and "No space left" in s["error"]
    assert steps == list(range(len(steps))) and s["last_step"] == steps[-1] > 0
    assert (tiny_disk / "run" / "metrics.csv").read_bytes().endswith(b"\n")
    assert not (tiny_disk / "run" / "snapshot.npz").exists()
