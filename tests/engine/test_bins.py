"""The histogram counters of kernels/bins.py: bit-plane subset counts with the moments in the
same pass (compiled, with and without AVX2's packs, and their NumPy twin) and the counts they
give, against np.bincount; the moments against lanes.moments, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from numba import config, njit

from vgsim.engine.kernels import bins, lanes
from vgsim.engine.kernels.lanes import moments

pytestmark = pytest.mark.kernels


def binned(y: np.ndarray, lo, scale, top) -> np.ndarray:
    """Each value's bin as the kernels compute it, in y's precision, NaN and below 0 to 0."""
    with np.errstate(all="ignore"):
        t = (y - lo) * scale
    return np.clip(np.nan_to_num(t, nan=0.0), 0, top).astype(np.int64)


def values(size: int, dtype, seed: int = 0) -> np.ndarray:
    y = np.random.default_rng(seed).standard_normal(size) * 3
    specials = [np.nan, np.inf, -np.inf, 1e30, -1e30, -4.0, 4.0, -0.0, 3.99, -3.999]
    y[: min(size, len(specials))] = specials[:size]
    return np.random.default_rng(seed + 1).permutation(y).astype(dtype)


def constants(dtype, bins: int, lo: float = -4.0, hi: float = 4.0):
    return dtype(lo), dtype(bins / (hi - lo)), dtype(bins - 1)


def subsets_of(codes: np.ndarray) -> np.ndarray:
    """N(S): how many codes have every bit of S set, S = 1 .. 31 (entry 0 left 0)."""
    return np.array([0] + [np.count_nonzero(codes & s == s) for s in range(1, 32)], np.uint64)


@njit
def compiled_moments_subset_counts(y, lo, scale, top, subsets):
    return bins.moments_subset_counts(y, lo, scale, top, subsets)


@njit
def compiled_generic_moments_subset_counts(y, lo, scale, top, subsets):
    return bins.moments_subset_counts_generic(y, lo, scale, top, subsets)


@njit
def compiled_moments(y):
    return lanes._moments_body(y)


COUNTERS = {
    "compiled": compiled_moments_subset_counts,
    "generic": compiled_generic_moments_subset_counts,
    "twin": bins._python_moments_subset_counts,
}


@pytest.mark.parametrize("counter", list(COUNTERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, 15, 63, 64, 65, 64 * 7 + 9, 64 * 7 + 48, 4096])
@pytest.mark.parametrize("nbins", [2, 5, 32])
def test_subset_counts_count_the_whole_blocks(counter, dtype, size, nbins) -> None:
    if config.DISABLE_JIT and counter != "twin":
        pytest.skip("compiled only")
    y = values(size, dtype, size + nbins)
    lo, scale, top = constants(dtype, nbins)
    subsets = np.arange(32, dtype=np.uint64)  # adds to what is there
    figures = COUNTERS[counter](y, lo, scale, top, subsets)
    whole = size - size % bins.BLOCK
    expected = subsets_of(binned(y[:whole], lo, scale, top)) + np.arange(32, dtype=np.uint64)
    np.testing.assert_array_equal(subsets[1:], expected[1:])
    if counter != "twin":  # the moments' lanes, bit for bit
        assert np.array_equal(figures, compiled_moments(y), equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, 63, 64, 65, 1000, 50_001])
@pytest.mark.parametrize("nbins", [2, 3, 16, 31, 32])
def test_plane_counts_are_numpys_bincount(dtype, size: int, nbins: int) -> None:
    y = values(size, dtype, size)
    lo, scale, top = constants(dtype, nbins)
    counts = np.full(32, 7, np.uint64)  # overwritten
    figures = bins.moments_plane_counts(y, lo, scale, top, counts)
    expected = np.bincount(binned(y, lo, scale, top), minlength=32)
    np.testing.assert_array_equal(counts, expected)
    assert np.array_equal(figures, moments(y), equal_nan=True)


@pytest.mark.parametrize("value", [0.0, -1.0, 2.5, 100.0, np.nan, -np.inf])
def test_plane_counts_of_one_repeated_value(value: float) -> None:
    y = np.full(64 * 5 + 3, value, np.float32)
    lo, scale, top = constants(np.float32, 32, 0.0, 4.0)
    counts = np.zeros(32, np.uint64)
    bins.moments_plane_counts(y, lo, scale, top, counts)
    expected = np.zeros(32)
    expected[binned(y[:1], lo, scale, top)[0]] = y.size
    np.testing.assert_array_equal(counts, expected)


@pytest.mark.parametrize("size", [1, 3, 4, 5, 1001])
@pytest.mark.parametrize("nbins", [33, 100, 256])
def test_table_counts_are_numpys_bincount(size: int, nbins: int) -> None:
    y = values(size, np.float32, size)
    y[: size // 2] = 0.0  # runs of one bin, as ReLU's zeros
    lo, scale, top = constants(np.float32, nbins)
    codes = np.zeros(size, np.uint8)
    tables = np.full(bins.TABLES * nbins, 5, np.uint64)
    counts = np.zeros(nbins, np.uint64)
    bins.table_counts(y, lo, scale, top, codes, tables, counts)
    expected = binned(y, lo, scale, top)
    np.testing.assert_array_equal(by_block(codes), by_block(expected))
    np.testing.assert_array_equal(counts, np.bincount(expected, minlength=nbins))


def by_block(codes: np.ndarray) -> np.ndarray:
    """The codes sorted within each block of 64 (bin_codes keeps a block's, not their order)."""
    return np.concatenate([np.sort(codes[i : i + 64]) for i in range(0, codes.size, 64)])


@njit
def compiled_bin_codes(y, lo, scale, top, codes):
    bins.bin_codes(y, lo, scale, top, codes)


@njit
def compiled_generic_bin_codes(y, lo, scale, top, codes):
    bins.bin_codes_generic(y, lo, scale, top, codes)


BINNERS = {
    "compiled": compiled_bin_codes,
    "generic": compiled_generic_bin_codes,
    "twin": bins._python_bin_codes,
}


@pytest.mark.parametrize("binner", list(BINNERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nbins", [2, 32, 129, 256])
def test_bin_codes_bins_the_whole_blocks(binner: str, dtype, nbins: int) -> None:
    if config.DISABLE_JIT and binner != "twin":
        pytest.skip("compiled only")
    y = values(64 * 9 + 13, dtype, nbins)
    lo, scale, top = constants(dtype, nbins)
    codes = np.full(y.size, 255, np.uint8)
    BINNERS[binner](y, lo, scale, top, codes)
    whole = y.size - y.size % 64
    expected = binned(y[:whole], lo, scale, top)
    np.testing.assert_array_equal(by_block(codes[:whole]), by_block(expected))
    assert (codes[whole:] == 255).all()  # the tail is the caller's
