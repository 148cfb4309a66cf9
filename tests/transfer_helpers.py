"""Encoders for transfer tests that worker processes and Ray tasks can unpickle (they import this module as
`tests.transfer_helpers`): a tiny ResNet, and ones whose construction fails on purpose."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import torch

from models.nets.resnet import ResNet18
from models.transfer import Encoder


def tiny_encoder() -> Encoder:
    """A small ResNet with trained-looking (non-default) weights and BatchNorm statistics, to keep tests fast."""
    torch.manual_seed(0)
    net = ResNet18(5, width=0.125)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return Encoder("tiny", "tiny", partial(ResNet18, 5, width=0.125), net.state_dict(), "made in the test")


class LayerNormNet(torch.nn.Module):
    """A network the stack cannot group (a LayerNorm): its rates train one after another under every runner."""

    def __init__(self) -> None:
        super().__init__()
        self.layer0 = torch.nn.Sequential(
            torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 16), torch.nn.LayerNorm(16), torch.nn.ReLU()
        )
        self.fc = torch.nn.Linear(16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.layer0(x))


def layer_norm_encoder() -> Encoder:
    """An encoder whose network the stack cannot group."""
    torch.manual_seed(0)
    return Encoder("layer-norm", "layer-norm", LayerNormNet, LayerNormNet().state_dict(), "made in the test")


def failing_resnet(bad_seed: int) -> torch.nn.Module:
    """A tiny ResNet that cannot be built for seed `bad_seed` (runs seed torch just before they build)."""
    if torch.initial_seed() == bad_seed:
        raise RuntimeError(f"seed {bad_seed} always fails")
    return ResNet18(5, width=0.125)


def flaky_resnet(marker: Path) -> torch.nn.Module:
    """A tiny ResNet whose first construction (in any process) fails: a worker's run that fails once."""
    if not marker.exists():
        marker.touch()
        raise RuntimeError("a worker failed once")
    return ResNet18(5, width=0.125)
