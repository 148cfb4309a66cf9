"""The fast runners' layers compute what PyTorch's do: the max-pool bit for bit; the convolution's inference
shortcuts to rounding, and its training bit for bit."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from models.nets.fast_layers import ChannelsLastMaxPool2d, FastConv2d, speed_up, touching_taps
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
def test_the_one_pixel_convolution_gives_the_convolution_to_rounding_and_trains_as_it(
    size: int, stride: int, groups: int
) -> None:
    torch.manual_seed(0)
    plain = nn.Conv2d(6, 9, 3, stride=stride, padding=1, groups=groups)
    fast = FastConv2d(6, 9, 3, stride=stride, padding=1, groups=groups)
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(8, 6, size, size)
    with torch.no_grad():
        out, mine = plain(x), fast(x)
    assert mine.shape == out.shape and torch.allclose(mine, out, atol=1e-6)
    _same_in_training(plain, fast, x)


def test_a_repeated_channel_is_convolved_once_with_the_summed_kernel_to_rounding_and_trains_as_it() -> None:
    """A grayscale digit given to an RGB network (`expand`: one channel, three views of it)."""
    torch.manual_seed(0)
    plain = nn.Conv2d(3, 8, 7, stride=2, padding=3, bias=False)
    fast = FastConv2d(3, 8, 7, stride=2, padding=3, bias=False)
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(4, 1, 32, 32).expand(-1, 3, -1, -1)
    assert x.stride(1) == 0
    with torch.no_grad():
        out, mine = plain(x), fast(x)
        assert torch.allclose(mine, out, atol=1e-5)
        assert torch.equal(fast(x.contiguous()), plain(x.contiguous()))  # three real channels: PyTorch's own code
    _same_in_training(plain, fast, x)


def _same_in_training(plain: nn.Conv2d, fast: FastConv2d, x: torch.Tensor) -> None:
    """With gradients on, the fast layer is PyTorch's convolution: the same output and gradient, bit for bit."""
    out, mine = plain(x), fast(x)
    out.square().sum().backward()
    mine.square().sum().backward()
    assert torch.equal(mine, out) and torch.equal(fast.weight.grad, plain.weight.grad)


def test_speed_up_keeps_a_networks_parameters_names_and_outputs() -> None:
    torch.manual_seed(0)
    net = ResNet18(10, width=0.25).eval()
    x = torch.randn(4, 3, 32, 32)
    before, names, params = net(x), list(net.state_dict()), [id(p) for p in net.parameters()]
    assert speed_up(net) is net
    kinds = {type(m) for m in net.modules()}
    assert ChannelsLastMaxPool2d in kinds and FastConv2d in kinds
    assert nn.MaxPool2d not in kinds and nn.Conv2d not in kinds
    assert list(net.state_dict()) == names and [id(p) for p in net.parameters()] == params
    with torch.no_grad():  # the inference shortcuts
        assert torch.allclose(net(x), before, atol=1e-5)


def test_a_repeated_channel_is_convolved_once_with_the_summed_kernel_to_rounding() -> None:
    """A grayscale digit given to an RGB network (`expand`: one channel, three views of it)."""
    torch.manual_seed(0)
    plain = nn.Conv2d(3, 8, 7, stride=2, padding=3, bias=False)
    fast = FastConv2d(3, 8, 7, stride=2, padding=3, bias=False)
    fast.load_state_dict(plain.state_dict())
    gray = torch.randn(4, 1, 32, 32)
    x = gray.expand(-1, 3, -1, -1)
    assert x.stride(1) == 0
    out, mine = plain(x), fast(x)
    assert torch.allclose(mine, out, atol=1e-5)
    out.square().sum().backward()
    mine.square().sum().backward()
    assert torch.allclose(fast.weight.grad, plain.weight.grad, rtol=1e-5, atol=1e-4)
    assert torch.equal(fast(x.contiguous()), plain(x.contiguous()))  # three real channels: PyTorch's own code
