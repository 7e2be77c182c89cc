"""Many runs, still Qt-free: run folders, records, comparisons and the plot data every view draws.

Imports only `vgsim.engine` (and NumPy); the window and the command line build on it.
"""
