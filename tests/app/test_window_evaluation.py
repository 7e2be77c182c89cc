"""The window's runs evaluate the train and test sets often enough for their curves to move
while a student watches a lesson, and a file that sets its own evaluation keeps it."""

from __future__ import annotations

import numpy as np
from windows import trainer, wait_frame

from vgsim.app.files import RESOURCES
from vgsim.app.worker import AFFORDABLE, WINDOW_EVALUATIONS, for_the_window
from vgsim.engine.builders import mlp
from vgsim.engine.lessons import list_lessons
from vgsim.engine.spec import read_network
from vgsim.engine.train import Trainer


def test_a_lesson_is_evaluated_about_32_times_over_its_planned_run_when_it_can_afford_it():
    """As often as WINDOW_EVALUATIONS over the planned run asks, but never more than
    AFFORDABLE times as often as headless (an evaluation can cost more than many steps)."""
    for lesson in list_lessons(RESOURCES / "lessons"):
        net = read_network(lesson.path)
        planned = net.lesson["steps"]
        every, auto = Trainer(for_the_window(net)).eval_every, Trainer(net).eval_every
        assert auto / AFFORDABLE <= every <= auto, lesson.path
        if auto / AFFORDABLE <= 0.75 * planned / WINDOW_EVALUATIONS:  # affordable: lessons 1-10
            assert 0.75 * WINDOW_EVALUATIONS <= planned / every <= 1.5 * WINDOW_EVALUATIONS
            if planned / auto < 0.75 * WINDOW_EVALUATIONS:  # headless too sparse (lesson 14's
                assert every < auto  # 100 + 100 rows are evaluated every 50 steps already)
        assert "eval_every" not in net.training  # the document is not changed


def test_a_files_own_evaluation_is_kept():
    net = mlp(2, 8, 3, training={"eval_every": 7, "steps": 2000})
    assert Trainer(for_the_window(net)).eval_every == 7


def test_the_loss_curve_moves_every_few_steps_in_the_window(window, qtbot):
    net = mlp(4, 16, 3, activation="tanh", training={"batch_size": 128, "lr": 0.1, "steps": 320})
    window.editor.load(net, None)
    wait_frame(  # the new trainer's frame, not the one announcing its build
        qtbot,
        window,
        lambda f: f.network is not None and f.network.training == net.training and not f.building,
    )
    assert trainer(window).eval_every == 10
    window.run_until("steps", 200)
    frame = wait_frame(qtbot, window, lambda f: not f.playing and f.step_count >= 200)
    qtbot.waitUntil(lambda: len(window.dashboard.plots["loss"].train.getData()[1]) >= 200)
    shown = window.dashboard.plots["loss"].train.getData()[1]
    assert len(np.unique(shown[np.isfinite(shown)])) >= 20  # an evaluation every 10 steps
    assert frame.step_count == 200
