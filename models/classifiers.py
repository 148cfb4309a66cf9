"""The classifier zoo: torchvision's ImageNet models with the project's bundled model as a fallback.

Loading order for a torchvision model: the torch hub cache, then a download (with progress and
a short timeout), then the bundled shapes ResNet-18, with the reason recorded in `ModelInfo`.
Models come back in eval mode on the chosen device; callers must not change them.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn
from torchvision.models import AlexNet_Weights, ResNet18_Weights, ResNet50_Weights, VGG16_Weights, WeightsEnum
from torchvision.transforms import v2

from models.data.preprocess import IMAGENET_MEAN, IMAGENET_STD
from models.devices import best_device
from models.files import public_path
from models.hub import weights_cache
from models.hub.checkpoints import CheckpointError, bundled_entry, load_bundled
from models.nets.resnet import ResNet18

BUNDLED = "shapes-resnet18"
log = logging.getLogger("explainer.zoo")
Source = Literal["cache", "download", "bundled"]
Status = Literal["bundled", "cached", "damaged", "downloadable", "unavailable"]


@dataclass(frozen=True)
class ClassifierSpec:
    """A zoo entry: torchvision weights (None for a bundled-only model) and the fallback to use."""

    name: str
    title: str
    weights: WeightsEnum | None
    fallback: str = BUNDLED


CLASSIFIERS: dict[str, ClassifierSpec] = {
    spec.name: spec
    for spec in (
        ClassifierSpec("resnet18", "ResNet-18 (ImageNet)", ResNet18_Weights.IMAGENET1K_V1),
        ClassifierSpec("resnet50", "ResNet-50 (ImageNet)", ResNet50_Weights.IMAGENET1K_V2),
        ClassifierSpec("alexnet", "AlexNet (ImageNet)", AlexNet_Weights.IMAGENET1K_V1),
        ClassifierSpec("vgg16", "VGG-16 (ImageNet)", VGG16_Weights.IMAGENET1K_V1),
        ClassifierSpec(BUNDLED, "Shapes ResNet-18 (bundled)", None),
    )
}


@dataclass(frozen=True)
class ModelInfo:
    """What is actually running: which weights, from where, why, and how to feed it."""

    requested: str
    name: str  # the model that runs: `requested`, or the fallback
    title: str
    source: Source
    categories: tuple[str, ...]
    accuracy: str
    preprocess: Callable[[object], torch.Tensor] = field(repr=False, compare=False)
    mean: tuple[float, ...] = IMAGENET_MEAN  # the input normalisation, to undo it for display
    std: tuple[float, ...] = IMAGENET_STD
    reason: str = ""  # why the bundled model stands in for the requested one
    weights_file: str = ""

    @property
    def is_fallback(self) -> bool:
        return self.name != self.requested


def spec(name: str) -> ClassifierSpec:
    """The zoo entry for `name`; ValueError listing the known names otherwise."""
    try:
        return CLASSIFIERS[name]
    except KeyError:
        raise ValueError(f"unknown classifier {name!r}; choose one of {', '.join(CLASSIFIERS)}") from None


def weight_status(name: str) -> Status:
    """'bundled' (a project model), 'cached' (its hash checked), 'damaged' (a cached file whose hash does not
    match), 'downloadable' (network and a writable cache), or 'unavailable' (the fallback will run)."""
    weights = spec(name).weights
    if weights is None:
        return "bundled"
    if weights_cache.is_cached(weights):
        return "cached" if weights_cache.is_verified(weights) else "damaged"
    if weights_cache.network_available(weights.url)[0] and weights_cache.cache_writable():
        return "downloadable"
    return "unavailable"


def bundled_accuracy(name: str = BUNDLED) -> str:
    """The held-out accuracy recorded by the bundled model's training command, as a sentence."""
    metrics = bundled_entry(name)["metrics"]
    return f"{metrics['accuracy']:.1%} top-1 on {metrics['test_size']} held-out generated shape images"


def _bundled(requested: str, name: str, reason: str) -> tuple[nn.Module, ModelInfo]:
    state, entry = load_bundled(name)
    cfg = entry["config"]
    model = ResNet18(len(entry["classes"]), width=cfg["width"])
    model.load_state_dict(state)
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
        categories=tuple(entry["classes"]),
        accuracy=bundled_accuracy(name),
        preprocess=preprocess,
        mean=tuple(cfg["mean"]),
        std=tuple(cfg["std"]),
        reason=reason,
        weights_file=f"models/weights/{entry['file']}",
    )
    return model, info


def _torchvision(s: ClassifierSpec, allow_download: bool, progress: weights_cache.Progress | None):
    assert s.weights is not None
    model, source, path = weights_cache.pretrained(s.weights, s.name, allow_download, progress)
    top1 = s.weights.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    preprocess = s.weights.transforms()
    info = ModelInfo(
        requested=s.name,
        name=s.name,
        title=s.title,
        source=source,
        categories=tuple(s.weights.meta["categories"]),
        accuracy=f"{top1:.1f}% top-1 on ImageNet-1K validation (torchvision's figure)",
        preprocess=preprocess,
        mean=tuple(preprocess.mean),
        std=tuple(preprocess.std),
        weights_file=str(path),
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
    if s.weights is None:
        model, info = _bundled(name, name, "")
    else:
        try:
            model, info = _torchvision(s, allow_download, progress)
        except (weights_cache.WeightsUnavailable, CheckpointError) as exc:
            file = weights_cache.weights_path(s.weights)
            model, info = _bundled(
                name,
                s.fallback,
                f"ImageNet weights for {s.title} are unavailable: {exc}. To use them offline, "
                f"put {file.name} into {public_path(file.parent)} (the weights cache in the sidebar).",
            )
    log.info("loaded classifier %s as %s from %s", name, info.name, info.source)
    return model.eval().to(device or best_device()), info


_locks: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def lock_for(model: nn.Module) -> threading.RLock:
    """The lock to hold while registering hooks on a shared model (Captum does), one per model."""
    with _locks_guard:
        return _locks.setdefault(model, threading.RLock())
