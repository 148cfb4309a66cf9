"""The module tree of a model, as the pages present it: which layers give spatial maps, in what
order they run, and which blocks a sanity check should randomise."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from models.devices import on_model_device
from models.lock import lock_for


@dataclass(frozen=True)
class LayerInfo:
    """A module whose output is a feature map: its name, type, output shape (C, H, W), and whether that output is a
    pooling's (a pooling layer, or a container such as VGG's `features` whose last step is one)."""

    name: str
    kind: str
    shape: tuple[int, int, int]
    pooled: bool = False


@torch.no_grad()
def spatial_layers(model: nn.Module, inputs: torch.Tensor) -> list[LayerInfo]:
    """Every named module whose output is an N x C x H x W map with H, W > 1, in the order they finish.

    Found by one forward pass with hooks (under the model's lock), not from a per-model table.
    """
    seen: list[LayerInfo] = []
    handles = []
    pooled: list[torch.Tensor] = []  # pooling outputs: a container returning one of these is a pooling too

    def hook(name: str):
        def record(module: nn.Module, args, output) -> None:
            if isinstance(output, torch.Tensor) and output.dim() == 4 and min(output.shape[2:]) > 1:
                pool = "Pool" in type(module).__name__ or any(output is p for p in pooled)
                if pool:
                    pooled.append(output)
                seen.append(LayerInfo(name, type(module).__name__, tuple(output.shape[1:]), pool))

        return record

    with lock_for(model):
        try:
            for name, module in model.named_modules():
                if name:
                    handles.append(module.register_forward_hook(hook(name)))
            model(on_model_device(model, inputs[:1]))
        finally:
            for h in handles:
                h.remove()
    unique: dict[str, LayerInfo] = {}
    for info in seen:  # a module run twice (a shared ReLU) is listed once, where it first finished
        unique.setdefault(info.name, info)
    return list(unique.values())


MIN_CAM_SIDE = 7  # a class activation map coarser than this is a few upsampled blocks, not a localisation


def default_cam_layer(layers: list[LayerInfo]) -> str:
    """The last feature map that is not merely a pooling of another and is at least MIN_CAM_SIDE on each
    side at this input size: Grad-CAM's choice, the last convolutional layer's rectified maps (`layer4` of a
    ResNet; at 224 px VGG-16's `features.29`, relu5_3 at 14 x 14 as in Selvaraju et al., not `features`, which
    ends in pool5; AlexNet's `features.11`, 13 x 13), or an earlier stage when the input is small (`layer2` of the
    bundled ResNet at 64 px, whose `layer4` is 2 x 2). With no map that large, the finest-resolution candidate."""
    candidates = [layer for layer in layers if not layer.pooled] or layers
    if not candidates:
        raise ValueError("this model has no layer with a spatial output")
    fine = [layer for layer in candidates if min(layer.shape[1:]) >= MIN_CAM_SIDE]
    if fine:
        return fine[-1].name
    return max(candidates, key=lambda layer: min(layer.shape[1:])).name


def parametric_units(model: nn.Module) -> list[str]:
    """The model's weight-carrying units from the output down, for cascading randomisation.

    A unit is a child of a top-level container (a residual block, one conv of VGG's `features`)
    or a top-level module itself (`fc`, `conv1`), counted only if it has parameters.
    """
    units: list[str] = []
    for name, child in model.named_children():
        parts = list(child.named_children()) if isinstance(child, nn.Sequential) else [("", child)]
        for sub, module in parts:
            if any(True for _ in module.parameters()):
                units.append(f"{name}.{sub}" if sub else name)
    return units[::-1]


@contextmanager
def output_kept_intact(module: nn.Module) -> Iterator[None]:
    """While open, what runs after `module` works on a copy of its output, so a hook registered before this one (a
    class activation map keeping the layer's activations and their gradient) keeps the output as the module returned
    it. The next step of torchvision's ResNets, VGG and AlexNet often changes a layer's output in place (an in-place
    ReLU, `out += identity`): the map of a block's `bn2` had been its block's output's, and AlexNet's conv5 its
    ReLU's (a fidelity review). Captum clones a layer's output for the same reason (captum/_utils/gradient.py)."""
    handle = module.register_forward_hook(lambda _m, _i, out: out.clone() if isinstance(out, torch.Tensor) else None)
    try:
        yield
    finally:
        handle.remove()
