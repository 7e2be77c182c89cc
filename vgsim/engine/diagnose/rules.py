"""The rules: each reads the telemetry the way the lecture reads a network and returns a
finding with its evidence, or None.

Every per-layer rule works on the medians of the last (up to) `WINDOW` recorded steps, so one
noisy mini-batch neither raises nor hides a finding; the loss rules look further back (at most
`KEEP_STEPS`). A healthy run gives no findings at all.
"""

from __future__ import annotations

import math

import numpy as np

from ..schema import SATURATING
from .advice import EXPLAIN, Finding, remedies_for
from .facts import NetworkFacts, Telemetry
from .readings import (
    SCALAR_COLUMN,
    STAT_COLUMN,
    Shape,
    Window,
    batch_loss_level,
    before_divergence,
    finite_median,
    growth,
    loss_change,
    loss_fall,
    loss_levels,
    names_text,
    orders_text,
    per_unit_grads,
    percent,
    span_text,
    swing,
    worst_pair,
)
from .thresholds import (
    DEAD_FRACTION,
    EXPLODE_RATIO,
    GRAD_GROWTH,
    HUGE_GRAD_NORM,
    JUMP_BLOCK,
    JUMP_RATIO,
    LEARN_STEPS,
    MEMORISED,
    NEAR_CHANCE,
    RISE_RATIO,
    SATURATED_FRACTION,
    SMALL_UPDATE,
    STAGNANT_LOSS_CHANGE,
    STILL_WEIGHTS_RATIO,
    SWING_RATIO,
    VANISH_RATIO,
    WEIGHT_GROWTH,
)


# --- the rules ----------------------------------------------------------------------------
def diverged(tel: Telemetry, shape: Shape) -> Finding | None:
    d = tel.divergence
    if d is None:
        return None
    evidence = d.message()
    loss = tel.scalars[:, SCALAR_COLUMN["loss"]]
    ok = (tel.steps < d.step) & np.isfinite(loss)
    if ok.any():
        last = np.flatnonzero(ok)[-1]
        evidence += f" The last finite loss was {loss[last]:.3g}, at step {int(tel.steps[last])}."
    return Finding(
        "diverged",
        "Training diverged (NaN/infinity)",
        "error",
        evidence,
        EXPLAIN["diverged"],
        (d.node,),
        remedies_for(shape.facts, ["clip", "lower_lr", "init", "l2"]),
        step=d.step,
    )


def lr_too_high(tel: Telemetry, win: Window, shape: Shape) -> Finding | None:
    facts = shape.facts
    chance = facts.chance_loss
    level_steps, levels = loss_levels(tel)
    now = float(levels[-1]) if len(levels) else math.nan
    if not (math.isfinite(chance) and chance > 0 and now > chance):
        return None
    parts: list[str] = []
    figures = loss_rise(tel, facts, now, levels)
    start = tel.initial_loss
    if figures["loss_rise"] >= RISE_RATIO:
        at_start = (
            f" and {now / start:.3g} times its {start:.3g} at initialisation"
            if math.isfinite(start) and start > 0
            else ""
        )
        parts.append(
            f"The loss is {now:.3g} (median of the last {JUMP_BLOCK} mini-batches), "
            f"{now / chance:.3g} times the chance level {chance:.3g}{at_start}: the updates "
            "overshoot."
        )
    elif figures["loss_jump"] >= JUMP_RATIO:
        low = int(np.nanargmin(levels[:-1]))
        parts.append(
            f"The loss jumped {figures['loss_jump']:.3g}-fold: {levels[low]:.3g} around step "
            f"{int(level_steps[low])}, {now:.3g} now (medians of {JUMP_BLOCK} mini-batches), "
            f"above the chance level {chance:.3g}."
        )
    lo, hi, ratio = swing(win)
    figures["loss_swing"] = ratio
    if ratio >= SWING_RATIO:
        parts.append(
            f"It swings {ratio:.3g}-fold from one mini-batch to the next ({lo:.3g} to {hi:.3g}, "
            f"10th to 90th percentile of the last {len(win.steps)} steps)."
        )
    if not parts:
        return None
    lr = win.scalar("lr")
    lr_now = float(lr[-1]) if np.isfinite(lr[-1]) else facts.lr
    parts.append(f"The learning rate is {lr_now:.3g}.")
    updates = {i: win.median(i, "update_ratio") for i in shape.dense}
    updates = {i: u for i, u in updates.items() if math.isfinite(u)}
    nodes = [max(updates, key=updates.__getitem__)] if updates else shape.dense[-1:]
    if updates:
        parts.append(
            f"Each step moves {facts.ids[nodes[0]]}'s weights by {updates[nodes[0]]:.2g} of "
            f"their size ({span_text(win)})."
        )
    return Finding(
        "lr_too_high",
        "Learning rate too high",
        "warning",
        " ".join(parts),
        EXPLAIN["lr_too_high"],
        tuple(facts.ids[i] for i in nodes),
        remedies_for(facts, ["lower_lr", "clip", "batchnorm"]),
        step=win.last_step,
        figures=figures,
    )


def loss_rise(
    tel: Telemetry, facts: NetworkFacts, now: float, levels: np.ndarray
) -> dict[str, float]:
    """How far the newest loss level `now` stands above the chance level or the loss at
    initialisation, whichever is higher (`loss_rise`), and above its lowest level of the last
    JUMP_SPAN steps (`loss_jump`)."""
    chance, start = facts.chance_loss, tel.initial_loss
    base = max(chance, start) if math.isfinite(start) else chance
    earlier = levels[:-1]
    jump = math.nan
    if np.isfinite(earlier).any():
        low = float(np.nanmin(earlier))
        jump = now / low if low > 0 else math.inf
    return {"loss": now, "chance_loss": chance, "loss_rise": now / base, "loss_jump": jump}


def not_learning(tel: Telemetry, win: Window, shape: Shape) -> Finding | None:
    facts = shape.facts
    chance = facts.chance_loss
    done = tel.steps_done
    level, count = batch_loss_level(tel)
    if not (math.isfinite(chance) and chance > 0 and math.isfinite(level)):
        return None
    if done < LEARN_STEPS or level < NEAR_CHANCE * chance:
        return None
    what = _chance_meaning(facts)
    parts = [
        f"After {done} steps the training loss is {level:.4g} (median of the last {count} "
        f"mini-batches), {level / chance:.0%} of the chance level {chance:.4g} ({what}): "
        "the network predicts no better than without its inputs."
    ]
    figures = {"loss": level, "chance_loss": chance, "loss_vs_chance": level / chance}
    nodes: list[int] = []
    if len(shape.hidden) >= 2:
        g = per_unit_grads(win, shape)
        lo, hi, ratio = worst_pair(g, shape.hidden, lowest=True)
        if lo >= 0 and ratio < 0.1:
            figures["vanish_ratio"] = ratio
            parts.append(
                f"The gradient reaching {facts.ids[lo]} is {ratio:.2g} of that reaching "
                f"{facts.ids[hi]} ({span_text(win)})."
            )
            nodes = [lo]
    if not nodes:
        nodes = shape.hidden[:1] or shape.dense[:1]
    # Batch norm first: on the stuck sigmoid network with skips it alone trains within 700
    # steps (Xavier init and fewer layers leave it at chance; ReLU at lr 0.5 diverges).
    keys = ["batchnorm", "init", "non_saturating", "skip", "fewer_layers"]
    updates = [win.median(i, "update_ratio") for i in shape.dense]
    biggest = max((u for u in updates if math.isfinite(u)), default=math.nan)
    if biggest < SMALL_UPDATE:
        figures["max_update"] = biggest
        parts.append(
            f"The weights barely move: each step changes no layer's weights by more than "
            f"{biggest:.2g} of their size ({span_text(win)}), at a learning rate of {facts.lr:.3g}."
        )
        keys.insert(0, "raise_lr")
    return Finding(
        "not_learning",
        "Not learning: the loss stays at chance level",
        "error",
        " ".join(parts),
        EXPLAIN["not_learning"],
        tuple(facts.ids[i] for i in nodes),
        remedies_for(facts, keys),
        step=win.last_step,
        figures=figures,
    )


def _chance_meaning(facts: NetworkFacts) -> str:
    k = facts.classes
    if k and facts.loss == "softmax_cross_entropy":
        if abs(facts.chance_loss - math.log(k)) < 0.01 * math.log(k):
            return f"about ln {k} = {math.log(k):.4g}: guessing among {k} classes"
        return "predicting the class frequencies"
    if k:
        return "predicting the class frequencies"
    return "predicting the mean target: the targets' variance"


def vanishing(tel: Telemetry, win: Window, shape: Shape) -> Finding | None:
    if len(shape.hidden) < 2:
        return None
    ids = shape.facts.ids
    g = per_unit_grads(win, shape)
    lo, hi, ratio = worst_pair(g, shape.hidden, lowest=True)
    if lo < 0 or not ratio < VANISH_RATIO:
        return None
    starved = [
        i
        for i in shape.hidden
        if shape.hidden.index(i) < shape.hidden.index(hi) and g[i] < VANISH_RATIO * g[hi]
    ]
    if ratio == 0:
        parts = [
            f"No gradient at all reaches {ids[lo]}, while {ids[hi]} receives "
            f"{g[hi]:.2g} per unit ({span_text(win)})."
        ]
    else:
        parts = [
            f"The gradient reaching {ids[lo]} is {ratio:.2g} of that reaching {ids[hi]} "
            f"({orders_text(ratio)}; {span_text(win)})."
        ]
    if len(starved) > 1:
        parts.append(f"Starved layers: {names_text([ids[i] for i in starved])}.")
    u_lo, u_hi = win.median(lo, "update_ratio"), win.median(hi, "update_ratio")
    if (
        math.isfinite(u_lo)
        and math.isfinite(u_hi)
        and u_hi > 0
        and (u_lo < STILL_WEIGHTS_RATIO * u_hi)
    ):
        parts.append(
            f"The lower weights barely change: each step moves {ids[lo]}'s weights by "
            f"{u_lo:.2g} of their size, {ids[hi]}'s by {u_hi:.2g}."
        )
    change = loss_change(tel)
    if change is not None and loss_fall(change) < STAGNANT_LOSS_CHANGE:
        parts.append(
            f"The loss is not falling: {change[0]:.4g} then {change[1]:.4g} (medians "
            f"of the two halves of the last {change[2]} steps)."
        )
    explanation = EXPLAIN["vanishing_saturating" if shape.saturating else "vanishing"]
    return Finding(
        "vanishing",
        "Vanishing gradients",
        "warning",
        " ".join(parts),
        explanation,
        tuple(ids[i] for i in starved),
        remedies_for(shape.facts, ["init", "non_saturating", "batchnorm", "skip", "fewer_layers"]),
        step=win.last_step,
        figures={"vanish_ratio": ratio},
    )


def exploding(tel: Telemetry, win: Window, shape: Shape) -> Finding | None:
    ids = shape.facts.ids
    parts: list[str] = []
    nodes: list[int] = []
    figures: dict[str, float] = {}
    if len(shape.hidden) >= 2:
        g = per_unit_grads(win, shape)
        lo, hi, ratio = worst_pair(g, shape.hidden, lowest=False)
        if lo >= 0 and ratio > EXPLODE_RATIO:
            figures["explode_ratio"] = ratio
            parts.append(
                f"The gradient reaching {ids[lo]} is {ratio:.2g} times that reaching "
                f"{ids[hi]} ({orders_text(ratio)}; {span_text(win)}): it grows as it flows back "
                "toward the input."
            )
            nodes += [
                i
                for i in shape.hidden
                if shape.hidden.index(i) < shape.hidden.index(hi) and g[i] > EXPLODE_RATIO * g[hi]
            ]
    grown = []
    for i in shape.dense:
        f = growth(win.steps, win.stats[:, i, STAT_COLUMN["weight_norm"]])
        if f > WEIGHT_GROWTH:
            grown.append((i, f))
    if grown:
        top = max(grown, key=lambda x: x[1])
        figures["weight_growth"] = top[1]
        parts.append(
            f"The weights are growing exponentially: {ids[top[0]]}'s weight norm "
            f"multiplied by {top[1]:.3g} over the last {len(win.steps)} steps"
            + (
                f" ({len(grown)} layers grew more than {WEIGHT_GROWTH:g}x)."
                if len(grown) > 1
                else "."
            )
        )
        nodes += [i for i, _ in grown if i not in nodes]
    norm = win.scalar("grad_norm_before_clip")
    f = growth(win.steps, norm)
    if f > GRAD_GROWTH:
        figures["grad_growth"] = f
        parts.append(
            f"The gradient norm multiplied by {f:.3g} over the last {len(win.steps)} steps."
        )
    big = finite_median(norm)
    if big > HUGE_GRAD_NORM:
        figures["grad_norm"] = big
        parts.append(f"The gradient norm before clipping is huge: {big:.3g} ({span_text(win)}).")
    if not parts:
        return None
    if not nodes:  # only the global norm spoke: point at the layer with the largest gradient
        pg = {i: win.median(i, "param_grad_norm") for i in shape.dense}
        pg = {i: v for i, v in pg.items() if math.isfinite(v)}
        if pg:
            nodes.append(max(pg, key=pg.__getitem__))
    return Finding(
        "exploding",
        "Exploding gradients",
        "warning",
        " ".join(parts),
        EXPLAIN["exploding"],
        tuple(ids[i] for i in nodes),
        remedies_for(shape.facts, ["clip", "init", "lower_lr", "l2", "batchnorm"]),
        step=win.last_step,
        figures=figures,
    )


def saturated(tel: Telemetry, win: Window, shape: Shape) -> Finding | None:
    fns, ids = shape.facts.functions, shape.facts.ids
    hits = [(i, win.median(i, "saturated")) for i in shape.acts if fns[i] in SATURATING]
    hits = [(i, s) for i, s in hits if s > SATURATED_FRACTION]
    if not hits:
        return None
    listing = ", ".join(f"{ids[i]} {percent(s)}" for i, s in hits)
    evidence = (
        f"Share of outputs where the derivative is under a tenth of its peak "
        f"({span_text(win)}): {listing}."
    )
    return Finding(
        "saturated",
        "Saturated activations",
        "warning",
        evidence,
        EXPLAIN["saturated"],
        tuple(ids[i] for i, _ in hits),
        remedies_for(shape.facts, ["xavier_init", "batchnorm", "non_saturating"]),
        step=win.last_step,
        figures={"saturated": max(s for _, s in hits)},
    )


def dying_relu(tel: Telemetry, win: Window, shape: Shape) -> Finding | None:
    fns, ids = shape.facts.functions, shape.facts.ids
    hits = [(i, win.median(i, "dead")) for i in shape.acts if fns[i] == "relu"]
    hits = [(i, d) for i, d in hits if d > DEAD_FRACTION]
    if not hits:
        return None
    listing = ", ".join(f"{ids[i]} {percent(d)}" for i, d in hits)
    evidence = (
        f"Share of units that output 0 for every sample of the batch ({span_text(win)}): {listing}."
    )
    return Finding(
        "dying_relu",
        "Dying ReLUs",
        "warning",
        evidence,
        EXPLAIN["dying_relu"],
        tuple(ids[i] for i, _ in hits),
        remedies_for(shape.facts, ["leaky_relu", "lower_lr", "he_init"]),
        step=win.last_step,
        figures={"dead": max(d for _, d in hits)},
    )


def overfitting(tel: Telemetry, win: Window, shape: Shape) -> Finding | None:
    """The training set learnt by heart: its loss far below chance, the test set's above it
    (both from the latest evaluation)."""
    chance = shape.facts.chance_loss
    train, test = win.scalar("train_loss")[-1], win.scalar("test_loss")[-1]
    if not (chance > 0 and math.isfinite(train) and math.isfinite(test)):
        return None
    if not (train < MEMORISED * chance and test > chance):
        return None
    parts = [
        f"The training-set loss is {train:.2g} and the test-set loss {test:.3g}, above the "
        f"chance level ({chance:.3g}): the network has learnt its training rows by heart and "
        "predicts rows it has not trained on worse than guessing would."
    ]
    kept = before_divergence(tel)
    tests = kept.scalar("test_loss")
    if np.isfinite(tests).any():
        k = int(np.nanargmin(tests))
        if tests[k] < test / 1.5:
            parts.append(
                f"The test-set loss was {tests[k]:.3g} at step {int(kept.steps[k])} and has "
                "risen since, while the training loss fell."
            )
    return Finding(
        "overfitting",
        "Overfitting",
        "warning",
        " ".join(parts),
        EXPLAIN["overfitting"],
        (),
        remedies_for(shape.facts, ["dropout", "l2", "fewer_layers"]),
        step=win.last_step,
        figures={"test_over_chance": test / chance, "train_over_chance": train / chance},
    )
