"""The Trainer: determinism, micro-steps, divergence, live settings, L2, clipping and telemetry."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from vgsim.engine import Network, NetworkError, StepRecord, Trainer, read_network
from vgsim.engine.builders import mlp
from vgsim.engine.kernels.plan import QUANTITIES
from vgsim.engine.schema import FORMAT
from vgsim.engine.telemetry import SCALARS

NETWORKS = Path(__file__).resolve().parent / "networks"
FIXTURES = ["spiral_small.json", "residual_bn.json", "conv_small.json"]
DTYPES = ["float32", "float64"]


def load(fixture: str = "spiral_small.json", **training: object) -> Network:
    net = read_network(NETWORKS / fixture)
    net.training.update(training)
    return net


def make(fixture: str = "spiral_small.json", **training: object) -> Trainer:
    return Trainer(load(fixture, **training))


def chain(
    layers: int,
    fn: str,
    init: object,
    *,
    width: int = 16,
    data: dict | None = None,
    loss: str = "softmax_cross_entropy",
    out: int = 3,
    **training: object,
) -> Network:
    """in -> (dense, activation) x layers -> dense(out) -> output."""
    nodes: list[dict] = [{"id": "in", "type": "input"}]
    edges: list[dict] = []
    prev = "in"
    for i in range(layers):
        nodes += [
            {"id": f"d{i}", "type": "dense", "units": width, "init": init},
            {"id": f"a{i}", "type": "activation", "function": fn},
        ]
        edges += [{"from": prev, "to": f"d{i}"}, {"from": f"d{i}", "to": f"a{i}"}]
        prev = f"a{i}"
    nodes += [
        {"id": "last", "type": "dense", "units": out},
        {"id": "out", "type": "output", "loss": loss},
    ]
    edges += [{"from": prev, "to": "last"}, {"from": "last", "to": "out"}]
    return Network.from_dict(
        {
            "format": FORMAT,
            "data": data or {"name": "spiral"},
            "nodes": nodes,
            "edges": edges,
            "training": training,
        }
    )


def state(t: Trainer) -> dict[str, np.ndarray]:
    """Everything that determines what the next step does."""
    return {
        "params": t.params,
        "opt_m": t.opt_m,
        "opt_v": t.opt_v,
        "bn_run": t.bn_run,
        "stats": t.stats,
        "hist": t.hist,
    }


def assert_same_state(a: Trainer, b: Trainer, hist: bool = True) -> None:
    """Bit-identical state. Before the first step after reset() the histogram buffer may still
    hold the old run's last histograms (never shown: every forward pass rewrites them)."""
    sa, sb = state(a), state(b)
    for key in sa:
        if key == "hist" and not hist:
            continue
        assert sa[key].dtype == sb[key].dtype, key
        assert sa[key].tobytes() == sb[key].tobytes(), f"{key} differs"
    assert a.step_count == b.step_count


def assert_same_record(a: StepRecord, b: StepRecord) -> None:
    va = np.array([a.scalars[k] for k in SCALARS])
    vb = np.array([b.scalars[k] for k in SCALARS])
    assert va.tobytes() == vb.tobytes(), {
        k: (a.scalars[k], b.scalars[k]) for k in SCALARS if a.scalars[k] != b.scalars[k]
    }
    assert a.node_stats.tobytes() == b.node_stats.tobytes()
    assert a.histograms.tobytes() == b.histograms.tobytes()
    assert a.divergence == b.divergence


def micro_until_record(t: Trainer) -> StepRecord:
    while True:
        done = t.micro_step()
        if done.record is not None:
            return done.record


# ---- determinism ---------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", FIXTURES)
def test_same_file_same_run_bit_for_bit(fixture: str) -> None:
    a, b = make(fixture), make(fixture)
    assert a.params.tobytes() == b.params.tobytes()
    for _ in range(50):
        assert_same_record(a.step(), b.step())
    assert_same_state(a, b)


@pytest.mark.parametrize("fixture", FIXTURES)
def test_other_seed_gives_another_run(fixture: str) -> None:
    a = make(fixture)
    seed = int(a.cfg["seed"]) + 1
    b = make(fixture, seed=seed)
    assert a.params.tobytes() != b.params.tobytes()
    for _ in range(50):
        ra, rb = a.step(), b.step()
    assert a.params.tobytes() != b.params.tobytes()
    assert not np.array_equal(ra.node_stats, rb.node_stats, equal_nan=True)
    assert ra.loss != rb.loss


@pytest.mark.parametrize("fixture", FIXTURES)
@pytest.mark.parametrize("some_rows", [False, True])
def test_blocks_evaluate_where_due_and_agree_with_single_steps(fixture: str, some_rows: bool):
    """A block evaluates inside the kernel when the whole training set is evaluated (it runs on
    across evaluations); when only its first rows are, a block ends at each evaluation step.
    Either way every figure is the one single steps give."""
    extra = {"eval_every": 10, "eval_rows": 40 if some_rows else "all"}
    a, b = make(fixture, **extra), make(fixture, **extra)
    every = int(a.cfg["eval_every"])
    total = 3 * every + 5
    blocks = []
    while sum(len(x.steps) for x in blocks) < total:
        blocks.append(a.run_block(total - sum(len(x.steps) for x in blocks)))
    if some_rows:  # each block ends at an evaluation step (0, every, ...), the last at the total
        assert [int(x.steps[-1]) for x in blocks] == [0, every, 2 * every, 3 * every, total - 1]
    else:
        assert [len(x.steps) for x in blocks] == [total]
    records = [r for x in blocks for r in x.records()]
    for ra, rb in zip(records, [b.step() for _ in range(total)], strict=True):
        va = np.array([ra.scalars[k] for k in SCALARS])
        vb = np.array([rb.scalars[k] for k in SCALARS])
        assert va.tobytes() == vb.tobytes(), ra.step
        assert ra.node_stats.tobytes() == rb.node_stats.tobytes()
    assert_same_state(a, b)
    assert a.last_eval == b.last_eval
    evaluated = np.array([r.scalars["train_loss"] for r in records])
    assert np.isfinite(evaluated).all()  # step 0 is an evaluation step
    changes = np.flatnonzero(np.diff(evaluated)) + 1
    assert set(changes) <= set(range(every, total, every))
    assert a.evaluate() == b.evaluate()


def test_evaluation_covers_the_first_rows_of_each_set_at_an_interval_from_their_cost() -> None:
    """The default ("auto") evaluates the first 512 rows of each set, every 8 steps per
    evaluated row per batch row (in tens); "all" and a number are one setting away."""
    from vgsim.engine.builders import mlp

    data = {"name": "blobs", "samples": 3000}  # 2400 training rows, 600 test rows
    t = Trainer(mlp(2, 8, 3, data=data, training={"batch_size": 64}))
    assert t.evaluation == {
        "every": 130,  # 8 * 1024 / 64 = 128, in tens
        "rows": "first",
        "train_rows": 512,
        "train_total": 2400,
        "test_rows": 512,
        "test_total": 600,
    }
    ev = t.evaluate()
    full = t.evaluate(full=True)
    t.X_train, t.lab_train = t.X_train[:512], t.lab_train[:512]  # what "first 512" means
    t.X_test, t.lab_test = t.X_test[:512], t.lab_test[:512]
    t._no_evaluation_full = t._evaluation((t.X_test, t.lab_test, t.tgt_test[:512]))
    t.tgt_train = t.tgt_train[:512]
    assert t.evaluate(full=True) == ev != full
    everything = Trainer(mlp(2, 8, 3, data=data, training={"batch_size": 64, "eval_rows": "all"}))
    assert everything.eval_rows == (2400, 600) and everything.eval_every == 380
    fixed = Trainer(mlp(2, 8, 3, data=data, training={"eval_rows": 100, "eval_every": 7}))
    assert fixed.eval_rows == (100, 100) and fixed.eval_every == 7


# ---- micro-steps ---------------------------------------------------------------------------


@pytest.mark.kernels
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fixture", FIXTURES)
def test_micro_steps_end_where_step_ends(fixture: str, dtype: str) -> None:
    a, b = make(fixture, dtype=dtype), make(fixture, dtype=dtype)
    assert a.params.dtype == np.dtype(dtype)
    for _ in range(12):  # crosses an evaluation (every 10 steps)
        assert_same_record(a.step(), micro_until_record(b))
    assert_same_state(a, b)
    assert a.history.scalar("loss")[1].tobytes() == b.history.scalar("loss")[1].tobytes()


def test_next_micro_reports_phases_in_order() -> None:
    t = make("residual_bn.json")
    ids = t.node_ids
    assert ids[0] == "in" and ids[-1] == "out"
    position = {n: i for i, n in enumerate(ids)}
    for a, b in t.net.edges:  # forward order is topological
        assert position[a] < position[b]
    expected = (
        [("forward", n) for n in ids]
        + [("loss", None)]
        + [("backward", n) for n in reversed(ids[1:])]
        + [("update", None)]
    )
    assert len(t.micro_plan()) == len(expected)
    before = t.params.copy()
    for i, (phase, node) in enumerate(expected):
        assert t.next_micro == (phase, node), i
        done = t.micro_step()
        assert (done.phase, done.node) == (phase, node)
        if phase == "update":
            assert done.record is not None and done.record.step == 0
            assert t.params.tobytes() != before.tobytes()
        else:
            assert done.record is None
            assert t.params.tobytes() == before.tobytes()  # weights move only at the update
            assert t.step_count == 0
    assert t.step_count == 1
    assert t.next_micro == ("forward", "in")  # and the next step starts over


def test_step_finishes_a_partly_micro_stepped_iteration() -> None:
    a, b = make("residual_bn.json"), make("residual_bn.json")
    for _ in range(3):
        a.step()
        b.step()
    for _ in range(7):  # part of the way into the forward pass
        assert b.micro_step().record is None
    assert b.next_micro[0] == "forward"
    rb = b.step()
    assert rb.step == 3
    assert_same_record(a.step(), rb)
    assert b.next_micro == ("forward", "in")
    for _ in range(3):
        assert_same_record(a.step(), b.step())
    assert_same_state(a, b)


def test_step_finishes_an_iteration_stopped_in_the_backward_pass() -> None:
    a, b = make(), make()
    n = len(b.node_ids)
    for _ in range(n + 3):  # forward, loss and two backward nodes
        b.micro_step()
    assert b.next_micro[0] == "backward"
    assert_same_record(a.step(), b.step())
    assert_same_record(a.step(), b.step())
    assert_same_state(a, b)


@pytest.mark.kernels
def test_step_with_state_matches_step_and_exposes_the_batch() -> None:
    a, b = make(dtype="float64"), make(dtype="float64")
    a.step()
    b.step()
    rb, st = b.step_with_state()
    assert_same_record(a.step(), rb)
    assert_same_state(a, b)
    assert st["x"].shape == (32, 2) and st["y"].shape == (32,)
    assert st["act/in"].tobytes() == st["x"].tobytes()
    assert float(st["loss"]) == rb.loss


def test_forward_backward_changes_nothing() -> None:
    a, b = make("residual_bn.json"), make("residual_bn.json")
    a.step()
    b.step()
    before = {k: v.copy() for k, v in state(b).items()}
    out = b.forward_backward(np.arange(b.batch_size))
    assert bool(out["finite"])
    for key, arr in state(b).items():
        if key not in ("stats", "hist"):
            assert arr.tobytes() == before[key].tobytes(), key
    assert b.step_count == 1
    assert_same_record(a.step(), b.step())
    assert_same_state(a, b)


# ---- reset ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", FIXTURES)
def test_reset_reproduces_the_first_run(fixture: str) -> None:
    t = make(fixture)
    first = [t.step() for _ in range(30)]
    params = t.params.copy()
    t.reset()
    assert t.step_count == 0 and len(t.history) == 0 and t.epoch == 0
    again = [t.step() for _ in range(30)]
    for a, b in zip(first, again, strict=True):
        assert_same_record(a, b)
    assert t.params.tobytes() == params.tobytes()


def test_reset_in_the_middle_of_a_micro_step() -> None:
    fresh, t = make("residual_bn.json"), make("residual_bn.json")
    for _ in range(4):
        t.step()
    for _ in range(5):
        t.micro_step()
    t.reset()
    assert t.next_micro == ("forward", "in")
    assert_same_state(fresh, t, hist=False)
    for _ in range(5):
        assert_same_record(fresh.step(), t.step())


# ---- divergence ----------------------------------------------------------------------------


def exploding(dtype: str) -> Network:
    return chain(10, "relu", {"name": "normal", "std": 10.0}, optimizer="sgd", lr=1.0, dtype=dtype)


def run_until_divergence(t: Trainer, steps: int = 100) -> StepRecord:
    records = list(t.run(steps))
    last = records[-1]
    assert last.divergence is not None, f"no divergence in {steps} steps, loss {last.loss}"
    assert all(r.divergence is None for r in records[:-1])
    return last


@pytest.mark.kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_huge_init_diverges_and_names_node_and_quantity(dtype: str) -> None:
    t = Trainer(exploding(dtype))
    rec = run_until_divergence(t, 50)
    div = rec.divergence
    assert rec.status == "diverged"
    assert t.diverged and t.divergence == div
    assert div.node in t.node_ids
    assert div.quantity in QUANTITIES
    assert div.step == rec.step
    assert div.node in div.message() and div.quantity in div.message()


@pytest.mark.parametrize("dtype", DTYPES)
def test_after_divergence_stepping_changes_nothing_and_reset_recovers(dtype: str) -> None:
    t = Trainer(exploding(dtype))
    rec = run_until_divergence(t, 50)
    frozen = {k: v.copy() for k, v in state(t).items()}
    count, length = t.step_count, len(t.history)
    for _ in range(3):
        again = t.step()  # does not raise
        assert again.divergence == rec.divergence
        assert again.status == "diverged"
    assert t.micro_step().record.divergence == rec.divergence
    assert list(t.run(5))[-1].divergence == rec.divergence
    again, st = t.step_with_state()
    assert again.divergence == rec.divergence
    for key, arr in state(t).items():
        assert arr.tobytes() == frozen[key].tobytes(), key
    assert (t.step_count, len(t.history)) == (count, length)

    t.reset()
    fresh = Trainer(exploding(dtype))
    assert not t.diverged
    assert_same_state(fresh, t, hist=False)
    assert_same_record(fresh.step(), t.step())
    # and the same run diverges again at the same place: nothing is left over
    assert run_until_divergence(t, 50).divergence == rec.divergence


@pytest.mark.kernels
def test_micro_steps_diverge_exactly_like_step() -> None:
    a, b = Trainer(exploding("float32")), Trainer(exploding("float32"))
    ra = run_until_divergence(a)
    while True:
        rb = micro_until_record(b)
        if rb.divergence is not None:
            break
    assert rb.divergence == ra.divergence
    assert rb.step == ra.step
    assert b.micro_step().phase == "diverged"


def test_diverged_step_does_not_report_a_zero_loss() -> None:
    """When the forward pass blows up the loss is never computed; the record must not show a
    finite loss (0.0 would draw a drop to zero on the loss curve at the moment of blow-up)."""
    t = Trainer(exploding("float32"))
    rec = run_until_divergence(t)
    assert rec.divergence.quantity == "activation"
    assert not np.isfinite(rec.loss), rec.scalars
    assert not np.isfinite(rec.scalars["data_loss"]), rec.scalars


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_with_huge_learning_rate_diverges(dtype: str) -> None:
    net = chain(
        3,
        "tanh",
        "xavier_uniform",
        data={"name": "sine"},
        loss="mse",
        out=1,
        optimizer="sgd",
        lr=1e6,
        dtype=dtype,
    )
    t = Trainer(net)
    rec = run_until_divergence(t, 200)
    assert rec.divergence.node in t.node_ids
    t.reset()
    assert not t.diverged


BLOWUPS = [
    ("relu", {"name": "normal", "std": 10.0}, "sgd", 1.0, {}),
    ("sigmoid", {"name": "normal", "std": 50.0}, "momentum", 1e4, {}),
    ("tanh", "xavier_uniform", "nesterov", 1e8, {"loss": "mse"}),
    ("elu", {"name": "normal", "std": 20.0}, "adam", 1e3, {}),
    ("selu", {"name": "normal", "std": 20.0}, "rmsprop", 1e6, {}),
    ("softplus", {"name": "normal", "std": 30.0}, "sgd", 1e3, {}),
    ("swish", {"name": "normal", "std": 30.0}, "sgd", 1e3, {}),
    ("leaky_relu", {"name": "uniform", "limit": 30.0}, "sgd", 10.0, {}),
    ("prelu", {"name": "normal", "std": 10.0}, "sgd", 1e6, {}),
    (
        "relu",
        {"name": "normal", "std": 10.0},
        "sgd",
        1e4,
        {"loss": "binary_cross_entropy", "out": 1, "data": {"name": "moons"}},
    ),
    ("identity", {"name": "constant", "value": 3.0}, "sgd", 1e6, {"l2": 10.0}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("fn", "init", "optimizer", "lr", "extra"), BLOWUPS, ids=[f"{b[0]}-{b[2]}" for b in BLOWUPS]
)
def test_numerical_blow_up_never_raises(
    fn: str, init: object, optimizer: str, lr: float, extra: dict, dtype: str
) -> None:
    extra = dict(extra)
    kw = {k: extra.pop(k) for k in ("loss", "out", "data") if k in extra}
    net = chain(6, fn, init, optimizer=optimizer, lr=lr, dtype=dtype, eval_every=1, **extra, **kw)
    t = Trainer(net)
    records = list(t.run(150))
    t.evaluate()
    t.step()
    t.micro_step()
    last = records[-1]
    if last.divergence is None:
        assert all(np.isfinite(r.loss) for r in records)
    else:
        assert last.divergence.node in t.node_ids


# ---- live settings -------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "momentum"])
def test_set_live_lr_changes_the_next_update(optimizer: str) -> None:
    a = make(optimizer=optimizer, lr=0.02, dtype="float64")
    c = make(optimizer=optimizer, lr=0.02, dtype="float64")
    for _ in range(5):
        a.step()
        c.step()
    a.set_live(lr=0.01)
    p0 = a.params.copy()
    ra, rc = a.step(), c.step()
    assert ra.scalars["lr"] == 0.01 and rc.scalars["lr"] == 0.02
    da, dc = a.params - p0, c.params - p0
    # same gradients and optimiser state, half the learning rate: half the step
    np.testing.assert_allclose(da, 0.5 * dc, rtol=1e-9, atol=1e-15)
    assert np.abs(dc).max() > 0


def test_set_live_lr_equals_starting_with_that_lr() -> None:
    a, b = make(lr=0.05), make(lr=0.003)
    a.set_live(lr=0.003)
    for _ in range(20):
        assert_same_record(a.step(), b.step())
    assert_same_state(a, b)


def test_set_live_lr_sgd_update_is_lr_times_gradient() -> None:
    t = make(optimizer="sgd", lr=0.1, dtype="float64")
    for _ in range(3):
        t.step()
    t.set_live(lr=0.37)
    rec, st = t.step_with_state()
    assert rec.scalars["lr"] == 0.37
    for slot in t.plan.params:
        key = f"{slot.node_id}/{slot.name}"
        after = t.params[slot.offset : slot.offset + slot.size].reshape(slot.shape)
        np.testing.assert_allclose(
            after, st["param/" + key] - 0.37 * st["grad/" + key], rtol=1e-12, atol=1e-15
        )


def test_set_live_clip_and_l2_take_effect() -> None:
    t = make(dtype="float64")
    t.step()
    t.set_live(clip={"mode": "norm", "threshold": 1e-3}, l2=0.5)
    rec = t.step()
    assert rec.scalars["clip_fired"] == 1.0
    assert rec.scalars["l2_penalty"] > 0
    t.set_live(clip={"mode": "none"}, l2=0.0)
    rec = t.step()
    assert rec.scalars["clip_fired"] == 0.0 and rec.scalars["l2_penalty"] == 0.0


# ---- L2 and clipping -----------------------------------------------------------------------


def dense_weights(t: Trainer, st: dict[str, np.ndarray]) -> list[np.ndarray]:
    return [st[f"param/{s.node_id}/W"] for s in t.plan.params if s.name == "W"]


@pytest.mark.parametrize("fixture", FIXTURES)
def test_l2_penalty_is_lambda_times_sum_of_squared_dense_weights(fixture: str) -> None:
    net = load(fixture, l2=0.01, dtype="float64")
    for n in net.nodes:
        if n.type == "dense":
            n.params["bias_init"] = 0.5  # biases must not count
    t = Trainer(net)
    for _ in range(3):
        rec, st = t.step_with_state()
        expected = 0.01 * sum(float((w**2).sum()) for w in dense_weights(t, st))
        assert rec.scalars["l2_penalty"] == pytest.approx(expected, rel=1e-12)
        assert rec.loss == pytest.approx(rec.scalars["data_loss"] + expected, rel=1e-12)
        assert rec.scalars["data_loss"] > 0


@pytest.mark.kernels
def test_l2_adds_two_lambda_w_to_the_weight_gradient_only() -> None:
    plain = make(dtype="float64", l2=0.0)
    decayed = make(dtype="float64", l2=0.05)
    idx = np.arange(plain.batch_size, dtype=np.int64) * 3
    gp, gd = plain.forward_backward(idx), decayed.forward_backward(idx)
    assert gp["loss"] != gd["loss"]
    for slot in plain.plan.params:
        key = f"{slot.node_id}/{slot.name}"
        extra = 2 * 0.05 * gp["param/" + key] if slot.name == "W" else 0.0
        np.testing.assert_allclose(
            gd["grad/" + key], gp["grad/" + key] + extra, rtol=1e-12, atol=1e-15
        )


def grad_norm(st: dict[str, np.ndarray]) -> float:
    return float(
        np.sqrt(
            sum(
                float((v.astype(np.float64) ** 2).sum())
                for k, v in st.items()
                if k.startswith("grad/")
            )
        )
    )


@pytest.mark.kernels
def test_clip_by_norm_fires_and_reports_norms() -> None:
    t = make(optimizer="sgd", lr=0.1, dtype="float64", clip={"mode": "norm", "threshold": 0.05})
    for _ in range(3):
        before = t.params.copy()
        rec, st = t.step_with_state()
        norm = grad_norm(st)
        assert norm > 0.05
        assert rec.scalars["clip_fired"] == 1.0
        assert rec.scalars["grad_norm_before_clip"] == pytest.approx(norm, rel=1e-12)
        assert rec.scalars["grad_norm_after_clip"] == pytest.approx(0.05, rel=1e-4)
        assert rec.scalars["grad_norm_after_clip"] <= 0.05
        # the update used the clipped gradient
        step_norm = np.linalg.norm(t.params - before) / 0.1
        assert step_norm == pytest.approx(rec.scalars["grad_norm_after_clip"], rel=1e-9)


def test_clip_by_norm_does_not_fire_below_the_threshold() -> None:
    t = make(optimizer="sgd", lr=0.1, dtype="float64", clip={"mode": "norm", "threshold": 1e6})
    before = t.params.copy()
    rec, st = t.step_with_state()
    assert rec.scalars["clip_fired"] == 0.0
    assert rec.scalars["grad_norm_after_clip"] == rec.scalars["grad_norm_before_clip"]
    assert rec.scalars["grad_norm_before_clip"] == pytest.approx(grad_norm(st), rel=1e-12)
    assert np.linalg.norm(t.params - before) / 0.1 == pytest.approx(grad_norm(st), rel=1e-9)


@pytest.mark.kernels
def test_clip_by_value() -> None:
    t = make(optimizer="sgd", lr=0.1, dtype="float64", clip={"mode": "value", "threshold": 0.01})
    before = t.params.copy()
    rec, st = t.step_with_state()
    assert rec.scalars["clip_fired"] == 1.0
    clipped = []
    for slot in t.plan.params:
        g = np.clip(st[f"grad/{slot.node_id}/{slot.name}"], -0.01, 0.01)
        clipped.append(g.ravel())
        got = (before - t.params)[slot.offset : slot.offset + slot.size] / 0.1
        np.testing.assert_allclose(got, g.ravel(), rtol=1e-9, atol=1e-15)
    after = np.linalg.norm(np.concatenate(clipped))
    assert rec.scalars["grad_norm_after_clip"] == pytest.approx(after, rel=1e-12)
    assert rec.scalars["grad_norm_before_clip"] > after


# ---- per-node telemetry --------------------------------------------------------------------


@pytest.mark.kernels
def test_dead_fraction_is_one_for_relu_behind_huge_negative_bias() -> None:
    net = load()
    net.node("d1").params["bias_init"] = -100.0
    rec = Trainer(net).step()
    assert rec.stat("dead")["a1"] == 1.0
    healthy = make().step()
    assert healthy.stat("dead")["a1"] < 0.5
    assert np.isnan(healthy.stat("dead")["d1"])  # not a ReLU: no figure


@pytest.mark.kernels
def test_saturated_fraction_near_one_for_sigmoid_with_huge_weights() -> None:
    net = load()
    net.node("a1").params["function"] = "sigmoid"
    net.node("d1").params["init"] = {"name": "normal", "std": 1000.0}
    rec = Trainer(net).step()
    assert rec.stat("saturated")["a1"] > 0.95
    net.node("d1").params["init"] = {"name": "normal", "std": 0.01}
    assert Trainer(net).step().stat("saturated")["a1"] == 0.0
    assert np.isnan(rec.stat("saturated")["a2"])  # relu does not saturate at both ends


def test_weight_and_gradient_figures_where_they_apply() -> None:
    t = make(dtype="float64")
    rec, st = t.step_with_state()
    w = rec.stat("weight_norm")
    assert np.isnan(w["a1"]) and np.isnan(w["in"])
    expected = np.sqrt(
        sum(
            float((t.params[s.offset : s.offset + s.size] ** 2).sum())
            for s in t.plan.params
            if s.node_id == "d2"
        )
    )
    assert w["d2"] == pytest.approx(expected, rel=1e-12)
    assert rec.stat("grad_norm")["a2"] == pytest.approx(np.linalg.norm(st["dact/a2"]), rel=1e-12)
    mean = rec.stat("act_mean")["a1"]
    assert mean == pytest.approx(float(st["act/a1"].mean()), rel=1e-9)
    assert rec.stat("act_min")["a1"] >= 0.0
    assert rec.histograms.shape == (len(t.node_ids), t.cfg["bins"])
    np.testing.assert_allclose(rec.histograms.sum(axis=1), 1.0)


# ---- accuracy and learning -----------------------------------------------------------------


def test_accuracies_are_fractions() -> None:
    t = make("residual_bn.json")
    for rec in t.run(60):
        for key in ("accuracy", "train_accuracy", "test_accuracy"):
            v = rec.scalars[key]
            assert 0.0 <= v <= 1.0, (key, v)
        assert rec.scalars["accuracy"] * t.batch_size == pytest.approx(
            round(rec.scalars["accuracy"] * t.batch_size)
        )


def test_batch_accuracy_matches_the_logits() -> None:
    t = make(dtype="float64")
    for _ in range(5):
        rec, st = t.step_with_state()
        predicted = st["act/out"].argmax(axis=1)
        assert rec.scalars["accuracy"] == float((predicted == st["y"]).mean())


def _numpy_forward(t: Trainer, X: np.ndarray) -> np.ndarray:
    """spiral_small by hand: dense -> relu -> dense -> relu -> dense."""
    h = X.astype(np.float64)
    for node in ("d1", "d2", "d3"):
        p = {
            s.name: t.params[s.offset : s.offset + s.size].reshape(s.shape)
            for s in t.plan.params
            if s.node_id == node
        }
        h = h @ p["W"] + p["b"]
        if node != "d3":
            h = np.maximum(h, 0.0)
    return h


@pytest.mark.kernels
def test_evaluate_matches_a_numpy_forward_pass() -> None:
    t = make(dtype="float64")
    for _ in range(40):
        t.step()
    ev = t.evaluate()
    for split, X, y in (("train", t.X_train, t.lab_train), ("test", t.X_test, t.lab_test)):
        z = _numpy_forward(t, X)
        assert ev[f"{split}_accuracy"] == pytest.approx(float((z.argmax(1) == y).mean()))
        zmax = z.max(axis=1, keepdims=True)
        logp = z - zmax - np.log(np.exp(z - zmax).sum(axis=1, keepdims=True))
        loss = -float(logp[np.arange(len(y)), y].mean())
        assert ev[f"{split}_loss"] == pytest.approx(loss, rel=1e-10)


def test_regression_has_no_accuracy() -> None:
    net = chain(2, "tanh", "xavier_uniform", data={"name": "sine"}, loss="mse", out=1)
    rec = Trainer(net).step()
    assert np.isnan(rec.scalars["accuracy"]) and np.isnan(rec.scalars["test_accuracy"])
    assert np.isfinite(rec.scalars["test_loss"])


def test_training_on_spiral_learns() -> None:
    warm = make()  # compiled kernels are cached on disk; loading them is not what we time
    warm.step()
    warm.evaluate()
    t = make()
    start = time.perf_counter()
    assert t.evaluate()["test_accuracy"] < 0.6
    for _ in t.run(1500):
        pass
    ev = t.evaluate()
    assert ev["test_accuracy"] > 0.9, ev
    assert ev["train_loss"] < 0.5
    assert time.perf_counter() - start < 5.0


# ---- batch size ----------------------------------------------------------------------------


def test_batch_larger_than_training_set_names_both_sizes() -> None:
    net = load(batch_size=1000)  # spiral 600 samples -> 480 for training
    with pytest.raises(NetworkError) as exc:
        Trainer(net)
    (problem,) = exc.value.problems
    assert problem.where == "training"
    assert "1000" in problem.message and "480" in problem.message


def test_batch_equal_to_training_set_is_fine() -> None:
    t = make(batch_size=480)
    r1, r2 = t.step(), t.step()
    assert r2.scalars["epoch"] == r1.scalars["epoch"] + 1


def test_steps_to_epoch_counts_the_steps_that_reach_it_exactly():
    t = Trainer(mlp(2, 8, 3, training={"batch_size": 64}))
    assert t.steps_to_epoch(0) == 0
    for target, block in ((1, 1), (2, 5), (4, 1000)):
        n = t.steps_to_epoch(target)
        while n > 1:  # in blocks of any size, as a run-until does
            n -= len(t.run_block(min(block, n - 1)).steps)
        assert t.epoch == target - 1
        t.step()
        assert t.epoch == target
        assert t.steps_to_epoch(target) == 0


def test_a_micro_stepped_forward_pass_shows_only_the_histograms_computed_so_far() -> None:
    t = make("residual_bn.json")
    t.step()  # every block now has the last step's histogram
    assert np.count_nonzero(t.hist.sum(axis=1)) > 1
    t.micro_step()  # the input block
    t.micro_step()  # and the next one
    filled = np.flatnonzero(t.hist.sum(axis=1))
    assert len(filled) > 0 and set(filled) <= {0, 1}
