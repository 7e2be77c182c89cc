"""The inspector's editing widgets, and what each number field accepts.

A number field takes what the network file takes (`Accepts`, checked against the engine's own
validation in tests/app/test_fields.py): a typed value outside that is refused with a message by
the inspector, never clamped into range without a word. The arrows stay inside it.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass

from PySide6 import QtWidgets as qw
from PySide6.QtCore import SignalInstance
from PySide6.QtGui import QValidator, QWheelEvent

_PARTIAL_NUMBER = re.compile(r"[-+]?\d*\.?\d*(e[-+]?\d*)?", re.IGNORECASE)
WIDEST = 1.7e308  # the spin boxes' own range: everything a double holds; Accepts does the rest
LOG_STEPS = (1.0, 2.0, 5.0)  # arrows on a log field: ... 0.01, 0.02, 0.05, 0.1, 0.2 ...


@dataclass(frozen=True)
class Accepts:
    """The numbers a field takes: bounds (each open or closed), whole or not; how arrows move."""

    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False
    whole: bool = False
    step: float = 1.0
    log: bool = False  # arrows go 1, 2, 5, 10, ... (a learning rate, an epsilon)

    def refusal(self, value: float) -> str | None:
        """Why `value` is refused, in words for the student; None if it is taken."""
        if not math.isfinite(value):
            return "must be a finite number"
        if self.whole and value != math.floor(value):
            return "must be a whole number"
        below = value < self.lo or (self.lo_open and value == self.lo)
        above = value > self.hi or (self.hi_open and value == self.hi)
        return f"must be {self.describe()}" if below or above else None

    def describe(self) -> str:
        lo = None if self.lo == -math.inf else _number(self.lo)
        hi = None if self.hi == math.inf else _number(self.hi)
        if lo is not None and hi is not None:
            if not (self.lo_open or self.hi_open):
                return f"from {lo} to {hi}"
            return (
                f"{'above' if self.lo_open else 'at least'} {lo} and "
                f"{'below' if self.hi_open else 'at most'} {hi}"
            )
        if lo is not None:
            return f"{'above' if self.lo_open else 'at least'} {lo}"
        if hi is not None:
            return f"{'below' if self.hi_open else 'at most'} {hi}"
        return "a number"

    def stepped(self, value: float, steps: int) -> float:
        """Where the arrows take `value`: never outside what the field takes."""
        if self.log and value > 0:
            new = _log_step(value, steps)
        else:
            new = value + steps * self.step
        if self.refusal(new) is None:
            return new
        # To the closed bound it went past, else nowhere.
        bound = self.lo if new < value else self.hi
        open_bound = self.lo_open if new < value else self.hi_open
        return bound if math.isfinite(bound) and not open_bound else value


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) and abs(value) < 1e15 else repr(value)


def _log_step(value: float, steps: int) -> float:
    """The `steps`-th value after `value` in 1, 2, 5, 10, 20, ... (before, if negative)."""
    decade = math.floor(math.log10(value))
    ladder = [m * 10.0**d for d in range(decade - 1, decade + 2) for m in LOG_STEPS]
    for _ in range(abs(steps)):
        if steps > 0:
            value = min(v for v in ladder if v > value * (1 + 1e-9))
        else:
            value = max(v for v in ladder if v < value * (1 - 1e-9))
        decade = math.floor(math.log10(value))
        ladder = [m * 10.0**d for d in range(decade - 1, decade + 2) for m in LOG_STEPS]
    return float(f"{value:.12g}")


class _NoWheel:
    """Scrolling the panel must not change the value under the mouse (only when focused)."""

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class ChoiceBox(_NoWheel, qw.QComboBox):
    pass


class NumberBox(_NoWheel, qw.QDoubleSpinBox):
    """Shows 0.001, 10 and 1e-08 alike and accepts what a student types, scientific or not.
    It holds any number typed (the inspector refuses what the field does not take, with a
    message); the arrows move within `accepts`."""

    def __init__(self, accepts: Accepts):
        super().__init__()
        self.accepts = accepts
        self.setDecimals(323)  # no rounding: 1e-15 stays 1e-15
        self.setRange(-WIDEST, WIDEST)
        self.setSingleStep(accepts.step)
        self.setKeyboardTracking(False)  # one commit (one undo step) per finished entry

    def textFromValue(self, value: float) -> str:
        if self.accepts.whole and math.isfinite(value) and value == math.floor(value):
            return str(int(value))
        text = repr(float(value))  # the shortest text that reads back as the same number
        return text[:-2] if text.endswith(".0") else text

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        try:
            float(text)
            return QValidator.State.Acceptable, text, pos
        except ValueError:
            ok = _PARTIAL_NUMBER.fullmatch(text.strip())
            return (QValidator.State.Intermediate if ok else QValidator.State.Invalid), text, pos

    def stepBy(self, steps: int) -> None:
        self.setValue(self.accepts.stepped(self.value(), steps))


def make(spec: object) -> qw.QWidget:
    """A row's editing widget: Accepts a number, a string a check box with that text, None a
    line of text, a table or tuple of names a choice."""
    if spec is None:
        return qw.QLineEdit()
    if isinstance(spec, str):
        return qw.QCheckBox(spec)
    if isinstance(spec, Accepts):
        return NumberBox(spec)
    w = ChoiceBox()
    w.addItems(list(spec))  # type: ignore[call-overload]
    w.setSizeAdjustPolicy(qw.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    w.setMinimumContentsLength(10)
    return w


def value_of(w: qw.QWidget) -> object:
    if isinstance(w, qw.QCheckBox):
        return w.isChecked()
    if isinstance(w, qw.QComboBox):
        return w.currentText()
    if isinstance(w, qw.QLineEdit):
        return w.text().strip()
    value = w.value()  # type: ignore[attr-defined]
    if isinstance(w, NumberBox) and w.accepts.whole and value == math.floor(value):
        return int(value)
    return value


def show_value(w: qw.QWidget, v: object) -> None:
    if isinstance(w, qw.QCheckBox):
        w.setChecked(v is True)
    elif isinstance(w, qw.QComboBox):
        w.setCurrentIndex(w.findText(str(v)))  # -1 (blank) for a name it does not know
    elif isinstance(w, qw.QLineEdit):
        w.setText("" if v is None else str(v))
    elif isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v):
        w.setValue(float(v))  # type: ignore[attr-defined]


def edited_signal(w: qw.QWidget) -> SignalInstance:
    if isinstance(w, qw.QCheckBox):
        return w.toggled
    if isinstance(w, qw.QComboBox):
        return w.currentTextChanged
    return w.editingFinished if isinstance(w, qw.QLineEdit) else w.valueChanged  # type: ignore
