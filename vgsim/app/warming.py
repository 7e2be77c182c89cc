"""Compiling the kernels in another process on a cold Numba cache.

Compiling in the window's process would hold the GIL for most of a second at a time and freeze
the window. `python -m vgsim.engine.warm DTYPE` compiles instead and says when the step kernel
is ready (all a trainer needs to train), then goes on with the micro-step kernels. The window's
worker waits for the first line only; anything that micro-steps waits for the rest.
"""

from __future__ import annotations

import subprocess
import threading

from ..engine.warm import STEPS_READY, kernels_cached, launch, stop_process

WARM_TIMEOUT_S = 300  # a compile that takes longer is left to this process


class KernelWarmer:
    def __init__(self) -> None:
        self._ready: set[str] = set()  # dtypes whose step kernel is compiled or cached
        self._process: subprocess.Popen | None = None
        self._reading = False  # prepare() is reading the process's output
        self.stopped = False  # set at exit: build nothing more (it would compile here)

    def prepare(self, dtype: str) -> None:
        """Return once the step kernel for `dtype` can be loaded from the cache (or compiling
        it elsewhere failed: then this process compiles it when first called)."""
        if dtype in self._ready:
            return
        self._ready.add(dtype)
        if kernels_cached(dtype=dtype):
            return
        self.finish()  # one compile at a time: there may be only two cores
        self._process = process = launch(dtype, stdout=subprocess.PIPE)
        if process is None or process.stdout is None:
            return
        killer = threading.Timer(WARM_TIMEOUT_S, stop_process, [process])
        killer.daemon = True
        killer.start()
        self._reading = True
        try:
            for line in process.stdout:
                if line.startswith(f"{STEPS_READY} {dtype}"):
                    return
        finally:
            self._reading = False
            killer.cancel()
            if self.stopped:
                process.stdout.close()

    @staticmethod
    def cold(dtype: str) -> bool:
        """Some kernel for `dtype` is neither compiled nor cached yet."""
        return not kernels_cached(dtype=dtype)

    @property
    def busy(self) -> bool:
        """The other process is still compiling (the micro-step kernels)."""
        return self._process is not None and self._process.poll() is None

    def finish(self) -> None:
        """Wait until every kernel is compiled, before anything that micro-steps."""
        process, self._process = self._process, None
        if process is not None:
            try:
                process.communicate(timeout=WARM_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                stop_process(process)

    def stop(self) -> None:
        """At exit: a half-done compile is harmless (Numba writes its cache files whole)."""
        self.stopped = True
        process, self._process = self._process, None
        stop_process(process)
        if process is not None and process.stdout is not None and not self._reading:
            process.stdout.close()  # else prepare() closes it when it stops reading
