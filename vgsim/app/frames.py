"""What the training worker hands the window: one consistent picture of its run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine.spec import Network
from ..engine.telemetry import StepRecord
from ..experiments.plot_data import PlotData


@dataclass(frozen=True)
class Frame:
    """A consistent view of the trainer for drawing. `serial` grows with every new frame."""

    serial: int
    record: StepRecord | None  # the last completed step
    step_count: int
    epoch: int
    playing: bool
    steps_per_second: float
    phase: str | None = None  # during micro-steps: "forward", "loss", "backward", "update"
    node: str | None = None  # the node the last micro-step computed
    next_phase: tuple[str, str | None] | None = None
    live_stats: np.ndarray | None = None  # per-node figures of the step in progress
    live_hist: np.ndarray | None = None
    error: str | None = None
    plot: PlotData | None = None  # what the dashboard draws (plot_sources.plot_of)
    nodes: tuple = ((), (), ())  # node ids, types, activation functions (topological order)
    network: Network | None = None  # what the trainer was built from
    findings: tuple = ()  # diagnose.Finding, refreshed a few times a second
    diagnosed_at: int = 0  # the step count the findings describe
    building: bool = False  # a trainer is being built (the first time: kernels compiling)
    run: int = 0  # the run (load or reset) this frame belongs to
    at: int | None = None  # a past step shown (the timeline moved back); None: the present
    recorded: int = 0  # the steps of the run recorded so far: the timeline's span
    exact: bool = True  # False: a past step at a glance, its histograms and boundary to come
