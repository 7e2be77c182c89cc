"""Read a run's telemetry the way the lecture reads a network: vanishing or exploding gradients,
divergence, saturated sigmoid/tanh units and dying ReLUs, each with its evidence and remedies.

Every rule works on the medians of the last (up to) `WINDOW` recorded steps, so one noisy
mini-batch neither raises nor hides a finding. A healthy run gives no findings at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .kernels.optim import H_L2
from .kernels.stats import STAT_NAMES
from .schema import RELU_FAMILY, SATURATING, init_defaults, node_defaults
from .telemetry import SCALARS

# --- thresholds -------------------------------------------------------------------------------
# Measured on the spiral data (seeds 0-4, checked every step up to 120 and every 50 up to 2000;
# "healthy" = ReLU/He, leaky ReLU, ELU, tanh/Xavier, residual, batch-norm, Adam and momentum
# networks of depth 2-8 that train). The ratios below are per-unit gradients, lower layer over
# higher layer, medians over the window.
#
# Steps the medians are taken over: enough to outvote a few odd mini-batches, short enough
# that a finding follows a live change (a new learning rate) within one batch of steps.
WINDOW = 50
# Recorded steps needed before the window's rules speak: a median of fewer is one batch's
# noise. After a divergence every step there is counts, as no more will come.
MIN_STEPS = 5
# Vanishing: a lower hidden layer receives less than this fraction of the gradient a higher one
# receives, three orders of magnitude. Healthy: never below 0.04 (a 3-layer sigmoid/Xavier
# network; 0.58 for the ReLU/He, tanh/Xavier and residual presets). Broken: 8-layer sigmoid
# with "standard" init 1e-6 to 2e-6, tiny (std 0.01) init 1e-12 to 6e-11.
VANISH_RATIO = 1e-3
# Exploding: the mirror image, a lower layer receiving 1000x the gradient of a higher one.
# Healthy: at most 69 (batch-norm sigmoid, Adam; 27 for the presets). Broken: 2.7e3 to 2e4
# (He init x2, 10 layers), 1.8e9 to 8e9 (normal std 3, 10 layers).
EXPLODE_RATIO = 1e3
# Weights "barely change" when the lowest starved layer's update-to-weight ratio is below this
# fraction of the layer it is compared with (added to the vanishing evidence only; the deep
# sigmoid network shows 9e-9 against 1e-2).
STILL_WEIGHTS_RATIO = 1e-2
# The loss "stagnates" when its median over the second half of the last LOSS_WINDOW steps is
# less than this fraction below the first half's (added to the vanishing evidence only). The
# whole-training-set loss of a stuck deep sigmoid network wobbles by about 3% around ln 3 from
# one evaluation to the next, so the halves span 100 steps each and the bar is 2%.
STAGNANT_LOSS_CHANGE = 0.02
LOSS_WINDOW = 200
# Exponential growth in the parameters: a layer's weight norm, fitted as exp(a + b * step) over
# the window, multiplies by more than this. Healthy: at most 1.2x per window. Broken: 127x
# (tanh, lr 5, the weights running into saturation) to 1e14 in the steps before a blow-up.
WEIGHT_GROWTH = 10.0
# The same fit on the global gradient norm (before clipping). It swings 10-100x between
# mini-batches: healthy fits reached 49x (Adam). Before a blow-up: 2e4 to 7e14.
GRAD_GROWTH = 1e3
# Points needed before a growth fit means anything.
MIN_FIT_POINTS = 3
# A global gradient norm (before clipping) beyond this median is "huge": the losses are means
# over the batch, so healthy medians stay at 0.01 to 13. Broken: 3e4 to 9e10.
HUGE_GRAD_NORM = 1e3
# A sigmoid/tanh layer is saturated when more than half its outputs sit where the derivative is
# under a tenth of its peak (the kernel's `saturated` figure). Healthy: at most 0.23. Broken:
# 0.74 to 0.83 (tanh, normal std 1), 1.0 (tanh, lr 5).
SATURATED_FRACTION = 0.5
# A ReLU layer is dying when more than half its units output 0 for every sample of the batch.
# Healthy 8-layer networks: at most 0.34. Broken: 1.0 (bias -3), 0.56 to 1 (lr 2). Deeper He
# networks come close: 16 layers showed up to 0.53 in their first 20 steps, and 53% of the top
# layer's units were indeed dead on the whole training set at initialisation.
DEAD_FRACTION = 0.5

REMEDY_KEYS = (
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
)
KINDS = ("diverged", "exploding", "vanishing", "saturated", "dying_relu")

_COL = {name: c for c, name in enumerate(STAT_NAMES)}
_SCAL = {name: c for c, name in enumerate(SCALARS)}
_HE_INITS = ("he_normal", "he_uniform")
_XAVIER_INITS = ("xavier_uniform", "xavier_normal")


@dataclass(frozen=True)
class Remedy:
    key: str  # one of REMEDY_KEYS
    title: str
    explanation: str  # one sentence, in the lecture's words


@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS
    title: str
    severity: str  # "warning" or "error"
    evidence: str  # the numbers behind the finding
    explanation: str  # what the lecture says causes it
    nodes: tuple[str, ...]  # the blocks concerned, for highlighting on the canvas
    remedies: tuple[Remedy, ...]


_REMEDY_TEXT = {
    "xavier_init": (
        "Switch to Xavier (Glorot) initialisation",
        "Xavier initialisation draws each weight from [-x, x] with "
        "x = sqrt(6 / (n_inputs + n_outputs)), so each layer's outputs keep the "
        "variance of its inputs and the gradients keep their variance flowing back.",
    ),
    "he_init": (
        "Switch to He initialisation",
        "He initialisation with a ReLU-family activation significantly reduces the "
        "chances of vanishing or exploding gradients at the beginning of training.",
    ),
    "non_saturating": (
        "Use ReLU or a variant (non-saturating)",
        "Sigmoid and tanh saturate for large inputs with a derivative close to "
        "zero; non-saturating functions like ReLU and its variants do not.",
    ),
    "batchnorm": (
        "Add batch normalisation",
        "Batch normalisation zero-centres and normalises each layer's inputs over the "
        "mini-batch, then learns their best scale and mean.",
    ),
    "clip": (
        "Clip the gradients",
        "Gradient clipping caps the derivatives at a threshold and updates the weights "
        "with the capped gradients.",
    ),
    "l2": (
        "Add L2 regularisation",
        "L2 regularisation adds lambda * sum(w^2) to the loss, penalising large weights, which "
        "often results in smaller weight updates throughout the network.",
    ),
    "skip": (
        "Add skip connections (residual blocks)",
        "A skip connection adds a layer's input to a later layer's output, so the gradient "
        "has a short path back to the lower layers.",
    ),
    "fewer_layers": (
        "Use fewer layers",
        "With fewer layers the gradient is multiplied fewer times on its way back, "
        "at some cost to the network's ability to learn complex features.",
    ),
    "lower_lr": (
        "Lower the learning rate",
        "Large gradients times a large learning rate make very large weight updates, "
        "which lead to an unstable network; a smaller rate makes smaller updates.",
    ),
    "leaky_relu": (
        "Switch to Leaky ReLU (or PReLU, ELU, SELU)",
        "Leaky ReLU and the other ReLU variants keep a small gradient for negative "
        "inputs, so a unit cannot die and keep on throwing 0 as its output.",
    ),
}

_EXPLAIN = {
    "vanishing": "As backpropagation moves from the output layer toward the input, the "
    "gradient gets smaller and smaller and approaches zero, leaving the weights of "
    "the lower layers nearly unchanged; gradient descent then never converges to the "
    "optimum.",
    "vanishing_saturating": "As backpropagation moves from the output layer toward the input, "
    "the gradient is multiplied by the sigmoid/tanh derivative at every "
    "layer (at most 0.25 for sigmoid) and keeps diluting, leaving "
    "nothing for the lower layers, whose weights then barely change.",
    "exploding": "The gradients keep getting larger as backpropagation progresses, which causes "
    "very large weight updates and makes gradient descent diverge; the weights can "
    "grow exponentially until they overflow to NaN.",
    "diverged": "Very large gradients made very large weight updates until the numbers "
    "overflowed to NaN or infinity: the end point of exploding gradients.",
    "saturated": "For large positive or negative inputs sigmoid and tanh saturate, with a "
    "derivative very close to zero, so almost no gradient passes back through these "
    "units to the layers below.",
    "dying_relu": "Dying ReLUs: a unit whose input is negative for every sample keeps on "
    "throwing 0 as output and passes back no gradient, so its weights stop changing "
    "and it stays dead.",
}


# --- the window ---------------------------------------------------------------------------------
@dataclass
class _Window:
    steps: np.ndarray  # (T,)
    scalars: np.ndarray  # (T, SCALARS)
    stats: np.ndarray  # (T, node, STAT_NAMES), float64

    def median(self, i: int, stat: str) -> float:
        """The median of a node's finite figures; NaN if it has none."""
        return _finite_median(self.stats[:, i, _COL[stat]])

    def scalar(self, name: str) -> np.ndarray:
        return self.scalars[:, _SCAL[name]]


def _finite_median(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else math.nan


def _window(trainer) -> _Window | None:
    steps, scalars, stats = trainer.history.recent()
    keep = np.ones(len(steps), bool)
    if trainer.divergence is not None:
        # The step that blew up stopped half-way: its figures are partial. Use the ones before.
        keep &= steps < trainer.divergence.step
    steps, scalars, stats = steps[keep], scalars[keep], stats[keep]
    if len(steps) == 0 or (trainer.divergence is None and len(steps) < MIN_STEPS):
        return None
    return _Window(steps[-WINDOW:], scalars[-WINDOW:], stats[-WINDOW:].astype(np.float64))


# --- the network's shape ------------------------------------------------------------------------
@dataclass
class _Shape:
    ids: list[str]
    hidden: list[int]  # dense nodes, except those feeding the output, in topological order
    dense: list[int]
    acts: list[int]
    functions: list[str]
    widths: list[int]
    inits: dict[int, str]
    has_batchnorm: bool
    has_skip: bool
    saturating: bool  # a sigmoid/tanh activation somewhere
    relu_family: bool  # mostly ReLU-like activations


def _shape(trainer) -> _Shape:
    plan = trainer.plan
    n = len(plan.order)
    starts = np.concatenate([[0], np.cumsum(plan.pred_counts)]).astype(int)
    preds = [[int(p) for p in plan.preds[starts[i] : starts[i + 1]]] for i in range(n)]
    # Dense layers that feed the output through nothing but activations / batch norms.
    head: set[int] = set()
    todo, seen = list(preds[plan.out_idx]), set()
    while todo:
        i = todo.pop()
        if i in seen:
            continue
        seen.add(i)
        if plan.types[i] == "dense":
            head.add(i)
        elif plan.types[i] != "input":
            todo += preds[i]
    dense = [i for i in range(n) if plan.types[i] == "dense"]
    acts = [i for i in range(n) if plan.types[i] == "activation"]
    nodes = {node.id: node for node in trainer.net.nodes}
    inits = {}
    for i in dense:
        p = node_defaults("dense", nodes[plan.order[i]].params)
        inits[i] = str(init_defaults(p["init"]).get("name"))
    fns = [plan.functions[i] for i in acts]
    relu_like = sum(fn in RELU_FAMILY for fn in fns)
    return _Shape(
        ids=list(plan.order),
        hidden=[i for i in dense if i not in head],
        dense=dense,
        acts=acts,
        functions=list(plan.functions),
        widths=list(plan.width_out),
        inits=inits,
        has_batchnorm="batchnorm" in plan.types,
        has_skip=any(c > 1 for c in plan.pred_counts),
        saturating=any(fn in SATURATING for fn in fns),
        relu_family=relu_like > 0 and relu_like >= len(fns) - relu_like,
    )


def _remedies(trainer, shape: _Shape, keys: list[str]) -> tuple[Remedy, ...]:
    """The remedies named by `keys`, in order, leaving out those already in place."""
    out = []
    hidden_inits = {shape.inits[i] for i in (shape.hidden or shape.dense)}
    clip_on = trainer.cfg["clip"]["mode"] != "none"
    l2_on = float(trainer.hyper[H_L2]) > 0
    for key in keys:
        if key == "init":
            key = "he_init" if shape.relu_family else "xavier_init"
        if key == "he_init" and hidden_inits <= set(_HE_INITS):
            continue
        if key == "xavier_init" and hidden_inits <= set(_XAVIER_INITS):
            continue
        if key == "non_saturating" and not shape.saturating:
            continue
        if key == "batchnorm" and shape.has_batchnorm:
            continue
        if key == "skip" and shape.has_skip:
            continue
        if key in (r.key for r in out):
            continue
        title, text = _REMEDY_TEXT[key]
        if key == "clip" and clip_on:
            title = "Clip harder (a lower clipping threshold)"
        if key == "l2" and l2_on:
            title = "Strengthen the L2 regularisation"
        out.append(Remedy(key, title, text))
    return tuple(out)


# --- helpers for the evidence -------------------------------------------------------------------
def _orders(ratio: float) -> str:
    k = int(math.floor(abs(math.log10(ratio)) + 1e-9))
    return f"{k} order{'s' if k != 1 else ''} of magnitude"


def _span(win: _Window) -> str:
    n = len(win.steps)
    return f"median of the last {n} steps" if n > 1 else f"at step {int(win.steps[0])}"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _names(ids: list[str]) -> str:
    if len(ids) <= 1:
        return "".join(ids)
    return ", ".join(ids[:-1]) + " and " + ids[-1]


def _per_unit_grads(win: _Window, shape: _Shape) -> dict[int, float]:
    """Median gradient reaching each hidden dense node's output, per unit (RMS over the
    layer's width), so layers of different widths compare fairly."""
    return {
        i: win.median(i, "grad_norm") / math.sqrt(max(shape.widths[i], 1)) for i in shape.hidden
    }


def _worst_pair(g: dict[int, float], order: list[int], lowest: bool) -> tuple[int, int, float]:
    """The pair (lower layer, higher layer) where the gradient has changed most on its way back:
    the smallest lower/higher ratio if `lowest`, else the largest. (-1, -1, nan) if none."""
    best = (-1, -1, math.nan)
    for a_pos, a in enumerate(order):
        for b in order[a_pos + 1 :]:
            ga, gb = g[a], g[b]
            if not (math.isfinite(ga) and math.isfinite(gb)) or gb <= 0:
                continue
            r = ga / gb
            if math.isnan(best[2]) or (r < best[2] if lowest else r > best[2]):
                best = (a, b, r)
    return best


def _growth(steps: np.ndarray, values: np.ndarray) -> float:
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


def _loss_change(trainer) -> tuple[float, float, int] | None:
    """(loss, then, over the first half of the last `LOSS_WINDOW` steps; loss over the second
    half; steps spanned), from medians of the whole training set's loss (evaluated every few
    steps), or of the mini-batch losses before the first evaluations. None if too short."""
    steps, scalars, _ = trainer.history.recent()
    if trainer.divergence is not None:
        keep = steps < trainer.divergence.step
        steps, scalars = steps[keep], scalars[keep]
    steps, scalars = steps[-LOSS_WINDOW:], scalars[-LOSS_WINDOW:]
    if len(steps) < 2 * MIN_STEPS:
        return None
    half = len(steps) // 2
    early, late = (
        _finite_median(
            np.where(
                np.isfinite(scalars[sl, _SCAL["train_loss"]]),
                scalars[sl, _SCAL["train_loss"]],
                scalars[sl, _SCAL["loss"]],
            )
        )
        for sl in (slice(0, half), slice(half, None))
    )
    if not (math.isfinite(early) and math.isfinite(late)) or early == 0:
        return None
    return early, late, int(steps[-1] - steps[0] + 1)


def _loss_fall(change: tuple[float, float, int] | None) -> float:
    return (change[0] - change[1]) / abs(change[0]) if change else math.nan


# --- the rules ----------------------------------------------------------------------------------
def _diverged(trainer, shape: _Shape) -> Finding | None:
    d = trainer.divergence
    if d is None:
        return None
    evidence = d.message()
    steps, scalars, _ = trainer.history.recent()
    loss = scalars[:, _SCAL["loss"]]
    ok = (steps < d.step) & np.isfinite(loss)
    if ok.any():
        last = np.flatnonzero(ok)[-1]
        evidence += f" The last finite loss was {loss[last]:.3g}, at step {int(steps[last])}."
    return Finding(
        "diverged",
        "Training diverged (NaN/infinity)",
        "error",
        evidence,
        _EXPLAIN["diverged"],
        (d.node,),
        _remedies(trainer, shape, ["clip", "lower_lr", "init", "l2"]),
    )


def _vanishing(trainer, win: _Window, shape: _Shape) -> Finding | None:
    if len(shape.hidden) < 2:
        return None
    g = _per_unit_grads(win, shape)
    lo, hi, ratio = _worst_pair(g, shape.hidden, lowest=True)
    if lo < 0 or not ratio < VANISH_RATIO:
        return None
    ids = shape.ids
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
    change = _loss_change(trainer)
    if change is not None and _loss_fall(change) < STAGNANT_LOSS_CHANGE:
        parts.append(
            f"The loss is not falling: {change[0]:.4g} then {change[1]:.4g} (medians "
            f"of the two halves of the last {change[2]} steps)."
        )
    explanation = _EXPLAIN["vanishing_saturating" if shape.saturating else "vanishing"]
    return Finding(
        "vanishing",
        "Vanishing gradients",
        "warning",
        " ".join(parts),
        explanation,
        tuple(ids[i] for i in starved),
        _remedies(trainer, shape, ["init", "non_saturating", "batchnorm", "skip", "fewer_layers"]),
    )


def _exploding(trainer, win: _Window, shape: _Shape) -> Finding | None:
    ids = shape.ids
    parts: list[str] = []
    nodes: list[int] = []
    if len(shape.hidden) >= 2:
        g = _per_unit_grads(win, shape)
        lo, hi, ratio = _worst_pair(g, shape.hidden, lowest=False)
        if lo >= 0 and ratio > EXPLODE_RATIO:
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
        w = win.stats[:, i, _COL["weight_norm"]]
        f = _growth(win.steps, w)
        if f > WEIGHT_GROWTH:
            grown.append((i, f))
    if grown:
        top = max(grown, key=lambda x: x[1])
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
    f = _growth(win.steps, norm)
    if f > GRAD_GROWTH:
        parts.append(
            f"The gradient norm multiplied by {f:.3g} over the last {len(win.steps)} steps."
        )
    big = _finite_median(norm)
    if big > HUGE_GRAD_NORM:
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
        _EXPLAIN["exploding"],
        tuple(ids[i] for i in nodes),
        _remedies(trainer, shape, ["clip", "init", "lower_lr", "l2", "batchnorm"]),
    )


def _saturated(trainer, win: _Window, shape: _Shape) -> Finding | None:
    hits = [(i, win.median(i, "saturated")) for i in shape.acts if shape.functions[i] in SATURATING]
    hits = [(i, s) for i, s in hits if s > SATURATED_FRACTION]
    if not hits:
        return None
    ids = shape.ids
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
        _EXPLAIN["saturated"],
        tuple(ids[i] for i, _ in hits),
        _remedies(trainer, shape, ["xavier_init", "batchnorm", "non_saturating"]),
    )


def _dying_relu(trainer, win: _Window, shape: _Shape) -> Finding | None:
    hits = [(i, win.median(i, "dead")) for i in shape.acts if shape.functions[i] == "relu"]
    hits = [(i, d) for i, d in hits if d > DEAD_FRACTION]
    if not hits:
        return None
    ids = shape.ids
    listing = ", ".join(f"{ids[i]} {_pct(d)}" for i, d in hits)
    evidence = (
        f"Share of units that output 0 for every sample of the batch ({_span(win)}): {listing}."
    )
    return Finding(
        "dying_relu",
        "Dying ReLUs",
        "warning",
        evidence,
        _EXPLAIN["dying_relu"],
        tuple(ids[i] for i, _ in hits),
        _remedies(trainer, shape, ["leaky_relu", "lower_lr", "he_init"]),
    )


def measure(trainer) -> dict[str, float]:
    """The figures the rules compare with their thresholds, for the window diagnose() reads:
    the worst shrink and growth of the per-unit gradient between hidden layers (lower/higher),
    the largest fitted weight-norm growth, the fitted growth and median of the gradient norm
    before clipping, the largest saturated and dead shares, and the loss's relative fall.
    NaN where a figure does not apply."""
    shape = _shape(trainer)
    win = _window(trainer)
    out = dict.fromkeys(
        (
            "vanish_ratio",
            "explode_ratio",
            "weight_growth",
            "grad_growth",
            "grad_norm",
            "saturated",
            "dead",
            "loss_fall",
        ),
        math.nan,
    )
    if win is None:
        return out
    with np.errstate(all="ignore"):
        if len(shape.hidden) >= 2:
            g = _per_unit_grads(win, shape)
            out["vanish_ratio"] = _worst_pair(g, shape.hidden, lowest=True)[2]
            out["explode_ratio"] = _worst_pair(g, shape.hidden, lowest=False)[2]
        growth = [_growth(win.steps, win.stats[:, i, _COL["weight_norm"]]) for i in shape.dense]
        growth = [f for f in growth if math.isfinite(f)]
        out["weight_growth"] = max(growth, default=math.nan)
        norm = win.scalar("grad_norm_before_clip")
        out["grad_growth"] = _growth(win.steps, norm)
        out["grad_norm"] = _finite_median(norm)
        sat = [win.median(i, "saturated") for i in shape.acts if shape.functions[i] in SATURATING]
        dead = [win.median(i, "dead") for i in shape.acts if shape.functions[i] == "relu"]
        out["saturated"] = max((s for s in sat if math.isfinite(s)), default=math.nan)
        out["dead"] = max((d for d in dead if math.isfinite(d)), default=math.nan)
        out["loss_fall"] = _loss_fall(_loss_change(trainer))
    return out


def diagnose(trainer) -> list[Finding]:
    """Findings for the run so far; [] for a healthy run (or one not yet started).

    Order: diverged, exploding, vanishing, saturated, dying_relu (those that apply)."""
    shape = _shape(trainer)
    out: list[Finding | None] = [_diverged(trainer, shape)]
    win = _window(trainer)
    if win is not None:
        with np.errstate(all="ignore"):
            out += [
                _exploding(trainer, win, shape),
                _vanishing(trainer, win, shape),
                _saturated(trainer, win, shape),
                _dying_relu(trainer, win, shape),
            ]
    return [f for f in out if f is not None]
