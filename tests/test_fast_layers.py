"""The fast runners' layers compute what PyTorch's do: the max-pool bit for bit, the one-pixel convolution to
rounding, with the same zero gradient for the taps that only meet padding."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from models.nets.fast_layers import ChannelsLastMaxPool2d, PaddingFreeConv2d, speed_up, touching_taps
from models.nets.resnet import ResNet18


@pytest.mark.parametrize("options", [{"padding": 1}, {"ceil_mode": True}, {"padding": 1, "ceil_mode": True}])
def test_the_channels_last_max_pool_gives_the_same_maxima_and_gradient_bit_for_bit(options: dict) -> None:
    torch.manual_seed(0)
    x = torch.randn(4, 6, 15, 16, requires_grad=True)
    plain, fast = nn.MaxPool2d(3, stride=2, **options), ChannelsLastMaxPool2d(3, stride=2, **options)
    out = plain(x)
    (grad,) = torch.autograd.grad((out * torch.arange(out.numel()).view_as(out)).sum(), x)
    mine = fast(x)
    (my_grad,) = torch.autograd.grad((mine * torch.arange(mine.numel()).view_as(mine)).sum(), x)
    assert mine.is_contiguous() and torch.equal(mine, out) and torch.equal(my_grad, grad)


def test_touching_taps_are_those_a_one_pixel_output_reads_from_the_image() -> None:
    assert touching_taps(1, 3, 1, 1) == slice(1, 2)  # a 3x3, padding 1, on a 1-pixel map: the centre tap
    assert touching_taps(2, 3, 2, 1) == slice(1, 3)  # stride 2 on 2 pixels: one window, its last two taps
    assert touching_taps(2, 3, 1, 1) is None  # two output pixels
    assert touching_taps(1, 1, 1, 0) is None  # no padding to leave out
    assert touching_taps(4, 7, 2, 3) is None  # the image reaches past the window


@pytest.mark.parametrize(("size", "stride", "groups"), [(1, 1, 1), (2, 2, 1), (1, 1, 3), (2, 2, 3), (5, 1, 1)])
def test_the_padding_free_convolution_gives_the_convolution_to_rounding(size: int, stride: int, groups: int) -> None:
    torch.manual_seed(0)
    plain = nn.Conv2d(6, 9, 3, stride=stride, padding=1, groups=groups)
    fast = PaddingFreeConv2d(6, 9, 3, stride=stride, padding=1, groups=groups)
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(8, 6, size, size)
    out, mine = plain(x), fast(x)
    assert mine.shape == out.shape and torch.allclose(mine, out, atol=1e-6)
    out.square().sum().backward()
    mine.square().sum().backward()
    assert torch.allclose(fast.weight.grad, plain.weight.grad, atol=1e-5)
    untouched = plain.weight.grad == 0  # the taps that only meet padding: zero either way, exactly
    assert torch.equal(fast.weight.grad[untouched], plain.weight.grad[untouched])
    if size == 1:
        assert untouched[:, :, 1, 1].sum() == 0 and untouched.sum() == 8 * plain.weight.grad[:, :, 1, 1].numel()


def test_speed_up_keeps_a_networks_parameters_names_and_outputs() -> None:
    torch.manual_seed(0)
    net = ResNet18(10, width=0.25).eval()
    x = torch.randn(4, 3, 32, 32)
    before, names, params = net(x), list(net.state_dict()), [id(p) for p in net.parameters()]
    assert speed_up(net) is net
    kinds = {type(m) for m in net.modules()}
    assert ChannelsLastMaxPool2d in kinds and PaddingFreeConv2d in kinds
    assert nn.MaxPool2d not in kinds and nn.Conv2d not in kinds
    assert list(net.state_dict()) == names and [id(p) for p in net.parameters()] == params
    assert torch.allclose(net(x), before, atol=1e-5)
