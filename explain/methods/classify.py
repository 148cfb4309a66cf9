"""Top-k predictions of a classifier for one image: a pure function usable from a notebook."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision.transforms import v2

from explain.inputs.image_sets import MAX_SET_IMAGES
from explain.inputs.images import limit_aspect
from explain.inputs.samples import ONE_SHAPE
from models.classifiers import ModelInfo, out_of_distribution
from models.data.shapes import ONE_SHAPE_IMAGES
from models.devices import on_model_device
from models.experiments.lecture_loop import TRAINED_ON
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


def prepare_set(
    named: Sequence[tuple[str, Image.Image]],
    preprocess: Callable[[object], torch.Tensor],
    device: torch.device | str = "cpu",
) -> tuple[list[str], torch.Tensor]:
    """An image set (`bundled_set`, `folder_set`: (name, image) pairs) -> its first MAX_SET_IMAGES names and their
    N x 3 x H x W input, as the top-9 scan takes them (a notebook review passed `bundled_set()` to it as it is)."""
    kept = named[:MAX_SET_IMAGES]
    return [name for name, _ in kept], torch.cat([prepare(im, preprocess, device) for _, im in kept])


def crop_fraction(preprocess: Callable[[object], torch.Tensor]) -> float:
    """The share of the image's shorter side that a classifier's preprocessing keeps: its centre-crop size over
    its resize size (224 / 256 for torchvision's ImageNet transforms, 1 for the bundled models)."""
    resize, crop = getattr(preprocess, "resize_size", None), getattr(preprocess, "crop_size", None)
    if resize is None:
        steps = getattr(preprocess, "transforms", [])
        resize = next((t.size for t in steps if isinstance(t, v2.Resize)), None)
        crop = next((t.size for t in steps if isinstance(t, v2.CenterCrop)), None)
    if not resize or not crop:
        return 1.0
    first = [v[0] if isinstance(v, list | tuple) else v for v in (resize, crop)]
    return min(1.0, first[1] / first[0])


def sees_grey(preprocess: Callable[[object], torch.Tensor]) -> bool:
    """Whether a classifier's preprocessing turns images grey (a network that takes one channel)."""
    return any(isinstance(t, v2.Grayscale) for t in getattr(preprocess, "transforms", []))


def model_view(
    image: Image.Image, preprocess: Callable[[object], torch.Tensor], max_side: int = 768, min_side: int = 1
) -> np.ndarray:
    """What the model sees of `image` (the centre square its preprocessing crops, grey if it greys it), at the
    image's own resolution (at most `max_side` pixels a side): maps are drawn on it upsampled, not on the model's
    small input. An image smaller than `min_side` (a map's size) is enlarged to it, each pixel a block, so a map
    drawn on it keeps its detail (a walk saw a 1 x 1 upload's maps drawn at 1 x 1: one colour each). A walk read a
    colour photo captioned as what a one-channel network sees."""
    im = limit_aspect(image).convert("RGB")
    if sees_grey(preprocess):
        im = im.convert("L").convert("RGB")
    w, h = im.size
    side = max(1, round(min(w, h) * crop_fraction(preprocess)))
    x0, y0 = round((w - side) / 2), round((h - side) / 2)
    region = im.crop((x0, y0, x0 + side, y0 + side))
    if side > max_side:
        region = region.resize((max_side, max_side), Image.Resampling.BICUBIC)
    elif side < min_side:
        region = region.resize((min_side, min_side), Image.Resampling.NEAREST)
    return np.asarray(region)


@torch.inference_mode()
def top_k(model: nn.Module, batch: torch.Tensor, categories: Sequence[str], k: int = 5) -> list[Prediction]:
    """The `k` most probable classes for the first image of `batch`, most probable first."""
    with lock_for(model):  # another session's Captum hooks must not see, or change, this pass
        probs = torch.softmax(model(on_model_device(model, batch))[0].float(), dim=0).cpu()
    return most_probable(probs, categories, k)


def most_probable(
    probabilities: torch.Tensor | Sequence[float], categories: Sequence[str], k: int = 5
) -> list[Prediction]:
    """The `k` most probable of one image's class probabilities, most probable first (ties: the lower index)."""
    probs = torch.as_tensor(probabilities, dtype=torch.float64).flatten()
    values, indices = probs.topk(min(k, len(categories)))
    return [Prediction(int(i), categories[int(i)], float(v)) for v, i in zip(values, indices, strict=True)]


def training_data(source: str, own_data: str | None = None) -> tuple[str, bool] | None:
    """What a network that is not ImageNet's was trained on, in words, and whether the one-shape samples are of that
    data; None where it is not known (an ImageNet model, a network uploaded without saying). `source` is the model's
    `ModelInfo.source`; `own_data` the set-up a network trained on the Build page trained on (its card's `data`)."""
    if source == "bundled":
        return ONE_SHAPE_IMAGES, True
    if source != "own" or own_data not in TRAINED_ON:
        return None
    return TRAINED_ON[own_data]


def unlike_training(info: ModelInfo, image_kind: str, image_name: str, own_data: str | None = None) -> str:
    """The out-of-distribution note for a classifier meeting an image (its kind and name as the image picker gives them:
    "generated", "photo", "model-data" or "own", the visitor's upload or photo), or "": the bundled model knows the
    generated one-shape samples; a network trained on the Build page knows its own test images (and those samples when
    it trained on generated shapes); an uploaded network's data is unknown. What scores computed on the model's answer,
    such as faithfulness, must say too."""
    if (data := training_data(info.source, own_data)) is None:
        return ""
    trained_on, shapes = data
    one_shape = image_kind == "generated" and image_name in ONE_SHAPE
    known = (shapes and one_shape) or (info.source == "own" and image_kind == "model-data")
    return out_of_distribution(info.title, info.categories, trained_on, known)
