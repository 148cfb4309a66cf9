"""Batches of a dataset in memory: a reproducible stream of index batches, and top-1 accuracy in batches.
Every training loop of the project (live experiments, the transfer lab, the training commands) uses these."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from models.devices import model_device


def batch_indices(n: int, batch_size: int, seed: int) -> Iterator[torch.Tensor]:
    """An endless stream of index batches: a fresh permutation of range(n) every epoch, seeded."""
    gen = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(n, generator=gen)
        for i in range(0, n - batch_size + 1, batch_size):
            yield order[i : i + batch_size]


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> float:
    """Top-1 accuracy of `model` in eval mode, on the model's device, in batches."""
    model.eval()
    device = model_device(model)
    correct = 0
    for i in range(0, len(x), batch_size):
        logits = model(x[i : i + batch_size].to(device))
        correct += int((logits.argmax(1).cpu() == y[i : i + batch_size]).sum())
    return correct / len(x)
