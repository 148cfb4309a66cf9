"""The two digits networks of the BatchNorm experiment, each with or without BatchNorm.

- `mlp`: Ioffe & Szegedy's Figure 1 network, three fully connected hidden layers of 100 units
  (BatchNorm goes between each linear layer and its nonlinearity);
- `DigitsConvNet`: the course's convolutional digits network (11x11 stride-4 conv to 64, pool,
  5x5 conv to 256, pool, 3x3 conv to 256, pool, 6x6 adaptive average pool, two dropout +
  512-unit layers, 10 classes), with BatchNorm after each convolution in the BatchNorm variant.
"""

from __future__ import annotations

from torch import nn

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}
CONV_INPUT = 64  # digits are upsampled to 64 x 64 for the convolutional network


def mlp(batchnorm: bool, activation: str = "sigmoid", in_features: int = 64, hidden: int = 100) -> nn.Sequential:
    """Flatten, then three (Linear, [BatchNorm], activation) layers of `hidden` units, then 10 outputs."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for _ in range(3):
        layers += [nn.Linear(width, hidden)]
        layers += [nn.BatchNorm1d(hidden)] if batchnorm else []
        layers += [ACTIVATIONS[activation]()]
        width = hidden
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


class DigitsConvNet(nn.Module):
    """The course's AlexNet-style digits network; `features` then `classifier`, as in torchvision."""

    def __init__(self, batchnorm: bool, activation: str = "relu", num_classes: int = 10):
        super().__init__()
        act = ACTIVATIONS[activation]

        def conv(cin: int, cout: int, k: int, stride: int = 1) -> list[nn.Module]:
            block: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)]
            return block + ([nn.BatchNorm2d(cout)] if batchnorm else []) + [act()]

        self.features = nn.Sequential(
            *conv(1, 64, 11, stride=4),
            nn.MaxPool2d(3, stride=2),
            *conv(64, 256, 5),
            nn.MaxPool2d(3, stride=2),
            *conv(256, 256, 3),
            nn.MaxPool2d(3, stride=2, ceil_mode=True),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(6)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.5),
            nn.Linear(256 * 36, 512),
            act(),
            nn.Dropout(0.5),
            nn.Linear(512, 512),
            act(),
            nn.Linear(512, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)))


def build(arch: str, batchnorm: bool, activation: str) -> nn.Module:
    """`arch` is "mlp" or "conv"."""
    if arch == "mlp":
        return mlp(batchnorm, activation)
    if arch == "conv":
        return DigitsConvNet(batchnorm, activation)
    raise ValueError(f"unknown architecture {arch!r}; choose mlp or conv")


def probe_module(model: nn.Module) -> nn.Module:
    """The module whose output is 'the input of a hidden unit's nonlinearity' in Figure 1b/c: the
    last hidden layer's activation function (its input is what the paper plots)."""
    acts = [m for m in model.modules() if isinstance(m, tuple(ACTIVATIONS.values()))]
    if isinstance(model, DigitsConvNet):
        return [m for m in model.features.modules() if isinstance(m, tuple(ACTIVATIONS.values()))][-1]
    return acts[-1]
