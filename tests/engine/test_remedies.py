"""Each remedy yields a valid network that changes what it says, and the fixes cure the
diagnosis they answer."""

from __future__ import annotations

import pytest

from vgsim.engine.builders import mlp
from vgsim.engine.diagnose import REMEDY_KEYS, diagnose
from vgsim.engine.remedies import apply_remedy
from vgsim.engine.train import Trainer
from vgsim.engine.validate import validate


def deep_sigmoid():
    return mlp(
        8,
        32,
        3,
        activation="sigmoid",
        init="standard",
        training={"optimizer": "sgd", "lr": 0.5, "batch_size": 32},
    )


@pytest.mark.parametrize("key", REMEDY_KEYS)
def test_every_remedy_gives_a_valid_changed_network(key: str) -> None:
    net = deep_sigmoid()
    if key == "leaky_relu":
        net = mlp(6, 16, 3, activation="relu")
    fixed = apply_remedy(net, key)
    assert validate(fixed) == []
    assert fixed.to_dict() != net.to_dict()
    assert (
        net.to_dict()
        == (mlp(6, 16, 3, activation="relu") if key == "leaky_relu" else deep_sigmoid()).to_dict()
    )  # the original is untouched


def test_remedies_do_what_their_names_say() -> None:
    net = deep_sigmoid()
    kinds = [n.params.get("function") for n in apply_remedy(net, "non_saturating").nodes]
    assert "sigmoid" not in kinds and "relu" in kinds
    assert sum(n.type == "batchnorm" for n in apply_remedy(net, "batchnorm").nodes) == 8
    assert apply_remedy(net, "clip").training["clip"] == {"mode": "norm", "threshold": 1.0}
    assert apply_remedy(apply_remedy(net, "clip"), "clip").training["clip"]["threshold"] == 0.5
    assert apply_remedy(net, "l2").training["l2"] == pytest.approx(1e-4)
    assert apply_remedy(net, "lower_lr").training["lr"] == pytest.approx(0.05)
    assert len(apply_remedy(net, "skip").edges) > len(net.edges)
    dense = [n for n in apply_remedy(net, "fewer_layers").nodes if n.type == "dense"]
    assert len(dense) == 5  # 8 hidden layers become 4, plus the head
    inits = {
        n.params["init"]
        for n in apply_remedy(net, "xavier_init").nodes
        if n.type == "dense" and n.id != "head"
    }
    assert inits == {"xavier_uniform"}


@pytest.mark.parametrize("key", ["non_saturating", "batchnorm", "fewer_layers"])
def test_fixes_cure_vanishing_gradients(key: str) -> None:
    broken = Trainer(deep_sigmoid())
    for _ in broken.run(60):
        pass
    assert any(f.kind == "vanishing" for f in diagnose(broken))
    fixed = Trainer(apply_remedy(deep_sigmoid(), key))
    for _ in fixed.run(60):
        pass
    assert not any(f.kind == "vanishing" for f in diagnose(fixed))
