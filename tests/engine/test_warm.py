"""Compiling ahead of need: which kernels count, and telling a cold cache from a warm one."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from numba.core.registry import CPUDispatcher

import vgsim
from vgsim.engine import train
from vgsim.engine.kernels import STAMP, plan
from vgsim.engine.warm import ALL_READY, STEPS_READY, entry_points, kernels_cached, warm


def test_the_entry_points_are_the_plan_kernels_the_trainer_calls():
    # The Trainer's own module and the ones mixed into it (trainer_*.py).
    files = [Path(train.__file__), *Path(train.__file__).parent.glob("trainer_*.py")]
    source = "".join(f.read_text(encoding="utf-8") for f in files)
    called = set(re.findall(r"\bk\.([a-z_]+)\(", source))
    assert called == set(entry_points())
    for name in entry_points():
        assert isinstance(getattr(plan, name), CPUDispatcher)


def test_after_warming_the_cache_is_warm():
    warm("float32")
    assert kernels_cached()


def fresh_copy(tmp_path: Path) -> Path:
    package = Path(vgsim.__file__).resolve().parent
    shutil.copytree(
        package, tmp_path / "vgsim", ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc")
    )
    return tmp_path


def run_in(copy: Path, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, *args],
        cwd=copy,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(copy)},
    )
    return out.stdout


CACHED = (
    "from vgsim.engine.warm import kernels_cached as k; "
    "print(k(), k(dtype='float32'), k(dtype='float64'))"
)


def with_the_callees_cached(copy: Path) -> Path:
    """Gives a copy this tree's cache of every kernel but the entry points (plan.py's), so that
    warming it compiles just those: the suite compiles the callees already, and compiling
    them again in the copy cost half a minute of CPU. Numba keys the cache by each source's
    time and size, which copy2 keeps, and vgsim by the stamp of all the kernel sources."""
    warm("float32")  # compiled by other tests by now, or else here, once
    kernels = Path(plan.__file__).parent
    into = copy / "vgsim" / "engine" / "kernels" / "__pycache__"
    into.mkdir(exist_ok=True)
    for f in (kernels / "__pycache__").iterdir():
        callee = f.suffix in (".nbi", ".nbc") and not f.name.startswith("plan.")
        if callee or f.name == STAMP:  # without the stamp the copy would clear the cache
            shutil.copy2(f, into / f.name)
    return copy


def test_a_fresh_copy_without_caches_is_cold(tmp_path):
    assert run_in(fresh_copy(tmp_path), "-c", CACHED).split() == ["False"] * 3
    seeded = with_the_callees_cached(fresh_copy(tmp_path / "seeded"))
    assert run_in(seeded, "-c", CACHED).split() == ["False"] * 3
    cache = seeded / "vgsim" / "engine" / "kernels" / "__pycache__"
    assert len(list(cache.glob("layers.*.nbi"))) >= 2  # the callees' cache was kept


@pytest.mark.slow  # compiles the entry points in another process: 35 s of CPU
def test_warming_a_fresh_copy_says_when_steps_are_ready_and_caches_that_dtype_only(tmp_path):
    copy = with_the_callees_cached(fresh_copy(tmp_path))
    lines = run_in(copy, "-m", "vgsim.engine.warm", "float32").splitlines()
    assert lines == [f"{STEPS_READY} float32", f"{ALL_READY} float32"]
    assert run_in(copy, "-c", CACHED).split() == ["True", "True", "False"]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its exit status waits to be read


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_helper_never_outlives_its_parent(tmp_path):
    """A parent killed outright (no clean-up of its own) still takes its helper with it: on a
    cold cache the helper would compile for half a minute."""
    copy = fresh_copy(tmp_path)
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from vgsim.engine.warm import launch; "
            "p = launch('--backward', 'float32'); print(p.pid, flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=copy,
        env={**os.environ, "PYTHONPATH": str(copy)},
    )
    assert parent.stdout is not None
    helper = int(parent.stdout.readline())
    time.sleep(0.5)
    parent.kill()
    parent.wait()
    parent.stdout.close()
    deadline = time.monotonic() + 15
    while _alive(helper) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(helper)
