"""Target tasks and pretrained encoders for the transfer lab.

Offline: scikit-learn's handwritten digits (real scans shipped with the package) and the bundled
glyphs ResNet-18 (`models/train/encoder.py`). Online: torchvision's CIFAR-10, CIFAR-100,
Oxford-IIIT Pets and Flowers-102, or a folder of the user's own images (one sub-folder per class),
with ImageNet ResNet-18/50 through the weights API. Images are kept in their stored form (uint8
for photos) and turned into network input one batch at a time, on the batch's device.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision.models import ResNet18_Weights, ResNet50_Weights, WeightsEnum
from torchvision.transforms import v2

from models.data.digits import digits
from models.data.preprocess import IMAGENET_MEAN, IMAGENET_STD
from models.hub import weights_cache
from models.hub.bundled import bundled

BUNDLED_ENCODER = "glyphs-resnet18"
VAL_FRACTION = 0.2  # of the smallest class's training images, held out per class for validation


def validation_per_class(smallest_class: int) -> int:
    """How many training images of each class form the validation split: VAL_FRACTION of the smallest class."""
    return max(1, round(VAL_FRACTION * smallest_class))


DATA_ROOT = Path(os.environ.get("EXPLAINER_DATA", Path.home() / ".cache" / "explainer-data"))


class TaskUnavailable(RuntimeError):
    """A dataset cannot be loaded (no network, a missing folder, too few images); the message says why."""


@dataclass(frozen=True, eq=False)
class Task:
    """A classification task with a fixed train/test split; `to_input` makes a stored batch network-ready."""

    name: str
    title: str
    classes: tuple[str, ...]
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    to_input: Callable[[torch.Tensor], torch.Tensor] = field(repr=False)
    default_lr: float = 3e-4  # the course's AdamW rate
    note: str = ""

    @property
    def val_per_class(self) -> int:
        """Training images per class held out for validation (every choice of a sweep is made on them)."""
        return validation_per_class(int(torch.bincount(self.y_train, minlength=len(self.classes)).min()))

    @property
    def max_per_class(self) -> int:
        """The largest n for which every class has n training images outside the validation split."""
        return int(torch.bincount(self.y_train, minlength=len(self.classes)).min()) - self.val_per_class


@dataclass(frozen=True, eq=False)
class Encoder:
    """A pretrained network whose `fc` layer is replaced by a new head for the target task."""

    name: str
    title: str
    architecture: Callable[[], nn.Module] = field(repr=False)  # the network, randomly initialised
    state: dict[str, torch.Tensor] = field(repr=False)  # its pretrained weights
    source: str  # where the weights came from, said on the page

    def build(self, num_classes: int, pretrained: bool) -> nn.Module:
        """A fresh copy with a new `num_classes` head: pretrained weights, or random ones (`pretrained=False`)."""
        model = self.architecture()
        if pretrained:
            model.load_state_dict(self.state)
        model.fc = nn.Linear(model.fc.in_features, num_classes)
        return model


def _digits_task() -> Task:
    x_tr, y_tr, x_te, y_te = digits(32)
    return Task(
        name="digits",
        title="Handwritten digits (scikit-learn, 8x8 scans shown at 32x32)",
        classes=tuple(str(i) for i in range(10)),
        x_train=x_tr,
        y_train=y_tr,
        x_test=x_te,
        y_test=y_te,
        to_input=lambda x: x.float().expand(-1, 3, -1, -1),
        default_lr=3e-3,  # measured: at 3e-4 a new linear head does not converge in the short offline schedule
        note="1,300 training and 497 held-out real scans; bundled with scikit-learn, no download",
    )


def _photo_to_input(image_size: int) -> Callable[[torch.Tensor], torch.Tensor]:
    norm = v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)

    def to_input(x: torch.Tensor) -> torch.Tensor:
        x = x.float() / 255.0
        if x.shape[-1] != image_size:
            x = torch.nn.functional.interpolate(x, size=(image_size, image_size), mode="bilinear", antialias=True)
        return norm(x)

    return to_input


def _stack(dataset, store_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A torchvision dataset of PIL images -> (uint8 N x 3 x S x S, int64 labels), resized and centre-cropped."""
    prep = v2.Compose([v2.ToImage(), v2.RGB(), v2.Resize(store_size, antialias=True), v2.CenterCrop(store_size)])
    images, labels = [], []
    for image, label in dataset:
        images.append(prep(image).as_subclass(torch.Tensor))
        labels.append(int(label))
    if not images:
        raise TaskUnavailable("the dataset is empty")
    return torch.stack(images), torch.tensor(labels, dtype=torch.long)


def _torchvision_task(name: str, image_size: int, download: bool) -> Task:
    import torchvision.datasets as tvd

    root = DATA_ROOT / name
    try:
        if name in ("cifar10", "cifar100"):
            cls = tvd.CIFAR10 if name == "cifar10" else tvd.CIFAR100
            train, test = cls(root, train=True, download=download), cls(root, train=False, download=download)
            classes = tuple(train.classes)
            x_tr = torch.from_numpy(train.data).permute(0, 3, 1, 2).contiguous()
            x_te = torch.from_numpy(test.data).permute(0, 3, 1, 2).contiguous()
            y_tr, y_te = torch.tensor(train.targets), torch.tensor(test.targets)
        elif name == "pets":
            train = tvd.OxfordIIITPet(root, split="trainval", download=download)
            test = tvd.OxfordIIITPet(root, split="test", download=download)
            classes = tuple(train.classes)
            (x_tr, y_tr), (x_te, y_te) = _stack(train, image_size), _stack(test, image_size)
        elif name == "flowers102":
            parts = [tvd.Flowers102(root, split=s, download=download) for s in ("train", "val", "test")]
            classes = tuple(str(i) for i in range(102))
            (x_a, y_a), (x_b, y_b) = _stack(parts[0], image_size), _stack(parts[1], image_size)
            x_tr, y_tr = torch.cat([x_a, x_b]), torch.cat([y_a, y_b])
            x_te, y_te = _stack(parts[2], image_size)
        else:
            raise TaskUnavailable(f"unknown dataset {name!r}")
    except TaskUnavailable:
        raise
    except (RuntimeError, OSError) as exc:
        raise TaskUnavailable(f"{name} is not in {root} and could not be downloaded ({exc})") from exc
    return Task(
        name=name,
        title=TASK_TITLES[name],
        classes=classes,
        x_train=x_tr,
        y_train=y_tr,
        x_test=x_te,
        y_test=y_te,
        to_input=_photo_to_input(image_size),
        note=f"torchvision dataset in {root}",
    )


def folder_task(path: str | os.PathLike, image_size: int = 224, test_fraction: float = 0.2) -> Task:
    """A task from a folder with one sub-folder of images per class; a fixed stratified split."""
    from sklearn.model_selection import train_test_split
    from torchvision.datasets import ImageFolder

    path = Path(path).expanduser()
    if not path.is_dir():
        raise TaskUnavailable(f"{path} is not a folder")
    try:
        dataset = ImageFolder(path)
    except (FileNotFoundError, OSError) as exc:
        raise TaskUnavailable(f"{path} needs one sub-folder of images per class ({exc})") from exc
    x, y = _stack(dataset, image_size)
    counts = np.bincount(y.numpy(), minlength=len(dataset.classes))
    if len(dataset.classes) < 2 or counts.min() < 2:
        raise TaskUnavailable("an image folder needs at least two classes with at least two images each")
    train_idx, test_idx = train_test_split(
        np.arange(len(y)), test_size=test_fraction, stratify=y.numpy(), random_state=0
    )
    return Task(
        name=f"folder:{path}",
        title=f"Your images ({path.name})",
        classes=tuple(dataset.classes),
        x_train=x[train_idx],
        y_train=y[train_idx],
        x_test=x[test_idx],
        y_test=y[test_idx],
        to_input=_photo_to_input(image_size),
        note=f"{len(y)} images in {len(dataset.classes)} classes from {path}",
    )


TASKS = ("digits", "cifar10", "cifar100", "pets", "flowers102")
TASK_TITLES = {  # the page's names for them (a walk found the form's menus in raw ids)
    "digits": "Handwritten digits (scikit-learn)",
    "cifar10": "CIFAR-10 (photos)",
    "cifar100": "CIFAR-100 (photos)",
    "pets": "Oxford-IIIT Pets (photos)",
    "flowers102": "Oxford Flowers-102 (photos)",
}


@cache
def load_task(name: str, image_size: int = 224, download: bool = True) -> Task:
    """A task by name ("digits", a torchvision dataset, or "folder:<path>"). Cached per process."""
    if name == "digits":
        return _digits_task()
    if name.startswith("folder:"):
        return folder_task(name.removeprefix("folder:"), image_size)
    if name not in TASKS:
        raise TaskUnavailable(f"unknown task {name!r}; choose one of {', '.join(TASKS)} or folder:<path>")
    return _torchvision_task(name, image_size, download and not weights_cache.offline())


IMAGENET_ENCODERS: dict[str, WeightsEnum] = {
    "resnet18": ResNet18_Weights.IMAGENET1K_V1,
    "resnet50": ResNet50_Weights.IMAGENET1K_V2,
}
ENCODERS = (BUNDLED_ENCODER, *IMAGENET_ENCODERS)
ENCODER_TITLES = {BUNDLED_ENCODER: "Glyphs ResNet-18 (bundled)", **{n: f"{n} (ImageNet)" for n in IMAGENET_ENCODERS}}


@cache
def load_encoder(name: str) -> Encoder:
    """A pretrained encoder by name: the bundled glyphs ResNet-18 or an ImageNet ResNet through the
    weights API (cache, then download). Raises WeightsUnavailable / CheckpointError when it cannot load."""
    if name == BUNDLED_ENCODER:
        record = bundled(name)
        n, acc = len(record.classes), record.metrics["accuracy"]
        return Encoder(
            name=name,
            title=ENCODER_TITLES[name],
            architecture=record.network,
            state=record.state(),
            source=f"bundled {record.file}, pretrained on {n} procedural glyph classes ({acc:.1%} held-out)",
        )
    if name not in IMAGENET_ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")
    import torchvision

    try:
        model, source, path, _ = weights_cache.pretrained(IMAGENET_ENCODERS[name], name)
    except weights_cache.WeightsUnavailable as exc:  # a walk read only "offline mode is on (EXPLAINER_OFFLINE)"
        raise weights_cache.WeightsUnavailable(
            f"{name}'s ImageNet weights are not on this server and cannot be downloaded: {exc}. Choose "
            f"{ENCODER_TITLES[BUNDLED_ENCODER]}, which ships with the app"
        ) from exc
    return Encoder(
        name=name,
        title=ENCODER_TITLES[name],
        architecture=lambda: torchvision.models.get_model(name, weights=None),
        state=model.state_dict(),
        source=f"torchvision ImageNet weights ({source}: {path.name})",
    )
