"""Trainer.preview: the figures of the next step before it is taken (a fresh run's step 0)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vgsim.engine import Trainer, read_network
from vgsim.engine.kernels.stats import S_GRAD, S_MEAN, S_PGRAD, S_RATIO, S_STD

NETWORKS = Path(__file__).resolve().parent / "networks"
FIXTURES = ["spiral_small.json", "residual_bn.json"]  # the second has batch norm and a skip


def make(fixture: str) -> Trainer:
    return Trainer(read_network(NETWORKS / fixture))


@pytest.mark.parametrize("fixture", FIXTURES)
def test_the_preview_of_step_0_is_what_step_0_records(fixture: str) -> None:
    t = make(fixture)
    stats, hist = t.preview()
    record = t.step()
    assert record.step == 0
    shown = np.isfinite(stats)
    assert shown[:, [S_GRAD, S_PGRAD, S_MEAN, S_STD]][1:].any(axis=0).all()
    # Every figure the forward and backward passes give, bit for bit; the weight gradient's
    # norm as the update measures it (summed in another order); the update's own are NaN.
    exact = shown.copy()
    exact[:, S_PGRAD] = False
    assert stats[exact].tobytes() == record.node_stats[exact].tobytes()
    np.testing.assert_allclose(stats[:, S_PGRAD], record.node_stats[:, S_PGRAD], rtol=1e-9)
    assert np.isnan(stats[:, S_RATIO]).all()
    assert hist.tobytes() == record.histograms.tobytes()


@pytest.mark.parametrize("fixture", FIXTURES)
def test_a_preview_changes_nothing(fixture: str) -> None:
    a, b = make(fixture), make(fixture)
    a.preview()
    for _ in range(3):
        a.step(), b.step()
        a.preview()
    assert a.step_count == b.step_count == 3
    for x, y in ((a.params, b.params), (a.bn_run, b.bn_run), (a.opt_m, b.opt_m)):
        assert x.tobytes() == y.tobytes()
    # The batches to come are the same: the preview did not draw one.
    for _ in range(5):
        ra, rb = a.step(), b.step()
        assert ra.node_stats.tobytes() == rb.node_stats.tobytes()
        assert ra.loss == rb.loss


def test_the_preview_mid_run_is_the_next_steps_figures() -> None:
    t = make("spiral_small.json")
    for _ in range(7):
        t.step()
    stats, _ = t.preview()
    record = t.step()
    exact = np.isfinite(stats)
    exact[:, S_PGRAD] = False
    assert stats[exact].tobytes() == record.node_stats[exact].tobytes()
    np.testing.assert_allclose(stats[:, S_PGRAD], record.node_stats[:, S_PGRAD], rtol=1e-9)


def test_no_preview_in_the_middle_of_a_micro_stepped_step() -> None:
    t = make("spiral_small.json")
    t.micro_step()
    with pytest.raises(RuntimeError):
        t.preview()
