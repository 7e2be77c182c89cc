"""The inspector: edit the selected block, or (nothing selected) the network's data and training.

Every widget commits on change through the editor, so each edit is one undo step; the form
follows the model back (undo, redo, a replaced network) without pushing commands while it fills.
"""

from __future__ import annotations

import copy
import re
from functools import partial
from pathlib import Path

import numpy as np
from PySide6 import QtWidgets as qw
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPalette

# isort: split
import pyqtgraph as pg

from ...engine import schema
from ...engine.data import COMMON_PARAMS, DATASETS, load_dataset
from ...engine.errors import VgsimError
from ..blocks import BLOCKS
from ..editor import Editor
from ..follow import follow
from ..theme import CLASS_COLOURS
from .fields import Accepts, NumberBox, edited_signal, make, show_value, value_of
from .inspector_rows import (
    BLOCK_ROWS,
    CONV_STRIDE,
    DATA_ROWS,
    ELU_ALPHA,
    FUNCTION_KEYS,
    INIT_KEYS,
    TRAINING_ROWS,
)

PREVIEW_POINTS = 2000  # enough to see the shape; keeps redraws instant for big data sets
PROBLEM_STYLE = "color: #c62828;"


def _label(text: str = "", style: str = "") -> qw.QLabel:
    w = qw.QLabel(text)
    w.setWordWrap(True)
    w.setStyleSheet(style)
    return w


def _say(label: qw.QLabel, text: str) -> None:
    label.setText(text)
    label.setVisible(bool(text))


def _target(text: str) -> str | int | None:
    """A CSV target column: empty for the last one, a whole number for an index, else a name."""
    return None if not text else int(text) if re.fullmatch(r"-?\d+", text) else text


class Inspector(qw.QWidget):
    def __init__(self, editor: Editor, parent: qw.QWidget | None = None):
        super().__init__(parent)
        self.editor, self.model = editor, editor.model
        self.fields: dict[str, qw.QWidget] = {}  # "block.units", "data.seed", "training.lr", ...
        self._rows: dict[str, tuple[qw.QFormLayout, qw.QWidget]] = {}
        self._node_id: str | None = None
        self._filling = True  # set while the form shows the model: no commits then
        self._previewed: object = None
        body = qw.QWidget()
        col = qw.QVBoxLayout(body)
        self.title = _label(style="font-weight: bold;")
        self.problem_label = _label(style=PROBLEM_STYLE)
        self.refusal_label = _label(style=PROBLEM_STYLE)  # a typed value the field refused
        self.refusal_label.hide()
        self.block_group = self._build_block()
        self.name_form = qw.QWidget()
        self._add(qw.QFormLayout(self.name_form), "network.name", "Name", qw.QLineEdit())
        self.data_group = self._build_data()
        self.training_group = self._group("Training", "training", TRAINING_ROWS)[0]
        for w in (
            self.title,
            self.refusal_label,
            self.problem_label,
            self.block_group,
            self.name_form,
            self.data_group,
            self.training_group,
        ):
            col.addWidget(w)
        col.addStretch(1)
        scroll = qw.QScrollArea()
        scroll.setWidget(body)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer = qw.QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.setMinimumWidth(260)
        follow(
            self,
            [
                (self.model.node_changed, self._on_node),
                (self.model.node_removed, self._on_node),
                (self.model.settings_changed, self._on_settings_changed),
                (self.model.replaced, self._on_replaced),
                (self.model.changed, self._show_problems),
            ],
        )
        self._filling = False
        self.show_node(None)

    def sizeHint(self) -> QSize:
        return QSize(300, 640)

    @property
    def shown_node(self) -> str | None:
        return self._node_id

    # --- building -----------------------------------------------------------------------------
    def _group(self, title: str, section: str, rows: tuple) -> tuple[qw.QGroupBox, qw.QFormLayout]:
        box = qw.QGroupBox(title)
        form = qw.QFormLayout(box)
        form.setFieldGrowthPolicy(qw.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name, label, spec, tip in rows:
            self._add(form, f"{section}.{name}", label, make(spec), tip)
        return box, form

    def _add(
        self, form: qw.QFormLayout, key: str, label: str, w: qw.QWidget, tip: str = ""
    ) -> None:
        row = w
        if key == "data.path":  # a line of text with a Browse… button
            row = qw.QWidget()
            line = qw.QHBoxLayout(row)
            line.setContentsMargins(0, 0, 0, 0)
            line.addWidget(w)
            line.addWidget(browse := qw.QPushButton("Browse…"))
            browse.clicked.connect(self._browse)
        form.addRow(label, row)
        if isinstance(w, NumberBox):
            tip = f"{tip} Takes {w.accepts.describe()}.".strip()
        w.setToolTip(tip)
        self.fields[key] = w
        self._rows[key] = (form, row)
        edited_signal(w).connect(partial(self._commit, key))

    def _build_block(self) -> qw.QGroupBox:
        box, form = self._group("Block", "block", BLOCK_ROWS)
        self.input_note = _label(
            "The input has no settings: its width is the number of "
            "features of the data set (choose it with nothing selected)."
        )
        self.help = _label()
        form.insertRow(0, self.input_note)
        form.addRow(self.help)
        return box

    def _build_data(self) -> qw.QGroupBox:
        box, form = self._group("Data", "data", DATA_ROWS)
        self.data_doc = _label()
        form.insertRow(1, self.data_doc)
        self.preview = pg.PlotWidget(background=self.palette().color(QPalette.ColorRole.Base))
        self.preview.setFixedHeight(180)
        plot = self.preview.getPlotItem()
        for side in ("left", "bottom"):
            plot.hideAxis(side)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(False, False)
        self.scatter = pg.ScatterPlotItem(size=4, pen=None)
        self.curve = pg.PlotDataItem(pen=pg.mkPen(CLASS_COLOURS[0], width=2))
        plot.addItem(self.scatter)
        plot.addItem(self.curve)
        self.preview_note = _label()
        self.data_error = _label(style=PROBLEM_STYLE)
        for w in (self.preview, self.preview_note, self.data_error):
            form.addRow(w)
        return box

    # --- following the model ------------------------------------------------------------------
    def show_node(self, node_id: str | None) -> None:
        """Edit this block, or the network's settings for None (or a block that is gone)."""
        self._node_id = node_id if node_id is not None and self.model.has_node(node_id) else None
        self._refresh()

    def _on_node(self, node_id: str) -> None:
        """The shown block changed or went away (then the network settings show)."""
        if node_id == self._node_id:
            self.show_node(node_id)

    def _on_settings_changed(self, _section: str) -> None:
        if self._node_id is None:
            self._refresh()

    def _on_replaced(self) -> None:
        self.show_node(self._node_id)

    def _refresh(self) -> None:
        self._filling = True
        try:
            block = self._node_id is not None
            self.block_group.setVisible(block)
            for w in (self.name_form, self.data_group, self.training_group):
                w.setVisible(not block)
            if block:
                self._fill_block()
            else:
                self._fill_network()
        finally:
            self._filling = False
        self._show_problems()

    def _show_rows(self, section: str, values: dict, visible: set[str]) -> None:
        for key, (form, row) in self._rows.items():
            prefix, name = key.split(".", 1)
            if prefix == section:
                form.setRowVisible(row, name in visible)
                if name in visible and name in values:
                    show_value(self.fields[key], values[name])

    def _fill_block(self) -> None:
        node = self.model.node(self._node_id)  # type: ignore[arg-type]
        p = schema.node_defaults(node.type, node.params)
        fn = str(p.get("function"))
        block = BLOCKS.get(fn if node.type == "activation" else node.type)
        title = block.title if block else f"Unknown block type {node.type!r}"
        self.title.setText(f"{title}: {node.id}" + (f" ({node.label})" if node.label else ""))
        self.help.setText(block.tooltip if block else "")
        self.input_note.setVisible(node.type == "input")
        visible: set[str] = set()
        if node.type in ("dense", "conv2d"):
            init = p.get("init")
            spec = schema.init_defaults(init) if isinstance(init, (str, dict)) else {"gain": 1.0}
            p = {**p, **spec, "init": spec.get("name")}
            init_keys = schema.INITIALISERS.get(str(p["init"]), {})
            visible = {"units", "init", "gain", *init_keys, "bias"}
            if node.type == "conv2d":
                visible = (visible - {"units"}) | {"filters", "kernel", "stride", "padding"}
            if not isinstance(p.get("bias_init"), str | dict):  # a drawn bias: the file's to set
                visible.add("bias_init")
        elif node.type == "activation":
            visible = {"function", *schema.ACTIVATIONS.get(fn, {})}
            alpha = self.block_group.layout().labelForField(self.fields["block.alpha"])
            alpha.setText("Initial slope" if fn == "prelu" else "Alpha")
        elif node.type in ("batchnorm", "output"):
            visible = {"momentum", "eps"} if node.type == "batchnorm" else {"loss"}
        elif node.type in schema.POOLS:
            visible = {"size", "stride"}
        elif node.type == "dropout":
            visible = {"rate"}
        self._show_rows("block", p, visible)

    def _fill_network(self) -> None:
        net = self.model.network
        self.title.setText("Network settings")
        show_value(self.fields["network.name"], net.name)
        data = net.data if isinstance(net.data, dict) else {}
        known = DATASETS.get(data.get("name")) if isinstance(data.get("name"), str) else None
        params = {**COMMON_PARAMS, **(known["params"] if known else {})}
        self.data_doc.setText(known["doc"] if known else "")
        self._show_rows("data", {**params, **data}, {"name", *params})
        t = schema.training_defaults(net.training if isinstance(net.training, dict) else {})
        clip = t["clip"]
        values = {**t, "clip_mode": clip.get("mode"), "threshold": clip.get("threshold")}
        visible = {
            "optimizer",
            "lr",
            "batch_size",
            "l2",
            "clip_mode",
            "seed",
            "dtype",
            "steps",
            *schema.OPTIMIZERS.get(str(t["optimizer"]), {}),
        }
        if clip["mode"] != "none":
            visible.add("threshold")
        self._show_rows("training", values, visible)
        self._update_preview()

    def _show_problems(self) -> None:
        where = {"data", "training", "format"} if self._node_id is None else {self._node_id}
        found = [p.message for p in self.model.problems() if p.where in where]
        _say(self.problem_label, "\n".join(f"• {m}" for m in found))

    # --- the data preview ---------------------------------------------------------------------
    def _update_preview(self) -> None:
        net = self.model.network
        key = (repr(net.data), net.base_dir)
        if key == self._previewed:
            return
        self._previewed = key
        self.scatter.setData([], [])
        self.curve.setData([], [])
        _say(self.data_error, "")
        _say(self.preview_note, "")
        try:
            ds = load_dataset(net.data, net.base_dir)
        except (VgsimError, OSError, ValueError, TypeError, KeyError) as exc:
            _say(self.data_error, f"No preview: {exc}")
            self.preview.hide()
            return
        X = np.concatenate([ds.X_train, ds.X_test])[:PREVIEW_POINTS]
        y = np.concatenate([ds.y_train, ds.y_test])[:PREVIEW_POINTS]
        if X.shape[1] == 2:
            classes = y if ds.n_classes else np.zeros(len(y), dtype=np.int64)
            brushes = [pg.mkBrush(c) for c in CLASS_COLOURS]
            self.scatter.setData(X[:, 0], X[:, 1], brush=[brushes[c % 10] for c in classes])
        elif X.shape[1] == 1 and y.ndim == 2:  # regression on one feature: y against x
            order = np.argsort(X[:, 0])
            self.curve.setData(X[order, 0], y[order, 0])
        else:
            _say(self.preview_note, f"{X.shape[1]} features: no 2-D preview")
        self.preview.setVisible(not self.preview_note.text())
        self.preview.getPlotItem().autoRange()

    def _browse(self) -> None:
        base = self.model.network.base_dir
        path, _ = qw.QFileDialog.getOpenFileName(
            self, "Choose a CSV file", str(base or Path.cwd()), "CSV files (*.csv);;All files (*)"
        )
        if path:
            if base is not None and Path(path).is_relative_to(base):
                path = str(Path(path).relative_to(base))
            self.fields["data.path"].setText(path)  # type: ignore[attr-defined]
            self._commit("data.path")

    # --- committing edits ---------------------------------------------------------------------
    def accepts(self, key: str) -> Accepts | None:
        """What the number field `key` takes now (ELU's alpha is not PReLU's)."""
        w = self.fields[key]
        if not isinstance(w, NumberBox):
            return None
        if key == "block.alpha" and self._node_id is not None:
            if self.model.node(self._node_id).params.get("function") == "elu":
                return ELU_ALPHA
        if key == "block.stride" and self._node_id is not None:
            if self.model.node(self._node_id).type == "conv2d":
                return CONV_STRIDE
        return w.accepts

    def _commit(self, key: str, *_args: object) -> None:
        if self._filling:
            return
        section, name = key.split(".", 1)
        value = value_of(self.fields[key])
        if isinstance(self.fields[key], qw.QComboBox) and not value:
            return  # the blank shown for a name it does not know
        accepts = self.accepts(key)
        reason = accepts.refusal(float(value)) if accepts is not None else None  # type: ignore[arg-type]
        if reason is not None:
            self._refuse(key, value, reason)
            return
        self.refusal_label.hide()
        if section == "block" and self._node_id is not None:
            self.editor.set_params(self._node_id, self._block_params(name, value))
        elif section == "data":
            self.editor.set_section("data", self._data_spec(name, value))
        elif section == "training":
            self.editor.set_section("training", self._training(name, value))
        elif section == "network":
            self.editor.set_section("name", value or "untitled")

    def _refuse(self, key: str, value: object, reason: str) -> None:
        """Say why, and show the model's value again: a refused value is never stored, nor
        quietly replaced by the nearest one that would be."""
        form, row = self._rows[key]
        label = form.labelForField(row)
        name = label.text() if isinstance(label, qw.QLabel) else key
        shown = self.fields[key].textFromValue(float(value))  # type: ignore[attr-defined]
        text = f"{name}: {shown} is refused — it {reason}. The value is unchanged."
        _say(self.refusal_label, text)
        self.editor.message.emit(text)
        self._refresh()

    def _block_params(self, name: str, value: object) -> dict:
        params = copy.deepcopy(self.model.node(self._node_id).params)  # type: ignore[arg-type]
        if name == "function":  # starts from its own defaults: elu's alpha is not prelu's
            keep = {k: v for k, v in params.items() if k not in FUNCTION_KEYS | {"function"}}
            return {"function": value, **keep}
        if name == "init" or name in INIT_KEYS:
            old = params.get("init", "xavier_uniform")
            spec = dict(old) if isinstance(old, dict) else {"name": str(old)}
            if name == "init":  # a new initialiser drops the old one's parameters, keeps gain
                spec = {"name": value, **({"gain": spec["gain"]} if "gain" in spec else {})}
            else:
                spec[name] = value
            params["init"] = spec["name"] if list(spec) == ["name"] else spec
        else:
            params[name] = value
        return params

    def _data_spec(self, name: str, value: object) -> dict:
        data = copy.deepcopy(self.model.network.data)
        data = data if isinstance(data, dict) else {}
        if name == "name":  # a new data set starts from its own defaults
            return {"name": value, **{k: v for k, v in data.items() if k in COMMON_PARAMS}}
        value = _target(value) if name == "target" else value  # type: ignore[arg-type]
        if value is None or value == "":
            data.pop(name, None)
        else:
            data[name] = value
        return data

    def _training(self, name: str, value: object) -> dict:
        t = copy.deepcopy(self.model.network.training)
        t = t if isinstance(t, dict) else {}
        if name in ("clip_mode", "threshold"):
            clip = schema.training_defaults(t)["clip"]
            clip["mode" if name == "clip_mode" else "threshold"] = value
            t["clip"] = clip
        else:
            t[name] = value
        return t
