"""U-Net (Ronneberger, Fischer & Brox, MICCAI 2015), small enough to train on a laptop CPU.

Each level is two (3x3 conv, BatchNorm, ReLU); 2x2 max-pooling goes down, a 2x2 stride-2
transposed convolution comes up, and the encoder's map at the same resolution is concatenated
(the skip connection) before the decoder's convolutions; a 1x1 convolution gives per-pixel class
scores. `skips=False` builds the ablation: the same network without the concatenations.
Inputs of any size work: they are padded to a multiple of 2**depth and the output is cropped back.
Departures from the paper: padded convolutions (its are unpadded, so it crops each skip and tiles its input with
overlap), BatchNorm (after its time), and, as shipped (base 16, depth 3), three poolings and 16-128 channels (its
four, 64-1,024).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """(3x3 conv, BatchNorm, ReLU) twice: the unit every level is made of."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )


class UNet(nn.Module):
    """`depth` pooling steps; level i has `base * 2**i` channels; `skips` toggles the concatenations."""

    def __init__(self, in_channels: int = 3, num_classes: int = 7, base: int = 16, depth: int = 3, skips: bool = True):
        super().__init__()
        self.depth, self.skips = depth, skips
        widths = [base * 2**i for i in range(depth + 1)]
        self.encoder = nn.ModuleList([double_conv(in_channels, widths[0])])
        self.encoder.extend(double_conv(widths[i], widths[i + 1]) for i in range(depth))
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(depth))
        )
        self.decoder = nn.ModuleList(
            double_conv(widths[i] * (2 if skips else 1), widths[i]) for i in reversed(range(depth))
        )
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    @property
    def widths(self) -> list[int]:
        """Channels at each level, from the top (full resolution) down to the bottleneck."""
        return [block[0].out_channels for block in self.encoder]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = 2**self.depth
        x = F.pad(x, (0, -w % m, 0, -h % m), mode="replicate")
        saved = []
        for i, block in enumerate(self.encoder):
            x = block(x if i == 0 else self.pool(x))
            saved.append(x)
        for up, block, skip in zip(self.up, self.decoder, reversed(saved[:-1]), strict=True):
            x = up(x)
            x = block(torch.cat([skip, x], dim=1) if self.skips else x)
        return self.head(x)[..., :h, :w]
