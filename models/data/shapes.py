"""Procedural shapes: the project's own image data, generated on the fly, no download.

One generator serves three tasks: a single centred shape is a classification sample, several
shapes make a detection scene (instance masks and boxes come free), and the same scene's
per-pixel class map is a segmentation target. Everything is a pure function of a seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SHAPE_CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "star", "hexagon", "cross")
BACKGROUNDS: tuple[str, ...] = ("noise", "gradient", "stripes", "checker", "blobs")
ONE_SHAPE_IMAGES = "generated images of one shape each"  # what the shape classifiers train on, as a note names it

_SUPERSAMPLE = 4  # masks are drawn 4x larger and reduced, so edges are clean at any size


@dataclass(frozen=True)
class Scene:
    """A generated image with its objects: per-instance masks, boxes, labels and a label map."""

    image: np.ndarray  # H x W x 3 uint8
    masks: np.ndarray  # N x H x W bool, the visible part of each instance
    labels: np.ndarray  # N int64, index into SHAPE_CLASSES
    boxes: np.ndarray  # N x 4 float32, (x0, y0, x1, y1) in pixels, x1/y1 exclusive

    @property
    def label_map(self) -> np.ndarray:
        """H x W int64: 0 for background, 1 + class index where an instance is visible."""
        out = np.zeros(self.image.shape[:2], dtype=np.int64)
        for mask, label in zip(self.masks, self.labels, strict=True):
            out[mask] = label + 1
        return out


def shape_polygon(kind: str, cx: float, cy: float, radius: float, angle: float) -> list[tuple[float, float]]:
    """Vertices of a shape of circumradius `radius` centred at (cx, cy), rotated by `angle` radians."""

    def ring(n: int, radii: list[float], phase: float = 0.0) -> list[tuple[float, float]]:
        pts = []
        for i in range(n):
            t = angle + phase + 2 * math.pi * i / n
            r = radii[i % len(radii)]
            pts.append((cx + r * math.cos(t), cy + r * math.sin(t)))
        return pts

    if kind == "circle":
        return ring(64, [radius])
    if kind == "square":
        return ring(4, [radius], math.pi / 4)
    if kind == "triangle":
        return ring(3, [radius], -math.pi / 2)
    if kind == "star":
        return ring(10, [radius, radius * 0.45], -math.pi / 2)
    if kind == "hexagon":
        return ring(6, [radius])
    if kind == "cross":
        a, b = radius * 0.95, radius * 0.32
        base = [(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b)]
        base += [(-x, -y) for x, y in base]  # the cross is symmetric under a half turn
        c, s = math.cos(angle), math.sin(angle)
        return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in base]
    raise ValueError(f"unknown shape {kind!r}; expected one of {', '.join(SHAPE_CLASSES)}")


def shape_mask(kind: str, size: tuple[int, int], cx: float, cy: float, radius: float, angle: float) -> np.ndarray:
    """A boolean H x W mask of one shape, anti-aliased by supersampling and thresholded at half cover."""
    w, h = size
    k = _SUPERSAMPLE
    canvas = Image.new("L", (w * k, h * k), 0)
    pts = [(x * k, y * k) for x, y in shape_polygon(kind, cx, cy, radius, angle)]
    ImageDraw.Draw(canvas).polygon(pts, fill=255)
    return np.asarray(canvas.resize((w, h), Image.Resampling.BOX)) >= 128


def background(rng: np.random.Generator, size: tuple[int, int], kind: str | None = None) -> np.ndarray:
    """A textured or noisy H x W x 3 float background in [0, 1]; `kind` picks one of BACKGROUNDS."""
    w, h = size
    kind = kind or BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    c0, c1 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "gradient":
        t = rng.uniform(0, 2 * math.pi)
        ramp = (xx * math.cos(t) + yy * math.sin(t)) / max(w, h)
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
        img = c0 + (c1 - c0) * ramp[..., None]
    elif kind == "stripes":
        period = rng.uniform(4, 16) * max(w, h) / 64
        t = rng.uniform(0, math.pi)
        wave = 0.5 + 0.5 * np.sin(2 * math.pi * (xx * math.cos(t) + yy * math.sin(t)) / period)
        img = c0 + (c1 - c0) * wave[..., None] * 0.6
    elif kind == "checker":
        cell = max(2, int(rng.uniform(4, 12) * max(w, h) / 64))
        board = ((xx // cell + yy // cell) % 2).astype(np.float32)
        img = c0 + (c1 - c0) * board[..., None] * 0.5
    elif kind == "blobs":
        small = rng.uniform(0, 1, (max(2, h // 12), max(2, w // 12), 3))
        img = (
            np.asarray(
                Image.fromarray((small * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC), np.float32
            )
            / 255.0
        )
    elif kind == "noise":
        img = np.broadcast_to(c0, (h, w, 3)).copy()
    else:
        raise ValueError(f"unknown background {kind!r}; expected one of {', '.join(BACKGROUNDS)}")
    img = img + rng.normal(0, rng.uniform(0.02, 0.12), (h, w, 3))
    return np.clip(img, 0, 1).astype(np.float32)


def _object_colour(rng: np.random.Generator, under: np.ndarray) -> np.ndarray:
    """A random colour that differs clearly from the mean colour beneath the object."""
    for _ in range(20):
        colour = rng.uniform(0, 1, 3)
        if np.abs(colour - under).sum() > 0.6:
            return colour
    return 1.0 - under


def make_scene(
    rng: np.random.Generator,
    size: int | tuple[int, int] = 128,
    n_objects: int | tuple[int, int] = (1, 4),
    radius: tuple[float, float] = (0.08, 0.22),
    min_visible: float = 0.5,
) -> Scene:
    """A scene of randomly placed shapes; later shapes occlude earlier ones.

    `radius` is relative to the shorter side. An instance whose visible area falls below
    `min_visible` of its drawn area is dropped from the annotations and its pixels become
    part of whichever shape covers them, so masks never overlap.
    """
    w, h = (size, size) if isinstance(size, int) else size
    n = n_objects if isinstance(n_objects, int) else int(rng.integers(n_objects[0], n_objects[1] + 1))
    img = background(rng, (w, h))
    masks: list[np.ndarray] = []
    areas: list[int] = []
    labels: list[int] = []
    side = min(w, h)
    for _ in range(n):
        label = int(rng.integers(len(SHAPE_CLASSES)))
        r = rng.uniform(*radius) * side
        cx, cy = rng.uniform(r * 0.7, w - r * 0.7), rng.uniform(r * 0.7, h - r * 0.7)
        mask = shape_mask(SHAPE_CLASSES[label], (w, h), cx, cy, r, rng.uniform(0, 2 * math.pi))
        if not mask.any():
            continue
        colour = _object_colour(rng, img[mask].mean(axis=0))
        shade = rng.uniform(0.85, 1.0, (h, w, 1)) if rng.random() < 0.5 else 1.0
        img = np.where(mask[..., None], np.clip(colour * shade, 0, 1), img)
        masks = [m & ~mask for m in masks]
        masks.append(mask)
        areas.append(int(mask.sum()))
        labels.append(label)
    keep = [i for i, m in enumerate(masks) if m.sum() >= min_visible * areas[i]]
    image = _finish(rng, img)
    if not keep:
        return Scene(image, np.zeros((0, h, w), bool), np.zeros(0, np.int64), np.zeros((0, 4), np.float32))
    kept = np.stack([masks[i] for i in keep])
    return Scene(image, kept, np.array([labels[i] for i in keep], np.int64), masks_to_boxes(kept))


SHAPE_RADIUS = (0.22, 0.42)  # a classification sample's shape: its circumradius, a fraction of the image's side


def make_shape_scene(rng: np.random.Generator, size: int = 64, label: int | None = None) -> Scene:
    """One classification sample as a scene of one object: a single shape, large (SHAPE_RADIUS) and roughly
    centred, on a random background, with its mask and box (the detection page scores a detector on it)."""
    label = int(rng.integers(len(SHAPE_CLASSES))) if label is None else label
    img = background(rng, (size, size))
    r = rng.uniform(*SHAPE_RADIUS) * size
    cx, cy = size / 2 + rng.uniform(-0.15, 0.15) * size, size / 2 + rng.uniform(-0.15, 0.15) * size
    mask = shape_mask(SHAPE_CLASSES[label], (size, size), cx, cy, r, rng.uniform(0, 2 * math.pi))
    colour = _object_colour(rng, img[mask].mean(axis=0))
    img = np.where(mask[..., None], colour, img)
    return Scene(_finish(rng, img), mask[None], np.array([label], np.int64), masks_to_boxes(mask[None]))


def make_shape_image(rng: np.random.Generator, size: int = 64, label: int | None = None) -> tuple[np.ndarray, int]:
    """One classification sample: a single shape, large and roughly centred, on a random background; its label."""
    scene = make_shape_scene(rng, size, label)
    return scene.image, int(scene.labels[0])


def _finish(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Light sensor noise and, sometimes, a slight blur, then 8-bit RGB."""
    img = np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1)
    out = Image.fromarray((img * 255).round().astype(np.uint8))
    if rng.random() < 0.3:
        out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    return np.asarray(out)


def masks_to_boxes(masks: np.ndarray) -> np.ndarray:
    """Tight (x0, y0, x1, y1) boxes of N x H x W boolean masks, x1/y1 exclusive."""
    boxes = np.zeros((len(masks), 4), np.float32)
    for i, m in enumerate(masks):
        ys, xs = np.nonzero(m)
        boxes[i] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    return boxes


def classification_set(n: int, seed: int, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """`n` classification samples (N x H x W x 3 uint8, N labels), balanced over classes and reproducible."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(SHAPE_CLASSES)
    rng.shuffle(labels)
    images = np.stack([make_shape_image(rng, size, int(lab))[0] for lab in labels])
    return images, labels.astype(np.int64)
