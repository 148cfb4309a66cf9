"""What the first layer and any layer's feature maps look like, as pictures."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from explain.methods.deconvnet import forward_to


def first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    """The first Conv2d of the model (in definition order) and its name."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    raise ValueError("this model has no convolution")


def filter_images(model: nn.Module) -> np.ndarray:
    """The first convolution's filters as N x k x k x 3 uint8 RGB tiles, or N x k x k grey ones for a network that
    takes one grey channel (the course's digits net), each scaled symmetrically (zero weight is mid-grey), as in
    Zeiler & Fergus' Figure 2, layer 1. ValueError for any other number of input channels, which has no picture."""
    _, conv = first_conv(model)
    w = conv.weight.detach().float().cpu()
    if w.shape[1] not in (1, 3):
        raise ValueError(f"its first convolution takes {w.shape[1]} channels: neither grey nor RGB, so no picture")
    scale = w.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
    tiles = (w / scale * 0.5 + 0.5).permute(0, 2, 3, 1).numpy()
    tiles = tiles[..., 0] if w.shape[1] == 1 else tiles
    return (tiles * 255).round().astype(np.uint8)


def neighbour_correlation(conv: nn.Conv2d) -> float | None:
    """How smooth a convolution's filters are: the Pearson correlation between each weight and its right and lower
    neighbours, over every filter and input channel, each filter's channel centred on its own mean first (else the
    filters' different levels alone would correlate neighbours). About 0 for random weights; the nearer 1, the
    smoother (edges and colour blobs, as in Zeiler & Fergus' Figure 2, vary slowly across a filter). None for
    filters of one pixel, which have no neighbours."""
    w = conv.weight.detach().float().cpu()
    if w.shape[-1] < 2 and w.shape[-2] < 2:
        return None
    w = w - w.mean(dim=(2, 3), keepdim=True)
    a = torch.cat([w[..., :, :-1].flatten(), w[..., :-1, :].flatten()])
    b = torch.cat([w[..., :, 1:].flatten(), w[..., 1:, :].flatten()])
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


def filters_note(conv: nn.Conv2d, source: str, imagenet: Sequence[str] = (), trained_on: str | None = None) -> str:
    """One line under the first-layer filters: how smooth they are, measured, and, for a network not trained on
    ImageNet (bundled or a visitor's), where the paper's edge and colour filters come from: which of the ImageNet
    classifiers (`imagenet`, the titles of those whose weights are at hand) can show them here, or that none can;
    `trained_on` names this network's data where it is known (a walk read "other images" as vague)."""
    r = neighbour_correlation(conv)
    if r is None:
        return ""
    line = f"Neighbouring weights correlate {r:.2f} (random weights: about 0; the smoother the filters, the nearer 1)."
    if source in ("cache", "download"):
        return line
    compare = (
        f"to compare, pick {' or '.join(imagenet)}, whose ImageNet weights this server has or can download"
        if imagenet
        else "this server has no ImageNet weights and cannot download them, so theirs cannot be shown here"
    )
    return (
        f"{line} Zeiler & Fergus' smooth edge and colour-blob filters were learned from ImageNet's photos; this "
        f"network learned from {trained_on or 'other images'} ({compare})."
    )


@torch.no_grad()
def feature_maps(model: nn.Module, x: torch.Tensor, layer: str) -> tuple[torch.Tensor, list[int]]:
    """The layer's C x h x w output for the first image, and its channels sorted by their
    strongest activation, strongest first."""
    act, _ = forward_to(model, x[:1], layer)
    fmap = act[0].float().cpu()
    return fmap, strongest_channels(fmap)


def strongest_channels(fmap: torch.Tensor | np.ndarray, k: int | None = None) -> list[int]:
    """Channels of a C x h x w map ordered by their strongest activation, strongest first (the first `k`)."""
    order = torch.as_tensor(fmap).flatten(1).amax(dim=1).argsort(descending=True).tolist()
    return order if k is None else order[:k]
