"""The bundled U-Nets: loading them, feeding them, and the held-out scenes they are judged on."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from models.checkpoints import load_bundled
from models.devices import best_device
from models.train_classifier import to_tensor
from models.train_unet import CLASSES, NAMES, SIZE, TEST_SEED, evaluate, scene_set
from models.unet import UNet

__all__ = ["CLASSES", "NAMES", "SIZE", "TEST_SEED", "evaluate", "load_unet", "scene_set", "to_input"]


def load_unet(variant: str, device: torch.device | str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """The bundled U-Net `variant` ("full" or "noskip") in eval mode, with its manifest record
    (configuration and the held-out metrics its training command measured)."""
    if variant not in NAMES:
        raise ValueError(f"unknown U-Net variant {variant!r}; choose one of {', '.join(NAMES)}")
    state, entry = load_bundled(NAMES[variant])
    cfg = entry["config"]
    model = UNet(num_classes=len(entry["classes"]), base=cfg["base"], depth=cfg["depth"], skips=cfg["skips"])
    model.load_state_dict(state)
    return model.eval().to(device or best_device()), entry


def to_input(image: Image.Image, size: int = SIZE) -> torch.Tensor:
    """An RGB image -> the 1 x 3 x size x size normalised tensor the U-Nets were trained on
    (centre-cropped to a square, then resized)."""
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    square = image.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BILINEAR)
    return to_tensor(np.asarray(square)[None])
