"""Numba reaches BLAS through `scipy.linalg.cython_blas`, imported on the first call of any
kernel. Importing it the usual way runs `scipy.linalg`'s package first: all of SciPy's linear
algebra, its array-API layer and numpy.f2py, half a second of every process's start-up for
one table of function pointers. `load_cython_blas` loads that extension module alone, under
its own name, so Numba's import finds it; anything that fails leaves the usual import to Numba.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys

NAME = "scipy.linalg.cython_blas"


def load_cython_blas() -> bool:
    """Put scipy.linalg.cython_blas in sys.modules without importing scipy.linalg; True if it
    is there now."""
    if NAME in sys.modules:
        return True
    try:
        scipy = importlib.util.find_spec("scipy")
        if scipy is None or not scipy.submodule_search_locations:
            return False
        folders = [f"{location}/linalg" for location in scipy.submodule_search_locations]
        loader = (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES)
        for folder in folders:
            spec = importlib.machinery.FileFinder(folder, loader).find_spec(NAME)
            if spec is None or spec.loader is None:
                continue
            module = importlib.util.module_from_spec(spec)
            sys.modules[NAME] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[NAME]
                raise
            return True
    except (ImportError, OSError, ValueError):
        pass
    return False
