"""The SIMD intrinsics of kernels/lanes.py against their NumPy twins (used with the JIT off),
and the kernels run as plain Python (NUMBA_DISABLE_JIT=1) against the compiled ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numba import config, njit

from vgsim.engine.kernels import lanes

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(config.DISABLE_JIT, reason="compares compiled with Python")


@njit
def compiled_moments(y):
    return lanes._moments_body(y)


@njit
def compiled_sumsq2(a, b):
    return lanes._sumsq_body(a) + lanes._sumsq2_body(a, b)


@njit
def compiled_as_2d(a, n, w):
    return lanes.as_2d(a, n, w)


def samples(dtype, size: int, seed: int = 0) -> np.ndarray:
    y = np.random.default_rng(seed).standard_normal(size) * 3
    return y.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, 15, 16, 17, 100, 4099])
def test_moments_twin_has_the_compiled_lanes(dtype, size: int) -> None:
    y = samples(dtype, size, size)
    s, q, lo, hi = compiled_moments(y)
    ps, pq, plo, phi = lanes._python_moments_body(y)
    # Sums, minima and maxima in the same lanes and order: the same bits.
    assert (s, lo, hi) == (ps, plo, phi)
    assert pq == pytest.approx(q, rel=1e-14, abs=0.0)  # a fused multiply-add rounds once


def test_min_and_max_twins_skip_nan_like_the_compiled_lanes() -> None:
    y = samples(np.float64, 64)
    y[[3, 20, 41]] = np.nan
    y[17] = -50.0
    y[33] = 60.0
    assert compiled_moments(y)[2:] == lanes._python_moments_body(y)[2:] == (-50.0, 60.0)


def test_sum_squares_twins() -> None:
    a, b = samples(np.float32, 333, 1), samples(np.float32, 333, 2)
    compiled = compiled_sumsq2(a, b)
    twin = lanes._python_sumsq_body(a) + lanes._python_sumsq2_body(a, b)
    np.testing.assert_allclose(twin, compiled, rtol=1e-14)


def test_as_2d_twin_is_a_view() -> None:
    a = np.arange(20.0)
    view, twin = compiled_as_2d(a, 3, 5), lanes._python_as_2d(a, 3, 5)
    np.testing.assert_array_equal(twin, view)
    twin[1, 1] = -1.0
    assert a[6] == -1.0 and view[1, 1] == -1.0


@pytest.mark.parametrize("shape", [(8, 8), (13, 21), (3, 5)])
def test_transpose_twin(shape) -> None:
    W = samples(np.float64, shape[0] * shape[1]).reshape(shape)
    Wt = np.zeros(shape[::-1])
    lanes.transpose_into(W, Wt)
    np.testing.assert_array_equal(Wt, W.T)
    twin = np.zeros(shape[::-1])
    k8, m8 = shape[0] - shape[0] % 8, shape[1] - shape[1] % 8
    for r0 in range(0, k8, 8):
        for c0 in range(0, m8, 8):
            lanes._python_transpose8(W.ravel(), twin.ravel(), shape[1], shape[0], r0, c0)
    np.testing.assert_array_equal(twin[:m8, :k8], W.T[:m8, :k8])


TRAIN = """
import json, sys
import numpy as np
from vgsim.engine import Trainer, read_network
tr = Trainer(read_network(sys.argv[1]))
records = [tr.step() for _ in range(3)] + list(tr.run(4))
tr.micro_step()
print(json.dumps({
    "losses": [r.loss for r in records],
    "stats": tr.stats.tolist(),
    "params": tr.params.tolist(),
}))
"""


def train_in(jit: bool, dtype: str, tmp_path: Path) -> dict:
    net = json.loads((REPO / "tests/engine/networks/residual_bn.json").read_text())
    net["training"]["dtype"] = dtype
    path = tmp_path / f"net-{dtype}.json"
    path.write_text(json.dumps(net))
    env = {**os.environ, "PYTHONPATH": str(REPO), "NUMBA_DISABLE_JIT": "0" if jit else "1"}
    done = subprocess.run(
        [sys.executable, "-c", TRAIN, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow  # a training run compiled and one as Python: about 7 s each
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_kernels_train_alike_as_python(dtype: str, tmp_path: Path) -> None:
    compiled, python = train_in(True, dtype, tmp_path), train_in(False, dtype, tmp_path)
    tol = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(python["losses"], compiled["losses"], rtol=tol)
    np.testing.assert_allclose(python["params"], compiled["params"], rtol=tol, atol=tol)
    np.testing.assert_allclose(python["stats"], compiled["stats"], rtol=tol, atol=tol)
