"""What the Attributions page shows for an image, in one call a notebook makes too: the image as the model sees it
(cropped as its preprocessing crops, at the image's own resolution) and, per method, the map scaled for colour and
laid over that image."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from explain.figures.render import colorize, overlay, upsample
from explain.inputs.images import MAX_ASPECT
from explain.methods.classify import model_view
from explain.methods.maps import Mode, to_map


@dataclass(frozen=True)
class AttributionView:
    """One method's map as shown: scaled to [0, 1] (absolute) or [-1, 1] (signed), clipped at a percentile; the RGB
    overlay of it on the image the model saw; and the map alone, coloured, at that image's resolution (the view for
    a projector, where an overlay's faint values vanish)."""

    heat: np.ndarray
    overlay: np.ndarray
    alone: np.ndarray

    def picture(self, alone: bool) -> np.ndarray:
        """The map alone, or over the image."""
        return self.alone if alone else self.overlay


def attribution_views(
    maps: Mapping[str, torch.Tensor | np.ndarray],
    image: Image.Image,
    preprocess: Callable[[object], torch.Tensor],
    mode: Mode = "absolute",
    percentile: float = 99.0,
    alpha: float = 0.7,
    magnitude: Collection[str] = (),
) -> tuple[np.ndarray, dict[str, AttributionView]]:
    """(the image as the model sees it, each method's AttributionView); maps go onto the image at its own
    resolution, not the model's input size (at least the maps' size: a smaller image is enlarged to it). The
    methods in `magnitude` (`magnitude_methods`) are gradients, shown by their magnitude (`to_map`)."""
    heats = {m: to_map(attribution, mode, percentile, m in magnitude) for m, attribution in maps.items()}
    seen = model_view(image, preprocess, min_side=max((max(h.shape) for h in heats.values()), default=1))
    views = {}
    for method, heat in heats.items():
        alone = colorize(upsample(heat, seen.shape[:2]), mode)
        views[method] = AttributionView(heat, overlay(seen, heat, mode, alpha, grey_under=True), alone)
    return seen, views


def seen_caption(shown: tuple[int, int], model_input: tuple[int, int], padded: tuple[int, int] | None = None) -> str:
    """The caption of the image panel: the crop the model sees, `shown` (height, width) at the image's own resolution,
    and the size the model gets it at when that differs (a 512-px photo's crop reaches a 64-px model at 64 x 64);
    `padded` (`padded_size`: width, height), the grey-padded image a long, thin one was cropped from (a walk's
    8000 x 8 upload, bounded to 1024 x 1, was said to reach 256 x 256 with no word of the grey)."""
    (h, w), (mh, mw) = shown, model_input
    of = ""
    if padded is not None:
        pw, ph = padded
        of = f", of the image padded with grey to {pw} x {ph} (no side over {MAX_ASPECT:g} times the other)"
    if (h, w) == (mh, mw):
        return f"what the model sees, {w} x {h} pixels{of}"
    # "a resolution of": "shown at 512 x 512" was read as its size on screen (a walk), where every panel is as wide
    return f"the crop the model sees, at a resolution of {w} x {h} pixels{of}; the model gets it at {mw} x {mh}"
