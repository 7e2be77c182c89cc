"""Qt tests run headless."""

import gc
import os

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox
from windows import wait_frame

from vgsim.app.main_window import MainWindow
from vgsim.engine.builders import mlp

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")


@pytest.fixture(scope="session", autouse=True)
def compiled_kernels():
    """Compile (or load) the kernels once, before any window waits for its first frame: on a
    fresh checkout the compile alone takes about 15 s, longer than a frame wait."""
    from vgsim.engine.warm import warm

    warm("float32")


@pytest.fixture(autouse=True)
def collect_on_the_main_thread():
    """Free each test's Qt objects here, on the GUI thread, before the next test's trainer
    thread runs (a Qt object freed on another thread can deadlock)."""
    yield
    gc.collect()


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(settings, open_default=False)
    qtbot.addWidget(w)
    w.files.ask = lambda _question: QMessageBox.StandardButton.Discard
    w.exports.show_errors = False  # a modal warning would wait for a click
    w.resize(1400, 900)
    w.show()
    net = mlp(
        4,
        16,
        3,
        activation="tanh",
        init="xavier_uniform",
        training={"optimizer": "sgd", "lr": 0.1, "batch_size": 16, "eval_every": 5},
    )
    w.editor.load(net, None)
    wait_frame(qtbot, w, lambda f: f.record is None and len(f.nodes[0]) == len(net.nodes))
    yield w
    w.training.shutdown()
