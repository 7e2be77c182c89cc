"""Trainer.capture_state / restore_state: a restored run continues bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bitwise import same_bits

from vgsim.engine import Network, Trainer, read_network
from vgsim.engine.files import save_npz
from vgsim.engine.state import StateError, from_arrays, to_arrays

NETWORKS = Path(__file__).resolve().parent / "networks"
# (fixture, training overrides): batch norm, a skip connection, every optimizer with state,
# both clipping modes, L2; convolutions, pooling and dropout (its masks follow the step count).
# The dense fixtures have 15 steps an epoch, the image one 20: N + M crosses epochs.
CASES = [
    ("residual_bn.json", {}),  # momentum, clipping by norm, L2
    ("residual_bn.json", {"optimizer": "adam", "clip": {"mode": "value", "threshold": 0.05}}),
    ("spiral_small.json", {"l2": 0.01, "clip": {"mode": "norm", "threshold": 0.5}}),  # adam
    ("spiral_small.json", {"optimizer": "nesterov", "lr": 0.05, "l2": 0.001}),
    ("spiral_small.json", {"optimizer": "rmsprop", "lr": 0.003}),
    ("conv_small.json", {}),  # adam, clipping by norm, L2, dropout
]
N, M = 23, 19


def network(fixture: str, dtype: str, **training: object) -> Network:
    net = read_network(NETWORKS / fixture)
    net.training.update(training, dtype=dtype, eval_every=7)
    return net


def assert_same_dump(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert sorted(a) == sorted(b)
    different = [key for key in a if not same_bits(a[key], b[key])]
    assert not different, f"not bit-identical: {different}"


def records(trainer: Trainer, steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The scalars and figures of `steps` steps run in blocks, and the last one's histograms."""
    done = list(trainer.run(steps))
    scalars = np.array([list(r.scalars.values()) for r in done])
    return scalars, np.stack([r.node_stats for r in done]), done[-1].histograms


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("fixture", "training"), CASES)
def test_restored_run_continues_bit_for_bit(fixture, training, dtype, tmp_path):
    net = network(fixture, dtype, **training)
    straight = Trainer(net)
    list(straight.run(N))
    tail = records(straight, M)
    _, dump = straight.step_with_state()

    first = Trainer(net)
    list(first.run(N))
    state = first.capture_state()
    # Through a file, into a fresh trainer whose scratch buffers never saw this run.
    save_npz(tmp_path / "state.npz", to_arrays(state))
    with np.load(tmp_path / "state.npz", allow_pickle=False) as z:
        loaded = from_arrays({k: z[k] for k in z.files})
    restored = Trainer(net)
    restored.restore_state(loaded)
    assert restored.step_count == N and restored.epoch == straight.history.recent()[1][N - 1, 1]
    again = records(restored, M)
    _, dump_again = restored.step_with_state()

    for mine, theirs in zip(again, tail, strict=True):
        assert same_bits(mine, theirs)
    assert_same_dump(dump_again, dump)
    for name in ("params", "opt_m", "opt_v", "bn_run"):
        assert same_bits(getattr(restored, name), getattr(straight, name))
    assert restored.last_eval == straight.last_eval


def test_restoring_in_the_same_trainer_rewinds_it():
    net = network("residual_bn.json", "float32")
    t = Trainer(net)
    list(t.run(N))
    state = t.capture_state()
    first = records(t, M)
    t.restore_state(state)
    assert t.step_count == N and len(t.history) == 0
    second = records(t, M)
    for a, b in zip(first, second, strict=True):
        assert same_bits(a, b)


def test_a_micro_stepped_step_after_a_restore_matches_a_whole_one():
    net = network("spiral_small.json", "float64")
    t = Trainer(net)
    list(t.run(N))
    state = t.capture_state()
    whole = t.step()
    t.restore_state(state)
    while (done := t.micro_step()).record is None:
        pass
    assert same_bits(done.record.node_stats, whole.node_stats)
    assert done.record.scalars == whole.scalars


def test_settings_false_keeps_the_branch_settings():
    net = network("spiral_small.json", "float32")
    t = Trainer(net)
    list(t.run(N))
    state = t.capture_state()
    branch_net = network("spiral_small.json", "float32", clip={"mode": "value", "threshold": 1e-4})
    branch = Trainer(branch_net)
    branch.restore_state(state, settings=False)
    assert branch.step().scalars["clip_fired"] == 1.0
    plain = Trainer(branch_net)
    plain.restore_state(state)  # the state's settings: no clipping
    assert plain.step().scalars["clip_fired"] == 0.0


def test_another_optimizer_starts_with_fresh_moments():
    net = network("spiral_small.json", "float32")  # adam
    t = Trainer(net)
    list(t.run(N))
    state = t.capture_state()
    assert state.opt_m is not None and state.opt_v is not None and state.t == N
    sgd = Trainer(network("spiral_small.json", "float32", optimizer="momentum"))
    sgd.restore_state(state, settings=False)
    assert not sgd.opt_m.any() and not sgd.opt_v.any() and sgd._t == 0
    assert same_bits(sgd.params, t.params)


def test_plain_sgd_keeps_no_moments():
    t = Trainer(network("spiral_small.json", "float32", optimizer="sgd"))
    list(t.run(5))
    state = t.capture_state()
    assert state.opt_m is None and state.opt_v is None
    assert state.nbytes < 2 * t.params.nbytes + t._perm.nbytes + 1024


def test_a_state_of_another_network_is_refused():
    t = Trainer(network("spiral_small.json", "float32"))
    list(t.run(3))
    state = t.capture_state()
    wider = network("spiral_small.json", "float32")
    wider.nodes[1].params["units"] = int(wider.nodes[1].params.get("units", 16)) + 1
    with pytest.raises(StateError, match="other shapes"):
        Trainer(wider).restore_state(state)
    with pytest.raises(StateError, match="float32"):
        Trainer(network("spiral_small.json", "float64")).restore_state(state)


def test_capture_refuses_half_a_step():
    t = Trainer(network("spiral_small.json", "float32"))
    t.micro_step()
    with pytest.raises(RuntimeError, match="micro-stepped"):
        t.capture_state()


def test_a_damaged_state_file_is_named():
    t = Trainer(network("spiral_small.json", "float32"))
    arrays = to_arrays(t.capture_state())
    del arrays["params"]
    with pytest.raises(StateError, match="'params'"):
        from_arrays(arrays, "step-5.npz")
    arrays = to_arrays(t.capture_state())
    arrays["meta"] = np.array("{not json")
    with pytest.raises(StateError, match="damaged"):
        from_arrays(arrays, "step-5.npz")
