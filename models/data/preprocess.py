"""The one preprocessing step the bundled models share: ImageNet's normalisation, as torchvision's
models use it, applied to uint8 pictures."""

from __future__ import annotations

import numpy as np
import torch

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """N x H x W x 3 uint8 -> normalised N x 3 x H x W float32."""
    x = torch.from_numpy(np.array(images, copy=True)).permute(0, 3, 1, 2).float() / 255.0
    return (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
