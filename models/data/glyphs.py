"""Procedural glyphs: a formula-driven source task of made-up characters, to pretrain the transfer encoder.

A category is one to three random cubic Bezier pen strokes (an invented character). An instance
is that character written by a shaky hand: control points jittered, a random rotation, scale and
shear, a random pen width, centred and fitted to the frame, then drawn at a random resolution
(size/4 to size) and enlarged back, so stroke sharpness varies. Like FractalDB (see
`models/data/fractals.py`), it needs no download and no labels but the formula's own; unlike
fractals, its images are strokes, which is what handwriting is made of.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

Glyph = list[np.ndarray]  # strokes, each 4 x 2 Bezier control points in [0, 1]^2
_SUPERSAMPLE = 4
_T = np.linspace(0.0, 1.0, 24)


def categories(n: int, seed: int) -> list[Glyph]:
    """`n` invented characters, a pure function of `seed`."""
    rng = np.random.default_rng(seed)
    return [[rng.uniform(0.15, 0.85, size=(4, 2)) for _ in range(int(rng.integers(1, 4)))] for _ in range(n)]


def _bezier(ctrl: np.ndarray) -> np.ndarray:
    t = _T[:, None]
    return (1 - t) ** 3 * ctrl[0] + 3 * (1 - t) ** 2 * t * ctrl[1] + 3 * (1 - t) * t**2 * ctrl[2] + t**3 * ctrl[3]


def instance(glyph: Glyph, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """One handwritten-looking image of `glyph`: size x size float32 in [0, 1], ink bright on black."""
    angle = rng.uniform(-0.3, 0.3)
    rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    affine = rotate @ np.array([[rng.uniform(0.85, 1.15), rng.uniform(-0.2, 0.2)], [0.0, rng.uniform(0.85, 1.15)]])
    paths = [(_bezier(c + rng.normal(0.0, 0.035, size=c.shape)) - 0.5) @ affine.T for c in glyph]
    points = np.concatenate(paths)
    lo, hi = points.min(0), points.max(0)
    span = max(float((hi - lo).max()), 0.25)
    big = size * _SUPERSAMPLE
    canvas = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(canvas)
    width = int(rng.uniform(0.06, 0.14) * big)
    for path in paths:
        xy = ((path - (lo + hi) / 2) / span * 0.72 + 0.5) * big
        draw.line([tuple(p) for p in xy], fill=255, width=width, joint="curve")
        for x, y in (xy[0], xy[-1]):  # round pen tips
            draw.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=255)
    res = int(rng.integers(size // 4, size + 1))
    canvas = canvas.resize((res, res), Image.Resampling.BOX).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(canvas, dtype=np.float32) / 255.0


def instances(glyphs: list[Glyph], per_category: int, seed: int, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(images N x size x size float32, labels N int64): `per_category` images of each glyph, a pure
    function of `seed`."""
    rng = np.random.default_rng(seed)
    images = np.stack([instance(g, rng, size) for g in glyphs for _ in range(per_category)])
    return images, np.repeat(np.arange(len(glyphs)), per_category)
