"""Compiling ahead of need: which kernels count, and telling a cold cache from a warm one."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from numba.core.registry import CPUDispatcher

import vgsim
from vgsim.engine import train
from vgsim.engine.kernels import plan
from vgsim.engine.warm import entry_points, kernels_cached, warm


def test_the_entry_points_are_the_plan_kernels_the_trainer_calls():
    source = Path(train.__file__).read_text(encoding="utf-8")
    called = set(re.findall(r"\bk\.([a-z_]+)\(", source))
    assert called == set(entry_points())
    for name in entry_points():
        assert isinstance(getattr(plan, name), CPUDispatcher)


def test_after_warming_the_cache_is_warm():
    warm("float32")
    assert kernels_cached()


def test_a_fresh_copy_without_caches_is_cold(tmp_path):
    package = Path(vgsim.__file__).resolve().parent
    shutil.copytree(package, tmp_path / "vgsim",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    out = subprocess.run(
        [sys.executable, "-c", "from vgsim.engine.warm import kernels_cached as k; print(k())"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert out.stdout.strip() == "False"
