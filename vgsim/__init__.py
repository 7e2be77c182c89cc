"""vgsim: see why deep networks suffer vanishing and exploding gradients."""

__version__ = "0.1.0"
