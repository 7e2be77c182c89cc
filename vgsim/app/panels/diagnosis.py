"""The health panel: what the diagnosis sees, with the evidence and the lecture's remedies as
one-click (undoable) edits."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ...engine.diagnose import LEARN_STEPS, MIN_STEPS, Finding

COLOURS = {"error": "#b3261e", "warning": "#b06000"}


class ElidingButton(QPushButton):
    """A button that may be narrower than its text: it shows the start of it and "…" (the
    tooltip has it whole) rather than cutting a word off at the edge."""

    PADDING = 20  # pixels: the stylesheet's 8 each side, and the frame

    def __init__(self, text: str):
        super().__init__(text)
        self.full_text = text
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        room = max(0, self.width() - self.PADDING)
        self.setText(
            self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideRight, room)
        )


class DiagnosisPanel(QScrollArea):
    remedy_chosen = Signal(str, str)  # remedy key, its title

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.body = QWidget()
        self.column = QVBoxLayout(self.body)
        self.column.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.setWidget(self.body)
        self.findings: tuple[Finding, ...] | None = None
        self._trained = False
        self._steps: int | None = None
        self.buttons: dict[str, QPushButton] = {}
        self.show_findings(())

    def show_findings(
        self, findings: tuple[Finding, ...], trained: bool = False, steps: int | None = None
    ) -> None:
        """The findings of `steps` steps (or, without `steps`, of a run that has `trained`)."""
        if steps is not None:
            trained = steps >= MIN_STEPS
        if (findings, trained, steps) == (self.findings, self._trained, self._steps):
            return
        self.findings, self._trained, self._steps = findings, trained, steps
        while self.column.count():
            item = self.column.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.buttons.clear()
        if not findings:
            note = QLabel(_verdict(trained, steps))
            note.setWordWrap(True)
            note.setStyleSheet("color: #188038" if trained else "color: #5f6368")
            self.column.addWidget(note)
            return
        hint = QLabel("Remedies from the lecture — each button edits the network (Ctrl+Z undoes):")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #5f6368")
        self.column.addWidget(hint)
        for finding in findings:
            self.column.addWidget(self._card(finding))

    def _card(self, finding: Finding) -> QFrame:
        card = QFrame()
        card.setFrameShape(QFrame.Shape.StyledPanel)
        colour = COLOURS.get(finding.severity, "#202124")
        card.setStyleSheet(f"QFrame {{ border-left: 4px solid {colour}; }}")
        box = QVBoxLayout(card)
        title = QLabel(f"<b style='color:{colour}'>{finding.title}</b>")
        evidence = QLabel(finding.evidence)
        why = QLabel(f"<i>{finding.explanation}</i>")
        for label in (title, evidence, why):
            label.setWordWrap(True)
            label.setStyleSheet("border: none")
            # Wrapped labels must claim their full height, or the next one overlaps them.
            label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
            box.addWidget(label)
        for remedy in finding.remedies:
            button = ElidingButton(remedy.title)
            button.setToolTip(f"{remedy.title}: {remedy.explanation} (one step: Ctrl+Z undoes it)")
            button.setStyleSheet("text-align: left; padding: 3px 8px")
            button.clicked.connect(
                lambda _=False, r=remedy: self.remedy_chosen.emit(r.key, r.title)
            )
            box.addWidget(button)
            self.buttons.setdefault(remedy.key, button)
        return card


def _verdict(trained: bool, steps: int | None) -> str:
    """What no finding means: too early, healthy gradients so far, or healthy."""
    if not trained:
        return "Train a few steps: the diagnosis watches the gradients."
    if steps is not None and steps < LEARN_STEPS:
        return (
            "✓ Healthy so far: gradients reach every layer at a similar size. Whether the loss "
            f"leaves chance level is judged from step {LEARN_STEPS:,}."
        )
    if steps is not None:
        return (
            "✓ Healthy: the loss is below chance level and gradients reach every layer at a "
            "similar size."
        )
    return "✓ Healthy: gradients reach every layer at a similar size."
