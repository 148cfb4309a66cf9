"""Looking inside a U-Net: its prediction for one image, the IoU of that prediction, the feature maps at every
level, and which channels of a map are strongest."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from models.data.segmentation import confusion
from models.data.segmentation import iou_per_class as iou_from_confusion
from models.devices import on_model_device
from models.lock import lock_for


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """Per-pixel classes for the first image of `x`: H x W int64."""
    with lock_for(model):
        return model(on_model_device(model, x[:1])).argmax(1)[0].cpu().numpy()


def image_iou(pred: np.ndarray, truth: np.ndarray, num_classes: int) -> np.ndarray:
    """IoU per class on one image, from the same confusion matrix the training command scores with;
    NaN for a class absent from both maps, so a mean covers only the classes in play. The two maps must be the same
    size (a notebook review passed a 384 px truth with a 64 px prediction and read a tensor-size error)."""
    if np.shape(pred) != np.shape(truth):
        raise ValueError(
            f"the prediction is {np.shape(pred)} and the true labels {np.shape(truth)}: score them at one size"
        )
    conf = confusion(torch.as_tensor(pred), torch.as_tensor(truth), num_classes)
    union = (conf.sum(0) + conf.sum(1) - conf.diag()).numpy()
    return np.where(union > 0, iou_from_confusion(conf).numpy(), np.nan)


@dataclass(frozen=True)
class ImageScore:
    """One prediction scored against the true labels: mean IoU over the classes in the true labels (a class the
    image lacks has no IoU to speak of; its stray pixels are counted apart and cost the true classes' IoU)."""

    mean_iou: float
    classes: tuple[int, ...]  # the classes in the true labels, the ones averaged over
    stray: dict[int, int]  # classes absent from the true labels -> pixels predicted as them
    pixel_accuracy: float


def score_image(pred: np.ndarray, truth: np.ndarray, num_classes: int) -> ImageScore:
    """Score one predicted label map against the true one (see ImageScore)."""
    iou = image_iou(pred, truth, num_classes)
    present = tuple(int(c) for c in np.unique(truth))
    absent = np.setdiff1d(np.unique(pred), present)
    stray = {int(c): int((pred == c).sum()) for c in absent}
    return ImageScore(float(np.mean(iou[list(present)])), present, stray, float((pred == truth).mean()))


def wrong_pixels(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """H x W bool: where the prediction differs from the true labels."""
    return np.asarray(pred) != np.asarray(truth)


@torch.no_grad()
def level_maps(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The output of every encoder and decoder level for the first image: name -> C x h x w."""
    names = [f"encoder {i} ({'bottleneck' if i == model.depth else 'down'})" for i in range(model.depth + 1)]
    names += [f"decoder {i}" for i in reversed(range(model.depth))]
    modules = list(model.encoder) + list(model.decoder)
    seen: list[torch.Tensor] = []
    with lock_for(model):
        handles = [m.register_forward_hook(lambda m, a, out: seen.append(out[0].cpu())) for m in modules]
        try:
            model(on_model_device(model, x[:1]))
        finally:
            for h in handles:
                h.remove()
    return dict(zip(names, seen, strict=True))


def sample_note(name: str) -> str:
    """What the true labels of a generated sample are on the U-Net page, and how its shapes differ from those the
    U-Nets were trained on (their number and size, from the generator's settings): a walk saw "generated scene 1" lose
    a small circle, with no score and no word. No effect is claimed: on the bundled U-Nets some samples score above
    the example scenes (one circle 0.999), others far below (one cross 0.496 without skips)."""
    from explain.inputs.samples import ONE_SHAPE, SCENE_OBJECTS, SCENE_RADIUS
    from models.data.segmentation import SCENE
    from models.data.shapes import SHAPE_RADIUS

    (few, many), (small, large) = SCENE["n_objects"], SCENE["radius"]
    trained = f"the U-Nets were trained on scenes of {few} to {many} shapes of radius {small:.0%} to {large:.0%}"
    if name in ONE_SHAPE:
        drawn = f"one shape of radius {SHAPE_RADIUS[0]:.0%} to {SHAPE_RADIUS[1]:.0%} of its side"
        unlike = "a shape here can be larger than any the U-Nets saw"
    else:
        drawn = (
            f"{SCENE_OBJECTS[0]} to {SCENE_OBJECTS[1]} shapes of radius {SCENE_RADIUS[0]:.0%} to {SCENE_RADIUS[1]:.0%}"
        )
        unlike = "shapes here can be smaller than any the U-Nets saw"
    return (
        f"The true labels are the generator's, cropped and shrunk as the image is. Samples like this one hold {drawn}; "
        f"{trained}: {unlike}, so the scores below measure them beyond their training."
    )
