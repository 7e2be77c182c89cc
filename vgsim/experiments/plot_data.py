"""What the plots draw from: one snapshot of a run, whoever made it (the live worker or a file)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..engine.kernels.stats import S_GRAD, S_PGRAD, S_RATIO, S_WNORM
from ..engine.telemetry import SCALARS

# Figure columns of `tail` (the order the worker copies them in).
TAIL_FIGURES = [S_GRAD, S_PGRAD, S_WNORM, S_RATIO]
RUN_ROWS = 600  # rows of a whole run's figures handed to the plots (heat map, weights)
T_GRAD, T_PGRAD, T_WNORM, T_RATIO = range(4)
# The blocks that are layers in a depth profile: those with weights.
LAYER_TYPES = ("dense", "conv2d")


@dataclass(frozen=True)
class ReferenceData:
    """A run drawn faded beside the current one (the run a branch left behind)."""

    label: str
    branched_at: int  # the step count the current run branched from it
    loss_steps: np.ndarray
    loss: np.ndarray  # its batch loss (data_loss) at loss_steps
    gradient: np.ndarray  # per node of the current run: its gradient norm at the same step


@dataclass
class PlotData:
    node_ids: list[str]
    types: list[str]
    functions: list[str]
    node_stats: np.ndarray | None = None  # node × STAT_NAMES, the newest step
    histograms: np.ndarray | None = None  # node × bins
    hist_ranges: np.ndarray | None = None  # node × (lo, hi)
    tail_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tail_scalars: np.ndarray = field(default_factory=lambda: np.zeros((0, len(SCALARS))))
    tail_figures: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 4)))
    long_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    long_scalars: np.ndarray = field(default_factory=lambda: np.zeros((0, len(SCALARS))))
    # The whole run's TAIL_FIGURES, decimated to at most RUN_ROWS evenly spaced steps.
    run_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    run_figures: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 4)))
    boundary: dict | None = None  # {"xs", "ys", "classes" image, "points", "labels"} or sine
    theory: np.ndarray | None = None  # per node: predicted gradient norm at step 0 (or None)
    start_grad: np.ndarray | None = None  # per node: the gradient norm measured at step 0
    step: int = 0
    name: str = ""
    reference: ReferenceData | None = None

    def layer_nodes(self) -> list[int]:
        """Indices of the nodes plotted against depth: everything after the input."""
        return [i for i, t in enumerate(self.types) if t != "input"]

    def of_type(self, *kinds: str) -> list[int]:
        return [i for i, t in enumerate(self.types) if t in kinds]

    def weighted_layers(self) -> list[int]:
        """Indices of the layers with weights (dense and convolution blocks), input first: one
        point per layer in a depth profile."""
        return self.of_type(*LAYER_TYPES)

    def older(self) -> tuple[np.ndarray, np.ndarray]:
        """The run's decimated figures before the tail: with the tail after them, a plot of
        figures over steps shows the run from its first step, the newest steps in full."""
        first = self.tail_steps[0] if len(self.tail_steps) else np.inf
        keep = self.run_steps < first
        return self.run_steps[keep], self.run_figures[keep]

    def scalar(self, name: str, long: bool = True) -> tuple[np.ndarray, np.ndarray]:
        col = SCALARS.index(name)
        if long:
            return self.long_steps, self.long_scalars[:, col]
        return self.tail_steps, self.tail_scalars[:, col]
