"""The classifier zoo: torchvision's ImageNet models with the project's bundled model as a fallback.

Loading order for a torchvision model: the torch hub cache, then a download (with progress and
a short timeout), then the bundled shapes ResNet-18, with the reason recorded in `ModelInfo`.
Models come back in eval mode on the chosen device; callers must not change them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torchvision.models import AlexNet_Weights, ResNet18_Weights, ResNet50_Weights, VGG16_Weights, WeightsEnum
from torchvision.transforms import v2

from models.data.preprocess import IMAGENET_MEAN, IMAGENET_STD
from models.devices import best_device
from models.hub import weights_cache
from models.hub.bundled import bundled
from models.hub.fallback import ModelSpec, Status, WeightsInfo, load_with_fallback, status

BUNDLED_CLASSIFIER = "shapes-resnet18"
log = logging.getLogger("explainer.zoo")
RETRAIN = "python -m models.train.classifier"


def _spec(name: str, title: str, weights: WeightsEnum | None) -> ModelSpec:
    return ModelSpec(name, title, weights, fallback=BUNDLED_CLASSIFIER, retrain=RETRAIN)


CLASSIFIERS: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        _spec("resnet18", "ResNet-18 (ImageNet)", ResNet18_Weights.IMAGENET1K_V1),
        _spec("resnet50", "ResNet-50 (ImageNet)", ResNet50_Weights.IMAGENET1K_V2),
        _spec("alexnet", "AlexNet (ImageNet)", AlexNet_Weights.IMAGENET1K_V1),
        _spec("vgg16", "VGG-16 (ImageNet)", VGG16_Weights.IMAGENET1K_V1),
        _spec(BUNDLED_CLASSIFIER, "Shapes ResNet-18 (bundled)", None),
    )
}


@dataclass(frozen=True, kw_only=True)
class ModelInfo(WeightsInfo):
    """What is running, and how to feed it: its preprocessing and the normalisation to undo for display."""

    preprocess: Callable[[object], torch.Tensor] = field(repr=False, compare=False)
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD


def out_of_distribution(title: str, classes: Sequence[str], trained_on: str | None, from_training_data: bool) -> str:
    """A one-line note when a model meets an image unlike what it was trained on, or "" when the image is of that
    data or the training data is not known (a network uploaded without saying)."""
    if from_training_data or not trained_on:
        return ""
    named = ", ".join(c for c in classes if c != "background")
    return (
        f"Out of distribution: {title} was trained only on {trained_on}; on this image its answer is a guess among "
        f"its classes ({named}), not a recognition."
    )


def spec(name: str) -> ModelSpec:
    """The zoo entry for `name`; ValueError listing the known names otherwise."""
    try:
        return CLASSIFIERS[name]
    except KeyError:
        raise ValueError(f"unknown classifier {name!r}; choose one of {', '.join(CLASSIFIERS)}") from None


def weight_status(name: str) -> Status:
    """Where classifier `name`'s weights stand (see `models.hub.fallback.status`)."""
    return status(spec(name).weights)


def imagenet_at_hand() -> list[str]:
    """The titles of the ImageNet classifiers whose weights this server has or can download (none offline without a
    cache)."""
    at_hand = ("cached", "downloadable")
    return [s.title for n, s in CLASSIFIERS.items() if s.weights is not None and weight_status(n) in at_hand]


def bundled_accuracy(name: str = BUNDLED_CLASSIFIER) -> str:
    """The held-out accuracy recorded by the bundled model's training command, as a sentence."""
    metrics = bundled(name).metrics
    return f"{metrics['accuracy']:.1%} top-1 on {metrics['test_size']} held-out generated shape images"


def _bundled(requested: str, name: str, reason: str) -> tuple[nn.Module, ModelInfo]:
    record = bundled(name)
    model, cfg = record.build(), record.config
    size = cfg["image_size"]
    preprocess = v2.Compose(
        [
            v2.ToImage(),
            v2.Resize(size, antialias=True),
            v2.CenterCrop(size),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(cfg["mean"], cfg["std"]),
        ]
    )
    info = ModelInfo(
        requested=requested,
        name=name,
        title=CLASSIFIERS[name].title if name in CLASSIFIERS else name,
        source="bundled",
        categories=record.classes,
        metrics=bundled_accuracy(name),
        preprocess=preprocess,
        mean=tuple(cfg["mean"]),
        std=tuple(cfg["std"]),
        reason=reason,
        weights_file=record.public_file,
        weights_sha256=record.sha256,
    )
    return model, info


def imagenet_figures(weights: WeightsEnum) -> str:
    """The ImageNet-1K figure torchvision records in the weights' metadata, as one phrase."""
    return f"{weights.meta['_metrics']['ImageNet-1K']['acc@1']:.1f}% top-1 on ImageNet-1K validation"


def _torchvision(s: ModelSpec, allow_download: bool, progress: weights_cache.Progress | None):
    assert s.weights is not None
    model, source, path, digest = weights_cache.pretrained(s.weights, s.name, allow_download, progress)
    preprocess = s.weights.transforms()
    info = ModelInfo(
        requested=s.name,
        name=s.name,
        title=s.title,
        source=source,
        categories=tuple(s.weights.meta["categories"]),
        metrics=f"{imagenet_figures(s.weights)} (torchvision's figure)",
        preprocess=preprocess,
        mean=tuple(preprocess.mean),
        std=tuple(preprocess.std),
        weights_file=str(path),
        weights_sha256=digest,
    )
    return model, info


def load_classifier(
    name: str,
    *,
    device: torch.device | str | None = None,
    allow_download: bool = True,
    progress: weights_cache.Progress | None = None,
) -> tuple[nn.Module, ModelInfo]:
    """Load a zoo classifier in eval mode on `device` (the best one by default).

    Never raises for missing or bad pretrained weights: the bundled model stands in and
    `ModelInfo.reason` says why. Raises CheckpointError only if the bundled model itself is bad.
    """
    s = spec(name)
    model, info = load_with_fallback(
        s,
        "ImageNet",
        lambda: _torchvision(s, allow_download, progress),
        lambda requested, reason: _bundled(requested, s.fallback, reason),
        " (the weights cache in the sidebar).",
    )
    log.info("loaded classifier %s as %s from %s", name, info.name, info.source)
    return model.eval().to(device or best_device()), info
