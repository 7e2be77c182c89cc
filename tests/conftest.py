"""Shared test set-up: lets test modules `import naive` (tests/naive.py, the numpy oracles)."""

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
