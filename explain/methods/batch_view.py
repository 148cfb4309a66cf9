"""One attribution method over a set of labelled images, as Captum Insights showed it: for each image the true
label, the model's prediction and its probability, right or wrong, and the map for the predicted class (or for
the true one, to see what the model would need to look at)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from PIL import Image
from torch import nn

from explain.methods.attributions import METHODS, attribute, defaults, gradient_magnitude
from explain.methods.classify import prepare, top_k
from explain.methods.layers import default_cam_layer, spatial_layers
from explain.methods.maps import to_map
from models.data.shapes import SHAPE_CLASSES, classification_set
from models.devices import model_device
from models.text import code_span, counted, percent

MAX_BATCH = 16  # images one batch view explains (each costs one attribution)
Target = Literal["predicted", "true"]


@dataclass(frozen=True)
class LabelledImage:
    name: str
    image: Image.Image
    truth: str | None  # the true label, or None when nobody said


@dataclass(frozen=True)
class BatchItem:
    """One image's row in the batch view."""

    name: str
    truth: str | None
    predicted: str
    probability: float
    correct: bool | None  # None: no true label, or one the model has no class for
    explained: str  # the class the map is for
    map: np.ndarray  # H x W in [0, 1], absolute values clipped at the 99th percentile
    layer: str | None = None  # the layer a CAM method took (`default_cam_layer`, found once for the whole set)


def settings_text(items: Sequence[BatchItem], method: str) -> str:
    """How `explain_batch` made `items`' maps with `method`, for the line above them: the method, the layer a CAM
    method took and the display."""
    layer = items[0].layer if items else None
    at = f" at {code_span(layer)}" if layer else ""
    return f"{METHODS[method].title}{at}, default parameters, absolute values"


def generated_shapes(n: int, seed: int = 0, size: int = 192) -> list[LabelledImage]:
    """`n` generated shape images (at most MAX_BATCH), the classes balanced, labelled by the generator."""
    images, labels = classification_set(min(n, MAX_BATCH), seed, size)
    return [
        LabelledImage(f"shape #{i + 1}", Image.fromarray(im), SHAPE_CLASSES[int(y)])
        for i, (im, y) in enumerate(zip(images, labels, strict=True))
    ]


def explain_batch(
    model: nn.Module,
    preprocess: Callable[[object], torch.Tensor],
    categories: Sequence[str],
    images: Sequence[LabelledImage],
    method: str,
    target: Target = "predicted",
    report: Callable[[int, int], None] | None = None,
) -> list[BatchItem]:
    """Each image's prediction and `method`'s map (the method's default parameters) for the predicted class, or
    for the true class when `target` is "true" and the model has that class."""
    if len(images) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} images at a time, not {len(images)}")
    device, out, params = model_device(model), [], {}
    for i, item in enumerate(images):
        x = prepare(item.image, preprocess, device)
        if i == 0 and "layer" in defaults(method, x.shape[-1]):  # a CAM method: its layer found once (a review)
            params["layer"] = default_cam_layer(spatial_layers(model, x))
        best = top_k(model, x, categories, k=1)[0]  # under the model's lock, like every shared forward pass
        known = item.truth is not None and item.truth in categories
        cls = categories.index(item.truth) if target == "true" and known else best.index
        attr = attribute(model, x, method, cls, **params)[0].detach().cpu().numpy()
        out.append(
            BatchItem(
                item.name,
                item.truth,
                best.label,
                best.probability,
                (best.label == item.truth) if known else None,
                categories[cls],
                to_map(attr, "absolute", magnitude=gradient_magnitude(method)),
                params.get("layer"),
            )
        )
        if report is not None:
            report(i + 1, len(images))
    return out


def summary(items: Sequence[BatchItem]) -> str:
    """ "k of n right" over the images whose true label the model knows, in one line."""
    judged = [it for it in items if it.correct is not None]
    if not judged and all(it.truth is None for it in items):  # a walk read "none has a true label among the model's
        # classes" for uploads it had not labelled, as if its labels were wrong
        return f"{counted(len(items), 'image')}, none given a true label: nothing to judge right or wrong."
    if not judged:
        return f"{counted(len(items), 'image')}; none has a true label among the model's classes."
    right = sum(it.correct for it in judged)
    rest = len(items) - len(judged)
    every = (
        ". All right, so no wrong answer to compare: to see one, upload images of its classes it may get wrong, each "
        "given its true label here (for the shapes model: a shape you drew and photographed, say; a photo of "
        "anything else has no true label among its classes)"
        if right == len(judged)
        else ""
    )  # a walk: the generated set always came out 100% under 'a wrong answer often shows...'; another: "photos" had
    # been the advice, and a photo of a cat has no true label among shapes
    return (
        f"{right} of {len(judged)} predicted right ({share_text(right, len(judged))})"
        + (f"; {rest} without a true label the model knows" if rest else "")
        + every
    )


def share_text(part: int, whole: int) -> str:
    """`part` of `whole` as a whole percentage: exact at none and all, and never "100%" or "0%" between (199 of 200
    read "100%")."""
    return f"{part / whole:.0%}" if part in (0, whole) else percent(part / whole, 0)
