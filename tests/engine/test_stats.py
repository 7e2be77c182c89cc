"""The statistics kernels behind the telemetry, against NumPy, and the telemetry switch."""

from __future__ import annotations

import numpy as np
import pytest

from vgsim.engine import Trainer
from vgsim.engine.builders import mlp
from vgsim.engine.kernels.stats import S_PGRAD, scratch_size, stats_and_histogram, value_stats

# Also run as plain Python, with the JIT off, in .ci/run.
pytestmark = pytest.mark.kernels


def reference_histogram(y: np.ndarray, lo: float, hi: float, bins: int) -> np.ndarray:
    """Fractions per bin, binned in y's precision as the kernel does; NaN in no bin."""
    t = (y - y.dtype.type(lo)) * y.dtype.type(bins / (hi - lo))
    t = t[~np.isnan(t)]
    return np.bincount(np.clip(t, 0, bins - 1).astype(np.int64), minlength=bins) / y.size


def run_histogram(y: np.ndarray, lo: float, hi: float, bins: int) -> np.ndarray:
    hist = np.zeros(bins)
    scratch = np.zeros(scratch_size(bins, y.size, 1), np.uint64)
    figures = stats_and_histogram(y, lo, hi, hist, scratch)
    # The same figures as value_stats, bit for bit (the sums run in the same order).
    assert np.array_equal(np.array(figures[:4]), np.array(value_stats(y)[:4]), equal_nan=True)
    assert figures[4] == value_stats(y)[4]
    return hist


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, 63, 64, 65, 4096, 16384, 16385, 50_000])
@pytest.mark.parametrize("bins", [2, 31, 32, 33, 100, 256])
def test_histogram_matches_numpy(dtype, size: int, bins: int) -> None:
    y = (np.random.default_rng(size + bins).standard_normal(size) * 3).astype(dtype)
    np.testing.assert_array_equal(
        run_histogram(y, -4.0, 4.0, bins), reference_histogram(y, -4.0, 4.0, bins)
    )


def test_histogram_puts_outliers_in_the_end_bins_and_nan_in_none() -> None:
    y = np.array([-1e30, -np.inf, 0.5, np.nan, 7.0, np.inf, np.nan, 1.9], np.float32)
    hist = run_histogram(y, 0.0, 2.0, 4)
    # -1e30 and -inf in the first bin; 0.5 in the second; 1.9, 7 and +inf in the last.
    np.testing.assert_array_equal(hist * y.size, [2, 1, 0, 3])


def test_histogram_counts_relu_like_runs_of_one_bin() -> None:
    y = np.maximum(np.random.default_rng(3).standard_normal(4096), 0).astype(np.float32)
    hist = run_histogram(y, 0.0, 4.0, 32)
    np.testing.assert_array_equal(hist, reference_histogram(y, 0.0, 4.0, 32))
    assert hist[0] > 0.5  # the zeros, and the small positives sharing their bin


def awkward_values(size: int, dtype) -> np.ndarray:
    """Normal values with NaN, infinities, huge values and exact bin edges among them."""
    y = np.random.default_rng(size).standard_normal(size) * 3
    specials = [np.nan, np.inf, -np.inf, 1e30, -1e30, -4.0, 4.0, 0.0, -0.0, 0.25, np.nan]
    at = np.random.default_rng(size + 1).choice(size, len(specials), replace=False)
    y[at] = specials
    return y.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [64, 127, 640])
@pytest.mark.parametrize("bins", [2, 32, 256])
def test_histogram_bins_nan_infinities_and_edges_in_whole_blocks(dtype, size, bins) -> None:
    y = awkward_values(size, dtype)
    hist = run_histogram(y, -4.0, 4.0, bins)
    np.testing.assert_array_equal(hist, reference_histogram(y, -4.0, 4.0, bins))
    assert hist.sum() * size == size - 2  # the two NaN in no bin


@pytest.mark.parametrize("bins", [2, 7, 32, 256])
@pytest.mark.parametrize("value", [-9.0, 0.0, 1.5, 4.0, 9.0, np.inf])
def test_histogram_of_values_all_in_one_bin(bins: int, value: float) -> None:
    y = np.full(1000, value, np.float32)
    hist = run_histogram(y, 0.0, 4.0, bins)
    expected = np.zeros(bins)
    expected[min(max(int(value / 4.0 * bins), 0), bins - 1) if value < np.inf else -1] = 1.0
    np.testing.assert_array_equal(hist, expected)


def test_histogram_of_nan_only_is_empty() -> None:
    y = np.full(200, np.nan)
    for bins in (2, 32, 256):
        assert not run_histogram(y, 0.0, 4.0, bins).any()


def small_trainer(**training) -> Trainer:
    return Trainer(
        mlp(
            2,
            12,
            3,
            activation="tanh",
            init="xavier_uniform",
            training={"batch_size": 16, "eval_every": 10**6, **training},
            data={"name": "spiral", "samples": 300},
        )
    )


def test_recorded_histograms_are_those_of_the_step_outputs() -> None:
    t = small_trainer()
    t.step()
    record, state = t.step_with_state()
    for i, node in enumerate(t.node_ids):
        lo, hi = record.hist_ranges[i]
        expected = reference_histogram(state[f"act/{node}"].ravel(), lo, hi, t.cfg["bins"])
        np.testing.assert_array_equal(record.histograms[i], expected, err_msg=node)


@pytest.mark.parametrize("clip", [{"mode": "none"}, {"mode": "norm", "threshold": 0.5}])
def test_turning_telemetry_off_changes_no_weight(clip) -> None:
    full, bare = (
        small_trainer(clip=clip, optimizer="adam"),
        small_trainer(clip=clip, optimizer="adam"),
    )
    bare.telemetry = False
    for _ in range(25):
        a, b = full.step(), bare.step()
        assert a.loss == b.loss
    assert full.params.tobytes() == bare.params.tobytes()
    # Clipping by norm still needs the gradient norms; nothing else is gathered.
    assert np.isnan(np.delete(b.node_stats, S_PGRAD, axis=1)).all()
    assert not np.isnan(a.node_stats[:, :4]).any()  # mean, std, min, max of every node
    if clip["mode"] == "norm":
        assert a.scalars["grad_norm_before_clip"] == b.scalars["grad_norm_before_clip"]
    bare.telemetry = True
    assert not np.isnan(bare.step().node_stats[:, :4]).any()
