"""Side-by-side comparisons from the window: a lesson and its fixes, the open network and any
others, a branch and the run it left, two cells of a trainability map. Each opens in its own
window that trains them in lockstep."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from ..engine.errors import VgsimError
from ..engine.lessons import Lesson
from ..engine.spec import Network
from ..engine.validate import load_network, validate
from ..experiments.sides import Side
from .files import RESOURCES


class SideBySide(QObject):
    def __init__(self, window: QWidget, current: Callable[[], Network], settings: QSettings):
        super().__init__(window)
        self.window, self.current, self.settings = window, current, settings
        self.windows: list[QWidget] = []  # open comparison windows
        # Tests replace this: a modal box would wait for a click.
        self.warn: Callable[[str], object] = lambda text: QMessageBox.warning(
            self.window, "Cannot compare", text
        )

    def compare_lesson(self, lesson: Lesson) -> QWidget | None:
        """The lesson's network and its fixes, side by side."""
        try:
            networks = [load_network(p) for p in (lesson.path, *lesson.fixes)]
        except VgsimError as exc:
            self.warn(str(exc))
            return None
        return self.open_comparison(networks)

    def compare_with_files(self) -> QWidget | None:
        folder = str(self.settings.value("last_folder", str(RESOURCES / "examples")))
        paths, _ = QFileDialog.getOpenFileNames(
            self.window,
            "Compare with (choose one or more networks)",
            folder,
            "vgsim networks (*.json)",
        )
        if not paths:
            return None
        try:
            others = [load_network(p) for p in paths]
        except VgsimError as exc:
            self.warn(str(exc))
            return None
        return self.open_comparison([self.current(), *others])

    def open_comparison(
        self, networks: Sequence[Network | Side], labels: Sequence[str] | None = None
    ) -> QWidget | None:
        """A comparison window of `networks` (or sides: a network from a past step, see
        experiments/sides.py), apart from the document: nothing of it changes the window's."""
        from .compare.window import open_comparison

        nets = [n.network if isinstance(n, Side) else n for n in networks]
        problems = [f"{net.name}: {p.message}" for net in nets for p in validate(net)]
        if problems:
            self.warn("\n".join(problems[:8]))
            return None
        try:
            window = open_comparison(networks, labels, self.window)
        except VgsimError as exc:
            self.warn(str(exc))
            return None
        self.windows.append(window)
        window.destroyed.connect(lambda _obj=None, w=window: self._forget_comparison(w))
        return window

    def _forget_comparison(self, window: QWidget) -> None:
        if window in self.windows:
            self.windows.remove(window)
