"""A Qt view following the graph model's signals for as long as its Qt side exists."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from psygnal import SignalInstance
from PySide6.QtCore import QObject


def follow(view: QObject, links: Sequence[tuple[SignalInstance, Callable]]) -> None:
    """Connect each (model signal, view method). psygnal holds the methods weakly, so a view
    that is gone altogether is dropped; a view whose C++ object is deleted while Python still
    holds its wrapper is disconnected here, as calling it would raise."""
    for signal, slot in links:
        signal.connect(slot)

    def drop(*_: object) -> None:
        for signal, slot in links:
            signal.disconnect(slot, missing_ok=True)

    view.destroyed.connect(drop)
