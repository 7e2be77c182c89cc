"""The rules: each reads the telemetry the way the lecture reads a network and returns a
finding with its evidence, or None.

Every per-layer rule works on the medians of the last (up to) `WINDOW` recorded steps, so one
noisy mini-batch neither raises nor hides a finding; the loss rules look further back (at most
`KEEP_STEPS`). A healthy run gives no findings at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..kernels.stats import STAT_NAMES
from ..schema import SATURATING
from ..telemetry import SCALARS
from .advice import EXPLAIN, Finding, head_dense, remedies_for
from .facts import NetworkFacts, Telemetry
from .thresholds import (
    DEAD_FRACTION,
    EXPLODE_RATIO,
    GRAD_GROWTH,
    HUGE_GRAD_NORM,
    JUMP_BLOCK,
    JUMP_RATIO,
    JUMP_SPAN,
    LEARN_STEPS,
    LOSS_WINDOW,
    MIN_FIT_POINTS,
    MIN_STEPS,
    NEAR_CHANCE,
    RISE_RATIO,
    SATURATED_FRACTION,
    SMALL_UPDATE,
    STAGNANT_LOSS_CHANGE,
    STILL_WEIGHTS_RATIO,
    SWING_RATIO,
    VANISH_RATIO,
    WEIGHT_GROWTH,
    WINDOW,
)

_COL = {name: c for c, name in enumerate(STAT_NAMES)}
_SCAL = {name: c for c, name in enumerate(SCALARS)}


# --- what the rules read ------------------------------------------------------------------
@dataclass
class Window:
    steps: np.ndarray  # (T,)
    scalars: np.ndarray  # (T, SCALARS)
    stats: np.ndarray  # (T, node, STAT_NAMES), float64
    _medians: np.ndarray | None = None

    def median(self, i: int, stat: str) -> float:
        """The median of a node's finite figures; NaN if it has none."""
        if self._medians is None:  # every node's and figure's at once: a deep network has
            # hundreds, and one call per figure took most of a diagnosis
            self._medians = finite_medians(self.stats)
        return float(self._medians[i, _COL[stat]])

    def scalar(self, name: str) -> np.ndarray:
        return self.scalars[:, _SCAL[name]]

    @property
    def last_step(self) -> int:
        return int(self.steps[-1])


def finite_medians(x: np.ndarray) -> np.ndarray:
    """`finite_median` of every column x[:, ...] at once (NaN where a column has no finite
    value)."""
    ok = np.isfinite(x)
    count = ok.sum(axis=0)
    ordered = np.sort(np.where(ok, x, np.inf), axis=0)  # the finite values first, in order
    if len(x) == 0:
        return np.full(x.shape[1:], np.nan)
    lo = np.take_along_axis(ordered, np.maximum(count - 1, 0)[None] // 2, axis=0)[0]
    hi = np.take_along_axis(ordered, (count // 2)[None].clip(max=len(x) - 1), axis=0)[0]
    with np.errstate(invalid="ignore"):
        middle = np.where(count % 2 == 1, lo, (lo + hi) / 2)
    return np.where(count > 0, middle, np.nan)


def finite_median(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else math.nan


def before_divergence(tel: Telemetry) -> Window:
    """Every kept step, without the one that blew up: it stopped half-way, its figures are
    partial. Its `stats` cover only the newest of these steps (STATS_STEPS at most)."""
    keep = np.ones(len(tel.steps), bool)
    if tel.divergence is not None:
        keep &= tel.steps < tel.divergence.step
    # The figures cover the newest steps only (see Telemetry): the window's end lines up.
    return Window(tel.steps[keep], tel.scalars[keep], tel.stats[keep[len(keep) - len(tel.stats) :]])


def window(tel: Telemetry) -> Window | None:
    """The last WINDOW steps before any divergence; None if too few to speak."""
    w = before_divergence(tel)
    if len(w.steps) == 0 or (tel.divergence is None and len(w.steps) < MIN_STEPS):
        return None
    return Window(w.steps[-WINDOW:], w.scalars[-WINDOW:], w.stats[-WINDOW:])


@dataclass
class Shape:
    facts: NetworkFacts
    hidden: list[int]  # dense nodes, except those feeding the output, in execution order
    dense: list[int]
    acts: list[int]
    saturating: bool  # a sigmoid/tanh activation somewhere


def shape_of(facts: NetworkFacts) -> Shape:
    dense = [i for i, t in enumerate(facts.types) if t == "dense"]
    acts = [i for i, t in enumerate(facts.types) if t == "activation"]
    head = head_dense(facts)
    return Shape(
        facts,
        hidden=[i for i in dense if i not in head],
        dense=dense,
        acts=acts,
        saturating=any(facts.functions[i] in SATURATING for i in acts),
    )


# --- helpers for the evidence -------------------------------------------------------------
def _orders(ratio: float) -> str:
    k = int(math.floor(abs(math.log10(ratio)) + 1e-9))
    return f"{k} order{'s' if k != 1 else ''} of magnitude"


def _span(win: Window) -> str:
    n = len(win.steps)
    return f"median of the last {n} steps" if n > 1 else f"at step {int(win.steps[0])}"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _names(ids: list[str]) -> str:
    if len(ids) <= 1:
        return "".join(ids)
    return ", ".join(ids[:-1]) + " and " + ids[-1]


def per_unit_grads(win: Window, shape: Shape) -> dict[int, float]:
    """Median gradient reaching each hidden dense node's output, per unit (RMS over the
    layer's width), so layers of different widths compare fairly."""
    widths = shape.facts.widths
    return {i: win.median(i, "grad_norm") / math.sqrt(max(widths[i], 1)) for i in shape.hidden}


def worst_pair(g: dict[int, float], order: list[int], lowest: bool) -> tuple[int, int, float]:
    """The pair (lower layer, higher layer) where the gradient has changed most on its way back:
    the smallest lower/higher ratio if `lowest`, else the largest; of equal ones, the first
    lower layer, then the first higher one. (-1, -1, nan) if none."""
    v = np.array([g[i] for i in order], dtype=np.float64)
    n = len(v)
    if n < 2:
        return -1, -1, math.nan
    with np.errstate(all="ignore"):
        ratio = v[:, None] / v[None, :]  # [a, b]: a's gradient over b's
    usable = np.triu(np.ones((n, n), bool), 1) & np.isfinite(v)[:, None]
    usable &= (np.isfinite(v) & (v > 0))[None, :]
    if not usable.any():
        return -1, -1, math.nan
    ratio = np.where(usable, ratio, np.inf if lowest else -np.inf)
    a, b = divmod(int(np.argmin(ratio) if lowest else np.argmax(ratio)), n)
    return order[a], order[b], float(ratio[a, b])


def growth(steps: np.ndarray, values: np.ndarray) -> float:
    """Factor by which `values` multiply over the span of `steps`, fitting exp(a + b * step)
    to the positive finite points by least squares; NaN with too few points."""
    ok = np.isfinite(values) & (values > 0)
    if ok.sum() < MIN_FIT_POINTS:
        return math.nan
    s, v = steps[ok].astype(np.float64), np.log(values[ok])
    span = s[-1] - s[0]
    if span <= 0:
        return math.nan
    s -= s.mean()
    slope = float(np.dot(s, v - v.mean()) / np.dot(s, s))
    return math.exp(min(slope * span, 700.0))


def loss_change(tel: Telemetry) -> tuple[float, float, int] | None:
    """(loss over the first half of the last `LOSS_WINDOW` steps; loss over the second half;
    steps spanned), from medians of the training-set loss (as last evaluated), or of the
    mini-batch losses before the first evaluation. None if too short."""
    w = before_divergence(tel)
    steps, scalars = w.steps[-LOSS_WINDOW:], w.scalars[-LOSS_WINDOW:]
    if len(steps) < 2 * MIN_STEPS:
        return None
    half = len(steps) // 2
    train, batch = scalars[:, _SCAL["train_loss"]], scalars[:, _SCAL["loss"]]
    loss = np.where(np.isfinite(train), train, batch)
    early, late = finite_median(loss[:half]), finite_median(loss[half:])
    if not (math.isfinite(early) and math.isfinite(late)) or early == 0:
        return None
    return early, late, int(steps[-1] - steps[0] + 1)


def loss_fall(change: tuple[float, float, int] | None) -> float:
    return (change[0] - change[1]) / abs(change[0]) if change else math.nan


def batch_loss_level(tel: Telemetry) -> tuple[float, int]:
    """The median mini-batch data loss (without the L2 term) of the last LOSS_WINDOW steps
    before any divergence, and how many steps it covers."""
    w = before_divergence(tel)
    loss = w.scalar("data_loss")[-LOSS_WINDOW:]
    return finite_median(loss), len(loss)


def loss_levels(tel: Telemetry) -> tuple[np.ndarray, np.ndarray]:
    """Median mini-batch data losses over blocks of JUMP_BLOCK steps, counted back from the
    newest step, over at most JUMP_SPAN steps: (each block's last step, its median), oldest
    first. Only whole blocks count."""
    w = before_divergence(tel)
    loss, steps = w.scalar("data_loss")[-JUMP_SPAN:], w.steps[-JUMP_SPAN:]
    blocks = len(loss) // JUMP_BLOCK
    if blocks == 0:
        return np.empty(0, np.int64), np.empty(0)
    loss, steps = loss[len(loss) - blocks * JUMP_BLOCK :], steps[len(steps) - blocks * JUMP_BLOCK :]
    medians = np.array([finite_median(b) for b in loss.reshape(blocks, JUMP_BLOCK)])
    return steps.reshape(blocks, JUMP_BLOCK)[:, -1], medians


def swing(win: Window) -> tuple[float, float, float]:
    """(10th percentile, 90th percentile, ratio) of the window's mini-batch data losses."""
    loss = win.scalar("data_loss")
    loss = loss[np.isfinite(loss)]
    if loss.size < MIN_STEPS:
        return math.nan, math.nan, math.nan
    lo, hi = (float(v) for v in np.percentile(loss, [10, 90]))
    return lo, hi, hi / lo if lo > 0 else math.inf


# --- the rules ----------------------------------------------------------------------------
def diverged(tel: Telemetry, shape: Shape) -> Finding | None:
    d = tel.divergence
    if d is None:
        return None
    evidence = d.message()
    loss = tel.scalars[:, _SCAL["loss"]]
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
            f"their size ({_span(win)})."
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
                f"{facts.ids[hi]} ({_span(win)})."
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
            f"{biggest:.2g} of their size ({_span(win)}), at a learning rate of {facts.lr:.3g}."
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
            f"{g[hi]:.2g} per unit ({_span(win)})."
        ]
    else:
        parts = [
            f"The gradient reaching {ids[lo]} is {ratio:.2g} of that reaching {ids[hi]} "
            f"({_orders(ratio)}; {_span(win)})."
        ]
    if len(starved) > 1:
        parts.append(f"Starved layers: {_names([ids[i] for i in starved])}.")
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
                f"{ids[hi]} ({_orders(ratio)}; {_span(win)}): it grows as it flows back "
                "toward the input."
            )
            nodes += [
                i
                for i in shape.hidden
                if shape.hidden.index(i) < shape.hidden.index(hi) and g[i] > EXPLODE_RATIO * g[hi]
            ]
    grown = []
    for i in shape.dense:
        f = growth(win.steps, win.stats[:, i, _COL["weight_norm"]])
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
        parts.append(f"The gradient norm before clipping is huge: {big:.3g} ({_span(win)}).")
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
    listing = ", ".join(f"{ids[i]} {_pct(s)}" for i, s in hits)
    evidence = (
        f"Share of outputs where the derivative is under a tenth of its peak "
        f"({_span(win)}): {listing}."
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
    listing = ", ".join(f"{ids[i]} {_pct(d)}" for i, d in hits)
    evidence = (
        f"Share of units that output 0 for every sample of the batch ({_span(win)}): {listing}."
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
