"""The networks whose anatomy the Build-and-train page shows, each with the input it takes. The torchvision ones
and the digits network are built on PyTorch's meta device: shapes, parameter counts and receptive fields do not
depend on weights, so nothing is downloaded, allocated or computed (VGG-16's 138 M parameters cost no memory);
the project's ResNet-18 is the bundled, trained shapes classifier."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from PIL import Image
from torch import nn
from torchvision import models
from torchvision.models import AlexNet_Weights, ResNet18_Weights, ResNet50_Weights, VGG16_Weights, WeightsEnum
from torchvision.transforms import v2

from models.hub.bundled import bundled
from models.nets.digits_nets import CONV_INPUT, DigitsConvNet


def on_meta(build: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    """`build`, made to create its network on the meta device (parameters with shapes and no storage)."""

    def made() -> nn.Module:
        with torch.device("meta"):
            return build()

    return made


@dataclass(frozen=True)
class Architecture:
    """A network to dissect: its title, how to build it, how an image becomes its input, and (for torchvision's)
    the weights enum whose metadata gives the published parameter count."""

    title: str
    build: Callable[[], nn.Module]
    weights: WeightsEnum | None = None
    takes: Literal["weights", "shapes", "digits"] = "weights"  # the input: the weights' own transforms, the
    # bundled shapes classifier's RGB preprocessing, or the course's 1-channel digits
    departs: str = ""  # where it departs from the paper's network, in a sentence ("" for torchvision's own)

    def transform(self) -> Callable[[object], torch.Tensor]:
        if self.weights is not None:
            return self.weights.transforms()
        if self.takes == "digits":
            return v2.Compose(
                [
                    v2.ToImage(),
                    v2.Grayscale(),
                    v2.Resize(CONV_INPUT, antialias=True),
                    v2.CenterCrop(CONV_INPUT),
                    v2.ToDtype(torch.float32, scale=True),
                ]
            )
        cfg = bundled("shapes-resnet18").config
        return v2.Compose(
            [
                v2.ToImage(),
                v2.Resize(cfg["image_size"], antialias=True),
                v2.CenterCrop(cfg["image_size"]),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize(cfg["mean"], cfg["std"]),
            ]
        )

    @property
    def published_params(self) -> int | None:
        """torchvision's own parameter count for these weights, or None."""
        return self.weights.meta.get("num_params") if self.weights is not None else None


ARCHITECTURES: dict[str, Architecture] = {
    "resnet18": Architecture("ResNet-18 (torchvision)", on_meta(models.resnet18), ResNet18_Weights.IMAGENET1K_V1),
    "resnet50": Architecture("ResNet-50 (torchvision)", on_meta(models.resnet50), ResNet50_Weights.IMAGENET1K_V1),
    "alexnet": Architecture("AlexNet (torchvision)", on_meta(models.alexnet), AlexNet_Weights.IMAGENET1K_V1),
    "vgg16": Architecture("VGG-16 (torchvision)", on_meta(models.vgg16), VGG16_Weights.IMAGENET1K_V1),
    "own-resnet18": Architecture(
        "The project's ResNet-18 at 1/2 width (bundled shapes classifier)",
        lambda: bundled("shapes-resnet18").build(),
        takes="shapes",
        # a review: its 2.8 M parameters and its stem's order were shown beside He et al.'s name without a word
        departs="Where it departs from He et al.'s ResNet-18: half the width (32 to 256 channels where they have 64 "
        "to 512, so about a quarter of their 11.7 M parameters), the course's stem order (convolution, max-pool, "
        "BatchNorm, ReLU, where theirs pools last), and 64 x 64 inputs.",
    ),
    "digits-net": Architecture(
        "Digits network (the course's)", on_meta(lambda: DigitsConvNet(batchnorm=False)), takes="digits"
    ),
}


def architecture_input(name: str, image: Image.Image) -> torch.Tensor:
    """The 1 x C x H x W input `ARCHITECTURES[name]` takes for a PIL image."""
    return ARCHITECTURES[name].transform()(image).unsqueeze(0)
