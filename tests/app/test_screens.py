"""Every window fits the screen it opens on (a 1280 × 720 laptop has less room than the sizes
the windows ask for)."""

from __future__ import annotations

from PySide6.QtCore import QSize

from vgsim.app.compare.window import ComparisonWindow
from vgsim.app.sweep.window import TrainabilityMapWindow
from vgsim.engine.builders import mlp
from vgsim.experiments.comparisons import Comparison


def room(widget) -> QSize:
    return widget.screen().availableGeometry().size()


def test_the_map_and_comparison_windows_fit_the_screen(qtbot):
    net = mlp(2, 8, 3, data={"name": "spiral", "samples": 200})
    windows = [TrainabilityMapWindow(lambda: net), ComparisonWindow(Comparison([net, net]))]
    for window in windows:
        qtbot.addWidget(window)
        size, screen = window.size(), room(window)
        assert size.width() <= screen.width() and size.height() <= screen.height(), (
            type(window).__name__,
            size,
            screen,
        )
