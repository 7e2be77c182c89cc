"""The `vgsim` command without the window: validate, the run's argument errors, options refused
before any work, the progress display, and Ctrl-C / SIGTERM ending a run cleanly."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import numpy as np
import pytest

import vgsim
from vgsim.cli import main
from vgsim.engine.builders import mlp
from vgsim.engine.spec import save_network

ROOT = Path(vgsim.__file__).resolve().parents[1]
TRAINING = {"optimizer": "sgd", "lr": 0.1, "batch_size": 16, "seed": 3, "steps": 40}


@pytest.fixture
def net_file(tmp_path: Path) -> Path:
    path = tmp_path / "net.json"
    save_network(mlp(2, 8, 2, training=TRAINING, data={"name": "moons", "samples": 200}), path)
    return path


def test_validate_says_valid_or_lists_every_problem(net_file: Path, tmp_path: Path, capsys):
    assert main(["validate", str(net_file)]) == 0
    assert capsys.readouterr().out.strip() == f"{net_file}: valid"
    broken = json.loads(net_file.read_text())
    broken["training"]["lr"] = -1
    broken["nodes"][1]["units"] = 0
    (tmp_path / "bad.json").write_text(json.dumps(broken))
    assert main(["validate", str(tmp_path / "bad.json")]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and any("lr must be a positive number" in x for x in lines)


def test_validate_refuses_a_file_that_is_not_a_network(tmp_path: Path, capsys):
    (tmp_path / "x.json").write_text("[1, 2")
    assert main(["validate", str(tmp_path / "x.json")]) == 2
    assert "Not valid JSON" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dump-at", "40"], "--dump-at 40 is outside the run's steps 0..39"),
        (["--dump-at", "-1"], "--dump-at -1 is outside"),
        (["--dump-state", "s.npz"], "--dump-state needs --dump-at STEP"),
        (["--steps", "0"], "--steps must be at least 1"),
    ],
)
def test_run_argument_errors_are_refused_before_training(net_file, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert main(["run", str(net_file), "--out", str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["run", "NET", "--out", "OUT", "--scale", "0"],
        ["run", "NET", "--out", "OUT", "--scale", "nan"],
        ["run", "NET", "--out", "OUT", "--scale", "inf"],
        ["run", "NET", "--out", ""],
        ["compare", "NET", "NET", "--steps", "5", "--out", " "],
        ["animate", "NET", "--out", "x.gif", "--frames", "0"],
        ["animate", "NET", "--out", "x.gif", "--frames", "-5"],
        ["animate", "NET", "--out", ""],
        ["export-plots", "OUT", "--out", ""],
        ["export-plots", "OUT", "--scale", "-1"],
    ],
)
def test_bad_options_are_refused_up_front(net_file, tmp_path, capsys, args):
    args = [str(net_file) if a == "NET" else str(tmp_path / "o") if a == "OUT" else a for a in args]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error: argument" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists() and not (tmp_path / "x.gif").exists()


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "vgsim.cli", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_plain_progress_lines_when_not_a_terminal(net_file: Path, tmp_path: Path):
    done = subprocess.run(
        _command("run", str(net_file), "--steps", "600", "--out", str(tmp_path / "o")),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("step ") and "loss" in lines[0]
    end = next(i for i, line in enumerate(lines) if line.startswith("ok: 600 steps"))
    assert lines[end + 1].startswith("diagnosis: ")  # then the findings, if any
    assert "\r" not in done.stdout + done.stderr


def test_a_progress_bar_with_rate_and_time_left_on_a_terminal(net_file: Path, tmp_path: Path):
    leader, follower = pty.openpty()
    os.set_blocking(leader, False)
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        _command("run", str(net_file), "--steps", "3000", "--out", str(tmp_path / "o")),
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=_env(),
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except BlockingIOError:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
            continue
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=120)
    os.close(leader)
    text = seen.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "100%" in text and "3000/3000" in text and "step/s" in text and "<" in text
    assert "ok: 3000 steps" in text


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_ends_a_run_cleanly(net_file: Path, tmp_path: Path, sig, code):
    out = tmp_path / "o"
    proc = subprocess.Popen(
        _command("run", str(net_file), "--steps", "1000000", "--out", str(out)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # the first progress line: steps are being written
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1
    assert stderr.startswith(signal.Signals(sig).name)
    summary = json.loads((out / "summary.json").read_text())
    rows = np.loadtxt(out / "metrics.csv", delimiter=",", skiprows=1, ndmin=2)
    assert summary["status"] == "interrupted"
    assert summary["last_step"] == rows[-1, 0] and summary["steps"] == len(rows)
    assert f"{len(rows)} whole steps" in stderr


def test_sigterm_ends_a_comparison_cleanly(net_file: Path, tmp_path: Path):
    other = tmp_path / "other.json"
    doc = json.loads(net_file.read_text())
    doc["nodes"][1]["units"] = 4
    doc["name"] = "narrow"
    other.write_text(json.dumps(doc))
    out = tmp_path / "cmp"
    proc = subprocess.Popen(
        _command("compare", str(net_file), str(other), "--steps", "1000000", "--out", str(out)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # the first progress line
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1
    assert "every run folder" in stderr and not (out / "comparison.json").exists()
    for summary in out.glob("*/summary.json"):
        content = json.loads(summary.read_text())
        rows = np.loadtxt(summary.parent / "metrics.csv", delimiter=",", skiprows=1, ndmin=2)
        assert content["status"] == "interrupted" and content["steps"] == len(rows)
