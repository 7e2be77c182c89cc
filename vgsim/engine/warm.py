"""Compile every kernel once, ahead of need: `python -m vgsim.engine.warm`.

Numba compiles a kernel on its first call and caches it on disk. In the window that first call
would come from the training thread, and parts of the compiler hold the GIL for most of a second,
freezing the window. So when the cache is cold the window runs this module in a separate
process (which shares no GIL with it) and loads the cached kernels once it has finished.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from numba.core.registry import CPUDispatcher

from .builders import mlp, residual_mlp
from .kernels import plan
from .train import Trainer

DTYPES = ("float32", "float64")


def entry_points() -> list[str]:
    """The kernels the trainer calls from Python (they pull in everything else)."""
    return sorted(name for name, obj in vars(plan).items()
                  if isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == plan.__name__)


def kernels_cached() -> bool:
    """True if every entry point has an on-disk cache index at least as new as its source.
    (A heuristic: numba's own check also compares the source's size.)"""
    source = Path(plan.__file__)
    folder = source.parent / "__pycache__"
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    for name in entry_points():
        index = list(folder.glob(f"{source.stem}.{name}-*.{tag}.nbi"))
        if not index or max(p.stat().st_mtime for p in index) < source.stat().st_mtime:
            return False
    return True


def warm(dtype: str) -> None:
    """Run every kernel path once on a tiny network with every kind of block: whole steps,
    evaluation, prediction, micro-steps and a forward-backward."""
    training = {"dtype": dtype, "batch_size": 8, "eval_every": 2}
    data = {"name": "spiral", "samples": 60}
    for net in (residual_mlp(2, 4, 3, training=training, data=data),
                mlp(2, 4, 3, batchnorm=True, training=training, data=data)):
        trainer = Trainer(net)
        trainer.run_block(3)
        while trainer.micro_step().record is None:
            pass
        trainer.predict(np.zeros((2, 2)))
        trainer.snapshot_state()


def main(argv: list[str] | None = None) -> int:
    for dtype in argv if argv else DTYPES:
        warm(dtype)
        print(f"kernels ready: {dtype}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
