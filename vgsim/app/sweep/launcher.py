"""Opens trainability map windows from the main window (Experiments ▸ Trainability map…, and
lessons that come with a sweep), and keeps them until they close."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from ...engine.spec import Network
from .cells import Compare
from .window import TrainabilityMapWindow


class TrainabilityMaps(QObject):
    def __init__(
        self,
        window: QWidget,
        current: Callable[[], Network],
        open_network: Callable[[Network], object],
        compare: Compare | None = None,
    ):
        super().__init__(window)
        self.window, self.current, self.open_network = window, current, open_network
        self.compare = compare  # two cells side by side
        self.windows: list[TrainabilityMapWindow] = []

    def open(self, spec_path: str | Path | None = None, run: bool = False) -> TrainabilityMapWindow:
        """A map window for the canvas's network, its form filled from a sweep file if given
        (and started at once with `run`)."""
        map_window = TrainabilityMapWindow(
            self.current, self.open_network, self.window, self.compare
        )
        if spec_path is not None:
            map_window.set_spec(json.loads(Path(spec_path).read_text(encoding="utf-8")))
        self.windows.append(map_window)
        map_window.destroyed.connect(lambda *_, w=map_window: self._forget(w))
        map_window.show()
        if run:
            map_window.run()
        return map_window

    def _forget(self, map_window: TrainabilityMapWindow) -> None:
        if map_window in self.windows:
            self.windows.remove(map_window)
