"""Sweeps: one base network run over a grid of settings and seeds, on all cores or a cluster.

spec.Sweep reads a `vgsim.sweep/1` file; edits applies an axis value to a network;
runner.run_sweep runs the tasks through executors (a process pool or Dask) and stores each
run's record as it arrives; grid turns the records into a map over two axes, with the
mean-field theory's lines.
"""

from .edits import SweepError
from .runner import Progress, run_sweep
from .spec import Axis, Sweep, Task

__all__ = ["Axis", "Progress", "Sweep", "SweepError", "Task", "run_sweep"]
