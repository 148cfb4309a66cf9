"""The bundled U-Nets: their task (classes, scenes, IoU), loading them, feeding them, and the held-out
scenes they are judged on. The training command `models.train.unet` builds on this module."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from models.data.preprocess import to_tensor
from models.data.shapes import SHAPE_CLASSES, make_scene
from models.devices import best_device
from models.hub.checkpoints import load_bundled
from models.nets.unet import UNet

__all__ = [
    "CLASSES", "NAMES", "SIZE", "TEST_SEED", "confusion", "evaluate", "iou_per_class", "load_unet", "scene_set",
    "to_input",
]  # fmt: skip

NAMES = {"full": "shapes-unet", "noskip": "shapes-unet-noskip"}
CLASSES = ("background", *SHAPE_CLASSES)
TEST_SEED = 20_000
SIZE = 64


def scene_set(n: int, seed: int, size: int = SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` scenes as normalised images N x 3 x H x W and label maps N x H x W."""
    rng = np.random.default_rng(seed)
    scenes = [make_scene(rng, size, n_objects=(2, 4), radius=(0.12, 0.25)) for _ in range(n)]
    images = to_tensor(np.stack([s.image for s in scenes]))
    return images, torch.from_numpy(np.stack([s.label_map for s in scenes]))


def confusion(pred: torch.Tensor, target: torch.Tensor, k: int = len(CLASSES)) -> torch.Tensor:
    """k x k counts: rows are true classes, columns predicted ones."""
    return torch.bincount(target.flatten() * k + pred.flatten(), minlength=k * k).view(k, k)


def iou_per_class(conf: torch.Tensor) -> torch.Tensor:
    """IoU of each class from a confusion matrix: TP / (TP + FP + FN)."""
    tp = conf.diag().double()
    return tp / (conf.sum(0) + conf.sum(1) - conf.diag()).double().clamp_min(1)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 64) -> tuple[float, list[float]]:
    """(mean IoU over the classes, per-class IoU) of `model` in eval mode."""
    model.eval()
    device = next(model.parameters()).device
    conf = torch.zeros(len(CLASSES), len(CLASSES), dtype=torch.long)
    for i in range(0, len(x), batch_size):
        pred = model(x[i : i + batch_size].to(device)).argmax(1).cpu()
        conf += confusion(pred, y[i : i + batch_size])
    ious = iou_per_class(conf)
    return float(ious.mean()), [round(float(v), 4) for v in ious]


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
