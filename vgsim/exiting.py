"""Ending a headless process without tearing down every module.

After a command is done, the interpreter's own exit deletes every module and object one by one;
with Numba's kernels loaded that took 0.36 s of each `vgsim run` (a 1-step run's whole start-up
is about a second). `exit_now` does what an exit must (threads joined, exit handlers run, output
flushed) and leaves the rest to the operating system.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    """Exit with `code` as the interpreter would, minus the teardown: wait for non-daemon
    threads, run the exit handlers (temporary folders, logging, pools), flush stdout/stderr."""
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass  # a closed pipe: nothing more can reach it
    os._exit(code)
