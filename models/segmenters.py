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


def _square(image: Image.Image, size: int, resample: Image.Resampling) -> Image.Image:
    """The image's centre square, resized to size x size."""
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side)).resize((size, size), resample)


def unet_input(image: Image.Image, size: int = SIZE) -> torch.Tensor:
    """An RGB image -> the 1 x 3 x size x size normalised tensor the U-Nets were trained on
    (centre-cropped to a square, then resized)."""
    return to_tensor(np.asarray(_square(image, size, Image.Resampling.BILINEAR))[None])


def unet_labels(label_map: np.ndarray, size: int = SIZE) -> np.ndarray:
    """An H x W label map cropped and resized as `unet_input` crops and resizes its image, each pixel the label
    nearest it (labels are not averaged): the truth for what the U-Nets see of a generated sample."""
    labels = Image.fromarray(label_map.astype(np.uint8))
    return np.asarray(_square(labels, size, Image.Resampling.NEAREST)).astype(np.int64)


def paper_comparison(record: BundledWeights) -> list[tuple[str, str, str]]:
    """(aspect, Ronneberger et al. 2015, this network) for each way the bundled U-Net departs from the paper: sizes
    from the record; loss, augmentation and optimiser as `models.train.unet` trains it (a walk missed the input size,
    the loss weighting and the elastic deformations the paper leans on)."""
    cfg, trained = record.config, record.trained
    size, depth, base = cfg["image_size"], cfg["depth"], cfg["base"]
    classes = record.classes
    return [
        (
            "task",
            "grey-scale microscopy (neuronal structures in electron microscopy; cells in light microscopy), 2 classes "
            "per pixel",
            f"generated RGB scenes, {len(classes)} classes per pixel ({', '.join(classes)})",
        ),
        (
            "input and output",
            "572 x 572 tile in, 388 x 388 labels out (unpadded convolutions); a large image is tiled with overlap, its "
            "border mirrored",
            f"{size} x {size} generated scene in, labels of the same size out (padded convolutions, so the skips "
            "need no cropping)",
        ),
        (
            "depth and width",
            "4 poolings, 64 to 1,024 channels",
            f"{depth} poolings, {base} to {base * 2**depth:,} channels",
        ),
        (
            "normalisation",
            "no BatchNorm; dropout at the end of the contracting path",
            "BatchNorm after every convolution; no dropout",
        ),
        (
            "loss",
            "per-pixel cross-entropy weighted by a map that balances class frequencies and weighs the thin background "
            "between touching cells most (w0 = 10, sigma about 5 px)",
            "per-pixel cross-entropy, unweighted",
        ),
        (
            "augmentation",
            "shifts, rotations, grey-value changes and random elastic deformations (a 3 x 3 grid of displacements, "
            "10 px standard deviation, bicubic), from 30 annotated images",
            f"left-right flips only, over {trained.get('train_size', 0):,} generated scenes",
        ),
        (
            "optimiser",
            "SGD with momentum 0.99, one large tile per step",
            f"AdamW with a one-cycle schedule, {trained.get('epochs', 0)} epochs",
        ),
    ]
