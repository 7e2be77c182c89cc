"""The plots: each knows how it looks and draws from a PlotData, in the window or headless."""
