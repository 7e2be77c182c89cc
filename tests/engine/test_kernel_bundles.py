"""The step kernel's arguments come in bundles built by name, so two buffers cannot be swapped."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
from numba import config
from numba.core.errors import TypingError

from vgsim.engine import Trainer, read_network
from vgsim.engine.kernels import plan as k

NETWORKS = Path(__file__).resolve().parent / "networks"
pytestmark = pytest.mark.skipif(config.DISABLE_JIT, reason="typing and source of compiled kernels")


def kernel_args(tr: Trainer) -> dict:
    """The trainer's own bundles, evaluating the whole training and test sets now."""
    return {
        "data": tr._train_set,
        "batches": np.zeros((0, tr.batch_size), np.int64),
        "graph": tr._graph,
        "rows": tr._rows,
        "state": tr._state,
        "optimiser": tr._optimiser,
        "t0": 0,
        "figures": tuple(
            k.Figures(
                stats_block=np.zeros((1, *tr.stats.shape)),
                hist=np.zeros_like(tr.hist),
                glob_block=tr.glob[None],
            )
        ),
        "evaluation": tr._no_evaluation_full,
        "out": tr._no_out,
    }


def test_the_trainers_bundles_evaluate_like_the_trainer() -> None:
    tr = Trainer(read_network(NETWORKS / "spiral_small.json"))
    expected = tr.evaluate(full=True)
    tr.glob[:] = np.nan
    k.train_steps(**kernel_args(tr))
    assert tr.glob[k.G_TRAIN_LOSS] == expected["train_loss"]
    assert tr.glob[k.G_TEST_LOSS] == expected["test_loss"]


@pytest.mark.slow  # each compiles the training kernel afresh: 6-9 s
@pytest.mark.parametrize(("a", "b"), [("rows", "state"), ("data", "figures")])
def test_swapped_bundles_do_not_compile(a: str, b: str) -> None:
    tr = Trainer(read_network(NETWORKS / "spiral_small.json"))
    args = kernel_args(tr)
    args[a], args[b] = args[b], args[a]
    with pytest.raises(TypingError):
        k.train_steps(**args)


@pytest.mark.parametrize(
    ("bundle", "argument"),
    [
        (k.Samples, "data"),
        (k.Graph, "graph"),
        (k.Rows, "rows"),
        (k.State, "state"),
        (k.Optimiser, "optimiser"),
        (k.Figures, "figures"),
        (k.Evaluation, "evaluation"),
    ],
)
def test_the_kernel_unpacks_each_bundle_in_its_field_order(bundle, argument: str) -> None:
    source = inspect.getsource(k.train_steps.py_func)
    assert f"    {', '.join(bundle._fields)} = {argument}\n" in source
