"""Side-by-side comparisons in the window: several networks trained in lockstep, their
thumbnails and overlay plots, and the same plots drawn headless for `vgsim compare --plots`.
The data they draw lives in `vgsim.experiments.comparison_data`."""
