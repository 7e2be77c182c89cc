"""Start the Qt application and show the main window."""

from __future__ import annotations

import argparse
import sys


def launch(args: argparse.Namespace | None = None) -> int:
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = QMainWindow()
    window.setWindowTitle("vgsim")
    label = QLabel("vgsim: the network canvas opens here.")
    window.setCentralWidget(label)
    window.resize(900, 600)
    window.show()
    return app.exec()
