"""The bundled U-Nets (the full network and its no-skip ablation): loading them and feeding them an image."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import nn

from models.data.preprocess import to_tensor
from models.data.segmentation import SIZE
from models.devices import best_device
from models.hub.bundled import BundledWeights, bundled

UNETS = {"full": "shapes-unet", "noskip": "shapes-unet-noskip"}


def load_unet(variant: str, device: torch.device | str | None = None) -> tuple[nn.Module, BundledWeights]:
    """The bundled U-Net `variant` ("full" or "noskip") in eval mode, with its record (configuration and
    the held-out metrics its training command measured)."""
    if variant not in UNETS:
        raise ValueError(f"unknown U-Net variant {variant!r}; choose one of {', '.join(UNETS)}")
    record = bundled(UNETS[variant])
    return record.build().to(device or best_device()), record


def unet_input(image: Image.Image, size: int = SIZE) -> torch.Tensor:
    """An RGB image -> the 1 x 3 x size x size normalised tensor the U-Nets were trained on
    (centre-cropped to a square, then resized)."""
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    square = image.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BILINEAR)
    return to_tensor(np.asarray(square)[None])
