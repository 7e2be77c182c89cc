"""vgsim: see why deep networks suffer vanishing and exploding gradients."""

import os

# Kernels stay serial: one core trains while the other keeps the window responsive. A threaded
# BLAS busy-waits for its helper threads, and made steps up to 10x slower whenever another
# process was busy. This must be set before the BLAS library loads; a user's setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
