"""Wall-clock timing that waits for the GPU, and the ImageNet classifier a bench times, shared by the bench scripts."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch


def timed(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds one call of `fn` takes, synchronising CUDA before and after so queued work counts."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def imagenet_classifier(name: str, device: torch.device) -> tuple[torch.nn.Module, str]:
    """(torchvision's `name` in eval mode on `device`, which weights it has): ImageNet's where cached, else random
    weights of the same architecture, the same cost. Not `load_classifier` alone: without the cached weights it gives
    the bundled 64 px stand-in, which bench_faithfulness timed as ResNet-18 (3.3 s where ResNet-18 took 9.2)."""
    import torchvision

    from models.classifiers import CLASSIFIERS, load_classifier
    from models.hub import weights_cache

    if weights_cache.is_cached(CLASSIFIERS[name].weights):
        return load_classifier(name, device=device, allow_download=False)[0], "ImageNet"
    return torchvision.models.get_model(name, weights=None).eval().to(device), "random (not cached)"
