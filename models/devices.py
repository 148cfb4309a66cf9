"""Which device to run on, and a short description of it for the sidebar."""

from __future__ import annotations

import os

import torch
from torch import nn


def best_device() -> torch.device:
    """CUDA when present, else Apple's MPS, else the CPU. `EXPLAINER_DEVICE` overrides (e.g. `cpu`)."""
    forced = os.environ.get("EXPLAINER_DEVICE")
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def model_device(model: nn.Module) -> torch.device:
    """The device a model's parameters live on (the CPU for a model without any)."""
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def on_model_device(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """`x` moved to the model's device. Every function that runs a model takes its input on any device and
    moves it with this; what it returns for drawing is on the CPU."""
    return x.to(model_device(model))


def device_name(device: torch.device) -> str:
    """A human name: the GPU's model for CUDA, the thread count for the CPU."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "MPS: Apple GPU"
    threads = torch.get_num_threads()
    return f"CPU ({threads} thread{'' if threads == 1 else 's'})"  # a walk read "1 threads"
