"""A plot over a training run as an animated GIF: frames from the same exporter as the images,
encoded by Pillow."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pyqtgraph as pg
from PIL import Image

from .export import ImageOptions, plot_image, png_bytes, write_file

MAX_FRAMES = 300  # about 30 s at 10 frames a second; later frames replace every other one
MAX_PER_SECOND = 10.0


class Animation:
    """Collects frames of one plot; `save` writes them as a looping GIF."""

    def __init__(self, item: pg.PlotItem, scale: float = 1.0):
        self.item = item
        self.options = ImageOptions(scale=scale)
        self.frames: list[Image.Image] = []
        self._last = 0.0

    def capture(self, force: bool = False) -> bool:
        """Add the plot as it is drawn now (at most MAX_PER_SECOND a second unless `force`)."""
        now = time.perf_counter()
        if not force and now - self._last < 1.0 / MAX_PER_SECOND:
            return False
        self._last = now
        if len(self.frames) >= MAX_FRAMES:
            self.frames = self.frames[::2]  # keep the whole run, at half the frame rate
        picture = Image.open(io.BytesIO(png_bytes(plot_image(self.item, self.options))))
        # A palette image is a quarter of the memory, and what a GIF stores anyway.
        self.frames.append(picture.convert("RGB").quantize(colors=255))
        return True

    def gif_bytes(self, seconds_per_frame: float = 0.1) -> bytes:
        if not self.frames:
            raise ValueError("no frames were captured")
        size = self.frames[0].size
        frames = [f if f.size == size else f.resize(size) for f in self.frames]
        out = io.BytesIO()
        frames[0].save(
            out,
            format="GIF",
            save_all=True,
            append_images=frames[1:],
            duration=int(seconds_per_frame * 1000),
            loop=0,
            optimize=False,
        )
        return out.getvalue()

    def save(self, path: str | Path, seconds_per_frame: float = 0.1) -> Path:
        return write_file(path, self.gif_bytes(seconds_per_frame))
