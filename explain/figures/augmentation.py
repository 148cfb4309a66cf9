"""Pictures of a transforms v2 pipeline: its random draws on an image, and on a detection sample with the boxes and
masks that move with the pixels (drawn with torchvision's drawing utilities)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks

from explain.figures.render import MARK, draw_labels, montage
from explain.inputs.images import big_enough, size_said, too_small
from models.data.shapes import make_scene
from models.experiments.augmentation import as_numpy, augment_image, augment_scene, build_pipeline

PREVIEW_SIDE = 256  # the previews are shown 160 pixels wide: augmenting the full upload would waste memory
TILE = 160  # pixels per draw on the image
SCENE_TILE = 192  # pixels per draw on the detection sample


def image_previews(steps: Sequence[dict[str, Any]], image: Image.Image, n: int, seed: int) -> np.ndarray:
    """A montage (at most six across) of `n` draws of the pipeline on the image, made at most PREVIEW_SIDE pixels
    wide; the same (pipeline, image, n, seed) gives the same draws."""
    small = image.copy()
    small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    tensor = torch.from_numpy(np.asarray(small).copy()).permute(2, 0, 1)
    draws = [Image.fromarray(as_numpy(t)) for t in augment_image(build_pipeline(steps), tensor, n, seed)]
    box = tile_box(draws[0].size)
    # each draw keeps its shape, letterboxed in white where it differs from the first's (a walk saw a 600 x 400 cup
    # squeezed square, which a student would take for part of the pipeline)
    tiles = np.stack([np.asarray(ImageOps.pad(d, box, color=(255, 255, 255))) for d in draws])
    return montage(tiles, cols=min(6, n))


def tile_box(size: tuple[int, int]) -> tuple[int, int]:
    """A preview tile's (width, height): TILE pixels on the longer side, the draw's shape on the other, at least a
    quarter of TILE (a 1000 x 10 strip is letterboxed rather than drawn 2 pixels high)."""
    w, h = size
    short = max(TILE // 4, round(TILE * min(w, h) / max(w, h)))
    return (TILE, short) if w >= h else (short, TILE)


def preview_note(im: Image.Image) -> str:
    """One line when an image is too small for its draws to show what a pipeline does, else "" (a walk's 1 x 1
    upload gave twelve flat squares with no word)."""
    if not too_small(im.size):
        return ""
    return (
        f"This image is {size_said(im)}: enlarged, every draw is nearly flat colour (and fill where a transform moves "
        f"it), so these previews cannot show what the pipeline does; choose an image {big_enough(im)}."
    )


def outlines(masks: torch.Tensor, width: int = 2) -> torch.Tensor:
    """N x H x W boolean masks -> their outlines, `width` pixels inside each mask's edge."""
    inside = masks.float().unsqueeze(1)
    eroded = -F.max_pool2d(-inside, 2 * width + 1, stride=1, padding=width)
    return (inside - eroded).squeeze(1) > 0


def scene_previews(steps: Sequence[dict[str, Any]], seed: int, n: int = 4) -> np.ndarray:
    """`n` draws of the pipeline on the generated detection sample, with their transformed masks and boxes."""
    scene = make_scene(np.random.default_rng(7), SCENE_TILE, n_objects=(3, 4))
    drawn = []
    for image, boxes, masks, names in augment_scene(build_pipeline(steps), scene, n, seed):
        # each mask's outline in magenta over its tint: a tint alone was lost on shapes of its own colour (a walk)
        out = draw_segmentation_masks(image, masks, alpha=0.45) if len(masks) else image
        out = draw_segmentation_masks(out, outlines(masks), alpha=1.0, colors=MARK) if len(masks) else out
        out = draw_bounding_boxes(out, boxes, colors="white", width=2)
        # labels placed as the detection pictures place them, never off the picture (a walk read "circ" at an edge)
        drawn.append(as_numpy(draw_labels(out, boxes, list(names), "#FFFFFF")[0]))
    return montage(np.stack([np.asarray(Image.fromarray(d).resize((SCENE_TILE, SCENE_TILE))) for d in drawn]), cols=n)
