"""The course's ResNet-18, written out: the architecture of the bundled offline classifier.

Same stage layout as torchvision's resnet18 (four stages of two residual blocks), with the
course's stem order (conv, max-pool, BatchNorm, ReLU) and a width multiplier so the bundled
copy stays small.
"""

from __future__ import annotations

import torch
from torch import nn


class ResBlock(nn.Module):
    """Two 3x3 conv + BatchNorm layers; the skip is added before the last ReLU.

    When `downsample` is set the first conv has stride 2 and the shortcut is a 1x1 stride-2
    conv + BatchNorm, so the two paths agree in shape.
    """

    def __init__(self, in_channels: int, out_channels: int, downsample: bool = False) -> None:
        super().__init__()
        stride = 2 if downsample else 1
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu2 = nn.ReLU()
        self.shortcut: nn.Module = nn.Identity()
        if downsample or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class ResNet18(nn.Module):
    """layer0 (7x7 stride-2 conv, 3x3 stride-2 max-pool, BatchNorm, ReLU), four stages of two
    ResBlocks (64, 128, 256, 512 channels times `width`), adaptive average pool, linear classifier."""

    def __init__(self, num_classes: int, width: float = 1.0) -> None:
        super().__init__()
        chans = [max(8, round(c * width)) for c in (64, 128, 256, 512)]
        self.layer0 = nn.Sequential(
            nn.Conv2d(3, chans[0], 7, stride=2, padding=3, bias=False),
            nn.MaxPool2d(3, stride=2, padding=1),
            nn.BatchNorm2d(chans[0]),
            nn.ReLU(),
        )
        self.layer1 = nn.Sequential(ResBlock(chans[0], chans[0]), ResBlock(chans[0], chans[0]))
        self.layer2 = nn.Sequential(ResBlock(chans[0], chans[1], downsample=True), ResBlock(chans[1], chans[1]))
        self.layer3 = nn.Sequential(ResBlock(chans[1], chans[2], downsample=True), ResBlock(chans[2], chans[2]))
        self.layer4 = nn.Sequential(ResBlock(chans[2], chans[3], downsample=True), ResBlock(chans[3], chans[3]))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(chans[3], num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled, flattened encoder output (what a linear probe sees)."""
        for stage in (self.layer0, self.layer1, self.layer2, self.layer3, self.layer4):
            x = stage(x)
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))
