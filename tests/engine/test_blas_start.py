"""Numba finds SciPy's BLAS without the kernels importing all of scipy.linalg (half a second of
every process's start-up): kernels/blas.py loads scipy.linalg.cython_blas on its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCT = """
import json, sys
import numpy as np
from vgsim.engine.kernels.layers import dense_forward
rng = np.random.default_rng(0)
x, W, b = rng.normal(size=(5, 7)), rng.normal(size=(7, 3)), rng.normal(size=3)
y = np.empty((5, 3))
dense_forward(x, W, b, True, y)
before = "scipy.linalg" in sys.modules
import scipy.linalg  # what else asks for it still gets all of it
from scipy.linalg import cython_blas
print(json.dumps({
    "error": float(np.abs(y - (x @ W + b)).max()),
    "linalg_before": before,
    "same_module": cython_blas is sys.modules["scipy.linalg.cython_blas"],
    "solve": float(scipy.linalg.solve(np.eye(2) * 2, np.ones(2))[0]),
}))
"""


def test_a_kernel_product_runs_on_scipys_blas_without_importing_scipy_linalg() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", PRODUCT], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["error"] < 1e-12  # np.dot through BLAS gives x W + b
    assert result["linalg_before"] is False
    assert result["same_module"] is True and result["solve"] == 0.5


def test_without_scipy_to_be_found_the_usual_import_is_left_to_numba(monkeypatch) -> None:
    from vgsim.engine.kernels import blas

    monkeypatch.delitem(sys.modules, blas.NAME, raising=False)
    monkeypatch.setattr(blas.importlib.util, "find_spec", lambda name: None)
    assert blas.load_cython_blas() is False
    assert blas.NAME not in sys.modules
