"""Drawing primitives shared by the demo generators (make_demo.py, make_demo_vqa.py).

Both generators draw clearly artificial images from ellipses, Gaussian blobs, ImageDraw strokes and
smoothed noise, each on its own square grid and with its own seed. The primitives are the same
arithmetic for both, so they live here once; each generator makes one `Canvas` and keeps its own
settings (size, seed, blur, grey levels), which is what keeps every bundled image byte-identical.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


class Canvas:
    """The pixel grid and seed of one generator: every mask and noise field has its size."""

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.seed = size, seed
        # Float pixel coordinates, computed once: every mask below is arithmetic on them.
        self.Y, self.X = np.mgrid[0:size, 0:size].astype(np.float64)

    def rng(self, key: str) -> np.random.Generator:
        """A generator seeded from the fixed seed and a stable key: crc32, because hash() of a str is
        randomised per process and would change the images from run to run."""
        return np.random.default_rng([self.seed, zlib.crc32(key.encode("utf-8"))])

    def ell(self, cx: float, cy: float, rx: float, ry: float, angle: float = 0.0) -> np.ndarray:
        """Boolean mask of a filled ellipse; `angle` in degrees."""
        dx, dy = self.X - cx, self.Y - cy
        if angle:
            c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
            dx, dy = dx * c + dy * s, -dx * s + dy * c
        return (dx / rx) ** 2 + (dy / ry) ** 2 <= 1.0

    def blob(self, cx: float, cy: float, sx: float, sy: float | None = None) -> np.ndarray:
        """Gaussian bump of height 1; round unless `sy` is given (make_demo_vqa only draws round ones)."""
        sy = sx if sy is None else sy
        return np.exp(-0.5 * (((self.X - cx) / sx) ** 2 + ((self.Y - cy) / sy) ** 2))

    def smooth(self, rng: np.random.Generator, cells: int) -> np.ndarray:
        """Smooth noise in [0, 1]: a coarse random grid upsampled bicubically. No default `cells`: the
        generators always name the coarseness, and their old defaults differed."""
        small = rng.random((cells, cells)).astype(np.float32)
        big = Image.fromarray(small).resize((self.size, self.size), Image.BICUBIC)
        return np.clip(np.asarray(big, dtype=np.float64), 0.0, 1.0)

    def layer(self, fn: Callable[[ImageDraw.ImageDraw], object]) -> np.ndarray:
        """Rasterise ImageDraw calls (fill=255) into a float mask in [0, 1], for strokes and polygons
        that are awkward to write as masks."""
        im = Image.new("L", (self.size, self.size), 0)
        fn(ImageDraw.Draw(im))
        return np.asarray(im, dtype=np.float64) / 255.0

    def polar(self, apex_y: float) -> tuple[np.ndarray, np.ndarray]:
        """Depth and angle (radians from vertical) of every pixel from a probe apex at (size / 2, apex_y),
        which sits above the image (negative) so the ultrasound fan starts inside it."""
        dx, dy = self.X - self.size / 2, self.Y - apex_y
        return np.hypot(dx, dy), np.arctan2(dx, dy)


def finish(a: np.ndarray, *, blur: float, levels: int, centre: bool) -> Image.Image:
    """Clip to [0, 1], soften and quantise to `levels` grey levels; flat areas keep the files small.

    Every argument is required because the two generators quantise differently and their bundled
    files depend on it: `centre=False` puts each level at the bottom of its bin (make_demo.py, whose
    levels divide 256), `centre=True` at the middle of it (make_demo_vqa.py, 12 levels).
    """
    im = Image.fromarray(np.round(np.clip(a, 0.0, 1.0) * 255).astype(np.uint8))
    if blur:
        im = im.filter(ImageFilter.GaussianBlur(blur))
    step = 256 / levels
    q = np.floor(np.asarray(im, dtype=np.float64) / step) * step + (step / 2 if centre else 0.0)
    return Image.fromarray(np.clip(np.round(q), 0, 255).astype(np.uint8))
