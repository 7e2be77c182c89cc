"""Validation of image networks: shapes inferred from the data as height × width × channels and
named in the messages, each misplaced or mis-set image block explained, image data sets'
"shape"."""

from __future__ import annotations

import pytest

from vgsim.engine import Network, validate
from vgsim.engine.shapes import infer_shapes, infer_widths, shape_text
from vgsim.engine.topology import topological_order

DIGITS = {"name": "digits", "shape": "image"}


def network(nodes: list[dict], extra_edges=(), data: dict | None = None) -> Network:
    """in -> nodes in a chain -> output, plus extra edges."""
    ids = ["in", *[n["id"] for n in nodes], "out"]
    edges = [{"from": a, "to": b} for a, b in zip(ids[:-1], ids[1:], strict=True)]
    edges += [{"from": a, "to": b} for a, b in extra_edges]
    return Network.from_dict(
        {
            "format": "vgsim.network/1",
            "data": data or DIGITS,
            "nodes": [{"id": "in", "type": "input"}, *nodes, {"id": "out", "type": "output"}],
            "edges": edges,
        }
    )


def conv(i, filters=16, **kw):
    return {"id": i, "type": "conv2d", "filters": filters, **kw}


HEAD = [{"id": "f", "type": "flatten"}, {"id": "d", "type": "dense", "units": 10}]


def messages(net: Network) -> list[str]:
    return [p.message for p in validate(net)]


def only(net: Network, where: str, *needles: str) -> str:
    problems = validate(net)
    assert len(problems) == 1, [p.message for p in problems]
    assert problems[0].where == where, problems[0]
    for needle in needles:
        assert needle in problems[0].message, problems[0].message
    return problems[0].message


def test_shapes_follow_the_data_through_every_image_block():
    net = network(
        [
            conv("c1", 8),
            {"id": "bn", "type": "batchnorm"},
            {"id": "a", "type": "activation", "function": "relu"},
            {"id": "mp", "type": "maxpool"},
            conv("c2", 16, kernel=3, stride=2),
            conv("c3", 4, kernel=2, padding="valid"),
            {"id": "ap", "type": "avgpool", "size": 1},
            {"id": "dr", "type": "dropout", "rate": 0.1},
            {"id": "g", "type": "global_avgpool"},
            {"id": "d", "type": "dense", "units": 10},
        ]
    )
    assert validate(net) == []
    order, _ = topological_order(net)
    shapes = infer_shapes(net, order, (8, 8, 1))
    text = {n: shape_text(s) for n, s in shapes.shape_out.items()}
    assert text == {
        "in": "8×8×1",
        "c1": "8×8×8",
        "bn": "8×8×8",
        "a": "8×8×8",
        "mp": "4×4×8",
        "c2": "2×2×16",
        "c3": "1×1×4",
        "ap": "1×1×4",
        "dr": "1×1×4",
        "g": "4",
        "d": "10",
        "out": "10",
    }
    widths = infer_widths(net, order, (8, 8, 1))[1]
    assert widths["c2"] == 64 and widths["g"] == 4


def test_a_sum_of_images_names_both_sizes():
    net = network(
        [
            conv("c1"),
            conv("c2"),
            conv("c3", stride=2),
            {"id": "a", "type": "activation", "function": "relu"},
            *HEAD,
        ],
        extra_edges=[("c1", "a")],
    )
    message = only(net, "a", "'c3' gives 4×4×16 but 'c1' gives 8×8×16: the sizes must match")
    assert "1×1 conv2d" in message  # what to do about it


def test_a_sum_of_an_image_and_a_vector_is_refused():
    net = network(
        [
            conv("c1", 4),
            {"id": "g", "type": "global_avgpool"},
            {"id": "d", "type": "dense", "units": 4},
            {"id": "a", "type": "activation", "function": "relu"},
            {"id": "d2", "type": "dense", "units": 10},
        ],
        extra_edges=[("c1", "a")],
    )
    only(net, "a", "'d' gives 4 values but 'c1' gives 8×8×4")


def test_dense_on_an_image_asks_for_a_flatten():
    only(network([conv("c1"), {"id": "d", "type": "dense", "units": 10}]), "d", "8×8×16", "flatten")


def test_the_output_on_an_image_asks_for_a_flatten():
    net = network([conv("c1", 10)])
    only(net, "out", "8×8×10", "flatten")


def test_a_convolution_of_flat_digits_asks_for_image_data():
    net = network([conv("c1"), *HEAD], data={"name": "digits"})
    only(net, "c1", "64 values", '"shape": "image"')


@pytest.mark.parametrize("kind", ["maxpool", "avgpool", "global_avgpool"])
def test_pools_need_images(kind):
    net = network(
        [{"id": "d0", "type": "dense", "units": 16}, {"id": "p", "type": kind}, *HEAD],
        data={"name": "spiral"},
    )
    only(net, "p", "needs images", "16 values")


def test_a_kernel_larger_than_the_image_without_padding():
    net = network([conv("c1", kernel=9, padding="valid"), *HEAD])
    only(net, "c1", "9×9 kernel", "8×8×1", "same")


def test_a_pool_window_larger_than_the_image():
    net = network([conv("c1", 4, stride=4), {"id": "p", "type": "maxpool", "size": 3}, *HEAD])
    only(net, "p", "3×3 window", "2×2×4")


@pytest.mark.parametrize(
    ("node", "needles"),
    [
        (conv("c", 0), ("filters", "1 to 1024", "0")),
        (conv("c", 4.5), ("filters", "4.5")),
        (conv("c", kernel="3"), ("kernel", "'3'")),
        (conv("c", stride=0), ("stride", "1 to 8")),
        (conv("c", padding="full"), ("padding", "same, valid", "'full'")),
        (conv("c", bias="yes"), ("bias must be true or false",)),
        (conv("c", init="kaiming"), ("unknown initialiser 'kaiming'",)),
        ({"id": "c", "type": "conv2d"}, ("the field 'filters' is required",)),
        ({"id": "c", "type": "maxpool", "size": 0}, ("size", "1 to 16")),
        ({"id": "c", "type": "avgpool", "stride": True}, ("stride", "True")),
        ({"id": "c", "type": "dropout", "rate": 1.0}, ("rate", "1.0")),
        ({"id": "c", "type": "dropout", "rate": -0.1}, ("rate",)),
        ({"id": "c", "type": "flatten", "units": 3}, ("unknown field 'units'", "none")),
    ],
)
def test_bad_fields_of_image_blocks(node, needles):
    net = network([conv("c0", 4), node, *HEAD])
    problems = [p for p in validate(net) if p.where == "c"]
    assert problems, messages(net)
    assert any(all(n in p.message for n in needles) for p in problems), [
        p.message for p in problems
    ]


def test_pool_stride_defaults_to_its_size():
    net = network([conv("c1", 4), {"id": "p", "type": "maxpool", "size": 4}, *HEAD])
    assert validate(net) == []
    order, _ = topological_order(net)
    assert infer_shapes(net, order, (8, 8, 1)).shape_out["p"] == (2, 2, 4)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"name": "digits", "shape": "cube"}, "data.shape must be 'flat' or 'image'"),
        ({"name": "stripes", "side": 2}, "data.side must be a whole number 4..64"),
        ({"name": "spiral", "shape": "image"}, "Unknown parameter data.shape"),
        ({"name": "stripes", "samples": 6}, "at least 2 per class (8 for 4 classes)"),
    ],
)
def test_image_data_settings(data, needle):
    assert any(needle in m for m in messages(network(HEAD, data=data))), messages(
        network(HEAD, data=data)
    )


def test_dense_networks_on_flat_digits_stay_valid():
    assert (
        validate(network([{"id": "d", "type": "dense", "units": 10}], data={"name": "digits"}))
        == []
    )
