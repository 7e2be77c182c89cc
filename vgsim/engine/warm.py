"""Compile every kernel once, ahead of need: `python -m vgsim.engine.warm [--backward] [DTYPE]`.

Numba compiles a kernel on its first call and caches it on disk. In the window that first call
would come from the training thread, and parts of the compiler hold the GIL for most of a second,
freezing the window. So when the cache is cold the window runs this module in a separate
process (which shares no GIL with it) and loads the cached kernels once it is ready.

The step kernel is one function, compiled on one core. The pieces of its backward pass and
update are functions of their own, cached on their own: `--backward` compiles just those
(through the micro-step kernels) in a second process meanwhile, and the step kernel's compile
finds them in the cache when it gets there.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
from numba.core.registry import cpu_target

import vgsim

from .builders import mlp, residual_mlp
from .kernels import cache_folders, plan
from .train import Trainer

DTYPES = ("float32", "float64")
STEPS_READY, ALL_READY = "steps ready:", "kernels ready:"


# Set by `launch`: the helper's stdin is a pipe from its parent, and its end means the parent
# is gone (however it ended, even killed), so the helper ends too.
WATCH_PARENT = "VGSIM_WARM_WATCH_PARENT"

STEPS = "train_steps"  # whole steps, evaluation and prediction: all a trainer needs to run


# The plan kernels the trainer calls from Python (they pull in everything else). The others
# are inlined into these and never compiled on their own.
ENTRY_POINTS = ("begin_backward", "backward_node", "forward_node", "gather_batch", STEPS, "update")


def entry_points() -> list[str]:
    return list(ENTRY_POINTS)


def kernels_cached(names: list[str] | None = None, dtype: str | None = None) -> bool:
    """True if every entry point (or every one of `names`) has an on-disk cache index at least
    as new as its source, and with `dtype`, if the step kernel's index holds a version for
    networks of that dtype. (A heuristic: numba's own check also compares the source's size.)"""
    source = Path(plan.__file__)
    folder = cache_folders(source.parent)[0]  # NUMBA_CACHE_DIR's, if set
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    for name in names if names is not None else entry_points():
        index = list(folder.glob(f"{source.stem}.{name}-*.{tag}.nbi"))
        if not index or max(p.stat().st_mtime for p in index) < source.stat().st_mtime:
            return False
        if dtype is not None and name == STEPS and not any(dtype in _data_dtypes(p) for p in index):
            return False
    return True


def _data_dtypes(index: Path) -> set[str]:
    """The dtypes of the data (the first argument's X) of the versions in a cache index: Numba's
    own file, a pickled version tag, then a pickled (stamp, {(argument types, ...): data file})."""
    try:
        with open(index, "rb") as f:
            pickle.load(f)
            _stamp, overloads = pickle.loads(f.read())
        return {str(key[0][0][0].dtype) for key in overloads}
    except Exception:
        return set()


def init_compiler() -> None:
    """Numba sets up its compiler on the first kernel call or cache load: about a quarter of a
    second of Python work, parts of it holding the GIL. A window calls this on its own thread
    before its training thread starts, which would otherwise freeze the window meanwhile."""
    cpu_target.target_context.refresh()
    cpu_target.typing_context.refresh()


def _trainers(dtype: str) -> list[Trainer]:
    """Tiny networks with every kind of block."""
    training = {"dtype": dtype, "batch_size": 8, "eval_every": 2}
    data = {"name": "spiral", "samples": 60}
    return [
        Trainer(residual_mlp(2, 4, 3, training=training, data=data)),
        Trainer(mlp(2, 4, 3, batchnorm=True, training=training, data=data)),
    ]


def warm_steps(dtype: str) -> None:
    """Whole steps, evaluation and prediction: the one kernel a trainer needs to run."""
    for trainer in _trainers(dtype):
        trainer.run_block(3)
        trainer.predict(np.zeros((2, 2)))


def warm(dtype: str) -> None:
    """Every kernel path once: whole steps, evaluation, prediction, micro-steps and a
    forward-backward."""
    warm_steps(dtype)
    for trainer in _trainers(dtype):
        while trainer.micro_step().record is None:
            pass
        trainer.snapshot_state()


def warm_backward(dtype: str) -> None:
    """The backward pass and the update, through the micro-step kernels, last part first (the
    step kernel's compile needs them in that order, backward pass first)."""
    trainer = _trainers(dtype)[1]
    trainer._batch = np.arange(trainer.batch_size)  # the rows the phases' sizes come from
    phases = [p for p in trainer.micro_plan() if p[0] != "forward"]
    for phase, i in phases[1:] + phases[:1]:  # the loss last: it comes first in the step
        trainer._run_phase(phase, i)


def launch(*args: str, stdout: int | None = subprocess.DEVNULL) -> subprocess.Popen | None:
    """`python -m vgsim.engine.warm ARGS` in another process, this copy of vgsim first on its
    path (None if it cannot start). It never outlives this process: it ends when the pipe to
    its stdin closes, which the system does when this process ends, however it ends."""
    package_root = str(Path(vgsim.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
        WATCH_PARENT: "1",
    }
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "vgsim.engine.warm", *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=os.name == "posix",
        )
    except OSError:
        return None


def start_backward_helper(dtype: str) -> subprocess.Popen | None:
    """On a cold cache, start `warm --backward` in another process (None if all is cached).
    Whoever starts it stops it when done (stop_process): what it cached by then stays."""
    return None if kernels_cached(dtype=dtype) else launch("--backward", dtype)


def stop_process(process: subprocess.Popen | None) -> None:
    """Stop a process from `launch` and any helper it started (they share a process group)."""
    if process is None:
        return
    if process.stdin is not None:
        process.stdin.close()  # the helper's cue to end, should it outlive the kill below
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (AttributeError, OSError):  # no process groups here: the process alone
        process.kill()
    process.wait()


def _exit_with_parent() -> None:
    """End this process when its parent's end of the stdin pipe closes."""

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    """Prints a line as each part is ready: a window waiting to train needs only the first."""
    if os.environ.pop(WATCH_PARENT, None) == "1" and sys.stdin is not None:
        _exit_with_parent()
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "--backward":
        for dtype in args[1:] or ["float32"]:
            warm_backward(dtype)
        return 0
    for dtype in args or DTYPES:
        helper = start_backward_helper(dtype)
        try:
            warm_steps(dtype)
            print(f"{STEPS_READY} {dtype}", flush=True)
            warm(dtype)
        finally:
            stop_process(helper)
        print(f"{ALL_READY} {dtype}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
