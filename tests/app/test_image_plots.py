"""An image network in the window: its convolutions are layers in the plots, one point (or
curve) each, and its image blocks show the shape they give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from windows import wait_frame

from vgsim.app.dialogs import AddLayersDialog
from vgsim.app.editor import Editor
from vgsim.engine.kernels.stats import S_GRAD
from vgsim.engine.spec import Network
from vgsim.engine.validate import validate

RELU = {"function": "relu"}
CONV_SMALL = Path(__file__).resolve().parents[1] / "engine" / "networks" / "conv_small.json"


def test_convolutions_are_layers_in_the_depth_plots(window, qtbot):
    assert window.files.open_preset(CONV_SMALL)
    wait_frame(qtbot, window, lambda f: "c1" in f.nodes[0] and f.step_count == 0)
    window.actions["step"].trigger()
    frame = wait_frame(qtbot, window, lambda f: "c1" in f.nodes[0] and f.step_count == 1)
    ids, types = frame.nodes[0], frame.nodes[1]
    layers = [i for i, kind in enumerate(types) if kind in ("conv2d", "dense")]
    assert [ids[i] for i in layers] == ["c1", "c2", "c3", "proj", "d1"]
    flow = window.dashboard.plots["gradient-flow"]
    assert flow.layers == layers
    x, y = flow.signal.getData()
    np.testing.assert_allclose(10**y, frame.record.node_stats[layers, S_GRAD], rtol=1e-5)
    assert window.dashboard.plots["gradient-history"].image.image.shape[0] == len(layers)
    for key in ("weight-norms", "update-ratio"):
        assert window.dashboard.plots[key].layers == layers, key


def test_image_blocks_show_the_shape_they_give_and_follow_edits(window, qtbot):
    assert window.files.open_preset(CONV_SMALL)
    nodes = window.scene.nodes

    def lines() -> dict[str, str]:
        return {k: nodes[k]._subtitle_text for k in ("in", "c1", "a1", "p1", "c3", "gap")}

    assert lines() == {
        "in": "8×8×1",
        "c1": "8×8×6",
        "a1": "relu",  # an activation keeps its function
        "p1": "4×4×6",
        "c3": "2×2×8",
        "gap": "8 values",
    }
    assert nodes["d1"]._subtitle_text.startswith("10 units")  # a dense layer keeps its settings
    assert "gives 8×8×6" in nodes["c1"].toolTip()
    window.editor.set_params("c1", {**window.editor.model.node("c1").params, "filters": 5})
    assert nodes["c1"]._subtitle_text == "8×8×5"
    window.editor.undo.undo()
    assert nodes["c1"]._subtitle_text == "8×8×6"
    window.editor.set_section("data", {"name": "spiral"})  # vectors: no image to show
    assert nodes["c1"]._subtitle_text.startswith("6 × 3×3")


NODES = [("in", "input", {}), ("c1", "conv2d", {"filters": 4}), ("a1", "activation", RELU)]
NODES += [("c2", "conv2d", {"filters": 8, "stride": 2}), ("a2", "activation", RELU)]
NODES += [("c3", "conv2d", {"filters": 8}), ("g", "global_avgpool", {})]
NODES += [("d", "dense", {"units": 10}), ("out", "output", {})]


def image_chain() -> Network:
    return Network.from_dict(
        {
            "format": "vgsim.network/1",
            "data": {"name": "digits", "shape": "image", "samples": 200},
            "nodes": [{"id": i, "type": t, **p} for i, t, p in NODES],
            "edges": [{"from": a[0], "to": b[0]} for a, b in zip(NODES, NODES[1:], strict=False)],
        }
    )


def test_wrap_in_residual_block_projects_images_with_a_strided_1x1_convolution(qtbot):
    nodes = NODES
    editor = Editor(image_chain())
    assert editor.wrap_residual(["c2", "a2"])
    proj = next(n for n in editor.model.network.nodes if n.id.startswith("proj"))
    assert proj.type == "conv2d" and proj.label == "projection 8×8×4→4×4×8"
    assert {k: proj.params[k] for k in ("filters", "kernel", "stride")} == {
        "filters": 8,
        "kernel": 1,
        "stride": 2,
    }
    assert sorted(editor.model.incoming("c3")) == sorted(["a2", proj.id])
    assert not validate(editor.model.network)  # the sum's two inputs are both 4×4×8
    editor.undo.undo()
    assert len(editor.model.network.nodes) == len(nodes)


def test_add_n_layers_adds_convolutions_after_an_image(qtbot):
    editor = Editor(image_chain())
    assert editor.gives_image("a1") and not editor.gives_image("g")
    created = editor.insert_layers("a1", 2, 8, "relu", "he_normal", batchnorm=True, kind="conv2d")
    kinds = [editor.model.node(n).type for n in created]
    assert kinds == ["conv2d", "batchnorm", "activation"] * 2
    assert editor.model.node(created[0]).params == {"filters": 8, "init": "he_normal"}
    assert editor.model.incoming(created[0]) == ["a1"] and editor.model.incoming("c2") == [
        created[-1]
    ]
    assert not validate(editor.model.network)
    editor.undo.undo()
    # Nothing selected: after the last block that gives an image, before the pooling.
    created = editor.insert_layers(None, 1, 8, "relu", "he_normal", kind="conv2d")
    assert editor.model.incoming(created[0]) == ["c3"] and editor.model.incoming("g") == [
        created[-1]
    ]
    dialog = AddLayersDialog(None, kind="conv2d")
    qtbot.addWidget(dialog)
    assert dialog.values()["kind"] == "conv2d"
