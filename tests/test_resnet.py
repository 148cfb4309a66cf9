import torch
from torch import nn

from models.nets.resnet import ResBlock, ResNet18


def test_layer0_follows_the_course_order():
    kinds = [type(m) for m in ResNet18(6).layer0]
    assert kinds == [nn.Conv2d, nn.MaxPool2d, nn.BatchNorm2d, nn.ReLU]
    conv = ResNet18(6).layer0[0]
    assert conv.kernel_size == (7, 7) and conv.stride == (2, 2) and conv.out_channels == 64


def test_stages_and_widths():
    model = ResNet18(10)
    for stage, channels in zip(
        (model.layer1, model.layer2, model.layer3, model.layer4), (64, 128, 256, 512), strict=True
    ):
        assert len(stage) == 2 and stage[1].conv2.out_channels == channels
    assert ResNet18(10, width=0.5).fc.in_features == 256
    assert sum(p.numel() for p in model.parameters()) > 11_000_000  # the full-size ResNet-18


def test_downsampling_block_has_projection_shortcut():
    block = ResBlock(8, 16, downsample=True)
    assert block.conv1.stride == (2, 2)
    assert isinstance(block.shortcut, nn.Sequential)
    assert block.shortcut[0].kernel_size == (1, 1) and block.shortcut[0].stride == (2, 2)
    assert block(torch.randn(2, 8, 10, 10)).shape == (2, 16, 5, 5)


def test_skip_is_added_before_the_last_relu():
    block = ResBlock(4, 4).eval()
    nn.init.zeros_(block.bn2.weight)
    nn.init.zeros_(block.bn2.bias)  # the residual branch now outputs zero
    x = torch.randn(1, 4, 6, 6)
    assert torch.equal(block(x), torch.relu(x))


def test_output_shape_for_several_sizes():
    model = ResNet18(6, width=0.25).eval()
    for size in (32, 64, 97, 224):
        assert model(torch.randn(2, 3, size, size)).shape == (2, 6)
