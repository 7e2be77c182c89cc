"""Windows sized to the screen they open on: a laptop's 1280 × 720 has less room than the sizes
the windows ask for on a large screen."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget


def fit_to_screen(window: QWidget, width: int, height: int) -> tuple[int, int]:
    """Resize `window` to `width` × `height`, or less where its screen has less room; the size
    it was given."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        room = screen.availableGeometry()
        width, height = min(width, room.width()), min(height, room.height())
    window.resize(width, height)
    return width, height
