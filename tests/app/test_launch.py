"""`vgsim --open NET --steps N --screenshot OUT.png`, the way the docs' pictures are made."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

pytestmark = pytest.mark.slow  # each test starts the app in a process of its own: about 5 s

ROOT = Path(__file__).resolve().parents[2]


def screenshot(net: Path, steps: int, out: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "--open",
            str(net),
            "--steps",
            str(steps),
            "--screenshot",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_a_screenshot_run_trains_then_saves_the_whole_window(tmp_path):
    out = tmp_path / "shot.png"
    run = screenshot(ROOT / "resources" / "examples" / "relu-he.json", 30, out)
    assert run.returncode == 0, run.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1600, 1000)
    assert len({image.pixel(x, y) for x in range(0, 1600, 40) for y in range(0, 1000, 40)}) > 20


def test_a_network_that_cannot_train_is_pictured_and_the_run_says_why(tmp_path):
    net = json.loads((ROOT / "resources" / "examples" / "relu-he.json").read_text())
    net["edges"] = [e for e in net["edges"] if e["to"] != "out"]  # the loss has no input
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(net))
    out = tmp_path / "shot.png"
    run = screenshot(broken, 30, out)
    assert run.returncode == 2
    assert "Cannot train" in run.stderr
    assert out.exists()
