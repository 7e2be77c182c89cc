"""The documented home of side-by-side runs; they live in `vgsim.experiments.comparisons`."""

from .experiments.comparisons import (
    Comparison,
    ComparisonError,
    GradientProfile,
    compare_networks,
    profile_difference,
)

__all__ = [
    "Comparison",
    "ComparisonError",
    "GradientProfile",
    "compare_networks",
    "profile_difference",
]
