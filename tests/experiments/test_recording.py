"""The window's record of its run: every step it trained (in blocks, steps or micro-steps, live
settings changed on the way) shown again exactly; branches and the run they leave; saved runs."""

from __future__ import annotations

import numpy as np
import pytest
from bitwise import assert_same_plot, same_bits

from vgsim.engine import Network, Trainer
from vgsim.engine.builders import mlp
from vgsim.engine.diagnose import diagnose
from vgsim.engine.kernels.stats import S_GRAD
from vgsim.engine.state import StateError
from vgsim.engine.telemetry import SCALARS
from vgsim.engine.theory import predicted_gradient_flow
from vgsim.experiments.plot_sources import from_trainer
from vgsim.experiments.recording import Recording

CLIP = {"mode": "norm", "threshold": 0.5}


def network(**training: object) -> Network:
    settings = {"batch_size": 16, "optimizer": "adam", "lr": 0.01, "eval_every": 7}
    return mlp(3, 10, 3, batchnorm=True, training={**settings, **training}, name="rec")


def train(trainer: Trainer, steps: int, rec: Recording | None = None) -> None:
    """`steps` more steps, in as many blocks as the trainer cuts them into (each ends at an
    evaluation step), each recorded."""
    end = trainer.step_count + steps
    while trainer.step_count < end:
        block = trainer.run_block(end - trainer.step_count)
        if rec is not None:
            rec.record(trainer, block)


def train_as_the_window(net: Network) -> tuple[Trainer, Recording]:
    """Blocks of uneven sizes, a Step, a step in micro-steps, learning rate and clipping
    changed mid-run: 161 steps."""
    live = Trainer(net)
    rec = Recording.follow(live, relative=predicted_gradient_flow(live))
    train(live, 40, rec)
    rec.record(live, live.step())  # step 40
    while (done := live.micro_step()).record is None:  # step 41, micro-step by micro-step
        rec.record(live, None)
    rec.record(live, done.record)
    live.set_live(lr=0.003)
    rec.live_changed(live, {"lr": 0.003})
    train(live, 58, rec)
    live.set_live(clip=CLIP)
    rec.live_changed(live, {"clip": CLIP})
    train(live, 61, rec)
    return live, rec


def straight(net: Network, steps: int) -> Trainer:
    """The same run without stops, stopped after `steps` steps."""
    t = Trainer(net)
    for start, settings in ((42, {"lr": 0.003}), (100, {"clip": CLIP})):
        if t.step_count < min(start, steps):
            train(t, min(start, steps) - t.step_count)
        if t.step_count == start:
            t.set_live(**settings)
    train(t, steps - t.step_count)
    return t


def test_every_step_the_window_trained_is_shown_exactly_as_it_was():
    net = network()
    live, rec = train_as_the_window(net)
    assert rec.steps == live.step_count == 161
    relative = predicted_gradient_flow(Trainer(net))
    # The first, a Step's, a micro-stepped one, the one before and after each live change, an
    # evaluation step, the last.
    for step in (0, 40, 41, 42, 70, 99, 100, 160):
        view = rec.view(step)
        run = straight(net, step + 1)
        assert_same_plot(view.plot, from_trainer(run, net.name, relative))
        assert same_bits(view.record.histograms, run.history.latest.histograms)
        assert view.findings == diagnose(run)
    # At a glance (from the figures alone): the same but the histograms and the boundary.
    for step in (41, 100):
        plot, findings = rec.glance(step)
        view = rec.view(step)
        assert plot.histograms is None and plot.boundary is None
        plot.histograms, plot.boundary = view.plot.histograms, view.plot.boundary
        assert_same_plot(plot, view.plot)
        assert findings == view.findings
    # The last step as the live trainer shows it now.
    assert_same_plot(rec.view(160).plot, from_trainer(live, net.name, relative))


def test_a_branch_becomes_the_run_and_the_run_it_left_its_reference():
    net = network()
    live, rec = train_as_the_window(net)
    before = [rec.view(step).plot for step in (10, 69)]
    branch = rec.branch(70, settings={"lr": 0.05})
    assert branch.step_count == 70 and branch.cfg["lr"] == 0.05
    # The branch's past is the run's, and its reference is the whole run it left.
    for step, plot in zip((10, 69), before, strict=True):
        again = rec.view(step).plot
        assert again.reference is not None
        again.reference = None
        assert_same_plot(again, plot)
    train(branch, 30, rec)
    assert rec.steps == 100
    view = rec.view(99)
    ref = view.plot.reference
    assert ref.branched_at == 70 and "70" in ref.label
    loss = SCALARS.index("data_loss")
    assert same_bits(ref.loss, np.asarray(rec.reference.figures.scalars)[ref.loss_steps, loss])
    assert ref.loss_steps[-1] == 160  # the run it left, to its end
    original = straight(net, 100).history.latest
    assert same_bits(ref.gradient, original.node_stats[:, S_GRAD].astype(np.float64))
    # The branch trained with its own learning rate from step 70: another loss than the run's.
    assert view.record.scalars["lr"] == 0.05
    assert view.record.scalars["data_loss"] != original.scalars["data_loss"]


def test_a_branch_that_cannot_continue_changes_nothing():
    net = network()
    live, rec = train_as_the_window(net)
    wider = mlp(3, 11, 3, batchnorm=True, training=net.training, name="rec")
    with pytest.raises(StateError):
        rec.branch(50, network=wider)
    assert rec.reference is None and rec.steps == 161
    train(live, 5, rec)
    assert rec.steps == 166


def test_a_saved_run_opens_to_scrub_and_go_on_as_if_never_closed(tmp_path):
    net = network()
    live, rec = train_as_the_window(net)
    shown = rec.view(120).plot
    rec.save(tmp_path / "run")
    opened, trainer = Recording.open(tmp_path / "run")
    assert opened.steps == trainer.step_count == 161
    assert_same_plot(opened.view(120).plot, shown)
    train(trainer, 20, opened)
    run = straight(net, 181)
    assert same_bits(trainer.params, run.params)
    relative = predicted_gradient_flow(Trainer(net))
    assert_same_plot(opened.view(180).plot, from_trainer(run, net.name, relative))


def test_opening_a_folder_without_a_run_says_so(tmp_path):
    with pytest.raises(StateError, match="no saved states"):
        Recording.open(tmp_path)


def test_a_step_handed_over_twice_is_recorded_once():
    net = network()
    live, rec = train_as_the_window(net)
    rec.record(live, live.history.latest)  # what a diverged trainer's step() answers
    assert rec.steps == 161
    rec.record(live, live.step())
    assert rec.steps == 162
