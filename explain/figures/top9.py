"""Zeiler & Fergus's top-9 picture: for each channel, the nine strongest activations over a set of images, each
projected back to pixels beside the image patch it saw."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from explain.figures.render import crop_tile, input_image, montage, symmetric_image
from explain.methods.deconvnet import TopActivation, geometry, top_activations


def patches_text(items: Sequence[TopActivation], size: int, image_hw: tuple[int, int]) -> str:
    """What a channel's image patches show: each unit's receptive field, `size` pixels a side, mid-grey where it
    runs past the image, or the whole image where it covers all of it (a walk saw layer3's patches, each a whole
    photo, captioned as if grey showed)."""
    h, w = image_hw
    said = f"image patches under each unit's {size} x {size}-pixel receptive field"
    if all(t.box == (0, 0, w, h) for t in items):
        return f"{said}, each covering the whole {w} x {h} image: each patch is the whole image"
    return said + (" (mid-grey: past the image's edge)" if any(t.tile != t.box for t in items) else "")


def top9_montages(
    model: nn.Module,
    images: torch.Tensor,
    names: Sequence[str],
    layer: str,
    channels: Sequence[int],
    mean: tuple[float, ...],
    std: tuple[float, ...],
    report: Callable | None = None,
) -> dict[int, tuple[list[str], np.ndarray, np.ndarray, str]]:
    """Per channel: the names of the images of its nine strongest activations (strongest first, the montages' tiles
    by rows: a walk could not match tiles to three names), and two 3 x 3 montages (uint8 RGB): the nine deconvnet
    projections and the nine image patches under their receptive fields (squared off with mid-grey past the image's
    edge: `Geometry.tile`), with the patches' caption (`patches_text`). `images` and `names`: `prepare_set`'s."""
    tops = top_activations(model, images, layer, list(channels), k=9, progress=report)
    size, hw = geometry(model, layer).size, tuple(images.shape[-2:])
    out = {}
    for c, items in tops.items():
        projections = np.stack([crop_tile(symmetric_image(t.reconstruction), t.tile) for t in items])
        patches = np.stack(
            [crop_tile(input_image(images[t.image_index : t.image_index + 1], mean, std), t.tile) for t in items]
        )
        named = [names[t.image_index] for t in items]
        out[c] = (named, montage(projections, cols=3), montage(patches, cols=3), patches_text(items, size, hw))
    return out
