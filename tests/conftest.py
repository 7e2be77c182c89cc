"""Shared test set-up: lets test modules `import naive` (tests/naive.py, the numpy oracles), and
under pytest-xdist compiles each kernel once for all workers."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock
from numba import config

if config.DISABLE_JIT:
    # The kernels run as Python: NumPy would warn on an overflow or a NaN where the compiled
    # kernels (whose blow-ups the tests provoke) never do.
    np.seterr(all="ignore")

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


@pytest.fixture(scope="session", autouse=True)
def kernels_compiled_once(tmp_path_factory):
    """Under `pytest -n 2` each worker would compile every kernel the suite calls (both dtypes,
    about two minutes of CPU on a cold cache). Instead worker gw0 compiles the float32 kernels
    while gw1 compiles the float64 ones, each under a lock named by its dtype, then each loads
    the other's from Numba's on-disk cache once its lock is free."""
    if not _WORKER or config.DISABLE_JIT:
        yield
        return
    from vgsim.engine.warm import DTYPES, warm

    shared = tmp_path_factory.getbasetemp().parent  # one folder for all workers of this run
    first = int(_WORKER.removeprefix("gw") or 0) % len(DTYPES)
    for dtype in DTYPES[first:] + DTYPES[:first]:
        with FileLock(shared / f"kernels-{dtype}.lock"):
            warm(dtype)
    yield


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items):
    """Under `--dist loadgroup` the tests of a module that share a module-scoped fixture (a
    sweep, a lesson's map) go to one worker, which sets the fixture up once. Under xdist the
    tests marked slow start first: one of them sent last would keep its worker busy for a
    minute after the other had run out of work."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.values() if info else ()
        if any(d.scope in ("class", "module", "package") for ds in defs for d in ds):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
    if _WORKER:  # every worker sorts alike: xdist checks that their collections agree
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)
