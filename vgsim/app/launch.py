"""Start the Qt application and show the main window."""

from __future__ import annotations

import argparse
import os
import sys


def launch(args: argparse.Namespace | None = None) -> int:
    # pyqtgraph must bind to PySide6, whatever else is installed.
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("vgsim")
    app.setOrganizationName("vgsim")
    window = MainWindow()
    if args is not None and getattr(args, "open", None):
        window.files.open_path(args.open, ask=False)
    window.show()
    code = app.exec()
    # Delete the window before the interpreter exits (pyqtgraph can crash at exit otherwise).
    window.deleteLater()
    del window
    return code
