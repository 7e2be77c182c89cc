"""Side-by-side comparisons: lockstep training on shared data, seeds and batches; the files of
`compare_networks` and `vgsim compare`; the gradient profiles and their difference."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from vgsim.cli import main
from vgsim.engine import Network, NetworkError, Trainer, VgsimError, load_network, save_network
from vgsim.engine.builders import mlp
from vgsim.engine.kernels.stats import S_GRAD
from vgsim.experiments.comparisons import (
    Comparison,
    ComparisonError,
    GradientProfile,
    compare_networks,
    last_finite_row,
    profile_difference,
)
from vgsim.experiments.runs import run_network

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "resources" / "examples"
SPIRAL_SMALL = Path(__file__).parent / "networks" / "spiral_small.json"
DATA = {"name": "spiral", "samples": 300}


def small(
    depth: int = 2, width: int = 8, activation: str = "relu", data: dict | None = None, **training
) -> Network:
    return mlp(
        depth,
        width,
        3,
        activation=activation,
        data=dict(data or DATA),
        training={"lr": 0.1, "batch_size": 16, **training},
        name=f"{activation} {depth}x{width}",
    )


def hot_and_cold() -> tuple[Network, Network]:
    """The same regression network with a learning rate that diverges and one that does not."""

    def net(lr: float) -> Network:
        return mlp(
            4,
            16,
            1,
            activation="relu",
            loss="mse",
            data={"name": "sine"},
            training={"lr": lr, "batch_size": 16},
            name=f"lr {lr:g}",
        )

    return net(5.0), net(0.001)


def assert_same_history(a: Trainer, b: Trainer) -> None:
    for x, y in zip(a.history.recent(), b.history.recent(), strict=True):
        np.testing.assert_array_equal(x, y)


# --- lockstep and determinism ---------------------------------------------------------------


def test_a_network_compared_with_itself_gives_bit_identical_histories() -> None:
    net = load_network(SPIRAL_SMALL)
    comp = Comparison([net, net])
    assert comp.labels == ["spiral small", "spiral small (2)"]
    comp.run(45)  # crosses evaluation steps and an epoch boundary (15 steps per epoch)
    first, second = comp.runs
    assert first.step_count == second.step_count == comp.step_count == 45
    assert_same_history(first.trainer, second.trainer)
    np.testing.assert_array_equal(first.trainer.params, second.trainer.params)
    # Lockstep changes nothing in the arithmetic: the same as training the network alone.
    alone = Trainer(net)
    for _ in alone.run(45):
        pass
    assert_same_history(first.trainer, alone)


def test_step_block_advances_every_run_by_exactly_k_steps() -> None:
    comp = Comparison([small(2, eval_every=3), small(3, eval_every=7)], seed=1)
    for k in (1, 5, 12, 40):
        before = comp.step_count
        blocks = comp.step_block(k)
        assert list(blocks) == comp.labels
        for label, block in blocks.items():
            assert block is not None and list(block.steps) == list(range(before, before + k))
            assert block.node_stats.shape[0] == k and comp[label].step_count == before + k


def test_networks_of_different_shapes_see_the_same_batches() -> None:
    nets = [small(2, 8, "relu"), small(5, 32, "tanh", dtype="float64"), small(1, 4, "sigmoid")]
    comp = Comparison(nets, seed=4)
    for k in (3, 17, 30):  # 240 training rows / 16 = 15 steps per epoch: several epochs
        comp.run(k)
        states = [run.trainer.step_with_state()[1] for run in comp.runs]
        for state in states[1:]:
            # (the float64 network holds its features in float64: compare in float32)
            np.testing.assert_array_equal(state["x"].astype(np.float32), states[0]["x"])
            np.testing.assert_array_equal(state["y"], states[0]["y"])
    assert {run.trainer.cfg["seed"] for run in comp.runs} == {4}


def test_a_seed_override_makes_differently_seeded_files_one_run() -> None:
    net = small()
    other = net.copy()
    other.training["seed"] = 99
    apart = Comparison([net, other])
    apart.run(5)
    assert not np.array_equal(apart[0].trainer.params, apart[1].trainer.params)
    together = Comparison([net, other], seed=7)
    together.run(20)
    assert_same_history(together[0].trainer, together[1].trainer)
    assert other.training["seed"] == 99  # the caller's network is left alone


# --- refusals --------------------------------------------------------------------------------


def test_different_data_is_refused_with_a_clear_error() -> None:
    blobs = small()
    blobs.data = {"name": "blobs"}
    with pytest.raises(ComparisonError, match="needs the same data") as err:
        Comparison([small(), blobs])
    assert isinstance(err.value, VgsimError)
    assert "name='spiral'" in str(err.value) and "name='blobs'" in str(err.value)

    fewer = small()
    fewer.data = {"name": "spiral", "samples": 600}
    with pytest.raises(ComparisonError, match="samples=300"):
        Comparison([small(), fewer])


def test_data_is_compared_with_its_defaults_filled_in() -> None:
    # relu-he says {"name": "spiral"}, deep-sigmoid spells out the defaults.
    nets = [load_network(EXAMPLES / "deep-sigmoid.json"), load_network(EXAMPLES / "relu-he.json")]
    assert nets[0].data != nets[1].data
    comp = Comparison(nets)
    assert comp.data.X_train.shape == (480, 2)


def test_fewer_than_two_networks_are_refused() -> None:
    with pytest.raises(ComparisonError, match="at least two networks"):
        Comparison([small()])


def test_an_invalid_network_is_named_and_keeps_its_problems() -> None:
    bad = small()
    bad.training["lr"] = -1
    with pytest.raises(NetworkError) as err:
        Comparison([small(), bad], labels=["good", "broken"])
    assert str(err.value).startswith("broken: The network is not valid")
    assert [p.where for p in err.value.problems] == ["training"]


# --- divergence ------------------------------------------------------------------------------


def test_a_diverging_network_stops_while_the_other_goes_on() -> None:
    comp = Comparison(list(hot_and_cold()))
    comp.run(100)
    hot, cold = comp.runs
    assert hot.divergence is not None and hot.status == "diverged"
    assert hot.step_count == hot.divergence.step + 1 < 100
    assert cold.divergence is None and cold.step_count == 100 == comp.step_count
    status = comp.status()
    assert status["lr 5"].status == "diverged" and status["lr 5"].divergence == hot.divergence
    assert status["lr 0.001"].status == "ok" and status["lr 0.001"].steps == 100
    blocks = comp.step_block(3)
    assert blocks["lr 5"] is None and len(blocks["lr 0.001"].steps) == 3


def test_a_diverged_run_profile_is_its_last_finite_one_before_the_blow_up() -> None:
    comp = Comparison(list(hot_and_cold()))
    comp.run(20)
    hot = comp["lr 5"]
    profile = comp.gradient_profiles()["lr 5"]
    steps, _, stats = hot.history.recent()
    assert profile.step == hot.divergence.step - 1 == steps[-2]
    assert np.isfinite(profile.grad_norm).all() and profile.grad_norm.max() > 1e15
    np.testing.assert_array_equal(profile.grad_norm, stats[-2, 1:, S_GRAD])
    assert not np.isfinite(stats[-1, 1:, S_GRAD]).any()  # the step that blew up


def test_last_finite_row_passes_over_steps_whose_gradient_overflowed() -> None:
    steps = np.arange(5)
    grads = np.ones((5, 3))
    grads[3, 1] = np.inf  # the step before the blow-up overflowed in one block
    grads[4] = np.nan  # the blow-up
    assert last_finite_row(steps, grads, 4) == 2
    assert last_finite_row(steps, grads, None) == 2
    grads[:3, 0] = np.nan  # no whole profile left: the last with any finite block
    assert last_finite_row(steps, grads, 4) == 3
    assert last_finite_row(steps, np.full((5, 3), np.nan), 4) is None
    assert last_finite_row(steps, grads, 0) is None  # diverged at its first step


def test_run_stops_once_every_network_has_diverged() -> None:
    hot, _ = hot_and_cold()
    comp = Comparison([hot, hot])
    comp.run(10_000)
    assert comp.all_diverged and comp.step_count < 100


# --- files -----------------------------------------------------------------------------------


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_compare_networks_writes_what_vgsim_run_writes(tmp_path: Path) -> None:
    net = load_network(SPIRAL_SMALL)
    result = compare_networks([net, small(3, data=net.data)], 40, tmp_path / "cmp", seed=3)
    single = run_network(net, 40, tmp_path / "single", seed=3)

    folder = tmp_path / "cmp" / "spiral-small"
    assert sorted(p.name for p in (tmp_path / "cmp").iterdir()) == [
        "comparison.json",
        "relu-3x8",
        "spiral-small",
    ]
    # The same columns and the very same numbers as a run of its own.
    assert (folder / "metrics.csv").read_bytes() == (
        tmp_path / "single" / "metrics.csv"
    ).read_bytes()
    assert len(read_rows(tmp_path / "cmp" / "relu-3x8" / "metrics.csv")) == 40
    summary = json.loads((folder / "summary.json").read_text())
    timing = ("wall_time_s", "steps_per_second")
    assert set(summary) == set(single)
    assert {k: v for k, v in summary.items() if k not in timing} == {
        k: v for k, v in single.items() if k not in timing
    }

    assert result == json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert result["labels"] == ["spiral small", "relu 3x8"]
    assert result["files"] == [None, None] and result["steps"] == 40 and result["seed"] == 3
    first = result["runs"][0]
    assert first["folder"] == "spiral-small" and first["status"] == "ok"
    assert first["final"] == single["final"] and first["diverged"] is None
    assert first["steps"] == 40 and first["seed"] == 3


def test_compare_networks_records_files_divergence_and_unique_folders(tmp_path: Path) -> None:
    hot, cold = hot_and_cold()
    save_network(hot, tmp_path / "hot.json")
    save_network(cold, tmp_path / "cold.json")
    result = compare_networks(
        [tmp_path / "hot.json", tmp_path / "cold.json", cold],
        60,
        tmp_path / "out",
        labels=["Fast!", "slow", "slow"],
    )
    assert result["labels"] == ["Fast!", "slow", "slow (2)"]
    assert [r["folder"] for r in result["runs"]] == ["fast", "slow", "slow-2"]
    assert result["files"] == [str(tmp_path / "hot.json"), str(tmp_path / "cold.json"), None]
    hot_run = result["runs"][0]
    assert hot_run["status"] == "diverged" and hot_run["diverged"]["step"] < 59
    rows = read_rows(tmp_path / "out" / "fast" / "metrics.csv")
    assert len(rows) == hot_run["steps"] == hot_run["diverged"]["step"] + 1
    assert [r["steps"] for r in result["runs"][1:]] == [60, 60]


# --- the command line ------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    blobs = small(3)
    blobs.data = {"name": "blobs"}
    bad = small()
    bad.training["lr"] = -1
    bad.node("dense1").params["units"] = 0
    out = {}
    for name, net in (
        ("a", small(2)),
        ("b", small(3, activation="tanh")),
        ("blobs", blobs),
        ("bad", bad),
    ):
        save_network(net, tmp_path / f"{name}.json")
        out[name] = str(tmp_path / f"{name}.json")
    out["missing"] = str(tmp_path / "missing.json")
    out["out"] = str(tmp_path / "out")
    return out


def test_cli_compare_trains_writes_and_prints_a_table(files: dict[str, str], capsys) -> None:
    code = main(
        ["compare", files["a"], files["b"], "--steps", "30", "--out", files["out"], "--seed", "2"]
    )
    out = capsys.readouterr().out
    assert code == 0
    table = out[out.index("run ") :].splitlines()
    assert "train acc" in table[0] and "test acc" in table[0]
    assert table[1].startswith("relu 2x8") and table[2].startswith("tanh 3x8")
    assert " ok " in table[1] and " 30 " in table[1]
    result = json.loads((Path(files["out"]) / "comparison.json").read_text())
    assert result["seed"] == 2 and result["files"] == [files["a"], files["b"]]

    assert (
        main(["compare", files["a"], files["a"], "--steps", "5", "--out", files["out"], "--quiet"])
        == 0
    )
    assert capsys.readouterr() == ("", "")


def test_cli_compare_refuses_invalid_input(files: dict[str, str], capsys) -> None:
    def refused(*argv: str) -> str:
        assert main(["compare", *argv, "--out", files["out"]]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        return captured.err

    assert "at least two network files (got 1)" in refused(files["a"], "--steps", "5")
    assert "--steps must be at least 1" in refused(files["a"], files["b"], "--steps", "0")
    err = refused(files["bad"], files["missing"], files["a"], "--steps", "5")
    assert err.startswith(f"{files['bad']}: The network is not valid:")
    assert "lr must be" in err and "dense1" in err  # every problem is listed
    assert f"No such network file: {files['missing']}" in err
    assert "needs the same data" in refused(files["a"], files["blobs"], "--steps", "5")
    assert not Path(files["out"]).exists()
    with pytest.raises(SystemExit) as exit_:
        main(["compare", files["a"], files["b"], "--out", files["out"]])  # no --steps
    assert exit_.value.code == 2


# --- gradient profiles -----------------------------------------------------------------------


def test_gradient_profiles_follow_the_blocks_after_the_input() -> None:
    comp = Comparison([small(2), small(4)])
    before = comp.gradient_profiles()["relu 2x8"]
    assert before.step is None and np.isnan(before.grad_norm).all()
    comp.run(3)
    profiles = comp.gradient_profiles()
    two = profiles["relu 2x8"]
    assert two.step == 2 and two.nodes == ("dense1", "act1", "dense2", "act2", "head", "out")
    np.testing.assert_allclose(two.depth, np.linspace(0, 1, 6))
    latest = comp["relu 2x8"].history.latest.stat("grad_norm")
    np.testing.assert_allclose(two.grad_norm, [latest[n] for n in two.nodes], rtol=1e-6)
    assert len(profiles["relu 4x8"].depth) == 10


def test_profile_difference_of_a_run_with_itself_is_zero() -> None:
    net = load_network(EXAMPLES / "deep-sigmoid.json")
    comp = Comparison([net, net])
    comp.run(12)
    depth, diff = comp.profile_difference(0, 1)
    assert depth[0] == 0 and depth[-1] == 1 and len(depth) == 18
    assert np.isfinite(diff).all()
    np.testing.assert_array_equal(diff, 0.0)


def test_profile_difference_is_negative_where_the_sigmoid_gradient_vanished() -> None:
    nets = [load_network(EXAMPLES / "deep-sigmoid.json"), load_network(EXAMPLES / "relu-he.json")]
    comp = Comparison(nets, seed=0)
    comp.run(1)
    depth, diff = comp.profile_difference(0, 1)
    # At the output both receive about the same gradient; toward the input the sigmoid
    # network's falls by orders of magnitude more.
    assert abs(diff[-1]) < 0.5
    assert diff[0] < -4
    assert np.all(diff[depth < 0.5] < -2)
    _, flipped = comp.profile_difference(1, 0)
    np.testing.assert_allclose(flipped, -diff)


def test_profiles_of_different_depths_are_interpolated_geometrically() -> None:
    # a falls from 1 at the output to 1e-4 at the bottom over one interval; b is flat.
    a = GradientProfile("a", 0, ("d1", "out"), np.array([0.0, 1.0]), np.array([1e-4, 1.0]))
    b = GradientProfile("b", 0, ("d1", "d2", "out"), np.array([0.0, 0.5, 1.0]), np.ones(3))
    depth, diff = profile_difference(a, b)
    np.testing.assert_allclose(depth, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(diff, [-4.0, -2.0, 0.0])  # halfway: 1e-2, not (1e-4 + 1) / 2
    _, on_grid = profile_difference(a, b, grid=np.array([0.25]))
    np.testing.assert_allclose(on_grid, [-3.0])
    dead = GradientProfile("dead", 0, ("d1", "out"), np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    assert np.isnan(profile_difference(dead, b)[1][0])
