"""File handling for the window: open, save, recent files, presets, discard prompts."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from ..engine.errors import NetworkFileError
from ..engine.spec import read_network
from .editor import Editor

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
DEFAULT_NETWORK = RESOURCES / "examples" / "deep-sigmoid.json"
FILTER = "vgsim networks (*.json);;All files (*)"
MAX_RECENT = 8


def presets() -> list[tuple[str, list[tuple[str, Path]]]]:
    """(menu title, [(network name, path)]) for the examples and the lessons."""
    groups = []
    for folder, title in (("examples", "Examples"), ("lessons", "Lessons")):
        items = []
        for path in sorted((RESOURCES / folder).glob("*.json")):
            try:
                items.append((read_network(path).name, path))
            except NetworkFileError:
                continue
        groups.append((title, items))
    return groups


class FileController:
    def __init__(self, window: QWidget, editor: Editor, settings: QSettings):
        self.window, self.editor, self.settings = window, editor, settings
        # Tests replace this to answer the "discard changes?" question without a dialog.
        self.ask = self._ask

    def recent(self) -> list[str]:
        value = self.settings.value("recent", [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [p for p in items if Path(p).exists()]

    def _remember(self, path: Path) -> None:
        items = [str(path)] + [p for p in self.recent() if p != str(path)]
        self.settings.setValue("recent", items[:MAX_RECENT])
        self.settings.setValue("last_folder", str(path.parent))

    def _ask(self, question: str) -> QMessageBox.StandardButton:
        return QMessageBox.question(
            self.window,
            "Unsaved changes",
            question,
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
        )

    def maybe_discard(self) -> bool:
        """True if the current network may be replaced (saved, discarded, or unchanged)."""
        if not self.editor.modified:
            return True
        answer = self.ask(f"Save the changes to '{self.editor.model.network.name}' first?")
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def open_path(self, path: str | Path, ask: bool = True) -> bool:
        if ask and not self.maybe_discard():
            return False
        try:
            self.editor.open(path)
        except NetworkFileError as exc:
            QMessageBox.warning(
                self.window,
                "Cannot open this file",
                f"{exc}\n\nThe network you had open is unchanged.",
            )
            return False
        if Path(path).resolve().parent.parent != RESOURCES:
            self._remember(Path(path))
        return True

    def open_dialog(self) -> bool:
        folder = str(self.settings.value("last_folder", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(self.window, "Open network", folder, FILTER)
        return bool(path) and self.open_path(path)

    def open_preset(self, path: Path) -> bool:
        """A preset opens as an untitled copy, so saving never overwrites the shipped file."""
        if not self.maybe_discard():
            return False
        self.open_path(path, ask=False)
        self.editor.path = None
        self.editor.file_changed.emit()
        return True

    def save(self) -> bool:
        if self.editor.path is None:
            return self.save_as()
        return self._save_to(self.editor.path)

    def save_as(self) -> bool:
        folder = str(self.settings.value("last_folder", str(Path.home())))
        name = self.editor.model.network.name or "network"
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Save network as", str(Path(folder) / f"{name}.json"), FILTER
        )
        return bool(path) and self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        try:
            self.editor.save(path)
        except OSError as exc:
            QMessageBox.warning(
                self.window,
                "Cannot save",
                f"Could not write {path}:\n{exc}\n\nNothing was lost: the "
                "network is still open; try another folder.",
            )
            return False
        self._remember(path)
        return True
