"""A comparison's reference is a run that trains: a diverged network is compared by its
profile up to its blow-up (issue 12, case 9: Lesson 2's "Try the fix")."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vgsim.engine import load_network
from vgsim.engine.builders import mlp
from vgsim.experiments.comparison_data import from_compare_dir, from_comparison
from vgsim.experiments.comparisons import Comparison, compare_networks, reference_index

LESSONS = Path(__file__).resolve().parents[2] / "resources" / "lessons"


def lesson2_and_fixes():
    lesson = LESSONS / "02-exploding-gradients.json"
    fixes = ["fixes/02-exploding-he-init.json", "fixes/02-exploding-clipping.json"]
    return [load_network(lesson), *(load_network(LESSONS / f) for f in fixes)]


def test_the_reference_is_the_first_run_that_has_not_diverged():
    assert reference_index([False, False]) == 0
    assert reference_index([True, False, False]) == 1
    assert reference_index([True, True]) == 0  # all diverged: the first, up to its blow-up


def test_lesson_2s_fix_is_compared_with_a_run_that_trains():
    comp = Comparison(lesson2_and_fixes(), seed=0)
    before = from_comparison(comp)
    assert before.reference == 0 and all(np.isnan(run.loss) for run in before.runs)
    comp.run(40)
    broken, he_init, clipped = comp.runs
    assert broken.divergence is not None and he_init.divergence is None
    data = from_comparison(comp)
    assert data.reference == 1 and data.runs[1].is_reference and not data.runs[0].is_reference
    # The diverged run keeps its last whole profile: the step before the blow-up.
    profile = data.runs[0].profile
    assert profile.step == broken.divergence.step - 1
    assert np.isfinite(profile.grad_norm).all()
    # "Where the gradients part" is drawn for both other runs: the broken network's gradient
    # at its first block was orders of magnitude above the working one's.
    for run in (data.runs[0], data.runs[2]):
        assert np.isfinite(run.difference).all(), run.label
    assert data.runs[0].first_ratio > 1


def test_a_finished_comparison_reads_back_with_the_same_reference(tmp_path: Path):
    compare_networks(lesson2_and_fixes(), 40, tmp_path, seed=0)
    data = from_compare_dir(tmp_path)
    assert data.reference == 1
    live = Comparison(lesson2_and_fixes(), seed=0)
    live.run(40)
    again = from_comparison(live)
    for read, trained in zip(data.runs, again.runs, strict=True):
        assert read.profile.step == trained.profile.step
        np.testing.assert_allclose(read.difference, trained.difference, rtol=1e-5)


def test_when_every_run_diverged_the_first_is_the_reference_up_to_its_blow_up():
    hot = mlp(4, 16, 1, loss="mse", data={"name": "sine"}, training={"lr": 5.0, "batch_size": 16})
    comp = Comparison([hot, hot], labels=["a", "b"])
    comp.run(200)
    assert comp.all_diverged
    data = from_comparison(comp)
    assert data.reference == 0
    assert np.isfinite(data.runs[1].difference).all() and (data.runs[1].difference == 0).all()
