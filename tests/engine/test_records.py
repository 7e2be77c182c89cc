"""Run folders on disk: metrics written in chunks, the plot snapshot, reading a run back."""

from __future__ import annotations

import numpy as np
import pytest

from vgsim.engine.builders import mlp
from vgsim.engine.errors import VgsimError
from vgsim.engine.theory import predicted_gradient_flow
from vgsim.engine.train import Trainer
from vgsim.experiments.plot_sources import SNAPSHOT_FILE, from_run, from_trainer
from vgsim.experiments.records import Cancelled, write_metrics
from vgsim.experiments.runs import run_network

TRAINING = {"optimizer": "sgd", "lr": 0.1, "batch_size": 16, "eval_every": 5, "seed": 3}


def network():
    return mlp(
        3,
        8,
        2,
        activation="tanh",
        init="xavier_uniform",
        training=TRAINING,
        data={"name": "moons", "samples": 200},
    )


def test_history_rows_written_as_metrics_equal_the_headless_run(tmp_path):
    net = network()
    run_network(net, 30, tmp_path / "run")
    t = Trainer(net)
    list(t.run(30))
    steps, scalars, stats = t.history.rows()
    write_metrics(tmp_path / "ours.csv", t.node_ids, scalars, stats)
    ours = (tmp_path / "ours.csv").read_text().splitlines()
    theirs = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert ours[0] == theirs[0] and len(ours) == len(theirs) == 31
    # The history keeps per-node figures in float32: equal to about 7 digits.
    a, b = (np.loadtxt(rows[1:], delimiter=",") for rows in (ours, theirs))
    assert np.allclose(a, b, rtol=1e-6, atol=1e-30, equal_nan=True)


def test_a_cancelled_metrics_write_leaves_no_file(tmp_path):
    t = Trainer(network())
    list(t.run(1200))
    _, scalars, stats = t.history.rows()
    asked = []

    def progress(fraction: float) -> bool:
        asked.append(fraction)
        return len(asked) < 2  # stop before the second chunk

    with pytest.raises(Cancelled):
        write_metrics(tmp_path / "m.csv", t.node_ids, scalars, stats, progress)
    assert asked[0] == 0.0 and 0 < asked[1] < 1
    assert list(tmp_path.iterdir()) == []


def test_a_run_folder_reads_back_as_the_trainer_it_came_from(tmp_path):
    net = network()
    run_network(net, 25, tmp_path)
    assert (tmp_path / SNAPSHOT_FILE).is_file()
    t = Trainer(net)
    list(t.run(25))
    t.evaluate()
    relative = predicted_gradient_flow(Trainer(net))  # "theory (step 0)": the starting weights
    live, back = from_trainer(t, net.name, relative), from_run(tmp_path)
    assert back.node_ids == live.node_ids and back.types == live.types
    assert back.functions == live.functions and back.step == live.step == 25
    assert np.allclose(back.node_stats, live.node_stats, rtol=1e-6, equal_nan=True)
    assert np.array_equal(back.tail_steps, live.tail_steps)
    assert np.allclose(back.tail_figures, live.tail_figures, rtol=1e-6, equal_nan=True)
    assert np.array_equal(back.run_steps, live.run_steps) and back.run_steps[0] == 0
    assert np.allclose(back.run_figures, live.run_figures, rtol=1e-6, equal_nan=True)
    assert np.array_equal(back.histograms, live.histograms)
    assert back.boundary["kind"] == "classes" and back.boundary["classes"] == 2
    assert np.allclose(back.boundary["outputs"], live.boundary["outputs"])
    assert back.theory is not None and np.allclose(back.theory, live.theory, equal_nan=True)


def test_a_folder_without_a_run_is_refused_by_name(tmp_path):
    with pytest.raises(VgsimError, match="metrics.csv is missing"):
        from_run(tmp_path)
    run_network(network(), 5, tmp_path / "a")
    run_network(
        mlp(2, 4, 2, training=TRAINING, data={"name": "moons", "samples": 200}), 5, tmp_path / "b"
    )
    (tmp_path / "b" / SNAPSHOT_FILE).replace(tmp_path / "a" / SNAPSHOT_FILE)
    with pytest.raises(VgsimError, match="do not belong to the same network"):
        from_run(tmp_path / "a")
