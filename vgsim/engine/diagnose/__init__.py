"""Read a run's telemetry the way the lecture reads a network: divergence, a learning rate too
high, a network that does not learn, vanishing or exploding gradients, saturated sigmoid/tanh
units and dying ReLUs, each with its evidence and remedies.

One implementation for every caller: `diagnose_telemetry(facts, telemetry)` works on the
network's facts and its recorded figures, whoever recorded them (the window's live Trainer, a
`vgsim run` folder, a comparison, a sweep); `diagnose(trainer)` is it for a live Trainer.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..kernels.stats import STAT_NAMES
from ..schema import SATURATING
from .advice import (
    KINDS,
    REMEDY_KEYS,
    SEVERITIES,
    Finding,
    Remedy,
    finding_from_dict,
    finding_line,
    findings_report,
)
from .facts import (
    NetworkFacts,
    Telemetry,
    chance_loss,
    facts_of,
    network_facts,
    telemetry_of,
)
from .readings import (
    batch_loss_level,
    finite_median,
    growth,
    loss_change,
    loss_fall,
    loss_levels,
    per_unit_grads,
    shape_of,
    swing,
    window,
    worst_pair,
)
from .rules import (
    diverged,
    dying_relu,
    exploding,
    loss_rise,
    lr_too_high,
    not_learning,
    overfitting,
    saturated,
    vanishing,
)
from .thresholds import (
    DEAD_FRACTION,
    EXPLODE_RATIO,
    GRAD_GROWTH,
    HUGE_GRAD_NORM,
    JUMP_RATIO,
    KEEP_STEPS,
    LEARN_STEPS,
    LOSS_WINDOW,
    MIN_STEPS,
    NEAR_CHANCE,
    RISE_RATIO,
    SATURATED_FRACTION,
    STATS_STEPS,
    SWING_RATIO,
    VANISH_RATIO,
    WEIGHT_GROWTH,
    WINDOW,
)

if TYPE_CHECKING:  # a Trainer is only passed in: no need to import its kernels here
    from ..train import Trainer

_WEIGHT_NORM = STAT_NAMES.index("weight_norm")

__all__ = [
    "DEAD_FRACTION",
    "EXPLODE_RATIO",
    "GRAD_GROWTH",
    "HUGE_GRAD_NORM",
    "JUMP_RATIO",
    "KEEP_STEPS",
    "KINDS",
    "LEARN_STEPS",
    "LOSS_WINDOW",
    "MEASURES",
    "MIN_STEPS",
    "NEAR_CHANCE",
    "RISE_RATIO",
    "REMEDY_KEYS",
    "SATURATED_FRACTION",
    "STATS_STEPS",
    "SEVERITIES",
    "SWING_RATIO",
    "VANISH_RATIO",
    "WEIGHT_GROWTH",
    "WINDOW",
    "Finding",
    "NetworkFacts",
    "Remedy",
    "Telemetry",
    "chance_loss",
    "diagnose",
    "diagnose_telemetry",
    "facts_of",
    "finding_from_dict",
    "finding_line",
    "findings_report",
    "measure",
    "measure_telemetry",
    "network_facts",
    "telemetry_of",
]


def diagnose_telemetry(facts: NetworkFacts, telemetry: Telemetry) -> list[Finding]:
    """Findings for the run so far; [] for a healthy run (or one not yet started).

    Order: diverged, lr_too_high, not_learning, exploding, vanishing, saturated, dying_relu,
    overfitting (those that apply). A learning rate found too high, or a divergence, explains
    a loss that stays high, so "not learning" is left out then."""
    shape = shape_of(facts)
    out: list[Finding | None] = [diverged(telemetry, shape)]
    win = window(telemetry)
    if win is not None:
        with np.errstate(all="ignore"):
            high = lr_too_high(telemetry, win, shape)
            out += [
                high,
                None if high or out[0] else not_learning(telemetry, win, shape),
                exploding(telemetry, win, shape),
                vanishing(telemetry, win, shape),
                saturated(telemetry, win, shape),
                dying_relu(telemetry, win, shape),
                overfitting(telemetry, win, shape),
            ]
    return [f for f in out if f is not None]


def diagnose(trainer: Trainer) -> list[Finding]:
    """`diagnose_telemetry` of a live Trainer, with its current settings."""
    return diagnose_telemetry(facts_of(trainer), telemetry_of(trainer))


MEASURES = (
    "vanish_ratio",
    "explode_ratio",
    "weight_growth",
    "grad_growth",
    "grad_norm",
    "saturated",
    "dead",
    "loss_fall",
    "loss_vs_chance",
    "loss_now_vs_chance",
    "loss_rise",
    "loss_jump",
    "loss_swing",
    "max_update",
)


def measure_telemetry(facts: NetworkFacts, telemetry: Telemetry) -> dict[str, float]:
    """The figures the rules compare with their thresholds: the worst shrink and growth of the
    per-unit gradient between hidden layers (lower/higher), the largest fitted weight-norm
    growth, the fitted growth and median of the gradient norm before clipping, the largest
    saturated and dead shares, the loss's relative fall, its level over the chance level, its
    jump above its lowest level and its swing between mini-batches. NaN where a figure does
    not apply."""
    shape = shape_of(facts)
    win = window(telemetry)
    out = dict.fromkeys(MEASURES, math.nan)
    if win is None:
        return out
    with np.errstate(all="ignore"):
        if len(shape.hidden) >= 2:
            g = per_unit_grads(win, shape)
            out["vanish_ratio"] = worst_pair(g, shape.hidden, lowest=True)[2]
            out["explode_ratio"] = worst_pair(g, shape.hidden, lowest=False)[2]
        grown = [growth(win.steps, win.stats[:, i, _WEIGHT_NORM]) for i in shape.dense]
        out["weight_growth"] = max((f for f in grown if math.isfinite(f)), default=math.nan)
        norm = win.scalar("grad_norm_before_clip")
        out["grad_growth"] = growth(win.steps, norm)
        out["grad_norm"] = finite_median(norm)
        fns = facts.functions
        sat = [win.median(i, "saturated") for i in shape.acts if fns[i] in SATURATING]
        dead = [win.median(i, "dead") for i in shape.acts if fns[i] == "relu"]
        out["saturated"] = max((s for s in sat if math.isfinite(s)), default=math.nan)
        out["dead"] = max((d for d in dead if math.isfinite(d)), default=math.nan)
        out["loss_fall"] = loss_fall(loss_change(telemetry))
        level, _ = batch_loss_level(telemetry)
        if facts.chance_loss > 0:
            out["loss_vs_chance"] = level / facts.chance_loss
        _, levels = loss_levels(telemetry)
        if len(levels):
            rise = loss_rise(telemetry, facts, float(levels[-1]), levels)
            out["loss_rise"], out["loss_jump"] = rise["loss_rise"], rise["loss_jump"]
            out["loss_now_vs_chance"] = float(levels[-1]) / facts.chance_loss
        out["loss_swing"] = swing(win)[2]
        updates = [win.median(i, "update_ratio") for i in shape.dense]
        out["max_update"] = max((u for u in updates if math.isfinite(u)), default=math.nan)
    return out


def measure(trainer: Trainer) -> dict[str, float]:
    """`measure_telemetry` of a live Trainer."""
    return measure_telemetry(facts_of(trainer), telemetry_of(trainer))
