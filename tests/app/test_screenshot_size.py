"""`--screenshot OUT.png --size WxH`: the window pictured at any size, the size checked first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from vgsim.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_a_screenshot_at_the_size_asked_for(tmp_path):
    out = tmp_path / "small.png"
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "--open",
            str(ROOT / "resources" / "examples" / "relu-he.json"),
            "--steps",
            "5",
            "--screenshot",
            str(out),
            "--size",
            "1280x720",
        ],
        cwd=ROOT,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1280, 720)


@pytest.mark.parametrize("size", ["1280", "axb", "0x720", "100x100", "1280x99999", "-5x700"])
def test_a_size_that_is_no_window_size_is_refused_before_anything_starts(size, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--screenshot", "x.png", f"--size={size}"])  # "=": -5x700 is no option
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "not a window size" in err and "WIDTHxHEIGHT" in err


def test_a_size_without_a_screenshot_is_refused(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--size", "1280x720"])
    assert stop.value.code == 2
    assert "--screenshot" in capsys.readouterr().err
