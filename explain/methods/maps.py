"""The normalisation rule every attribution map goes through before it is compared or drawn."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

Mode = Literal["signed", "absolute"]


def to_map(
    attribution: torch.Tensor | np.ndarray, mode: Mode = "absolute", percentile: float = 99.0, magnitude: bool = False
) -> np.ndarray:
    """A C x H x W (or H x W) attribution -> an H x W map in [-1, 1] (signed) or [0, 1] (absolute).

    Channels are summed (Captum's convention, `visualize_image_attr`), then values are divided by the
    `percentile`-th percentile of their magnitude and clipped, so a few extreme pixels do not wash out the rest.
    `magnitude`: an absolute map sums each channel's absolute value instead (a gradient's magnitude: Captum's
    Saliency gives |gradient| per channel by default, and SmoothGrad's authors' code shows its maps so); opposite
    signs in R, G and B would otherwise cancel where the model is sensitive.
    """
    a = attribution.detach().float().cpu().numpy() if isinstance(attribution, torch.Tensor) else np.asarray(attribution)
    a = a.astype(np.float64)
    if a.ndim == 3:
        a = np.abs(a).sum(axis=0) if magnitude and mode == "absolute" else a.sum(axis=0)
    if a.ndim != 2:
        raise ValueError(f"expected a C x H x W or H x W map, got shape {a.shape}")
    a = np.nan_to_num(a)
    if mode == "absolute":
        a = np.abs(a)
    scale = np.percentile(np.abs(a), percentile) if a.size else 0.0
    if scale <= 0:
        scale = np.abs(a).max() or 1.0
    return np.clip(a / scale, -1.0 if mode == "signed" else 0.0, 1.0)


def is_constant(attribution: np.ndarray) -> bool:
    """Whether every value of the map is the same (within a millionth of its largest magnitude; all zero included)."""
    a = np.nan_to_num(np.asarray(attribution, np.float64))
    return not np.any(a) or bool(np.ptp(a) <= 1e-6 * np.abs(a).max())


def map_note(attribution: np.ndarray, layer_side: int | None = None, min_side: int = 7) -> str:
    """Why a map shows little, in one line, or "": all zero (nothing in the image moves the class's score
    this way), constant, or computed on a layer coarser than `min_side` (each block one upsampled cell)."""
    a = np.nan_to_num(np.asarray(attribution, np.float64))
    if not np.any(a):
        return "All zero: this method finds no evidence for this class here (nothing to draw)."
    if is_constant(a):
        return "Constant: every pixel gets the same value, so the map cannot single any out."
    if layer_side is not None and layer_side < min_side:
        return f"Computed on a {layer_side}-pixel-wide layer: each block is one of its cells, upsampled."
    return ""
