"""Telemetry: the bounded history (ring + decimated long record) and the flat metrics row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vgsim.engine import History, StepRecord, Trainer, read_network
from vgsim.engine.kernels.stats import N_STATS, STAT_NAMES
from vgsim.engine.telemetry import SCALARS, flat_columns

NETWORKS = Path(__file__).resolve().parent / "networks"
LOSS = SCALARS.index("loss")


class Feed:
    """Appends cheap synthetic records: one scalars dict and one stats array, reused.

    Each record carries its step number in the loss and in node_stats[0, 0] and [-1, -1], so a
    row read back can be checked against its step."""

    def __init__(self, n_nodes: int, **history: int):
        self.ids = [f"n{i}" for i in range(n_nodes)]
        self.history = History(self.ids, **history)
        self.scalars = {k: 0.0 for k in SCALARS}
        self.stats = np.full((n_nodes, N_STATS), 0.5)
        self.record = StepRecord(
            self.scalars, self.ids, self.stats, np.zeros((n_nodes, 4)), np.zeros((n_nodes, 2))
        )
        self.next = 0

    def append(self, count: int) -> None:
        h, sc, st, rec = self.history, self.scalars, self.stats, self.record
        for step in range(self.next, self.next + count):
            sc["step"] = sc["loss"] = float(step)
            st[0, 0] = st[-1, -1] = step
            h.append(rec)
        self.next += count


def assert_rows_match_steps(steps: np.ndarray, scalars: np.ndarray, stats: np.ndarray) -> None:
    np.testing.assert_array_equal(scalars[:, SCALARS.index("step")], steps)
    np.testing.assert_array_equal(scalars[:, LOSS], steps)
    np.testing.assert_array_equal(stats[:, 0, 0], steps)
    np.testing.assert_array_equal(stats[:, -1, -1], steps)


def assert_long_invariants(h: History, last_step: int) -> np.ndarray:
    """The long record starts at step 0, is evenly spaced, and reaches the latest step."""
    steps, scalars, stats = h.long()
    assert steps[0] == 0
    assert_rows_match_steps(steps, scalars, stats)
    gaps = np.diff(steps)
    if gaps.size:
        stride = int(gaps[0])
        assert stride >= 1 and stride & (stride - 1) == 0, stride  # a power of two
        assert (gaps == stride).all(), np.unique(gaps)
        assert last_step - steps[-1] < stride  # nothing newer than a stride is missing
    return steps


# ---- bounded memory ------------------------------------------------------------------------


@pytest.mark.slow  # a million appends: about a minute
def test_a_million_steps_of_a_200_node_network_stay_bounded() -> None:
    recent, long = 2048, 2048
    feed = Feed(200, recent=recent, long=long)
    h = feed.history
    # What one kept step costs, storing the node figures in float64 (the most we would accept).
    per_step = 8 + len(SCALARS) * 8 + 200 * N_STATS * 8
    bound = (recent + long) * per_step
    assert bound < 100e6  # about 66 MB
    unbounded = 1_000_000 * 200 * N_STATS * 8
    assert unbounded > 15e9  # what keeping everything would cost: 16 GB

    sizes = {}
    for checkpoint in (10_000, 100_000, 1_000_000):
        feed.append(checkpoint - feed.next)
        sizes[checkpoint] = h.nbytes()
        assert_long_invariants(h, checkpoint - 1)

    assert sizes[10_000] == sizes[100_000] == sizes[1_000_000], sizes
    assert sizes[1_000_000] <= bound
    assert sizes[1_000_000] < 1e9
    assert len(h) == recent

    steps, scalars, stats = h.recent()
    np.testing.assert_array_equal(steps, np.arange(1_000_000 - recent, 1_000_000))
    assert_rows_match_steps(steps, scalars, stats)
    long_steps = h.long()[0]
    assert long // 2 <= long_steps.size <= long
    assert long_steps[-1] >= 1_000_000 - 1_000_000 // (long // 2)
    assert h.latest is feed.record


def test_nbytes_does_not_depend_on_the_number_of_steps() -> None:
    feed = Feed(3, recent=32, long=16)
    empty = feed.history.nbytes()
    feed.append(10)
    assert feed.history.nbytes() == empty
    feed.append(5000)
    assert feed.history.nbytes() == empty


# ---- the ring ------------------------------------------------------------------------------


def test_recent_before_the_ring_fills() -> None:
    feed = Feed(3, recent=16, long=8)
    steps, scalars, stats = feed.history.recent()
    assert steps.size == 0 and scalars.shape == (0, len(SCALARS)) and stats.shape == (0, 3, 10)
    feed.append(10)
    steps, scalars, stats = feed.history.recent()
    np.testing.assert_array_equal(steps, np.arange(10))
    assert_rows_match_steps(steps, scalars, stats)
    assert len(feed.history) == 10


@pytest.mark.parametrize("count", [16, 17, 40, 48, 1000])
def test_recent_is_oldest_first_after_wrap_around(count: int) -> None:
    feed = Feed(3, recent=16, long=8)
    feed.append(count)
    steps, scalars, stats = feed.history.recent()
    np.testing.assert_array_equal(steps, np.arange(count - 16, count))
    assert_rows_match_steps(steps, scalars, stats)
    assert len(feed.history) == 16
    s, loss = feed.history.scalar("loss")
    np.testing.assert_array_equal(s, steps)
    np.testing.assert_array_equal(loss, steps.astype(float))


def test_history_copies_what_it_keeps() -> None:
    feed = Feed(2, recent=8, long=8)
    feed.append(3)
    feed.stats[:] = -7.0  # the caller reuses its arrays
    feed.scalars["loss"] = -7.0
    _, scalars, stats = feed.history.recent()
    assert (stats != -7.0).all() and (scalars[:, LOSS] != -7.0).all()


# ---- the long record -----------------------------------------------------------------------


def test_long_keeps_everything_until_it_fills() -> None:
    feed = Feed(2, recent=16, long=8)
    feed.append(8)
    np.testing.assert_array_equal(feed.history.long()[0], np.arange(8))


def test_long_keeps_the_first_step_and_covers_the_range_evenly_at_every_step() -> None:
    feed = Feed(2, recent=16, long=8)
    for n in range(1, 3000):
        feed.append(1)
        steps = assert_long_invariants(feed.history, n - 1)
        assert steps.size <= 8
        if n >= 8:
            assert steps.size >= 4  # decimation halves, never empties


def test_long_scalar_series() -> None:
    feed = Feed(2, recent=16, long=16)
    feed.append(500)
    steps, loss = feed.history.scalar("loss", long=True)
    assert steps[0] == 0 and 8 <= steps.size <= 16
    np.testing.assert_array_equal(loss, steps.astype(float))
    assert steps[-1] > 500 - 500 // 8


# ---- records -------------------------------------------------------------------------------


def test_flat_columns_match_flat() -> None:
    ids = ["in", "d1", "out"]
    stats = np.arange(len(ids) * N_STATS, dtype=float).reshape(len(ids), N_STATS)
    rec = StepRecord(
        {k: float(i) for i, k in enumerate(SCALARS)}, ids, stats, np.zeros((3, 4)), np.zeros((3, 2))
    )
    flat = rec.flat()
    assert list(flat) == flat_columns(ids)
    assert len(flat) == len(SCALARS) + len(ids) * N_STATS
    for i, k in enumerate(SCALARS):
        assert flat[k] == float(i)
    for c, name in enumerate(STAT_NAMES):
        for r, node in enumerate(ids):
            assert flat[f"{name}/{node}"] == stats[r, c]
    assert rec.stat("grad_norm") == {
        n: stats[r, STAT_NAMES.index("grad_norm")] for r, n in enumerate(ids)
    }
    assert rec.status == "ok" and rec.step == 0


def test_trainer_records_flatten_to_the_same_columns() -> None:
    net = read_network(NETWORKS / "residual_bn.json")
    net.training["history"] = 16
    t = Trainer(net)
    records = list(t.run(40))
    assert list(records[-1].flat()) == flat_columns(t.node_ids)
    assert tuple(records[-1].scalars) == SCALARS
    assert len(t.history) == 16
    steps, scalars, stats = t.history.recent()
    np.testing.assert_array_equal(steps, np.arange(24, 40))
    np.testing.assert_array_equal(scalars[:, LOSS], [r.loss for r in records[24:]])
    np.testing.assert_allclose(stats[-1], records[-1].node_stats.astype(np.float32))
    assert t.history.latest is records[-1]
    assert t.history.long()[0].tolist() == list(range(40))
