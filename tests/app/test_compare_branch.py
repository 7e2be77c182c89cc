"""Compare with original…: a branch and the run it left, side by side in the comparison window,
both trained on in lockstep from where they parted, while the window's run and document stay."""

from __future__ import annotations

from test_time_travel_window import key_texts, shown_at, trained
from windows import trainer, wait_frame

from vgsim.app.compare.window import ComparisonWindow


def compare_window(window, qtbot) -> ComparisonWindow:
    qtbot.waitUntil(lambda: len(window.side_by_side.windows) == 1, timeout=20000)
    compared = window.side_by_side.windows[0]
    qtbot.waitUntil(lambda: compared.frame is not None, timeout=20000)
    return compared


def test_a_branch_opens_beside_the_run_it_left(window, qtbot):
    bar = window.timeline.bar
    trained(window, qtbot, 60)
    assert not bar.compare_button.isVisibleTo(bar)  # no branch yet: nothing to compare with
    assert not bar.compare_action.isEnabled()
    assert bar.compare_action in window.menus.train.actions()
    before = window.training.run
    shown_at(window, qtbot, 24)
    window.editor.set_section("training", dict(window.editor.model.network.training, lr=0.02))
    wait_frame(qtbot, window, lambda f: f.run > before and f.plot.reference is not None)
    assert bar.compare_button.isVisibleTo(bar) and bar.compare_action.isEnabled()
    document = window.editor.model.snapshot().to_dict()
    run = window.training.run
    bar.compare_button.click()
    compared = compare_window(window, qtbot)
    data = compared.frame.data
    assert data.labels == ["original from step 25", "branch from step 25 (lr 0.02)"]
    assert [side.steps_done for side in data.runs] == [25, 25]
    assert all(side.steps[0] == 0 for side in data.runs)  # the steps before, shared
    assert "original from step 25 vs branch" in compared.windowTitle()
    assert "all from step 25's state" in compared.progress_label.text()
    compared.actions["step"].trigger()
    qtbot.waitUntil(lambda: compared.frame.data.step == 26, timeout=20000)
    runs = compared.worker.comparison.runs
    assert [r.history.latest.scalars["lr"] for r in runs] == [0.1, 0.02]
    # The window's document and run are as they were.
    assert window.editor.model.snapshot().to_dict() == document
    assert window.training.run == run and trainer(window).step_count == 25
    compared.close()
    qtbot.waitUntil(lambda: not window.side_by_side.windows, timeout=5000)


def test_a_run_that_is_no_longer_a_branch_offers_no_comparison(window, qtbot):
    bar = window.timeline.bar
    trained(window, qtbot, 30)
    shown_at(window, qtbot, 9)
    bar.branch_button.click()
    qtbot.waitUntil(lambda: bar.compare_button.isVisibleTo(bar), timeout=20000)
    bar.compare_action.trigger()  # from the Train menu: the same comparison
    qtbot.waitUntil(lambda: len(window.side_by_side.windows) == 1, timeout=20000)
    assert window.side_by_side.windows[0].worker.comparison.labels[0] == "original from step 10"
    loss = window.dashboard.plots["loss"].plot
    assert "before the branch at step 10" in key_texts(loss)
    window.actions["new"].trigger()
    assert not bar.compare_button.isVisibleTo(bar) and not bar.compare_action.isEnabled()
    assert not [name for name in key_texts(loss) if "branch" in name]  # nor its key entry
    assert len(window.side_by_side.windows) == 1  # a comparison is apart from the document
    window.side_by_side.windows[0].close()
