"""Numba kernels. They import nothing of vgsim outside this package.

Numba's cache of a kernel is checked against its own source file only, not against the kernels
it compiles in from the other files: after a change to conv.py the step kernel (plan.py) kept
running the old convolution from the cache. So the cache folder carries a hash of every kernel
source, and its compiled kernels are removed when the sources no longer match it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from numba.core import config
from numba.core.caching import _CacheLocator

from .blas import load_cython_blas

STAMP = "vgsim-kernel-sources.sha256"


def sources_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for source in sorted(folder.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def cache_folders(folder: Path) -> list[Path]:
    """Where Numba keeps these kernels' cache: NUMBA_CACHE_DIR if set, else __pycache__."""
    if config.CACHE_DIR:
        subpath = _CacheLocator.get_suitable_cache_subpath(str(folder / "plan.py"))
        return [Path(config.CACHE_DIR) / subpath]
    return [folder / "__pycache__"]


def clear_stale_cache(folder: Path, caches: list[Path]) -> bool:
    """Remove the compiled kernels of `caches` made from other sources than `folder`'s now, and
    stamp them with these; True if any were removed. A cache that cannot be written is left as
    it is (an installed copy: an upgrade replaces every source file, and Numba sees that)."""
    digest, removed = sources_digest(folder), False
    for cache in caches:
        stamp = cache / STAMP
        try:
            if stamp.is_file() and stamp.read_text(encoding="ascii").strip() == digest:
                continue
            for compiled in [*cache.glob("*.nbi"), *cache.glob("*.nbc")]:
                compiled.unlink(missing_ok=True)
                removed = True
            cache.mkdir(parents=True, exist_ok=True)
            temporary = cache / f"{STAMP}.{os.getpid()}"
            temporary.write_text(digest + "\n", encoding="ascii")
            temporary.replace(stamp)
        except OSError:
            continue
    return removed


clear_stale_cache(Path(__file__).parent, cache_folders(Path(__file__).parent))
load_cython_blas()  # before the first kernel call imports it with all of scipy.linalg
