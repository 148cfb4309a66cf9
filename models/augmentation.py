"""Augmentation pipelines built from a plain list of steps, with torchvision transforms v2.

A step is `{"name": "rotation", "params": {"degrees": 15}}`. The same list builds the pipeline
(`build_pipeline`), prints the Python that builds it (`pipeline_code`, which executed gives the
same outputs for the same seed), transforms a detection sample's boxes and masks along with its
image (`augment_scene`), and trains the digits classifier with and without it (`compare_on_digits`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision import tv_tensors
from torchvision.transforms import v2

from models.digits import _split
from models.engine import accuracy, batch_indices
from models.shapes import SHAPE_CLASSES, Scene


@dataclass(frozen=True)
class TransformSpec:
    """A transform a user can add: its v2 class and its parameters with defaults."""

    cls: str
    defaults: dict[str, Any]


TRANSFORMS: dict[str, TransformSpec] = {
    "horizontal flip": TransformSpec("RandomHorizontalFlip", {"p": 0.5}),
    "vertical flip": TransformSpec("RandomVerticalFlip", {"p": 0.5}),
    "rotation": TransformSpec("RandomRotation", {"degrees": 15.0}),
    "resized crop": TransformSpec("RandomResizedCrop", {"size": 192, "scale": (0.5, 1.0)}),
    "random crop": TransformSpec("RandomCrop", {"size": 160, "padding": 16, "pad_if_needed": True}),
    "colour jitter": TransformSpec("ColorJitter", {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1}),
    "grayscale": TransformSpec("RandomGrayscale", {"p": 0.2}),
    "gaussian blur": TransformSpec("GaussianBlur", {"kernel_size": 9, "sigma": (0.1, 2.0)}),
    "perspective": TransformSpec("RandomPerspective", {"distortion_scale": 0.4, "p": 0.5}),
    "affine": TransformSpec(
        "RandomAffine", {"degrees": 10.0, "translate": (0.1, 0.1), "scale": (0.9, 1.1), "shear": 5.0}
    ),
    "random erasing": TransformSpec("RandomErasing", {"p": 0.5, "scale": (0.02, 0.2)}),
}

# Our MNIST-style preset: small rotations, shifts and scale changes, no flips (a flipped 2 is no 2).
PRESETS: dict[str, list[dict[str, Any]]] = {
    "MNIST-style (rotation, shift, scale)": [
        {"name": "rotation", "params": {"degrees": 10.0}},
        {"name": "affine", "params": {"degrees": 0.0, "translate": (0.1, 0.1), "scale": (0.9, 1.1), "shear": 0.0}},
    ],
    "ImageNet-style (crop, flip, colour)": [
        {"name": "resized crop", "params": {"size": 192, "scale": (0.35, 1.0)}},
        {"name": "horizontal flip", "params": {"p": 0.5}},
        {"name": "colour jitter", "params": {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1}},
    ],
}


def step(name: str, **params: Any) -> dict[str, Any]:
    """A pipeline step with the transform's defaults, overridden by `params`."""
    if name not in TRANSFORMS:
        raise ValueError(f"unknown transform {name!r}; choose one of {', '.join(TRANSFORMS)}")
    unknown = set(params) - set(TRANSFORMS[name].defaults)
    if unknown:
        raise ValueError(f"{name} has no parameter(s) {', '.join(sorted(unknown))}")
    return {"name": name, "params": {**TRANSFORMS[name].defaults, **params}}


def build_pipeline(steps: Sequence[dict[str, Any]]) -> v2.Compose:
    """The v2.Compose the steps describe, in order."""
    out = []
    for s in steps:
        full = step(s["name"], **s.get("params", {}))
        out.append(getattr(v2, TRANSFORMS[s["name"]].cls)(**full["params"]))
    return v2.Compose(out)


def pipeline_code(steps: Sequence[dict[str, Any]]) -> str:
    """Python source that builds the same pipeline, ready to copy."""
    lines = ["from torchvision.transforms import v2", "", "pipeline = v2.Compose(", "    ["]
    for s in steps:
        full = step(s["name"], **s.get("params", {}))
        args = ", ".join(f"{k}={v!r}" for k, v in full["params"].items())
        lines.append(f"        v2.{TRANSFORMS[s['name']].cls}({args}),")
    lines += ["    ]", ")", ""]
    return "\n".join(lines)


def seeded(seed: int, fn: Callable[[], Any]) -> Any:
    """Run `fn` with torch's global RNG seeded (transforms v2 draw from it), then restore it."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return fn()


def augment_image(pipeline: v2.Compose, image: torch.Tensor, n: int, seed: int) -> list[torch.Tensor]:
    """`n` augmented copies of a 3 x H x W uint8 image, reproducible from `seed`."""
    img = tv_tensors.Image(image)
    return seeded(seed, lambda: [pipeline(img).as_subclass(torch.Tensor) for _ in range(n)])


def scene_target(scene: Scene) -> tuple[tv_tensors.Image, dict[str, Any]]:
    """A generated scene as v2 inputs: the image and a target with boxes, masks and labels."""
    h, w = scene.image.shape[:2]
    image = tv_tensors.Image(torch.from_numpy(scene.image.copy()).permute(2, 0, 1))
    target = {
        "boxes": tv_tensors.BoundingBoxes(torch.from_numpy(scene.boxes), format="XYXY", canvas_size=(h, w)),
        "masks": tv_tensors.Mask(torch.from_numpy(scene.masks.copy())),
        "labels": torch.from_numpy(scene.labels),
    }
    return image, target


def augment_scene(
    pipeline: v2.Compose, scene: Scene, n: int, seed: int
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]]:
    """`n` augmented copies of a detection sample: (image, boxes, masks, label names) each, with
    boxes and masks moved along with the pixels and instances that left the picture dropped."""
    image, target = scene_target(scene)
    full = v2.Compose(
        [pipeline, v2.ClampBoundingBoxes(), v2.SanitizeBoundingBoxes(labels_getter=lambda s: s[1]["labels"])]
    )

    def one():
        with warnings.catch_warnings():  # RandomErasing leaves boxes and masks as they are, and says so
            warnings.filterwarnings("ignore", "RandomErasing", UserWarning)
            img, t = full(image, target)
        names = [SHAPE_CLASSES[int(i)] for i in t["labels"]]
        return img.as_subclass(torch.Tensor), t["boxes"].as_subclass(torch.Tensor), t["masks"].bool(), names

    return seeded(seed, lambda: [one() for _ in range(n)])


def digits_uint8(size: int = 28) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The digits split as 3 x size x size uint8 grey images, the form every transform accepts."""
    x_tr, y_tr, x_te, y_te = _split()

    def prep(x):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        return (x.clamp(0, 1) * 255).round().to(torch.uint8).repeat(1, 3, 1, 1)

    return prep(x_tr), y_tr, prep(x_te), y_te


def small_cnn() -> nn.Module:
    """The classifier of the augmentation experiment: two conv layers and a linear layer."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
    )  # fmt: skip


def _to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 N x 3 x 28 x 28 -> float N x 1 x 28 x 28 in [0, 1] (the grey channel)."""
    return images.float().mean(dim=1, keepdim=True) / 255.0


def compare_on_digits(
    steps: Sequence[dict[str, Any]],
    epochs: int = 8,
    seed: int = 0,
    train_size: int | None = 300,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, float]:
    """Test accuracy of the small CNN trained on digits without and with the pipeline (each
    training image re-augmented every epoch; test images never). `train_size` keeps a small,
    stratified-by-order subset, where augmentation matters most."""
    x_tr, y_tr, x_te, y_te = digits_uint8()
    if train_size:
        x_tr, y_tr = x_tr[:train_size], y_tr[:train_size]
    pipeline = build_pipeline(steps)
    results = {}
    for k, use in enumerate((False, True)):
        torch.manual_seed(seed)
        model = small_cnn()
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        batches = batch_indices(len(y_tr), 32, seed)
        per_epoch = len(y_tr) // 32
        gen = torch.Generator().manual_seed(seed + 1)
        for epoch in range(epochs):
            model.train()
            for _ in range(per_epoch):
                idx = next(batches)
                xb = x_tr[idx]
                if use:
                    torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=gen)))
                    xb = torch.stack([pipeline(tv_tensors.Image(img)).as_subclass(torch.Tensor) for img in xb])
                    xb = F.interpolate(xb.float(), size=(28, 28)).round().to(torch.uint8) if xb.shape[-1] != 28 else xb
                loss = F.cross_entropy(model(_to_input(xb)), y_tr[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            if progress:
                progress(k * epochs + epoch + 1, 2 * epochs)
        results["with" if use else "without"] = accuracy(model, _to_input(x_te), y_te)
    return results


def as_numpy(image: torch.Tensor) -> np.ndarray:
    """3 x H x W uint8 tensor -> H x W x 3 array."""
    return image.permute(1, 2, 0).numpy()
