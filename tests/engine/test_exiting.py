"""A headless command ends its process without the interpreter's teardown, but as an exit must:
its exit code, every line of output, threads still running and exit handlers all kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vgsim.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "resources" / "examples"

SCRIPT = """
import atexit, sys, threading, time
from pathlib import Path
from vgsim.cli import main
out = Path(sys.argv[1])
def late():
    time.sleep(0.2)
    out.write_text("thread done")
threading.Thread(target=late).start()
atexit.register(lambda: print("exit handler ran", flush=False))
for i in range(2000):
    print("line", i)  # buffered: a pipe is not a terminal
main(sys.argv[2:], exit_quickly=True)
print("never reached")
"""


def run_script(tmp_path: Path, *command: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "thread.txt"), *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def example() -> Path:
    return sorted(EXAMPLE.glob("*.json"))[0]


def test_a_command_exits_with_its_code_and_all_its_output(tmp_path: Path) -> None:
    done = run_script(tmp_path, "validate", str(example()))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["line 0", "line 1"] and "line 1999" in lines
    assert lines[-1] == "exit handler ran" and "never reached" not in done.stdout
    assert (tmp_path / "thread.txt").read_text() == "thread done"  # joined, not cut


def test_an_invalid_network_still_exits_with_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    done = run_script(tmp_path, "validate", str(bad))
    assert done.returncode == 2
    assert done.stdout.splitlines()[-1] == "exit handler ran"


def test_called_from_python_main_returns(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["validate", str(example())]) == 0
