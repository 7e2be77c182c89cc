"""Bit-for-bit comparisons for tests that replay, restore or branch a run."""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from vgsim.experiments.plot_data import PlotData


def same_bits(a: object, b: object) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_same_plot(a: PlotData, b: PlotData) -> None:
    """Every field of two PlotData the same, arrays bit for bit."""
    for f in fields(PlotData):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "boundary":
            assert x.keys() == y.keys()
            for key in x:
                assert same_bits(x[key], y[key]), f"boundary/{key}"
        elif isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            assert same_bits(x, y), f.name
        else:
            assert x == y, f.name
