"""Start the Qt application and show the main window.

`vgsim --open NET.json --steps N --screenshot OUT.png [--size WxH]` trains N steps through the
same worker, lets the view catch up, saves a picture of the whole window (1600x1000 unless
--size says otherwise) and quits (for docs and tests).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

SETTLE_MS = 400  # after the last step, let the view draw the newest frame
SCREENSHOT_SIZE = (1600, 1000)
TIMEOUT_MS = 300_000


def launch(args: argparse.Namespace | None = None) -> int:
    # pyqtgraph must bind to PySide6, whatever else is installed.
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
    from PySide6.QtWidgets import QApplication

    from . import xcb

    app = QApplication.instance()
    if app is None:
        missing = xcb.check()  # before Qt loads its platform plugin, which would abort
        if missing:
            return missing
        app = QApplication(sys.argv[:1])
    from .main_window import MainWindow

    app.setApplicationName("vgsim")
    app.setOrganizationName("vgsim")
    window = MainWindow()
    code = [0]
    if args is not None and getattr(args, "open", None):
        if not window.files.open_path(args.open, ask=False) and args.screenshot:
            print(f"Cannot open {args.open}.", file=sys.stderr)
            return 2
    window.show()
    if args is not None and getattr(args, "screenshot", None):
        _schedule_screenshot(app, window, args, code)
    result = app.exec()
    window.training.shutdown()
    # Delete the window before the interpreter exits (pyqtgraph can crash at exit otherwise).
    window.deleteLater()
    app.processEvents()
    del window
    return code[0] or result


def _stopped(window: MainWindow) -> bool:
    """Training ended early (diverged): nothing more will come."""
    frame = window.training.frame
    return frame is not None and frame.record is not None and frame.record.divergence is not None


def _schedule_screenshot(
    app: QApplication, window: MainWindow, args: argparse.Namespace, code: list[int]
) -> None:
    """Train, wait for the view to catch up, save the window as an image, then quit."""
    from PySide6.QtCore import QTimer

    size = getattr(args, "size", None) or SCREENSHOT_SIZE
    window.resize(*size)
    steps = args.steps if args.steps is not None else 0
    shot = Path(args.screenshot)

    def finish() -> None:
        problems = window.editor.model.problems()
        frame = window.training.frame
        built = frame is not None and not frame.building and bool(frame.nodes[0])
        if problems or (built and frame.step_count >= steps) or _stopped(window):
            timer.stop()
            if problems and steps:  # the picture shows the problems; the caller learns why
                print(f"Cannot train: {problems[0].message}", file=sys.stderr)
                code[0] = 2
            QTimer.singleShot(SETTLE_MS, save)

    def save() -> None:
        window.view.fit()
        app.processEvents()
        got = (window.width(), window.height())
        if got != tuple(size):  # the platform or the window's least size would not allow it
            print(
                f"The window could not be made {size[0]}x{size[1]} (it is "
                f"{got[0]}x{got[1]}); no picture taken.",
                file=sys.stderr,
            )
            code[0] = 2
            window.editor.undo.setClean()
            window.close()
            return
        if not window.grab().save(str(shot)):
            print(f"Cannot write {shot}.", file=sys.stderr)
            code[0] = 2
        window.editor.undo.setClean()
        window.close()

    def give_up() -> None:
        print("The screenshot run did not finish in time.", file=sys.stderr)
        code[0] = 2
        window.editor.undo.setClean()
        window.close()

    timer = QTimer()
    timer.timeout.connect(finish)
    QTimer.singleShot(300, lambda: window.run_until("steps", steps) if steps else None)
    QTimer.singleShot(600, lambda: timer.start(50))
    QTimer.singleShot(TIMEOUT_MS, give_up)
