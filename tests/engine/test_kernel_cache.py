"""Numba checks a cached kernel against its own file only: the kernels package removes compiled
kernels made from other sources than its files' now."""

from __future__ import annotations

from pathlib import Path

from vgsim.engine import kernels
from vgsim.engine.kernels import STAMP, clear_stale_cache


def kernel_tree(tmp_path: Path) -> tuple[Path, Path]:
    folder, cache = tmp_path / "kernels", tmp_path / "kernels" / "__pycache__"
    cache.mkdir(parents=True)
    (folder / "plan.py").write_text("def step(): return conv()\n")
    (folder / "conv.py").write_text("def conv(): return 1\n")
    return folder, cache


def compiled(cache: Path) -> list[str]:
    for name in ("plan.train_steps-1.py311.nbi", "plan.train_steps-1.py311.1.nbc"):
        (cache / name).write_bytes(b"machine code")
    return sorted(p.name for p in cache.glob("*.nb?"))


def test_a_change_to_any_kernel_source_removes_the_compiled_kernels(tmp_path: Path) -> None:
    folder, cache = kernel_tree(tmp_path)
    clear_stale_cache(folder, [cache])  # the first stamp
    kept = compiled(cache)
    assert not clear_stale_cache(folder, [cache])  # the same sources: the cache stays
    assert sorted(p.name for p in cache.glob("*.nb?")) == kept
    (folder / "conv.py").write_text("def conv(): return 2\n")  # not plan.py's own file
    assert clear_stale_cache(folder, [cache])
    assert not list(cache.glob("*.nb?"))
    assert (cache / STAMP).is_file() and not (cache / "__pycache__").exists()
    compiled(cache)
    assert not clear_stale_cache(folder, [cache])  # stamped with the new sources


def test_a_cache_that_cannot_be_written_is_left_alone(tmp_path: Path) -> None:
    folder, _ = kernel_tree(tmp_path)
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert not clear_stale_cache(folder, [blocked / "cache"])


def test_the_package_stamps_its_own_cache_with_its_sources() -> None:
    folder = Path(kernels.__file__).parent
    stamp = kernels.cache_folders(folder)[0] / STAMP
    assert stamp.read_text(encoding="ascii").strip() == kernels.sources_digest(folder)
