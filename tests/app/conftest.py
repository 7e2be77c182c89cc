"""Qt tests run headless."""

import gc
import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")


@pytest.fixture(autouse=True)
def collect_on_the_main_thread():
    """Free each test's Qt objects here, on the GUI thread, before the next test's trainer
    thread runs (a Qt object freed on another thread can deadlock)."""
    yield
    gc.collect()
