"""Top-k predictions of a classifier for one image: a pure function usable from a notebook."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from PIL import Image
from torch import nn

from explain.inputs.images import limit_aspect
from models.devices import on_model_device
from models.lock import lock_for


@dataclass(frozen=True)
class Prediction:
    """One class the model considers likely."""

    index: int
    label: str
    probability: float


def prepare(
    image: Image.Image, preprocess: Callable[[object], torch.Tensor], device: torch.device | str = "cpu"
) -> torch.Tensor:
    """An RGB image -> the model's 1 x 3 x H x W input on `device` (very long images padded first). Every
    function that runs a model moves its input to the model's device, so the CPU default works anywhere."""
    return preprocess(limit_aspect(image)).unsqueeze(0).to(device)


@torch.inference_mode()
def top_k(model: nn.Module, batch: torch.Tensor, categories: Sequence[str], k: int = 5) -> list[Prediction]:
    """The `k` most probable classes for the first image of `batch`, most probable first."""
    with lock_for(model):  # another session's Captum hooks must not see, or change, this pass
        probs = torch.softmax(model(on_model_device(model, batch))[0].float(), dim=0).cpu()
    values, indices = probs.topk(min(k, len(categories)))
    return [Prediction(int(i), categories[int(i)], float(v)) for v, i in zip(values, indices, strict=True)]
