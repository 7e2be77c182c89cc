"""Issue 12, case 9: Lesson 2's "Try the fix" compares the fixes with a network that trains,
shows where the gradients part, and shows no NaN before the first step."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vgsim.app.compare.window import ComparisonWindow
from vgsim.engine import load_network
from vgsim.experiments.comparisons import Comparison

LESSONS = Path(__file__).resolve().parents[2] / "resources" / "lessons"


def legend_texts(overlay) -> list[str]:
    return [label.text for _, label in overlay.legend.items]


def test_lesson_2s_fix_is_drawn_against_a_run_that_trains(qtbot):
    nets = [
        load_network(LESSONS / name)
        for name in (
            "02-exploding-gradients.json",
            "fixes/02-exploding-he-init.json",
            "fixes/02-exploding-clipping.json",
        )
    ]
    window = ComparisonWindow(Comparison(nets, seed=0))  # as compare_lesson opens it
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.waitUntil(lambda: window.frame is not None, timeout=20000)
        for card in window.cards:  # step 0: nothing trained, nothing "nan"
            assert "nan" not in card.status.text().lower()
            assert "not trained yet" in card.status.text()
        window.worker.send("step", 30)
        qtbot.waitUntil(
            lambda: window.frame.data.step == 30 and window.frame.data.runs[0].diverged,
            timeout=30000,
        )
        qtbot.wait(100)
        data = window.frame.data
        assert data.reference == 1
        broken, fixed, clipped = window.cards
        assert "the reference for the differences" in fixed.status.text()
        assert "diverged at step" in broken.status.text()
        assert "the reference for" not in broken.status.text()
        for card in (broken, clipped):  # up to its blow-up, the broken one too
            assert "first layer gets 10" in card.status.text()
        part = window.dashboard.plots["gradient-difference"]
        names = legend_texts(part)
        assert names[1].endswith("(reference)") and "(reference)" not in names[0]
        for i in (0, 2):  # the diverged run (up to its blow-up) and the clipped one are drawn
            _, y = part.curves[i].getData()
            assert y is not None and np.isfinite(y).sum() >= 10, i
        _, ref = part.curves[1].getData()
        assert (ref == 0).all()  # the reference against itself
        for card in window.cards:
            assert "nan" not in card.status.text().lower()
    finally:
        window.shutdown()
