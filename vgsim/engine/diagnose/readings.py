"""What the rules read: windows of recent telemetry, the network's shape, and the small
measures (medians, growth, loss changes) their evidence quotes."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..kernels.stats import STAT_NAMES
from ..schema import SATURATING
from ..telemetry import SCALARS
from .advice import head_dense
from .facts import NetworkFacts, Telemetry
from .thresholds import (
    JUMP_BLOCK,
    JUMP_SPAN,
    LOSS_WINDOW,
    MIN_FIT_POINTS,
    MIN_STEPS,
    WINDOW,
)

STAT_COLUMN = {name: c for c, name in enumerate(STAT_NAMES)}
SCALAR_COLUMN = {name: c for c, name in enumerate(SCALARS)}


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
        return float(self._medians[i, STAT_COLUMN[stat]])

    def scalar(self, name: str) -> np.ndarray:
        return self.scalars[:, SCALAR_COLUMN[name]]

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
def orders_text(ratio: float) -> str:
    k = int(math.floor(abs(math.log10(ratio)) + 1e-9))
    return f"{k} order{'s' if k != 1 else ''} of magnitude"


def span_text(win: Window) -> str:
    n = len(win.steps)
    return f"median of the last {n} steps" if n > 1 else f"at step {int(win.steps[0])}"


def percent(x: float) -> str:
    return f"{100 * x:.0f}%"


def names_text(ids: list[str]) -> str:
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
    train, batch = scalars[:, SCALAR_COLUMN["train_loss"]], scalars[:, SCALAR_COLUMN["loss"]]
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
