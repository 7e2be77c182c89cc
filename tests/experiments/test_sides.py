"""Sides of a comparison that start at a past step: the run a branch left and the branch, trained
on in lockstep from where they parted, each exactly as its run trained."""

from __future__ import annotations

import numpy as np
import pytest
from test_recording import CLIP, network, same_bits, train, train_as_the_window

from vgsim.engine.builders import mlp
from vgsim.engine.errors import VgsimError
from vgsim.engine.spec import NodeSpec
from vgsim.engine.telemetry import SCALARS
from vgsim.experiments.comparisons import Comparison
from vgsim.experiments.sides import Side, what_changed

LOSS = SCALARS.index("data_loss")


def test_both_sides_of_a_branch_go_on_exactly_as_their_runs_did():
    net = network()
    live, rec = train_as_the_window(net)  # 161 steps, lr changed at 42, clipping at 100
    branch = rec.branch(70, settings={"lr": 0.05})
    train(branch, 25, rec)
    before, after = rec.sides()
    assert before.label == "original from step 70" and after.label.startswith("branch from step 70")
    assert "lr 0.05" in after.label
    comparison = Comparison([before, after])
    assert comparison.labels == [before.label, after.label]
    assert [run.step_count for run in comparison.runs] == [70, 70]
    # Both remember the steps before the branch: the loss curve starts at step 0.
    for run in comparison.runs:
        steps, scalars, _ = run.history.long()
        assert steps[0] == 0 and steps[-1] == 69
        assert same_bits(scalars[:, LOSS], np.asarray(rec.timeline.figures.scalars)[steps, LOSS])
    comparison.step_block(25)
    old, new = (run.history for run in comparison.runs)
    left = np.asarray(rec.reference.figures.scalars)
    mine = np.asarray(rec.timeline.figures.scalars)
    for history, figures in ((old, left), (new, mine)):
        steps, scalars, _ = history.recent()
        assert steps[-1] == 94
        assert same_bits(scalars[-25:], figures[70:95].astype(scalars.dtype))
    assert old.latest.scalars["lr"] == 0.003 and new.latest.scalars["lr"] == 0.05
    assert same_bits(comparison.runs[1].trainer.params, branch.params)
    # Reset: both back to where they parted, not to step 0.
    comparison.reset()
    assert [run.step_count for run in comparison.runs] == [70, 70]
    comparison.step_block(25)
    assert same_bits(comparison.runs[1].trainer.params, branch.params)


def test_a_run_that_is_no_branch_has_no_sides():
    _, rec = train_as_the_window(network())
    with pytest.raises(VgsimError, match="no branch"):
        rec.sides()


def test_what_a_branch_changed_is_said_in_a_few_words():
    net = network()
    clipped = net.copy()
    clipped.training["clip"] = CLIP
    clipped.training["lr"] = 0.5
    assert what_changed(net, clipped) == "clip norm 0.5, lr 0.5"
    assert what_changed(net, net.copy()) == ""
    other = mlp(3, 10, 3, batchnorm=False, training=net.training, name="rec")
    assert what_changed(net, other).startswith("network edited")


def test_a_side_with_a_block_its_past_did_not_have_shows_none_of_its_figures_before():
    net = network()
    live, rec = train_as_the_window(net)
    state = rec.timeline.trainer_at(70).capture_state()
    dropped = rec.timeline.network_at(70)
    dropped.nodes.insert(4, NodeSpec("drop1", "dropout", {"rate": 0.1}))  # no parameters
    dropped.edges.remove(("act1", "dense2"))
    dropped.edges += [("act1", "drop1"), ("drop1", "dense2")]
    past = rec.timeline.figures.copy(70)
    comparison = Comparison([Side(dropped, "with dropout", state, past), net])
    _, _, stats = comparison.runs[0].history.long()
    ids = comparison.runs[0].trainer.node_ids
    old = np.asarray(past.stats)
    assert stats.shape[1] == len(ids) == len(past.node_ids) + 1
    for j, node in enumerate(ids):
        if node == "drop1":
            assert np.isnan(stats[:, j]).all()
        else:
            i = past.node_ids.index(node)
            assert same_bits(stats[:, j], old[: len(stats), i].astype(stats.dtype))
    assert comparison.runs[0].step_count == 70 and comparison.runs[1].step_count == 0
