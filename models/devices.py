"""Which device to run on, and a short description of it for the sidebar."""

from __future__ import annotations

import os

import torch


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


def device_name(device: torch.device) -> str:
    """A human name: the GPU's model for CUDA, the thread count for the CPU."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "MPS: Apple GPU"
    return f"CPU ({torch.get_num_threads()} threads)"
