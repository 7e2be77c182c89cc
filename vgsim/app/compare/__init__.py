"""Side-by-side comparisons in the window: several networks trained in lockstep, their
thumbnails and overlay plots, and the same plots drawn headless for `vgsim compare --plots`.

`open_comparison` and `ComparisonWindow` are imported on first use, so that the Qt-free
`compare.data` can be imported without Qt."""

from __future__ import annotations

from typing import Any

__all__ = ["ComparisonWindow", "open_comparison"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import window

        return getattr(window, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
