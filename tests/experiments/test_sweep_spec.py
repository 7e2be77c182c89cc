"""Sweep files: what they may say, and how an axis value changes the base network."""

from __future__ import annotations

import math

import pytest

from vgsim.engine.builders import mlp, residual_mlp
from vgsim.engine.train import Trainer
from vgsim.engine.validate import validate
from vgsim.experiments.sweeps import Sweep, SweepError
from vgsim.experiments.sweeps.edits import apply

DATA = {"name": "spiral", "samples": 200}


def chain(depth=3, **kw):
    return mlp(depth, 8, 3, activation="tanh", init="xavier_uniform", data=DATA, **kw)


def spec(**over) -> dict:
    out = {
        "format": "vgsim.sweep/1",
        "axes": [
            {"path": "dense.sigma_w2", "name": "sigma_w2", "values": [1.0, 2.0]},
            {"path": "blocks", "name": "depth", "values": [2, 4]},
        ],
        "seeds": [0, 1],
        "steps": 20,
    }
    out.update(over)
    return out


def test_every_combination_with_every_seed_is_one_run():
    sweep = Sweep.from_dict(spec(), network=chain())
    tasks = sweep.tasks()
    assert len(tasks) == 2 * 2 * 2
    assert {(t.values, t.seed) for t in tasks} == {
        ((w, d), s) for w in (1.0, 2.0) for d in (2, 4) for s in (0, 1)
    }
    assert len({t.key for t in tasks}) == len(tasks)
    # The key follows the run's content, not its place: the same run in another sweep shares it.
    other = Sweep.from_dict(spec(seeds=[1]), network=chain())
    assert {t.key for t in other.tasks()} <= {t.key for t in tasks}
    longer = Sweep.from_dict(spec(steps=21), network=chain())
    assert not {t.key for t in longer.tasks()} & {t.key for t in tasks}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "x"}, 'needs "format"'),
        ({"colour": 1}, "Unknown sweep key 'colour'"),
        ({"axes": []}, '"axes" must be a non-empty list'),
        ({"axes": [{"path": "weights.scale", "values": [1]}]}, "unknown axis path"),
        ({"axes": [{"path": "training.lr", "values": []}]}, "needs a non-empty list"),
        ({"axes": [{"path": "training.lr", "values": [0.1, 0.1]}]}, "lists a value twice"),
        ({"seeds": [0, 0]}, "lists a seed twice"),
        ({"seeds": [-1]}, '"seeds" must be'),
        ({"steps": 0}, '"steps" must be'),
        ({"target_loss": -1}, '"target_loss" must be'),
        ({"map": {"figure": "beauty"}}, "Unknown map figure"),
        ({"axes": [{"path": "training.lr", "values": [0.1, -1.0]}]}, "At training.lr = -1.0"),
        ({"axes": [{"path": "blocks", "values": [0]}]}, "blocks must be a whole number"),
        ({"axes": [{"path": "nodes.nope.units", "values": [3]}]}, "names no block 'nope'"),
    ],
)
def test_a_bad_sweep_is_refused_with_a_reason(change, message):
    with pytest.raises(SweepError, match=message):
        Sweep.from_dict(spec(**change), network=chain())


def test_the_network_may_be_a_file_next_to_the_spec(tmp_path):
    (tmp_path / "net.json").write_text(chain().to_json())
    (tmp_path / "s.json").write_text(__import__("json").dumps(spec(network="net.json")))
    assert len(Sweep.from_file(tmp_path / "s.json").tasks()) == 8
    with pytest.raises(SweepError, match="No such sweep file"):
        Sweep.from_file(tmp_path / "missing.json")


def _hidden(net):
    return [n for n in net.nodes if n.type == "dense"][:-1]


def test_blocks_repeat_the_hidden_block_and_keep_a_valid_chain():
    for depth in (1, 3, 7):
        net = apply(chain(3), "blocks", depth)
        assert not validate(net)
        assert len(_hidden(net)) == depth
        assert len({n.id for n in net.nodes}) == len(net.nodes)
        assert Trainer(net).plan.types.count("activation") == depth


def test_weight_and_bias_variances_set_every_hidden_layer_only():
    net = apply(apply(chain(3), "dense.sigma_w2", 2.25), "dense.sigma_b2", 0.05)
    for node in _hidden(net):
        assert node.params["init"] == {"name": "lecun_normal", "gain": 1.5}
        assert node.params["bias_init"] == {"name": "normal", "std": pytest.approx(math.sqrt(0.05))}
    readout = [n for n in net.nodes if n.type == "dense"][-1]
    assert readout.params["init"] == "xavier_uniform" and "bias_init" not in readout.params


def test_field_paths_reach_training_nodes_and_initialiser_parameters():
    net = chain(2)
    assert apply(net, "training.optimizer", "adam").training["optimizer"] == "adam"
    assert apply(net, "training.clip.mode", "norm").training["clip"] == {"mode": "norm"}
    assert {
        n.params["function"]
        for n in apply(net, "activation.function", "relu").nodes
        if n.type == "activation"
    } == {"relu"}
    gained = apply(net, "dense.init.gain", 2.0)
    assert all(n.params["init"] == {"name": "xavier_uniform", "gain": 2.0} for n in _hidden(gained))
    assert apply(net, "nodes.dense1.units", 5).node("dense1").params["units"] == 5
    assert net.node("dense1").params["units"] == 8  # the base network is left alone


def test_batch_norm_and_skips_switch_on_and_off():
    net = chain(3)
    bn = apply(net, "batchnorm", True)
    assert not validate(bn) and sum(n.type == "batchnorm" for n in bn.nodes) == 3
    assert not any(n.type == "batchnorm" for n in apply(bn, "batchnorm", False).nodes)
    res = apply(net, "skip", True)
    assert not validate(res)
    assert sum(c > 1 for c in Trainer(res).plan.pred_counts) == 2  # blocks 2 and 3 add skips
    plain = apply(res, "skip", False)
    assert sum(c > 1 for c in Trainer(plain).plan.pred_counts) == 0
    deeper = apply(res, "blocks", 5)  # the skips follow the new blocks
    assert sum(c > 1 for c in Trainer(deeper).plan.pred_counts) == 4


def test_structural_axes_need_a_chain_of_equal_blocks():
    with pytest.raises(SweepError, match="hidden blocks differ"):
        apply(_mixed(), "blocks", 4)
    assert not validate(apply(residual_mlp(2, 8, 3, data=DATA), "blocks", 3))


def _mixed():
    net = chain(3)
    net.node("act2").params["function"] = "relu"
    return net


QT_FREE = """
import importlib.abc, sys
class BlockQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph"):
            raise ImportError(name)
sys.meta_path.insert(0, BlockQt())
from vgsim.engine.builders import mlp
from vgsim.experiments.sweeps import Sweep
from vgsim.experiments.sweeps.grid import map_data
from vgsim.experiments.sweeps.worker import run_task
net = mlp(2, 8, 3, activation="tanh", data={"name": "spiral", "samples": 200})
s = Sweep.from_dict({"format": "vgsim.sweep/1", "steps": 5,
    "axes": [{"path": "dense.sigma_w2", "values": [1.0]}, {"path": "blocks", "values": [2]}]},
    network=net)
record = run_task(s.tasks()[0])
assert record["status"] == "ok", record
map_data(s, {record["key"]: record})
print("swept")
"""


def test_sweeps_run_with_qt_blocked():
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-c", QT_FREE],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "swept" in done.stdout, done.stdout + done.stderr
