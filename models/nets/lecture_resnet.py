"""The lecture's own ResNet-18 code, as students write it: `ResBlock` and `Network`, so what
`torch.save(model.state_dict(), path)` writes for it loads here strictly and gives that code's outputs.

It departs from torchvision's resnet18 (and from `models.nets.resnet`, the bundled models' network) in four ways,
all the lecture's: every convolution has a bias; the stem is conv -> max-pool -> BatchNorm -> ReLU; a block applies
a ReLU after `bn2`, before the sum, and another after it; the pooling is named `gap`. `width` scales every stage's
channels (1 is the lecture's 64-128-256-512), so a narrower copy trained in class loads too.
"""

from __future__ import annotations

import torch
from torch import nn


class ResBlock(nn.Module):
    """conv1 -> bn1 -> ReLU -> conv2 -> bn2 -> ReLU, plus the shortcut (a 1x1 stride-2 conv and BatchNorm when
    `downsample`, else nothing), then a ReLU."""

    def __init__(self, in_channels: int, out_channels: int, downsample: bool) -> None:
        super().__init__()
        if downsample:
            self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=2, padding=1)
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=2), nn.BatchNorm2d(out_channels)
            )
        else:
            self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1)
            self.shortcut = nn.Sequential()
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1, padding=1)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu1, self.relu2, self.relu3 = nn.ReLU(), nn.ReLU(), nn.ReLU()  # modules, so hooks can see them

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.shortcut(x)
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.bn2(self.conv2(x)))
        return self.relu3(x + shortcut)


class Network(nn.Module):
    """layer0 (7x7 stride-2 conv, 3x3 stride-2 max-pool, BatchNorm, ReLU), four stages of two ResBlocks, `gap`
    (global average pooling), `fc`."""

    def __init__(self, in_channels: int = 3, outputs: int = 1000, width: float = 1.0) -> None:
        super().__init__()
        c = [round(n * width) for n in (64, 128, 256, 512)]
        self.layer0 = nn.Sequential(
            nn.Conv2d(in_channels, c[0], kernel_size=7, stride=2, padding=3),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            nn.BatchNorm2d(c[0]),
            nn.ReLU(),
        )
        self.layer1 = nn.Sequential(ResBlock(c[0], c[0], downsample=False), ResBlock(c[0], c[0], downsample=False))
        self.layer2 = nn.Sequential(ResBlock(c[0], c[1], downsample=True), ResBlock(c[1], c[1], downsample=False))
        self.layer3 = nn.Sequential(ResBlock(c[1], c[2], downsample=True), ResBlock(c[2], c[2], downsample=False))
        self.layer4 = nn.Sequential(ResBlock(c[2], c[3], downsample=True), ResBlock(c[3], c[3], downsample=False))
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c[3], outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in (self.layer0, self.layer1, self.layer2, self.layer3, self.layer4):
            x = stage(x)
        return self.fc(torch.flatten(self.gap(x), 1))
