"""Number fields take what the network file takes: checked against the engine's validation, and
a typed value outside it is refused with a message, never clamped."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt

from vgsim.app.editor import Editor
from vgsim.app.panels.fields import NumberBox
from vgsim.app.panels.inspector import Inspector
from vgsim.engine.builders import mlp
from vgsim.engine.data import check_data_spec
from vgsim.engine.spec import Network, NodeSpec
from vgsim.engine.validate import validate

PROBES = (
    -1e300,
    -1000.0,
    -1.0,
    -1e-15,
    0.0,
    1e-15,
    1e-8,
    0.001,
    0.25,
    0.5,
    0.999999,
    1.0,
    1.5,
    2.0,
    3.0,
    8.0,
    9.0,
    15.0,
    16.0,
    17.0,
    100.0,
    1000.0,
    4096.0,
    4097.0,
    65536.0,
    65537.0,
    200_000.0,
    200_001.0,
    1e9,
    1e9 + 1,
    2.0**32 - 1,
    2.0**32,
    1e15,
    math.inf,
    math.nan,
)


@pytest.fixture
def editor(qtbot):
    ed = Editor(mlp(2, 8, 3, activation="tanh", data={"name": "spiral", "samples": 300}))
    yield ed
    ed.undo.clear()


@pytest.fixture
def insp(qtbot, editor):
    w = Inspector(editor)
    qtbot.addWidget(w)
    return w


def stored(box: NumberBox, value: float) -> float | int:
    """The value as the inspector would write it to the file."""
    if box.accepts.whole and math.isfinite(value) and value == math.floor(value):
        return int(value)
    return value


def engine_takes_training(name: str, value: object) -> bool:
    net = mlp(2, 8, 3)
    if name == "threshold":
        net.training["clip"] = {"mode": "norm", "threshold": value}
    else:
        net.training[name] = value
    return not [p for p in validate(net) if p.where == "training"]


def engine_takes_data(name: str, value: object) -> bool:
    spec = {"name": "spiral", "samples": 200_000 if name == "classes" else 600}
    if name == "factor":
        spec = {"name": "circles"}
    elif name in ("periods", "samples"):
        spec = {"name": "sine"}  # regression: no per-class minimum of samples
    elif name == "side":
        spec = {"name": "stripes"}
    spec[name] = value
    return not check_data_spec(spec)


BLOCK_CASES = {
    "units": ("dense", lambda v: {"units": v}),
    "gain": ("dense", lambda v: {"units": 8, "init": {"name": "he_normal", "gain": v}}),
    "std": ("dense", lambda v: {"units": 8, "init": {"name": "normal", "std": v}}),
    "mean": ("dense", lambda v: {"units": 8, "init": {"name": "normal", "mean": v}}),
    "limit": ("dense", lambda v: {"units": 8, "init": {"name": "uniform", "limit": v}}),
    "value": ("dense", lambda v: {"units": 8, "init": {"name": "constant", "value": v}}),
    "bias_init": ("dense", lambda v: {"units": 8, "bias_init": v}),
    "slope": ("activation", lambda v: {"function": "leaky_relu", "slope": v}),
    "alpha": ("activation", lambda v: {"function": "prelu", "alpha": v}),
    "momentum": ("batchnorm", lambda v: {"momentum": v}),
    "eps": ("batchnorm", lambda v: {"eps": v}),
    "filters": ("conv2d", lambda v: {"filters": v}),
    "kernel": ("conv2d", lambda v: {"filters": 4, "kernel": v}),
    "stride": ("maxpool", lambda v: {"size": 2, "stride": v}),  # a convolution's: see below
    "size": ("maxpool", lambda v: {"size": v}),
    "rate": ("dropout", lambda v: {"rate": v}),
}
IMAGE_KINDS = ("conv2d", "maxpool", "avgpool")


def image_network(kind: str, params: dict) -> Network:
    """The probe on 64 × 64 images, large enough for every window and kernel the file takes."""
    nodes = [("in", "input", {}), ("probe", kind, params), ("f", "flatten", {})]
    nodes += [("d", "dense", {"units": 4}), ("out", "output", {})]
    return Network.from_dict(
        {
            "format": "vgsim.network/1",
            "data": {"name": "stripes", "side": 64},
            "nodes": [{"id": i, "type": t, **p} for i, t, p in nodes],
            "edges": [{"from": a[0], "to": b[0]} for a, b in zip(nodes, nodes[1:], strict=False)],
        }
    )


def engine_takes_block(name: str, value: object, function: str | None = None) -> bool:
    kind, params = BLOCK_CASES[name]
    p = params(value)
    if function is not None:
        p["function"] = function
    if kind in IMAGE_KINDS:
        return not [q for q in validate(image_network(kind, p)) if q.where == "probe"]
    net = mlp(2, 8, 3)
    net.nodes.insert(1, NodeSpec("probe", kind, p))
    net.edges = [("in", "probe"), ("probe", "dense1")] + [e for e in net.edges if e[0] != "in"]
    return not [q for q in validate(net) if q.where == "probe"]


def number_fields(insp: Inspector, section: str) -> list[str]:
    return [
        key.split(".", 1)[1]
        for key, w in insp.fields.items()
        if key.startswith(section + ".") and isinstance(w, NumberBox)
    ]


@pytest.mark.parametrize("section", ["training", "data", "block"])
def test_every_number_field_takes_exactly_what_the_file_takes(insp, section):
    names = number_fields(insp, section)
    assert names
    for name in names:
        box = insp.fields[f"{section}.{name}"]
        for probe in PROBES:
            value = stored(box, probe)
            if section == "data" and name == "seed" and probe > 2**53:
                continue  # beyond what a double holds exactly: the field stops at 2**53
            if section == "data" and name == "classes" and probe > 100_000:
                continue  # more than half the most samples: refused for want of samples
            if section == "training":
                engine = engine_takes_training(name, value)
            elif section == "data":
                engine = engine_takes_data(name, value)
            else:
                engine = engine_takes_block(name, value)
            field = box.accepts.refusal(float(probe)) is None
            assert field == engine, (section, name, probe)


def test_elu_alpha_takes_only_positive_numbers_prelu_any(insp, editor):
    editor.set_params("act1", {"function": "elu"})
    insp.show_node("act1")
    for probe in (-1.0, 0.0, 0.5, 2.0):
        assert (insp.accepts("block.alpha").refusal(probe) is None) == engine_takes_block(
            "alpha", probe, "elu"
        )
    editor.set_params("act1", {"function": "prelu"})
    assert insp.accepts("block.alpha").refusal(-1.0) is None


def test_a_convolutions_stride_takes_what_the_file_takes_a_pools_more(insp, editor):
    editor.load(image_network("conv2d", {"filters": 4}), None)
    insp.show_node("probe")
    for probe in (0.0, 1.0, 2.0, 8.0, 9.0, 16.0, 17.0):
        conv = image_network("conv2d", {"filters": 4, "stride": stored_whole(probe)})
        engine = not [q for q in validate(conv) if q.where == "probe"]
        assert (insp.accepts("block.stride").refusal(probe) is None) == engine, probe
    editor.set_params("probe", {"filters": 4, "kernel": 3})
    assert insp.fields["block.kernel"].isVisibleTo(insp)
    assert not insp.fields["block.units"].isVisibleTo(insp)


def stored_whole(value: float) -> int | float:
    return int(value) if value == math.floor(value) else value


def type_into(qtbot, box, text: str) -> None:
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), text)
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)


def test_a_large_learning_rate_is_taken_as_typed(qtbot, insp, editor):
    insp.show_node(None)
    box = insp.fields["training.lr"]
    for text, value in (("1000", 1000.0), ("1e-15", 1e-15), ("0.0003", 0.0003)):
        type_into(qtbot, box, text)
        assert editor.model.network.training["lr"] == value
        assert box.text() == text
    assert not insp.refusal_label.isVisibleTo(insp)


@pytest.mark.parametrize(
    "key, text, words",
    [
        ("training.lr", "0", "above 0"),
        ("training.lr", "-0.1", "above 0"),
        ("training.batch_size", "0", "from 1 to 65536"),
        ("training.batch_size", "2.5", "whole number"),
        ("training.momentum", "1", "below 1"),
        ("training.seed", "4294967296", "from 0 to 4294967295"),
    ],
)
def test_a_value_the_file_does_not_take_is_refused_with_a_message(
    qtbot, insp, editor, key, text, words
):
    insp.show_node(None)
    if key == "training.momentum":
        insp.fields["training.optimizer"].setCurrentText("momentum")
    before = dict(editor.model.network.training)
    commands = editor.undo.count()
    messages: list[str] = []
    editor.message.connect(messages.append)
    box = insp.fields[key]
    shown = box.text()
    type_into(qtbot, box, text)
    assert editor.model.network.training == before
    assert editor.undo.count() == commands
    assert box.text() == shown  # the model's value again, not a clamped one
    assert insp.refusal_label.isVisibleTo(insp)
    said = insp.refusal_label.text()
    assert text in said and "refused" in said and words in said
    assert messages == [said]


def test_the_arrows_step_a_learning_rate_on_a_log_scale_and_stay_in_range(qtbot, insp, editor):
    insp.show_node(None)
    lr = insp.fields["training.lr"]
    lr.setValue(0.1)
    lr.stepBy(1)
    assert editor.model.network.training["lr"] == pytest.approx(0.2)
    lr.stepBy(1)
    assert editor.model.network.training["lr"] == pytest.approx(0.5)
    lr.stepBy(-3)
    assert editor.model.network.training["lr"] == pytest.approx(0.05)
    size = insp.fields["training.batch_size"]
    size.setValue(1)
    size.stepBy(-1)
    assert editor.model.network.training["batch_size"] == 1
    assert not insp.refusal_label.isVisibleTo(insp)


@pytest.mark.parametrize(
    "kind, text, taken",
    [
        ("steps", "0", None),
        ("steps", "2.5", None),
        ("steps", "20000000", 20_000_000.0),  # more than the old box's 10 million
        ("epochs", "0", None),
        ("epochs", "3", 3.0),
        ("loss", "0", None),
        ("loss", "-1", None),
        ("loss", "0.00001", 1e-5),  # below the old box's 0.0001
    ],
)
def test_run_until_takes_any_sensible_value_and_refuses_the_rest_with_a_message(
    qtbot, kind, text, taken
):
    from vgsim.app.panels.controls import RunUntil

    until = RunUntil()
    qtbot.addWidget(until)
    until.kind.setCurrentIndex(until.kind.findData(kind))
    asked, refused = [], []
    until.requested.connect(lambda k, v: asked.append((k, v)))
    until.refused.connect(refused.append)
    type_into(qtbot, until.value, text)
    until.button.click()
    if taken is None:
        assert asked == [] and len(refused) == 1
        assert text in refused[0] and "refused" in refused[0]
    else:
        assert asked == [(kind, taken)] and refused == []
