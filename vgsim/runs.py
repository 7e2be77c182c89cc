"""The documented home of `run_network`; the run folder itself lives in `vgsim.experiments.runs`."""

from .experiments.runs import run_network

__all__ = ["run_network"]
