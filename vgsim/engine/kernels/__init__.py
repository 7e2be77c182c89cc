"""Numba kernels. They import nothing of vgsim outside this package."""
