"""Side panels: palette, inspector, problems, training controls and diagnosis."""
