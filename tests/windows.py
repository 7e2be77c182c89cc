"""Helpers for tests that drive the main window (the `window` fixture: tests/app/conftest.py)."""

from __future__ import annotations

from vgsim.app.main_window import MainWindow
from vgsim.engine.train import Trainer


def wait_frame(qtbot, window: MainWindow, condition, timeout: int = 20000):
    # A bool: waitUntil refuses any other value, and a condition such as `f.nodes[0] and ...`
    # is an empty tuple while a trainer is being built.
    qtbot.waitUntil(
        lambda: window.training.frame is not None and bool(condition(window.training.frame)),
        timeout=timeout,
    )
    return window.training.frame


def trainer(window: MainWindow) -> Trainer:
    t = window.training.worker.trainer
    assert t is not None
    return t
