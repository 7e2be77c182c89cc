"""The diagnosis: real networks trained headless, broken ones caught, healthy ones left alone."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from vgsim.engine import Trainer, read_network
from vgsim.engine.builders import mlp, residual_mlp
from vgsim.engine.diagnose import (
    EXPLODE_RATIO,
    KINDS,
    LEARN_STEPS,
    NEAR_CHANCE,
    REMEDY_KEYS,
    RISE_RATIO,
    VANISH_RATIO,
    Finding,
    chance_loss,
    diagnose,
    facts_of,
    measure,
)
from vgsim.engine.remedies import apply_remedy

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
MEMORISES = RESOURCES / "lessons" / "14-dropout.json"
ALLOWED_REMEDIES = {
    "xavier_init",
    "he_init",
    "non_saturating",
    "batchnorm",
    "clip",
    "l2",
    "skip",
    "fewer_layers",
    "lower_lr",
    "leaky_relu",
    "raise_lr",
    "dropout",
}


def train(net, steps: int, seed: int = 0) -> Trainer:
    net.training["seed"] = seed
    t = Trainer(net)
    for _ in t.run(steps):
        pass
    return t


def kinds(findings: list[Finding]) -> list[str]:
    return [f.kind for f in findings]


def by_kind(findings: list[Finding], kind: str) -> Finding:
    match = [f for f in findings if f.kind == kind]
    assert match, f"no {kind!r} finding among {kinds(findings)}"
    return match[0]


def check_well_formed(t: Trainer, findings: list[Finding]) -> None:
    for f in findings:
        assert f.kind in KINDS
        assert f.severity in ("warning", "error")
        assert f.title and f.evidence and f.explanation
        assert f.nodes, f"{f.kind} highlights no block"
        assert set(f.nodes) <= set(t.node_ids)
        assert f.remedies
        for r in f.remedies:
            assert r.key in ALLOWED_REMEDIES
            assert r.title and r.explanation
        assert len({r.key for r in f.remedies}) == len(f.remedies)


# --- broken networks ----------------------------------------------------------------------------
def deep_sigmoid():
    return mlp(
        8, 32, 3, activation="sigmoid", init="standard", training={"optimizer": "sgd", "lr": 0.5}
    )


def big_init(clip: bool = False):
    training: dict = {"optimizer": "sgd", "lr": 0.1}
    if clip:
        training["clip"] = {"mode": "norm", "threshold": 1.0}
    return mlp(10, 32, 3, init={"name": "normal", "std": 3.0}, training=training)


def dead_relu():
    net = mlp(8, 32, 3, training={"optimizer": "sgd", "lr": 0.05})
    for node in net.nodes:
        if node.type == "dense" and node.id != "head":
            node.params["bias_init"] = -3.0
    return net


def saturated_tanh():
    return mlp(
        6,
        32,
        3,
        activation="tanh",
        init={"name": "normal", "std": 1.0},
        training={"optimizer": "sgd", "lr": 0.05},
    )


def sigmoid_lr(lr: float):
    """The deep-sigmoid example (eight sigmoid layers, "standard" init) at learning rate lr."""
    net = read_network(RESOURCES / "examples" / "deep-sigmoid.json")
    net.training["lr"] = lr
    return net


def stuck_residual_sigmoid():
    """Issue 12, case 6: ten sigmoid dense layers with skips (a stem, four residual blocks of
    two and the head); its loss stays at ln 3 while the gradients spread over three decades."""
    return residual_mlp(
        4, 32, 3, activation="sigmoid", init="standard", training={"optimizer": "sgd", "lr": 0.5}
    )


def test_deep_sigmoid_vanishes():
    t = train(deep_sigmoid(), 200)
    findings = diagnose(t)
    check_well_formed(t, findings)
    assert "exploding" not in kinds(findings) and "diverged" not in kinds(findings)
    f = by_kind(findings, "vanishing")
    assert f.severity == "warning"
    assert f.nodes[0] == "dense1"
    assert "dense1" in f.evidence and "orders of magnitude" in f.evidence
    assert "barely change" in f.evidence  # dense1's update ratio is far below dense8's
    keys = [r.key for r in f.remedies]
    assert {"xavier_init", "non_saturating", "batchnorm", "skip", "fewer_layers"} <= set(keys)
    assert "he_init" not in keys
    m = measure(t)
    assert m["vanish_ratio"] < VANISH_RATIO / 100  # measured about 1e-6: 5 orders of magnitude


def test_large_init_diverges_naming_node_and_step():
    t = train(big_init(), 50)
    assert t.divergence is not None
    findings = diagnose(t)
    check_well_formed(t, findings)
    assert kinds(findings)[0] == "diverged"
    f = by_kind(findings, "diverged")
    d = t.divergence
    assert f.severity == "error"
    assert f.nodes == (d.node,)
    assert f"step {d.step}" in f.evidence and d.node in f.evidence and d.quantity in f.evidence
    assert {"clip", "lower_lr", "he_init", "l2"} == {r.key for r in f.remedies}
    # the one step before the blow-up already showed the gradient growing toward the input
    ex = by_kind(findings, "exploding")
    assert "dense1" in ex.nodes and "times that reaching" in ex.evidence


def test_large_init_with_clipping_explodes_without_diverging():
    t = train(big_init(clip=True), 100)
    assert t.divergence is None
    findings = diagnose(t)
    check_well_formed(t, findings)
    f = by_kind(findings, "exploding")
    assert f.nodes[0] == "dense1"
    assert "huge" in f.evidence
    assert "Clip harder" in next(r.title for r in f.remedies if r.key == "clip")
    assert measure(t)["explode_ratio"] > EXPLODE_RATIO * 1e3  # measured about 3e9


def test_negative_bias_kills_relus():
    t = train(dead_relu(), 60)
    findings = diagnose(t)
    check_well_formed(t, findings)
    f = by_kind(findings, "dying_relu")
    assert f.nodes == tuple(f"act{i}" for i in range(1, 9))
    assert "100%" in f.evidence
    assert f.remedies[0].key == "leaky_relu"
    assert "he_init" not in {r.key for r in f.remedies}  # the network already uses He


def test_wide_init_saturates_tanh():
    t = train(saturated_tanh(), 60)
    findings = diagnose(t)
    check_well_formed(t, findings)
    f = by_kind(findings, "saturated")
    assert "act6" in f.nodes
    assert {"xavier_init", "batchnorm", "non_saturating"} == {r.key for r in f.remedies}


def test_remedy_keys_are_from_the_allowed_list():
    assert set(REMEDY_KEYS) == ALLOWED_REMEDIES
    seen = set()
    for net, steps in (
        (deep_sigmoid(), 60),
        (big_init(), 5),
        (big_init(clip=True), 20),
        (dead_relu(), 20),
        (saturated_tanh(), 20),
        (sigmoid_lr(100.0), 30),
        (mlp(3, 16, 3, training={"optimizer": "sgd", "lr": 1e-6}), LEARN_STEPS),
        (read_network(MEMORISES), 600),
    ):
        t = train(net, steps)
        for f in diagnose(t):
            seen.add(f.kind)
            assert {r.key for r in f.remedies} <= ALLOWED_REMEDIES
    assert seen == set(KINDS)


def test_a_network_that_learns_its_training_rows_by_heart_is_overfitting():
    """Lesson 14's network: 100 noisy training rows, three layers of 128 units."""
    t = train(read_network(MEMORISES), 600)
    f = by_kind(diagnose(t), "overfitting")
    assert t.last_eval["train_loss"] < 0.1 * math.log(3) < math.log(3) < t.last_eval["test_loss"]
    assert [r.key for r in f.remedies] == ["dropout", "l2", "fewer_layers"]
    assert "has risen since" in f.evidence  # its lowest test loss came early
    kinds = [g.kind for g in diagnose(train(apply_remedy(read_network(MEMORISES), "dropout"), 600))]
    assert "overfitting" not in kinds  # dropout cures it


def test_a_network_stuck_at_chance_is_not_learning_never_healthy():
    """Case 6: with skips the gradient ratio (2e-3) stays above the vanishing threshold, so the
    gradients alone called this network healthy; its loss says otherwise."""
    net = stuck_residual_sigmoid()
    net.training["seed"] = 0
    t = Trainer(net)
    t.run_block(LEARN_STEPS - 100)
    while t.step_count < LEARN_STEPS - 100:
        t.run_block(LEARN_STEPS - 100 - t.step_count)
    assert "not_learning" not in kinds(diagnose(t))  # too early to say
    while t.step_count < LEARN_STEPS + 100:
        t.run_block(LEARN_STEPS + 100 - t.step_count)
    findings = diagnose(t)
    check_well_formed(t, findings)
    assert findings, "a network stuck at chance level was called healthy"
    f = by_kind(findings, "not_learning")
    assert f.severity == "error" and f.step == t.step_count - 1
    assert "ln 3" in f.evidence and f"After {t.step_count} steps" in f.evidence
    assert f.figures["loss_vs_chance"] > NEAR_CHANCE
    assert f.nodes == ("b1_dense1",)  # the layer the gradient reaches least
    assert "vanishing" not in kinds(findings)  # 2e-3: the gradients alone look fine
    assert "skip" not in {r.key for r in f.remedies}  # it has skips already
    # the first remedy offered trains it
    fixed = Trainer(apply_remedy(net, f.remedies[0].key))
    while fixed.step_count < LEARN_STEPS + 100 and fixed.divergence is None:
        fixed.run_block(LEARN_STEPS + 100 - fixed.step_count)
    assert diagnose(fixed) == []


def test_a_learning_rate_raised_to_100_is_called_too_high_with_lower_lr_first():
    """Case 7: the loss jumps about 50-fold without a NaN; the remedy is a lower rate."""
    net = sigmoid_lr(0.5)
    net.training["seed"] = 0
    t = Trainer(net)
    for _ in t.run(300):
        pass
    assert "lr_too_high" not in kinds(diagnose(t))
    t.set_live(lr=100.0)
    for _ in t.run(50):
        pass
    findings = diagnose(t)
    check_well_formed(t, findings)
    assert t.divergence is None
    f = findings[0]
    assert f.kind == "lr_too_high" and "not_learning" not in kinds(findings)
    assert f.figures["loss_rise"] > RISE_RATIO and f.figures["loss_jump"] > RISE_RATIO
    assert "learning rate is 100" in f.evidence
    assert f.remedies[0].key == "lower_lr" and "to 10" in f.remedies[0].title
    # the one-click remedy edits the document's rate, which the window applies live
    document = sigmoid_lr(100.0)
    assert apply_remedy(document, "lower_lr").training["lr"] == 10.0


def test_a_rate_too_high_from_the_start_is_found_by_the_loss_far_above_chance():
    t = train(sigmoid_lr(100.0), 60)
    f = by_kind(diagnose(t), "lr_too_high")
    assert f.figures["loss_rise"] > RISE_RATIO and "at initialisation" in f.evidence


def test_a_learning_rate_too_small_is_not_learning_with_raise_lr_first():
    net = mlp(3, 16, 3, training={"optimizer": "sgd", "lr": 1e-6})
    t = train(net, LEARN_STEPS)
    f = by_kind(diagnose(t), "not_learning")
    assert f.remedies[0].key == "raise_lr" and "to 1e-05" in f.remedies[0].title
    assert "barely move" in f.evidence


def test_chance_level_is_the_loss_of_the_best_constant_prediction():
    labels = np.array([0, 1, 2] * 10)
    assert chance_loss("softmax_cross_entropy", labels, 3, 3) == pytest.approx(math.log(3))
    skewed = np.array([0] * 30 + [1] * 10)
    p = np.array([0.75, 0.25])
    assert chance_loss("softmax_cross_entropy", skewed, 2, 2) == pytest.approx(
        -(p * np.log(p)).sum()
    )
    assert chance_loss("binary_cross_entropy", skewed, 2, 1) == pytest.approx(
        -(p * np.log(p)).sum()
    )
    assert chance_loss("mse", skewed, 2, 2) == pytest.approx(0.75 * 0.25)  # one-hot targets
    y = np.random.default_rng(0).normal(size=(50, 2)) * [1.0, 3.0]
    assert chance_loss("mse", y, 0, 2) == pytest.approx(np.var(y, axis=0).mean())
    # a network's facts carry its data's chance level
    t = Trainer(mlp(2, 8, 1, loss="mse", data={"name": "sine"}))
    assert facts_of(t).chance_loss == pytest.approx(np.var(t.data.y_train))


# --- healthy networks: no false alarms ----------------------------------------------------------
HEALTHY = {
    "relu_he8": lambda: mlp(
        8, 32, 3, activation="relu", init="he_normal", training={"optimizer": "sgd", "lr": 0.05}
    ),
    "tanh_xavier6": lambda: mlp(
        6,
        32,
        3,
        activation="tanh",
        init="xavier_uniform",
        training={"optimizer": "sgd", "lr": 0.05},
    ),
    "residual4": lambda: residual_mlp(4, 32, 3, training={"optimizer": "sgd", "lr": 0.05}),
}


@pytest.mark.parametrize("name", sorted(HEALTHY))
def test_healthy_networks_raise_no_false_alarms(name: str):
    """Seeds 0..4, checked every 25 steps for 600 steps: zero findings, and the gradient ratios
    well inside their thresholds (at least one order of magnitude of margin)."""
    alarms = []
    worst_vanish, worst_explode = math.inf, 0.0
    for seed in range(5):
        net = HEALTHY[name]()
        net.training["seed"] = seed
        t = Trainer(net)
        for _ in range(24):
            for _ in t.run(25):
                pass
            alarms += [(seed, t.step_count, f.kind, f.evidence) for f in diagnose(t)]
            m = measure(t)
            worst_vanish = min(worst_vanish, m["vanish_ratio"])
            worst_explode = max(worst_explode, m["explode_ratio"])
        assert t.divergence is None
    assert alarms == []
    assert worst_vanish > 10 * VANISH_RATIO
    assert worst_explode < EXPLODE_RATIO / 10


# What the app ships as healthy: the examples and the lessons' fixes. Not the clipped exploding
# network: clipping treats it, and its gradients before clipping are rightly called huge for
# its first ~200 steps.
HEALTHY_PRESETS = sorted(
    [RESOURCES / "examples" / name for name in ("relu-he.json", "residual.json")]
    + [
        p
        for p in (RESOURCES / "lessons" / "fixes").glob("*.json")
        if p.name != "02-exploding-clipping.json"
    ]
)


# The two that take longest: 6 to 9 s each.
SLOW_PRESETS = {"12-critical", "06-selu-lecun-normal"}


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, marks=pytest.mark.slow) if p.stem in SLOW_PRESETS else p
        for p in HEALTHY_PRESETS
    ],
    ids=lambda p: p.stem,
)
def test_shipped_healthy_networks_raise_no_false_alarms(path: Path):
    """A lesson's recommended steps (at most 2000), checked every 100."""
    net = read_network(path)
    t = Trainer(net)
    alarms = []
    for _ in range(min(int(net.training.get("steps", 2000)), 2000) // 100):
        t.run_block(100)
        alarms += [(t.step_count, f.kind, f.evidence) for f in diagnose(t)]
    assert t.divergence is None and alarms == []


def test_nothing_to_say_before_training():
    t = Trainer(HEALTHY["relu_he8"]())
    assert diagnose(t) == []
    assert all(math.isnan(v) for v in measure(t).values())
    t.step()
    assert diagnose(t) == []  # one batch is not evidence


def test_reset_forgets_the_findings():
    t = train(big_init(), 5)
    assert diagnose(t)
    t.reset()
    assert diagnose(t) == []


def test_medians_of_every_figure_at_once_equal_one_at_a_time():
    from vgsim.engine.diagnose.readings import finite_median, finite_medians

    rng = np.random.default_rng(3)
    for rows in (0, 1, 2, 7, 50):
        x = rng.normal(size=(rows, 6, 4))
        x[rng.random(x.shape) < 0.3] = np.nan
        x[rng.random(x.shape) < 0.1] = np.inf
        if rows:
            x[:, 0, 0] = np.nan  # a figure that does not apply
        got = finite_medians(x)
        assert got.shape == (6, 4)
        for i in range(6):
            for j in range(4):
                want = finite_median(x[:, i, j])
                assert got[i, j] == want or (np.isnan(want) and np.isnan(got[i, j]))
