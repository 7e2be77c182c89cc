"""The lesson presets (resources/lessons): every file is sound, and every lesson shows its claim.

Each lesson network and its fixes is trained headless for the lesson's recommended number of
steps, on every seed the lesson lists (its default seed first), and the claim the lesson text
makes is asserted on the engine's telemetry. A run is trained once and shared by the tests that
read it (lessons 7, 8 and 10 reuse the networks of lessons 1 and 2). The measured figures are
in docs/lessons.md.
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from vgsim.engine import NetworkFileError, Trainer, load_network, read_network, validate
from vgsim.engine.kernels.stats import STAT_NAMES
from vgsim.engine.lessons import PLOT_KEYS, PLOT_TITLES, list_lessons, read_lesson
from vgsim.engine.telemetry import SCALARS

LESSONS = Path(__file__).resolve().parents[2] / "resources" / "lessons"
LN3 = math.log(3)  # the loss of guessing one of three classes
ALL = list_lessons(LESSONS)
BY_ORDER = {lesson.order: lesson for lesson in ALL}
FIX_FILES = sorted((LESSONS / "fixes").glob("*.json"))


def seeds(order: int) -> list[int]:
    """The seeds a lesson lists; VGSIM_LESSON_SEEDS=N adds seeds 0 … N−1 (a longer check)."""
    extra = int(os.environ.get("VGSIM_LESSON_SEEDS", "0"))
    listed = BY_ORDER[order].seeds
    return listed + [s for s in range(extra) if s not in listed]


def fix(order: int, name: str) -> str:
    """A fix of lesson `order`, by file name, as a path relative to the lessons folder."""
    paths = [p for p in BY_ORDER[order].fixes if p.name == name]
    assert paths, f"lesson {order} does not list fixes/{name}"
    return paths[0].relative_to(LESSONS).as_posix()


def lesson_file(order: int) -> str:
    return BY_ORDER[order].path.name


# --- training runs ---------------------------------------------------------------------------
@dataclass
class Run:
    """A finished run: every step's scalars (step × SCALARS) and per-node figures
    (step × node × STAT_NAMES), the starting parameters, and a whole-set evaluation at the end."""

    trainer: Trainer
    scalars: np.ndarray
    stats: np.ndarray
    params0: np.ndarray
    final: dict[str, float]

    def stat(self, name: str, node: str) -> np.ndarray:
        return self.stats[:, self.trainer.node_ids.index(node), STAT_NAMES.index(name)]

    def scalar(self, name: str) -> np.ndarray:
        return self.scalars[:, SCALARS.index(name)]

    def nodes(self, prefix: str) -> list[str]:
        return [n for n in self.trainer.node_ids if n.startswith(prefix)]

    def grad_ratio(self, lower: str, upper: str) -> np.ndarray:
        """Gradient reaching `lower`'s output over that reaching `upper`'s, at every step."""
        return self.stat("grad_norm", lower) / self.stat("grad_norm", upper)

    def mean_over(self, name: str, nodes: list[str]) -> np.ndarray:
        return np.mean([self.stat(name, n) for n in nodes], axis=0)

    def weight_norms(self, nodes: list[str], step: int) -> np.ndarray:
        """Each node's parameter norm (W and b) after the update of `step`."""
        return np.array([self.stat("weight_norm", n)[step] for n in nodes])

    def initial_weight_norms(self, nodes: list[str]) -> np.ndarray:
        """Each node's parameter norm (W and b) before the first update."""
        out = []
        for node in nodes:
            slots = [s for s in self.trainer.plan.params if s.node_id == node]
            values = np.concatenate([self.params0[s.offset : s.offset + s.size] for s in slots])
            out.append(np.linalg.norm(values.astype(np.float64)))
        return np.array(out)

    def relative_change(self, node: str) -> float:
        """‖W_end − W_start‖ / ‖W_start‖ of a dense node's weights."""
        slot = next(s for s in self.trainer.plan.params if (s.node_id, s.name) == (node, "W"))
        span = slice(slot.offset, slot.offset + slot.size)
        start = self.params0[span].astype(np.float64)
        end = self.trainer.params[span].astype(np.float64)
        return float(np.linalg.norm(end - start) / np.linalg.norm(start))


@functools.cache
def run(rel: str, seed: int, figures: bool = True) -> Run:
    """Train lessons/`rel` with training seed `seed` for its recommended steps (once).
    `figures=False`: the per-node figures of the first step only (the rest are NaN), for claims
    on the final loss and the first step's gradients; the training itself is the same."""
    net = load_network(LESSONS / rel)
    net.training["seed"] = seed
    trainer = Trainer(net)
    params0 = trainer.params.copy()
    scalars, stats = [], []
    left = int(net.training["steps"])
    if not figures:
        first = trainer.run_block(1)
        scalars.append(first.scalars)
        stats.append(first.node_stats)
        left -= len(first.steps)
        trainer.telemetry = False
    while left > 0:
        block = trainer.run_block(left)
        if block is None:
            break
        scalars.append(block.scalars)
        stats.append(block.node_stats)
        left -= len(block.steps)
        if block.last.divergence is not None:
            break
    final = dict(trainer.last_eval) if trainer.diverged else trainer.evaluate()
    return Run(trainer, np.concatenate(scalars), np.concatenate(stats), params0, final)


# --- the files ---------------------------------------------------------------------------------
def test_lessons_are_numbered_1_to_14_in_the_lectures_order() -> None:
    assert [lesson.order for lesson in ALL] == list(range(1, 15))
    titles = [lesson.title for lesson in ALL]
    assert titles[0] == "Vanishing gradients" and titles[1] == "Exploding gradients"
    assert [lesson.path.name[:3] for lesson in ALL] == [f"{n:02d}-" for n in range(1, 15)]


@pytest.mark.parametrize("lesson", ALL, ids=lambda lesson: lesson.path.stem)
def test_every_lesson_file_validates_and_is_consistent(lesson) -> None:
    net = read_network(lesson.path)
    assert validate(net) == []
    assert lesson.steps == net.training["steps"], "lesson steps and training.steps differ"
    assert lesson.seeds[0] == net.training.get("seed", 0), "the default seed must come first"
    assert len(lesson.seeds) >= 3 and len(set(lesson.seeds)) == len(lesson.seeds)
    assert 2 <= len(lesson.paragraphs) <= 5
    assert lesson.fixes, "every lesson pairs itself with at least one fix"
    assert lesson.look_at and set(lesson.look_at) <= set(PLOT_KEYS)
    for key in lesson.look_at:  # the text tells the student where to look
        assert PLOT_TITLES[key] in lesson.text, (key, PLOT_TITLES[key])
    assert lesson.compare == (lesson.order in (11, 13))
    assert (lesson.sweep is not None) == (lesson.order == 12)  # the map of lesson 12


@pytest.mark.parametrize("lesson", ALL, ids=lambda lesson: lesson.path.stem)
def test_a_lesson_and_its_fixes_share_data_seed_and_steps(lesson) -> None:
    net = read_network(lesson.path)
    for path in lesson.fixes:
        other = read_network(path)
        assert other.data == net.data, path.name
        assert other.training.get("seed", 0) == net.training.get("seed", 0), path.name
        assert other.training["steps"] == net.training["steps"], path.name


@pytest.mark.parametrize("path", FIX_FILES, ids=lambda p: p.stem)
def test_every_fix_validates_has_a_text_and_no_order(path: Path) -> None:
    assert validate(read_network(path)) == []
    fix_lesson = read_lesson(path)
    assert fix_lesson.order is None and fix_lesson.title and fix_lesson.text
    assert len(fix_lesson.paragraphs) == 1
    assert any(path.resolve() in lesson.fixes for lesson in ALL), "a fix no lesson uses"


def test_list_lessons_skips_fixes_and_plain_networks(tmp_path: Path) -> None:
    examples = LESSONS.parent / "examples"
    for src in (examples / "deep-sigmoid.json", LESSONS / "fixes" / "05-elu.json"):
        (tmp_path / src.name).write_text(src.read_text())
    assert list_lessons(tmp_path) == []


def _malformed(tmp_path: Path, lesson: object) -> Path:
    data = json.loads((LESSONS / "01-vanishing-gradients.json").read_text())
    data["lesson"] = lesson
    path = tmp_path / "broken-lesson.json"
    path.write_text(json.dumps(data))
    return path


GOOD = {
    "order": 1,
    "title": "T",
    "text": "One.\n\nTwo.",
    "look_at": ["loss"],
    "steps": 10,
    "seeds": [0, 1, 2],
    "fixes": [],
    "compare": False,
}


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        ({"title": None}, "title", "missing"),
        ({"text": "  "}, "text", "non-empty"),
        ({"look_at": ["loss", "gradient_flow"]}, "look_at", "unknown plot 'gradient_flow'"),
        ({"look_at": "loss"}, "look_at", "list"),
        ({"fixes": ["fixes/nope.json"]}, "fixes", "no such file"),
        ({"order": 0}, "order", "whole number"),
        ({"order": True}, "order", "whole number"),
        ({"steps": 2.5}, "steps", "whole number"),
        ({"seeds": []}, "seeds", "non-empty list"),
        ({"compare": "yes"}, "compare", "true or false"),
        ({"compare": True}, "compare", "no network to compare"),
        ({"lookat": ["loss"]}, "lookat", "not a lesson key"),
    ],
)
def test_read_lesson_names_the_file_and_key_of_a_malformed_lesson(
    tmp_path: Path, change: dict, key: str, words: str
) -> None:
    lesson = {**GOOD, **change}
    lesson = {k: v for k, v in lesson.items() if v is not None}
    path = _malformed(tmp_path, lesson)
    with pytest.raises(NetworkFileError) as err:
        read_lesson(path)
    message = str(err.value)
    assert message.startswith("broken-lesson.json: ") and f'"{key}"' in message, message
    assert words in message, message


def test_read_lesson_refuses_a_network_without_a_lesson(tmp_path: Path) -> None:
    with pytest.raises(NetworkFileError, match='broken-lesson.json: has no "lesson" object'):
        read_lesson(_malformed(tmp_path, "not an object"))


def test_read_lesson_resolves_fixes_next_to_the_lesson(tmp_path: Path) -> None:
    (tmp_path / "fixes").mkdir()
    (tmp_path / "fixes" / "f.json").write_text((LESSONS / "fixes" / "05-elu.json").read_text())
    lesson = read_lesson(_malformed(tmp_path, {**GOOD, "fixes": ["fixes/f.json"], "compare": True}))
    assert lesson.fixes == [(tmp_path / "fixes" / "f.json").resolve()] and lesson.compare
    assert lesson.paragraphs == ["One.", "Two."] and lesson.order == 1


def test_list_lessons_refuses_two_lessons_with_one_order(tmp_path: Path) -> None:
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(_malformed(tmp_path, GOOD).read_text())
    (tmp_path / "broken-lesson.json").unlink()
    with pytest.raises(NetworkFileError, match="both have lesson order 1"):
        list_lessons(tmp_path)


def test_a_lesson_runs_from_the_command_line(tmp_path: Path) -> None:
    from vgsim.cli import main as cli_main  # here, so a CLI problem fails only this test

    out = tmp_path / "run"
    path = LESSONS / "01-vanishing-gradients.json"
    assert cli_main(["run", str(path), "--steps", "5", "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "ok" and summary["steps"] == 5


# --- 1 vanishing gradients -----------------------------------------------------------------------
@pytest.mark.parametrize("seed", seeds(1))
def test_lesson_01_first_layer_gradient_stays_below_1e_3_of_last(seed: int) -> None:
    r = run(lesson_file(1), seed)
    ratio = r.grad_ratio("dense1", "dense8")
    assert len(ratio) == BY_ORDER[1].steps and r.trainer.divergence is None
    assert ratio[0] < 1e-3
    assert np.all(ratio < 1e-3), f"step {np.argmax(ratio >= 1e-3)}: {ratio.max():.2e}"


@pytest.mark.parametrize("seed", seeds(1))
def test_lesson_01_lower_weights_barely_change(seed: int) -> None:
    r = run(lesson_file(1), seed)
    # dense1's weights move by a tiny fraction of what dense8's move, relative to their size.
    assert r.relative_change("dense1") < 1e-3 * r.relative_change("dense8")
    # Update / weight ratio: many orders of magnitude apart over the whole run.
    low = np.median(r.stat("update_ratio", "dense1"))
    high = np.median(r.stat("update_ratio", "dense8"))
    assert low < 1e-3 * high


@pytest.mark.parametrize("seed", seeds(1))
def test_lesson_01_loss_stagnates_at_chance(seed: int) -> None:
    r = run(lesson_file(1), seed)
    evaluated = r.scalar("train_loss")[r.scalar("step") % r.trainer.cfg["eval_every"] == 0]
    assert np.all(evaluated[1:] > 0.97 * LN3), evaluated.min()  # never better than guessing
    assert r.final["train_loss"] > 0.97 * LN3


# --- 2 exploding gradients -----------------------------------------------------------------------
@pytest.mark.parametrize("seed", seeds(2))
def test_lesson_02_diverges_after_growing_gradients_and_weights(seed: int) -> None:
    r = run(lesson_file(2), seed)
    div = r.trainer.divergence
    assert div is not None and 1 <= div.step < BY_ORDER[2].steps
    assert div.node in r.trainer.node_ids and div.quantity
    norms = r.scalar("grad_norm_before_clip")[: div.step]  # the steps before the blow-up
    assert np.all(np.isfinite(norms)) and len(norms) >= 2
    assert np.all(np.diff(norms) > 0), norms  # the global gradient norm grows at every step
    assert norms[-1] > 100 * norms[0]
    dense = r.nodes("dense") + ["head"]
    start = np.linalg.norm(r.initial_weight_norms(dense))
    last = np.linalg.norm(r.weight_norms(dense, div.step - 1))  # after the last finite update
    assert last > 10 * start  # the weights grow by an order of magnitude or more
    # At the start the gradient already grows towards the input, instead of shrinking.
    assert r.grad_ratio("dense1", "dense10")[0] > 10


@pytest.mark.parametrize("seed", seeds(2))
@pytest.mark.parametrize("name", ["02-exploding-he-init.json", "02-exploding-clipping.json"])
def test_lesson_02_fixes_train_without_diverging(name: str, seed: int) -> None:
    r = run(fix(2, name), seed)
    assert r.trainer.divergence is None and len(r.scalars) == BY_ORDER[2].steps
    # Predicting 0 for sin(pi x) costs 0.5; the fixes fit the curve well below half that.
    assert r.final["train_loss"] < 0.25
    assert r.final["train_loss"] < r.scalar("train_loss")[0]


# --- 3 Xavier initialisation ---------------------------------------------------------------------
@pytest.mark.parametrize("seed", seeds(3))
def test_lesson_03_standard_normal_tanh_saturates_and_xavier_does_not(seed: int) -> None:
    broken, xavier = run(lesson_file(3), seed), run(fix(3, "03-xavier-uniform.json"), seed)
    assert broken.mean_over("saturated", broken.nodes("act"))[0] > 0.5
    assert xavier.mean_over("saturated", xavier.nodes("act"))[0] < 0.05


@pytest.mark.parametrize("seed", seeds(3))
def test_lesson_03_xavier_keeps_first_to_last_gradient_within_tenfold(seed: int) -> None:
    broken, xavier = run(lesson_file(3), seed), run(fix(3, "03-xavier-uniform.json"), seed)
    bad = broken.grad_ratio("dense1", "dense10")[0]
    assert not 0.1 <= bad <= 10, bad
    good = xavier.grad_ratio("dense1", "dense10")
    assert 0.1 <= good[0] <= 10, good[0]
    # During training it drifts, but never to a vanishing or exploding gradient.
    assert np.all((good > 1e-2) & (good < 1e2)), (good.min(), good.max())


@pytest.mark.parametrize("seed", seeds(3))
def test_lesson_03_xavier_loss_ends_below_half_of_the_broken_one(seed: int) -> None:
    broken, xavier = run(lesson_file(3), seed), run(fix(3, "03-xavier-uniform.json"), seed)
    assert xavier.trainer.divergence is None
    assert xavier.final["train_loss"] < 0.5 * broken.final["train_loss"]


# --- 4 ReLU and He initialisation ----------------------------------------------------------------
@pytest.mark.parametrize("seed", seeds(4))
def test_lesson_04_sigmoid_gradient_vanishes_and_relu_he_flows(seed: int) -> None:
    sigmoid, relu = run(lesson_file(4), seed), run(fix(4, "04-relu-he.json"), seed)
    assert np.all(sigmoid.grad_ratio("dense1", "dense10") < 1e-3)
    assert 0.1 <= relu.grad_ratio("dense1", "dense10")[0] <= 10


@pytest.mark.parametrize("seed", seeds(4))
def test_lesson_04_relu_he_loss_ends_far_below_sigmoid(seed: int) -> None:
    sigmoid, relu = run(lesson_file(4), seed), run(fix(4, "04-relu-he.json"), seed)
    assert sigmoid.final["train_loss"] > 0.97 * LN3
    assert relu.final["train_loss"] < 0.2 and relu.trainer.divergence is None


# --- 5 dying ReLU --------------------------------------------------------------------------------
def dead_fraction(r: Run) -> np.ndarray:
    """Mean over the activation layers of the fraction of dead units, at every step."""
    return r.mean_over("dead", r.nodes("act"))


@pytest.mark.parametrize("seed", seeds(5))
def test_lesson_05_dead_relu_fraction_climbs_to_all_units(seed: int) -> None:
    r = run(lesson_file(5), seed)
    dead = dead_fraction(r)
    end = dead[-50:].mean()
    assert end > dead[0] + 0.1 and end >= 0.95, (dead[0], end)
    assert r.final["train_loss"] > 0.97 * LN3


FIXES_5 = ["05-leaky-relu.json", "05-prelu.json", "05-elu.json", "05-selu.json"]


@pytest.mark.parametrize("seed", seeds(5))
@pytest.mark.parametrize("name", FIXES_5)
def test_lesson_05_relu_variants_keep_units_alive_and_train(name: str, seed: int) -> None:
    r, relu = run(fix(5, name), seed), run(lesson_file(5), seed)
    dead = dead_fraction(r)
    assert dead[-50:].mean() <= 0.1 and dead[-50:].mean() < dead[0], (dead[0], dead[-50:].mean())
    assert r.trainer.divergence is None
    assert r.final["train_loss"] < 0.3 and r.final["train_loss"] < 0.5 * relu.final["train_loss"]


def test_lesson_05_lists_the_lectures_four_variants() -> None:
    functions = set()
    for path in BY_ORDER[5].fixes:
        net = read_network(path)
        functions |= {n.params["function"] for n in net.nodes if n.type == "activation"}
    assert functions == {"leaky_relu", "prelu", "elu", "selu"}


# --- 6 SELU --------------------------------------------------------------------------------------
def test_lesson_06_data_is_standardised() -> None:
    X = Trainer(load_network(LESSONS / lesson_file(6))).data.X_train
    assert np.all(np.abs(X.mean(axis=0)) < 0.05) and np.all(np.abs(X.std(axis=0) - 1) < 0.05)


@pytest.mark.parametrize("seed", seeds(6))
def test_lesson_06_selu_with_lecun_normal_keeps_every_layer_near_mean_0_std_1(seed: int) -> None:
    r = run(fix(6, "06-selu-lecun-normal.json"), seed)
    steps = BY_ORDER[6].steps
    for step in (0, 100, steps // 2, steps - 1):  # at the start and while it trains
        for node in r.nodes("act"):
            mean, std = r.stat("act_mean", node)[step], r.stat("act_std", node)[step]
            assert abs(mean) < 0.3 and 0.7 <= std <= 1.3, (step, node, mean, std)


@pytest.mark.parametrize("seed", seeds(6))
def test_lesson_06_selu_with_standard_init_shrinks_with_depth(seed: int) -> None:
    r = run(lesson_file(6), seed)
    stds = np.array([r.stat("act_std", node)[0] for node in r.nodes("act")])
    assert np.all(np.diff(stds) < 0), stds  # narrower at every layer
    assert stds[-1] < 0.1 and stds[-1] < 0.2 * stds[0], stds


# --- 7 batch normalisation -----------------------------------------------------------------------
@pytest.mark.parametrize("seed", seeds(7))
def test_lesson_07_batch_norm_lifts_the_first_layer_gradient(seed: int) -> None:
    plain = run(lesson_file(7), seed)
    bn = run(fix(7, "01-vanishing-batchnorm.json"), seed)
    ratio_plain = plain.grad_ratio("dense1", "dense8")
    ratio_bn = bn.grad_ratio("dense1", "dense8")
    assert np.all(ratio_bn > 1e3 * ratio_plain)  # at every step, far larger
    assert np.all((ratio_bn > 0.1) & (ratio_bn < 1e3)), (ratio_bn.min(), ratio_bn.max())


@pytest.mark.parametrize("seed", seeds(7))
def test_lesson_07_batch_norm_loss_ends_well_below_the_plain_network(seed: int) -> None:
    plain = run(lesson_file(7), seed)
    bn = run(fix(7, "01-vanishing-batchnorm.json"), seed)
    assert bn.trainer.divergence is None
    assert bn.final["train_loss"] < 0.3 * plain.final["train_loss"]


def test_lesson_07_and_10_start_from_the_network_of_lesson_1() -> None:
    first = read_network(BY_ORDER[1].path).to_dict()
    for order in (7, 10):
        other = read_network(BY_ORDER[order].path).to_dict()
        for key in ("data", "nodes", "edges", "training"):
            assert other[key] == first[key], (order, key)


# --- 8 gradient clipping -------------------------------------------------------------------------
def test_lesson_08_starts_from_the_network_of_lesson_2() -> None:
    first = read_network(BY_ORDER[2].path).to_dict()
    other = read_network(BY_ORDER[8].path).to_dict()
    assert all(other[k] == first[k] for k in ("data", "nodes", "edges", "training"))


@pytest.mark.parametrize("seed", seeds(8))
def test_lesson_08_clipping_tames_the_exploding_network(seed: int) -> None:
    assert run(lesson_file(8), seed).trainer.divergence is not None  # without clipping
    r = run(fix(8, "02-exploding-clipping.json"), seed)
    threshold = r.trainer.cfg["clip"]["threshold"]
    assert r.trainer.cfg["clip"]["mode"] == "norm"
    assert r.trainer.divergence is None and len(r.scalars) == BY_ORDER[8].steps
    before, after = r.scalar("grad_norm_before_clip"), r.scalar("grad_norm_after_clip")
    fired = r.scalar("clip_fired") == 1.0
    assert fired[0] and before[0] > 100 * threshold  # the exploding start is clipped
    assert np.all(before[fired] > threshold)
    # Clipped norms equal the threshold up to float32 rounding of the scaled gradient.
    assert np.all(after <= threshold * (1 + 1e-6)), after.max()
    assert np.all(after[fired] >= threshold * (1 - 1e-5))
    start = r.scalar("train_loss")[0]
    assert r.final["train_loss"] < 0.01 * start and r.final["train_loss"] < 0.25
    # Each update is at most lr x threshold long, so the weights stay where they started.
    dense = r.nodes("dense") + ["head"]
    norms = [
        np.linalg.norm(r.initial_weight_norms(dense)),
        np.linalg.norm(r.weight_norms(dense, -1)),
    ]
    assert abs(norms[1] / norms[0] - 1) < 0.05, norms


# --- 9 L2 regularisation -------------------------------------------------------------------------
@pytest.mark.parametrize("seed", seeds(9))
def test_lesson_09_l2_keeps_weight_norms_below_the_unregularised_twin(seed: int) -> None:
    plain, l2 = run(lesson_file(9), seed), run(fix(9, "09-l2.json"), seed)
    assert plain.trainer.cfg["l2"] == 0 and l2.trainer.cfg["l2"] > 0
    dense = plain.nodes("dense") + ["head"]
    start = plain.initial_weight_norms(dense)
    assert np.array_equal(start, l2.initial_weight_norms(dense))  # the same starting weights
    end_plain, end_l2 = plain.weight_norms(dense, -1), l2.weight_norms(dense, -1)
    assert np.linalg.norm(end_l2) < 0.5 * np.linalg.norm(end_plain)
    assert np.all(end_l2 < end_plain)  # every layer
    hidden = [i for i, n in enumerate(dense) if n != "head"]
    assert np.all(end_l2[hidden] < 0.5 * end_plain[hidden])  # the hidden layers: under half
    assert np.linalg.norm(end_plain) > 1.2 * np.linalg.norm(start)  # unregularised ones grow
    assert np.linalg.norm(end_l2) < np.linalg.norm(start)  # regularised ones shrink
    assert l2.final["train_accuracy"] >= 0.9  # and it still fits the spiral


# --- 10 fewer layers -----------------------------------------------------------------------------
@pytest.mark.parametrize("seed", seeds(10))
def test_lesson_10_two_layers_train_where_eight_do_not(seed: int) -> None:
    deep, shallow = run(lesson_file(10), seed), run(fix(10, "10-two-layers.json"), seed)
    assert deep.grad_ratio("dense1", "dense8")[0] < 1e-3
    assert shallow.grad_ratio("dense1", "dense2")[0] > 1e-2
    assert shallow.final["train_loss"] < 0.3 * deep.final["train_loss"]


# --- 11 depth and skip connections ---------------------------------------------------------------
def _dense_layers(path: Path) -> int:
    return sum(n.type == "dense" for n in read_network(path).nodes)


def test_lesson_11_compares_plain_20_plain_56_and_residual_56() -> None:
    lesson = BY_ORDER[11]
    assert lesson.compare
    assert _dense_layers(lesson.path) == 56
    assert [_dense_layers(p) for p in lesson.fixes] == [20, 56]
    residual = read_network(lesson.fixes[1])
    assert len(residual.edges) == len(residual.nodes) - 1 + 27  # 27 skip connections


@pytest.mark.parametrize("seed", seeds(11))
def test_lesson_11_plain_56_trains_worse_than_plain_20_and_residual_56_best(seed: int) -> None:
    plain56 = run(lesson_file(11), seed)
    plain20 = run(fix(11, "11-plain-20.json"), seed)
    res56 = run(fix(11, "11-residual-56.json"), seed)
    losses = [r.final["train_loss"] for r in (plain20, plain56, res56)]
    assert all(r.trainer.divergence is None for r in (plain20, plain56, res56))
    assert losses[1] > losses[0], losses  # plain-56 > plain-20: deeper is harder to train
    assert losses[2] <= losses[0], losses  # residual-56 <= plain-20


@pytest.mark.parametrize("seed", seeds(11))
def test_lesson_11_residual_56_learns_faster_than_plain_20(seed: int) -> None:
    plain20 = run(fix(11, "11-plain-20.json"), seed)
    res56 = run(fix(11, "11-residual-56.json"), seed)
    steps = plain20.scalar("step")
    every = plain20.trainer.eval_every
    assert res56.trainer.eval_every == every
    for step in range(every, BY_ORDER[11].steps, every):  # evaluation steps along the way
        at = np.flatnonzero(steps == step)[0]
        assert res56.scalar("train_loss")[at] < plain20.scalar("train_loss")[at], step


# --- 13 deep convolutional networks and residual blocks -------------------------------------------
def _layers(path: Path) -> int:
    """Convolutions and dense layers: the layers He et al. count."""
    return sum(n.type in ("conv2d", "dense") for n in read_network(path).nodes)


def test_lesson_13_compares_plain_20_plain_56_and_residual_56_convolutional_networks() -> None:
    lesson = BY_ORDER[13]
    assert lesson.compare
    assert read_network(lesson.path).data == {"name": "digits", "shape": "image", "seed": 0}
    assert _layers(lesson.path) == 56
    # The residual network's two 1 × 1 projections are not counted, as in the paper.
    assert [_layers(p) for p in lesson.fixes] == [20, 56 + 2]
    residual = read_network(lesson.fixes[1])
    skips = [n for n in residual.nodes if n.id.endswith("_out") and n.type == "activation"]
    assert len(skips) == 27
    preds = {n.id: [a for a, b in residual.edges if b == n.id] for n in skips}
    assert all(len(p) == 2 for p in preds.values())  # each block adds its input


@pytest.mark.slow  # 56-layer convolutional networks: 3 to 10 s a seed
@pytest.mark.parametrize("seed", seeds(13))
def test_lesson_13_plain_56_trains_worse_than_plain_20_and_residual_56_best(seed: int) -> None:
    plain56 = run(lesson_file(13), seed, figures=False)
    plain20 = run(fix(13, "13-conv-plain-20.json"), seed, figures=False)
    res56 = run(fix(13, "13-conv-residual-56.json"), seed, figures=False)
    assert all(r.trainer.divergence is None for r in (plain20, plain56, res56))
    losses = [r.final["train_loss"] for r in (plain20, plain56, res56)]
    assert losses[1] > 0.85 * math.log(10), losses  # the plain 56-layer network still guesses
    assert losses[1] > 1.5 * losses[0], losses  # deeper is harder to train
    assert losses[2] < losses[0], losses  # the residual network trains best
    accuracy = [r.final["train_accuracy"] for r in (plain20, plain56, res56)]
    assert accuracy[1] < 0.3 and accuracy[0] > 0.6 and accuracy[2] > 0.75, accuracy


@pytest.mark.slow  # 56-layer convolutional networks: 3 to 10 s a seed
@pytest.mark.parametrize("seed", seeds(13))
def test_lesson_13_plain_56_gradient_grows_a_thousandfold_towards_the_input(seed: int) -> None:
    """Gradient flow at the first step: first convolution over last convolution."""
    ratios = []
    for rel, last in (
        (lesson_file(13), "s3b9_2_conv"),
        (fix(13, "13-conv-plain-20.json"), "s3b3_2_conv"),
        (fix(13, "13-conv-residual-56.json"), "s3b9_2_conv"),
    ):
        ratios.append(float(run(rel, seed, figures=False).grad_ratio("stem_conv", last)[0]))
    assert ratios[0] > 1000, ratios
    assert ratios[1] < 150 and ratios[2] < 150, ratios


# --- 14 dropout ----------------------------------------------------------------------------------
def test_lesson_14_adds_dropout_at_rate_half_after_every_relu_and_nothing_else() -> None:
    plain, dropped = read_network(BY_ORDER[14].path), read_network(BY_ORDER[14].fixes[0])
    assert not [n for n in plain.nodes if n.type == "dropout"]
    after = {a: b for a, b in dropped.edges}
    relus = [n.id for n in dropped.nodes if n.type == "activation"]
    rates = {n.id: n.params["rate"] for n in dropped.nodes if n.type == "dropout"}
    assert [after[r] for r in relus] == list(rates) and set(rates.values()) == {0.5}
    kept = [n for n in dropped.nodes if n.type != "dropout"]
    assert [(n.id, n.type, n.params) for n in kept] == [
        (n.id, n.type, n.params) for n in plain.nodes
    ]


@pytest.mark.parametrize("seed", seeds(14))
def test_lesson_14_plain_network_memorises_and_its_test_loss_climbs(seed: int) -> None:
    plain = run(lesson_file(14), seed)
    test = plain.scalar("test_loss")
    assert plain.final["train_loss"] < 0.01 and plain.final["train_accuracy"] == 1.0
    assert plain.final["test_loss"] > 3 * np.nanmin(test)  # it was lowest early on


@pytest.mark.parametrize("seed", seeds(14))
def test_lesson_14_dropout_halves_the_final_test_loss_and_lifts_test_accuracy(seed: int) -> None:
    plain, dropped = run(lesson_file(14), seed), run(fix(14, "14-dropout.json"), seed)
    dense = plain.nodes("dense") + ["head"]
    # The same starting weights: dropout has none and draws nothing at initialisation.
    assert np.array_equal(plain.initial_weight_norms(dense), dropped.initial_weight_norms(dense))
    assert dropped.final["train_loss"] > 0.2  # it no longer memorises
    assert dropped.final["test_loss"] < 0.65 * plain.final["test_loss"]
    assert dropped.final["test_accuracy"] > plain.final["test_accuracy"]
    # The test loss is lowest later: overfitting sets in later.
    lowest = [int(np.nanargmin(r.scalar("test_loss"))) for r in (plain, dropped)]
    assert lowest[1] > 2 * lowest[0], lowest
