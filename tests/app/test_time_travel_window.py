"""The window's timeline: a past step is drawn exactly as the run drew it (bit for bit, against a
straight run stopped there), a change at a past step branches, training goes on from the
present."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pyqtgraph as pg
from bitwise import same_bits
from windows import trainer, wait_frame

from vgsim.app.worker import for_the_window
from vgsim.engine.diagnose import diagnose
from vgsim.engine.theory import predicted_gradient_flow
from vgsim.engine.train import Trainer
from vgsim.experiments.plot_data import PlotData
from vgsim.experiments.plot_sources import boundary_of, from_trainer

NOT_FIGURES = ("boundary", "name", "reference")  # compared apart, or no figure at all


def key_texts(plot: pg.PlotItem) -> list[str]:
    return [label.text for _, label in plot.legend.items]


def straight(window, steps: int, t: Trainer | None = None) -> Trainer:
    """The window's network trained `steps` steps without a stop, as the window trains it (or
    `t` trained on to `steps` steps)."""
    if t is None:
        t = Trainer(for_the_window(window.editor.model.snapshot()))
        t.evaluate()
    while t.step_count < steps:
        t.run_block(steps - t.step_count)
    return t


def trained(window, qtbot, steps: int) -> None:
    """Train until the run has `steps` steps (Run until counts steps from where it is)."""
    window.run_until("steps", steps - trainer(window).step_count)
    wait_frame(qtbot, window, lambda f: f.step_count == steps and not f.playing)


def shown_at(window, qtbot, step: int):
    window.timeline.bar.show_step(step)
    return wait_frame(qtbot, window, lambda f: f.at == step and f.exact)


def test_a_past_step_is_drawn_exactly_as_the_run_drew_it(window, qtbot):
    trained(window, qtbot, 90)
    relative = predicted_gradient_flow(Trainer(for_the_window(window.editor.model.snapshot())))
    for step in (37, 0, 88):
        frame = shown_at(window, qtbot, step)
        bar = window.timeline.bar
        assert bar.at == step and "recreating" not in bar.label.text()
        run = straight(window, step + 1)
        expected = from_trainer(run, "", relative)
        for f in fields(PlotData):
            if f.name not in NOT_FIGURES:
                x, y = getattr(frame.plot, f.name), getattr(expected, f.name)
                assert same_bits(x, y) if isinstance(x, np.ndarray) else x == y, f.name
        assert same_bits(frame.plot.boundary["outputs"], boundary_of(run)["outputs"])
        assert frame.record.scalars == run.history.latest.scalars
        assert list(frame.findings) == diagnose(run)
        assert frame.step_count == step + 1
    # Back to the present: the live run's last step, and nothing moved it.
    window.timeline.bar.to_now()
    frame = wait_frame(qtbot, window, lambda f: f.at is None)
    assert frame.step_count == 90 and trainer(window).step_count == 90


def test_training_again_goes_on_from_the_present(window, qtbot):
    trained(window, qtbot, 60)
    shown_at(window, qtbot, 20)
    window.step()
    frame = wait_frame(qtbot, window, lambda f: f.at is None and f.step_count == 61)
    assert window.timeline.bar.at is None and frame.recorded == 61


def test_a_setting_changed_at_a_past_step_branches_from_there(window, qtbot):
    trained(window, qtbot, 80)
    before = window.training.run
    shown_at(window, qtbot, 29)
    training = dict(window.editor.model.network.training, lr=0.02)
    window.editor.set_section("training", training)
    frame = wait_frame(qtbot, window, lambda f: f.run > before and f.nodes[0])
    assert frame.at is None and frame.step_count == 30 and frame.recorded == 30
    t = trainer(window)
    assert t.cfg["lr"] == 0.02 and t.step_count == 30
    ref = frame.plot.reference
    assert ref is not None and ref.branched_at == 30 and ref.loss_steps[-1] == 79
    # Drawn faded in the loss and gradient flow plots, named in their keys under the plots
    # (nothing written over the data).
    for key in ("loss", "gradient-flow"):
        plot = window.dashboard.plots[key].plot
        curve = window.timeline._references[key]
        assert curve.isVisibleTo(curve.parentItem())
        assert "before the branch at step 30" in key_texts(plot)
        assert not [i for i in plot.getViewBox().allChildren() if isinstance(i, pg.TextItem)]
    assert list(window.timeline._references["loss"].xData) == list(ref.loss_steps)
    window.step()
    frame = wait_frame(qtbot, window, lambda f: f.step_count == 31)
    assert frame.record.scalars["lr"] == 0.02


def test_a_setting_changed_mid_run_is_there_when_scrubbing_past_it(window, qtbot):
    trained(window, qtbot, 40)
    run = straight(window, 40)  # before the document changes
    live = dict(window.editor.model.network.training, lr=0.03)
    window.editor.set_section("training", live)  # at the present: applies mid-run
    qtbot.waitUntil(lambda: trainer(window).cfg["lr"] == 0.03)
    trained(window, qtbot, 70)
    run.set_live(lr=0.03)
    for step in (41, 55):  # replayed from a state saved before the change, and after it
        frame = shown_at(window, qtbot, step)
        straight(window, step + 1, run)
        assert frame.record.scalars == run.history.latest.scalars
        assert same_bits(frame.plot.histograms, run.history.latest.histograms)


def test_branch_from_here_continues_the_run_from_the_step_shown(window, qtbot):
    trained(window, qtbot, 50)
    before = window.training.run
    shown_at(window, qtbot, 19)
    window.timeline.bar.branch_button.click()
    frame = wait_frame(qtbot, window, lambda f: f.run > before and f.nodes[0])
    assert frame.step_count == 20 and frame.plot.reference.branched_at == 20
    # The same settings: it trains as the run did from there.
    run = straight(window, 21)
    window.step()
    frame = wait_frame(qtbot, window, lambda f: f.step_count == 21)
    assert frame.record.scalars == run.history.latest.scalars


def test_a_saved_run_opens_to_scrub_and_train_on_as_if_just_trained(window, qtbot, tmp_path):
    trained(window, qtbot, 60)
    shown = shown_at(window, qtbot, 20)
    window.timeline.save_run(tmp_path / "run")
    qtbot.waitUntil(lambda: "Run saved" in window.statusBar().currentMessage())
    assert (tmp_path / "run" / "timeline.json").is_file()
    assert (tmp_path / "run" / "metrics.csv").is_file()
    before = window.training.run
    assert window.timeline.open_run(tmp_path / "run")
    frame = wait_frame(qtbot, window, lambda f: f.run > before and f.nodes[0])
    assert frame.step_count == 60 and frame.recorded == 60 and frame.at is None
    again = shown_at(window, qtbot, 20)
    assert again.record.scalars == shown.record.scalars
    assert same_bits(again.plot.histograms, shown.plot.histograms)
    run = straight(window, 61)
    window.step()
    frame = wait_frame(qtbot, window, lambda f: f.step_count == 61)
    assert frame.record.scalars == run.history.latest.scalars


def test_a_folder_without_a_run_is_refused_and_the_network_stays(window, qtbot, tmp_path):
    net = window.editor.model.snapshot()
    window.timeline.show_errors = False
    assert not window.timeline.open_run(tmp_path)
    assert window.editor.model.snapshot().to_dict() == net.to_dict()


def test_a_new_document_leaves_no_step_of_the_old_run_on_the_timeline(window, qtbot):
    trained(window, qtbot, 30)
    shown_at(window, qtbot, 9)
    assert window.timeline.bar.steps == 30
    window.actions["new"].trigger()  # a network with problems: no run at all
    bar = window.timeline.bar
    assert bar.steps == 0 and bar.at is None and bar.label.text() == "no steps yet"
    assert not bar.slider.isEnabled() and not bar.branch_button.isEnabled()
    assert not any(m.isVisible() for m in window.timeline._markers.values())
