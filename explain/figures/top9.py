"""Zeiler & Fergus's top-9 picture: for each channel, the nine strongest activations over a set of images, each
projected back to pixels beside the image patch it saw."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from explain.figures.render import crop_tile, input_image, montage, symmetric_image
from explain.methods.deconvnet import top_activations


def top9_montages(
    model: nn.Module,
    images: torch.Tensor,
    names: Sequence[str],
    layer: str,
    channels: Sequence[int],
    mean: tuple[float, ...],
    std: tuple[float, ...],
    report: Callable | None = None,
) -> dict[int, tuple[list[str], np.ndarray, np.ndarray]]:
    """Per channel: the names of the images of its nine strongest activations (strongest first, the montages' tiles
    by rows: a walk could not match tiles to three names), and two 3 x 3 montages (uint8 RGB): the nine deconvnet
    projections and the nine image patches under their receptive fields (squared off with mid-grey past the image's
    edge: `Geometry.tile`)."""
    tops = top_activations(model, images, layer, list(channels), k=9, progress=report)
    out = {}
    for c, items in tops.items():
        projections = np.stack([crop_tile(symmetric_image(t.reconstruction), t.tile) for t in items])
        patches = np.stack(
            [crop_tile(input_image(images[t.image_index : t.image_index + 1], mean, std), t.tile) for t in items]
        )
        out[c] = ([names[t.image_index] for t in items], montage(projections, cols=3), montage(patches, cols=3))
    return out
