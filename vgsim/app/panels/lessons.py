"""The lessons of the lecture, in its order: what to look for, and the fix one click away."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ...engine.errors import NetworkFileError
from ...engine.lessons import PLOT_TITLES, Lesson, list_lessons, read_lesson


class LessonsPanel(QWidget):
    """Choosing a lesson in the list loads it (`open_requested`); the window says which lesson
    is on the canvas with `select`, so the list, its text and its buttons are always that one's
    (none for a network that is not a lesson)."""

    open_requested = Signal(object)  # Lesson: load its network
    fix_requested = Signal(object)  # Lesson: its network and its fixes side by side
    run_requested = Signal(int)  # train this many steps (the lesson's recommendation)

    def __init__(self, folder: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.lessons: list[Lesson] = []
        self.problem: str | None = None
        try:
            self.lessons = list_lessons(folder)
        except NetworkFileError as exc:  # a broken shipped file must not stop the window
            self.problem = str(exc)
        self.list = QListWidget()
        for lesson in self.lessons:
            item = QListWidgetItem(f"{lesson.order}. {lesson.title}")
            item.setData(Qt.ItemDataRole.UserRole, lesson.order)
            self.list.addItem(item)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(False)
        self.open_button = QPushButton("Reload")
        self.run_button = QPushButton("Run")
        self.fix_button = QPushButton("Try the fix")
        self.open_button.setToolTip("Load this lesson's network again, as shipped, at step 0")
        self.fix_button.setToolTip("Train this network and its fix side by side, in lockstep")
        buttons = QHBoxLayout()
        for button in (self.open_button, self.run_button, self.fix_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.text, 3)
        layout.addLayout(buttons)
        self._quiet = False  # set while the window shows the canvas's lesson: no load then
        self.list.currentRowChanged.connect(self._chosen)
        self.open_button.clicked.connect(self._open)
        self.run_button.clicked.connect(self._run)
        self.fix_button.clicked.connect(self._fix)
        self._show(-1)

    def current(self) -> Lesson | None:
        row = self.list.currentRow()
        return self.lessons[row] if 0 <= row < len(self.lessons) else None

    def select(self, order: int | None) -> None:
        """Show the lesson of this order as the one on the canvas (None: no lesson is)."""
        rows = [row for row, lesson in enumerate(self.lessons) if lesson.order == order]
        self._quiet = True
        try:
            self.list.setCurrentRow(rows[0] if rows else -1)
            if not rows:
                self.list.clearSelection()
        finally:
            self._quiet = False
        self._show(self.list.currentRow())

    def _chosen(self, row: int) -> None:
        self._show(row)
        if not self._quiet:
            self._open()

    def _show(self, _row: int) -> None:
        lesson = self.current()
        for button in (self.open_button, self.run_button, self.fix_button):
            button.setEnabled(lesson is not None)
        if lesson is None:
            self.text.setHtml(
                html.escape(self.problem)
                if self.problem
                else "<p>Choose a lesson: each one loads a network that shows one part "
                "of the lecture, says what to look for, and offers the fix.</p>"
            )
            return
        self.run_button.setText(f"Run {lesson.steps:,} steps")
        self.fix_button.setText("Compare side by side" if lesson.compare else "Try the fix")
        self.fix_button.setEnabled(bool(lesson.fixes))
        self.text.setHtml(lesson_html(lesson))

    def _open(self) -> None:
        lesson = self.current()
        if lesson is not None:
            self.open_requested.emit(lesson)

    def _run(self) -> None:
        lesson = self.current()
        if lesson is not None:
            self.run_requested.emit(lesson.steps)

    def _fix(self) -> None:
        lesson = self.current()
        if lesson is not None and lesson.fixes:
            self.fix_requested.emit(lesson)


def lesson_html(lesson: Lesson) -> str:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in lesson.paragraphs)
    plots = ", ".join(PLOT_TITLES.get(k, k) for k in lesson.look_at)
    fixes = []
    for path in lesson.fixes:
        try:
            fix = read_lesson(path)
            fixes.append(
                f"<li><b>{html.escape(fix.title)}</b>: {html.escape(' '.join(fix.paragraphs))}</li>"
            )
        except NetworkFileError as exc:
            fixes.append(f"<li>{html.escape(str(exc))}</li>")
    fix_html = f"<p><b>The fix</b></p><ul>{''.join(fixes)}</ul>" if fixes else ""
    return (
        f"<h3>{lesson.order}. {html.escape(lesson.title)}</h3>"
        f"<p><b>Look at:</b> {html.escape(plots)} (framed in the dashboard) · "
        f"<b>train:</b> {lesson.steps:,} steps</p>{paragraphs}{fix_html}"
    )
