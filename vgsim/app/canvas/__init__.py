"""The network canvas: a scene that mirrors the graph model, its items and its view."""
