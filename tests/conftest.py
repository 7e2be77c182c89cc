"""Shared test set-up: lets test modules `import naive` (tests/naive.py, the numpy oracles)."""

import sys
from pathlib import Path

import numpy as np
from numba import config

if config.DISABLE_JIT:
    # The kernels run as Python: NumPy would warn on an overflow or a NaN where the compiled
    # kernels (whose blow-ups the tests provoke) never do.
    np.seterr(all="ignore")

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
