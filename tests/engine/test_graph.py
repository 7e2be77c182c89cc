"""The editable graph model, headless: every refusal of check_connect, and its signals."""

from __future__ import annotations

import gc
import weakref

import pytest

from vgsim.engine.graph import ConnectionRefused, GraphModel
from vgsim.engine.spec import Network, NodeSpec


def chain_model() -> GraphModel:
    """in -> d1 -> a1 -> d2 -> out, plus a loose dense block d3."""
    return GraphModel(
        Network.from_dict(
            {
                "format": "vgsim.network/1",
                "nodes": [
                    {"id": "in", "type": "input"},
                    {"id": "d1", "type": "dense", "units": 4},
                    {"id": "a1", "type": "activation", "function": "tanh"},
                    {"id": "d2", "type": "dense", "units": 2},
                    {"id": "out", "type": "output"},
                    {"id": "d3", "type": "dense", "units": 4},
                ],
                "edges": [
                    {"from": "in", "to": "d1"},
                    {"from": "d1", "to": "a1"},
                    {"from": "a1", "to": "d2"},
                    {"from": "d2", "to": "out"},
                ],
            }
        )
    )


class Recorder:
    """Subscribes to every signal of a model and notes each emission."""

    NAMES = (
        "node_added",
        "node_removed",
        "node_changed",
        "node_moved",
        "edge_added",
        "edge_removed",
        "settings_changed",
        "replaced",
        "changed",
    )

    def __init__(self, model: GraphModel):
        self.seen: list[tuple] = []
        for name in self.NAMES:
            getattr(model, name).connect(getattr(self, name))

    def _note(self, name: str, *args: object) -> None:
        self.seen.append((name, *args))

    def node_added(self, node: NodeSpec) -> None:
        self._note("node_added", node.id)

    def node_removed(self, node_id: str) -> None:
        self._note("node_removed", node_id)

    def node_changed(self, node_id: str) -> None:
        self._note("node_changed", node_id)

    def node_moved(self, node_id: str, pos: tuple) -> None:
        self._note("node_moved", node_id, pos)

    def edge_added(self, a: str, b: str) -> None:
        self._note("edge_added", a, b)

    def edge_removed(self, a: str, b: str) -> None:
        self._note("edge_removed", a, b)

    def settings_changed(self, section: str) -> None:
        self._note("settings_changed", section)

    def replaced(self) -> None:
        self._note("replaced")

    def changed(self) -> None:
        self._note("changed")


REFUSALS = [
    ("in", "nowhere", "no such block"),
    ("nowhere", "d1", "no such block"),
    ("d3", "d3", "cannot feed itself"),
    ("d1", "a1", "already connected"),
    ("d3", "in", "is the input"),
    ("out", "d3", "is the output"),
    ("d2", "d1", "would make a cycle"),  # d1 -> a1 -> d2 already
    ("a1", "d1", "would make a cycle"),  # the shortest loop
]


@pytest.mark.parametrize(("a", "b", "reason"), REFUSALS)
def test_check_connect_refuses_with_the_reason(a: str, b: str, reason: str) -> None:
    model = chain_model()
    with pytest.raises(ConnectionRefused, match=reason):
        model.check_connect(a, b)


@pytest.mark.parametrize(("a", "b", "reason"), REFUSALS)
def test_a_refused_edge_changes_nothing_and_says_nothing(a: str, b: str, reason: str) -> None:
    model = chain_model()
    before = model.network.to_dict()
    seen = Recorder(model)
    with pytest.raises(ConnectionRefused, match=reason):
        model.add_edge(a, b)
    assert model.network.to_dict() == before
    assert seen.seen == []


def test_allowed_connections_pass_the_check() -> None:
    model = chain_model()
    model.check_connect("a1", "d3")  # a branch
    model.check_connect("d1", "d2")  # a skip connection: d2 will sum its inputs
    model.check_connect("in", "d3")


def test_add_edge_announces_the_edge_then_the_change() -> None:
    model = chain_model()
    seen = Recorder(model)
    model.add_edge("a1", "d3")
    assert seen.seen == [("edge_added", "a1", "d3"), ("changed",)]
    assert model.outgoing("a1") == ["d2", "d3"]


def test_an_unchecked_edge_is_restored_where_it_was() -> None:
    model = chain_model()
    index = model.remove_edge("d1", "a1")
    model.add_edge("d1", "a1", index, checked=False)
    assert model.network.edges[index] == ("d1", "a1")
    assert model.network.to_dict() == chain_model().network.to_dict()


def test_add_node_refuses_a_taken_id_and_adds_a_copy() -> None:
    model = chain_model()
    with pytest.raises(ConnectionRefused, match="already exists"):
        model.add_node(NodeSpec("d1", "dense", {"units": 3}))
    seen = Recorder(model)
    mine = NodeSpec(model.new_id("dense"), "dense", {"units": 3})
    added = model.add_node(mine, index=1)
    mine.params["units"] = 99  # the model keeps its own copy
    assert added.id == "dense1" and model.node("dense1").params == {"units": 3}
    assert model.network.nodes[1].id == "dense1"
    assert seen.seen == [("node_added", "dense1"), ("changed",)]
    assert model.new_id("dense") == "dense2"
    assert model.new_id("Dense Layer!") == "dense_layer1"


def test_remove_node_takes_its_edges_and_returns_what_undo_needs() -> None:
    model = chain_model()
    seen = Recorder(model)
    node, index, edges = model.remove_node("a1")
    assert (node.id, index, edges) == ("a1", 2, [("d1", "a1"), ("a1", "d2")])
    # One change for the whole removal, after every edge and the node.
    assert seen.seen == [
        ("edge_removed", "d1", "a1"),
        ("edge_removed", "a1", "d2"),
        ("node_removed", "a1"),
        ("changed",),
    ]
    assert not model.has_node("a1") and model.incoming("d2") == []


def test_edits_announce_what_changed() -> None:
    model = chain_model()
    seen = Recorder(model)
    model.set_params("d1", {"units": 8})
    model.set_label("d1", "wide")
    model.set_section("training", {"lr": 0.5})
    model.move_node("d1", (3, 4))
    assert seen.seen == [
        ("node_changed", "d1"),
        ("changed",),
        ("node_changed", "d1"),
        ("changed",),
        ("settings_changed", "training"),
        ("changed",),
        ("node_moved", "d1", (3, 4)),  # a move changes neither validity nor training
    ]
    assert model.node("d1").params == {"units": 8} and model.node("d1").label == "wide"
    assert model.network.training == {"lr": 0.5} and model.node("d1").pos == (3.0, 4.0)


def test_replace_announces_a_new_network_and_problems_follow_it() -> None:
    model = chain_model()
    assert any(p.where == "d3" for p in model.problems())  # d3 leads nowhere
    seen = Recorder(model)
    model.remove_node("d3")
    assert not any(p.where == "d3" for p in model.problems())
    seen.seen.clear()
    other = chain_model().network
    model.replace(other)
    assert seen.seen == [("replaced",), ("changed",)]
    assert model.network is not other  # the model keeps its own copy
    assert any(p.where == "d3" for p in model.problems())


def test_the_model_holds_its_subscribers_weakly() -> None:
    model = chain_model()
    seen = Recorder(model)
    gone = weakref.ref(seen)
    del seen
    gc.collect()
    assert gone() is None  # the model did not keep it alive
    model.add_edge("a1", "d3")  # and emitting into a subscriber that is gone is fine
    model.remove_node("d3")
