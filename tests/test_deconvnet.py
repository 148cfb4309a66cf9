import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from captum.attr import NeuronDeconvolution
from torch import nn

from explain.methods.deconvnet import (
    forward_to,
    geometry,
    reconstruct,
    strongest_position,
    top_activations,
)
from models.classifiers import BUNDLED_CLASSIFIER, load_classifier
from models.nets.resnet import ResBlock
from tests.on_device import tolerance


def randomise_batchnorm(model: nn.Module) -> nn.Module:
    """Non-trivial BatchNorm statistics, so that its linear part really matters."""
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=gen) - 0.5)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
            m.bias.data.copy_(torch.rand(m.bias.shape, generator=gen) - 0.5)
    return model.eval()


def seeded(make) -> nn.Module:
    """`make()`'s network with seed 0's weights and `randomise_batchnorm`'s statistics: from the global RNG as it
    was left, a test run alone (`-k`) drew a dead channel 3 times in 7 (a race review)."""
    torch.manual_seed(0)
    return randomise_batchnorm(make())


def conv_relu_pool() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(3, stride=2, padding=1),  # overlapping windows
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(3, stride=2),
        nn.Flatten(),
        nn.LazyLinear(4),
    ).eval()


class TwoBlocks(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        self.block = ResBlock(8, 8)
        self.down = ResBlock(8, 16, downsample=True)

    def forward(self, x):
        return self.down(self.block(self.stem(x)))


def captum_reference(model, x, layer, channel, position):
    module = model.get_submodule(layer)
    return NeuronDeconvolution(model, module).attribute(x, neuron_selector=(channel, *position))[0]


@pytest.mark.parametrize(
    "build, layer",
    [
        (conv_relu_pool, "4"),
        (conv_relu_pool, "5"),
        (lambda: seeded(TwoBlocks), "block"),
        (lambda: seeded(TwoBlocks), "down"),
        (lambda: seeded(torchvision.models.resnet18), "layer1.1"),
    ],
)
def test_reconstruction_scaled_by_the_activation_equals_captums_deconvolution(build, layer):
    model = build()
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    model(x)  # materialise lazy layers
    act, _ = forward_to(model, x, layer)
    for channel in (0, 3):
        pos = strongest_position(act, channel)
        value = act[0, channel, pos[0], pos[1]]
        assert value > 0
        ours = reconstruct(model, x, layer, channel, pos) / value
        torch.testing.assert_close(ours, captum_reference(model, x, layer, channel, pos), rtol=1e-4, atol=1e-6)


def test_a_first_layer_channel_projects_to_the_transposed_convolution_of_the_isolated_activation():
    conv = nn.Conv2d(3, 4, 5, stride=2, padding=1)
    model = nn.Sequential(conv).eval()
    x = torch.randn(1, 3, 17, 17)
    act = conv(x)
    isolated = torch.zeros_like(act)
    isolated[0, 2, 3, 4] = act[0, 2, 3, 4]
    expected = F.conv_transpose2d(isolated, conv.weight, None, 2, 1, output_padding=(0, 0))
    expected = F.pad(expected, (0, 17 - expected.shape[-1], 0, 17 - expected.shape[-2]))
    torch.testing.assert_close(reconstruct(model, x, "0", 2, (3, 4)), expected[0])


def test_overlapping_pool_windows_add_their_contributions():
    """A value that wins two overlapping windows must come back twice, as the gradient does."""
    model = nn.Sequential(nn.MaxPool2d(3, stride=1)).eval()
    x = torch.zeros(1, 3, 4, 4)
    x[0, :, 1, 1] = 5.0  # the maximum of all four 3x3 windows
    got = reconstruct(model, x, "0", 0, whole_channel=True)
    assert got[0, 1, 1] == pytest.approx(20.0) and got[0].sum() == pytest.approx(20.0)


def test_whole_channel_projection_equals_captum_with_the_channel_as_the_signal():
    """Keeping the whole channel sends its activation values down; Captum does the same when the
    selected 'neuron' is sum(a * stop_grad(a)) over the channel, whose gradient is a itself."""
    model = seeded(TwoBlocks)
    x = torch.randn(1, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    ours = reconstruct(model, x, "block", 5, whole_channel=True)
    ref = NeuronDeconvolution(model, model.block).attribute(
        x, neuron_selector=lambda out: (out[:, 5] * out[:, 5].detach()).sum(dim=(1, 2))
    )[0]
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "alexnet", "vgg16", BUNDLED_CLASSIFIER])
def test_every_zoo_architecture_reconstructs(name):
    torch.manual_seed(0)
    model = (
        load_classifier(BUNDLED_CLASSIFIER)[0]
        if name == BUNDLED_CLASSIFIER
        else torchvision.models.get_model(name).eval()
    )
    x = torch.randn(1, 3, 96, 96)
    layer = {"resnet18": "layer2", "resnet50": "layer2", "alexnet": "features.7", "vgg16": "features.16"}.get(
        name, "layer2"
    )
    act, _ = forward_to(model, x, layer)
    strongest = int(act[0].flatten(1).amax(1).argmax())
    out = reconstruct(model, x, layer, strongest)
    assert out.shape == (3, 96, 96) and torch.isfinite(out).all() and out.abs().sum() > 0


def test_receptive_fields_from_the_graph():
    assert geometry(torchvision.models.resnet18(), "layer2").stride == 8
    assert geometry(torchvision.models.resnet18(), "layer2").size == 99
    vgg = geometry(torchvision.models.vgg16(), "features.23")
    assert (vgg.stride, vgg.size) == (16, 100)
    single = geometry(nn.Sequential(nn.Conv2d(3, 2, 5, padding=2)), "0")
    assert (single.stride, single.size, single.start) == (1, 5, 0.0)


def test_the_box_contains_every_pixel_that_can_reach_the_unit():
    model = conv_relu_pool()
    x = torch.randn(1, 3, 40, 40, requires_grad=True)
    model(x)
    act, _ = forward_to(model, x, "4")
    box = geometry(model, "4").box((4, 6), (40, 40))
    act[0, 0, 4, 6].backward()
    ys, xs = np.nonzero(x.grad[0].abs().sum(0).numpy())
    x0, y0, x1, y1 = box
    assert xs.min() >= x0 and xs.max() < x1 and ys.min() >= y0 and ys.max() < y1


@pytest.mark.parametrize("layer", ["layer0.0", "layer0", "layer1.0", "layer1", "layer2.0", "layer2"])
def test_one_units_projection_lies_inside_its_box_so_a_crop_to_the_patch_loses_nothing(layer):
    """The Features page shows one unit's projection cropped to its receptive field, beside the image patch (as
    Zeiler & Fergus and the top-9 tab do): cropping drops no non-zero pixel, residual paths and pooling included."""
    from explain import project_strongest

    model, _ = load_classifier(BUNDLED_CLASSIFIER)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    for channel in (0, 5):
        p = project_strongest(model, x, layer, channel)
        ys, xs = np.nonzero(p.pixels.abs().sum(0).numpy())
        x0, y0, x1, y1 = geometry(model, layer).box(p.position, (64, 64))
        assert p.box == (x0, y0, x1, y1) and p.tile == geometry(model, layer).tile(p.position, (64, 64))
        assert len(xs) and xs.min() >= x0 and xs.max() < x1 and ys.min() >= y0 and ys.max() < y1


def test_top_activations_are_the_strongest_per_image_with_boxes():
    model, _ = load_classifier(BUNDLED_CLASSIFIER)
    images = torch.randn(20, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    tops = top_activations(model, images, "layer1.0", [0, 7], k=9, batch_size=8)
    for channel, items in tops.items():
        assert len(items) == 9 and len({t.image_index for t in items}) == 9
        values = [t.value for t in items]
        assert values == sorted(values, reverse=True)
        act, _ = forward_to(model, images, "layer1.0")
        per_image_max = act[:, channel].flatten(1).max(1).values
        assert values[0] == pytest.approx(float(per_image_max.max().detach()), rel=tolerance(1e-5))
        for t in items:
            x0, y0, x1, y1 = t.box
            assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64
            assert t.reconstruction.shape == (3, 64, 64)


def test_unknown_layer_and_channel_are_explained():
    model = conv_relu_pool()
    x = torch.randn(1, 3, 16, 16)
    model(x)
    with pytest.raises(ValueError, match="no module"):
        reconstruct(model, x, "nope", 0)
    with pytest.raises(ValueError, match="channels 0 to"):
        reconstruct(model, x, "3", 99)


def test_a_nonlinearity_without_a_rule_is_refused():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sigmoid(), nn.Conv2d(4, 4, 3)).eval()
    with pytest.raises(NotImplementedError, match="Sigmoid"):
        reconstruct(model, torch.randn(1, 3, 12, 12), "2", 0)


def test_project_strongest_is_the_reconstruction_at_the_channels_peak():
    """#26: what the Features page shows for one channel, from the library: the projection of the channel's
    strongest activation (or the whole channel), where it is, and its value."""
    from explain import project_strongest

    model = seeded(TwoBlocks)
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    act, _ = forward_to(model, x, "block")
    for whole in (False, True):
        p = project_strongest(model, x, "block", 3, whole_channel=whole)
        assert p.position == strongest_position(act, 3)
        assert p.value == pytest.approx(float(act[0, 3].max()))
        assert torch.equal(p.pixels, reconstruct(model, x, "block", 3, p.position, whole_channel=whole))
    with pytest.raises(ValueError, match="channels 0 to 7"):
        project_strongest(model, x, "block", 8)


def test_top9_montages_hold_nine_projections_and_patches_per_channel():
    """#26: the top-9 picture from the library: per channel, its nine tiles' image names and two 3 x 3 montages."""
    from explain import top9_montages

    model, info = load_classifier(BUNDLED_CLASSIFIER)
    images = torch.randn(12, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    names = [f"image {i}" for i in range(12)]
    out = top9_montages(model, images, names, "layer1.0", [0, 5], info.mean, info.std)
    tops = top_activations(model, images, "layer1.0", [0, 5], k=9)
    assert sorted(out) == [0, 5]
    for channel, (best, projections, patches, said) in out.items():
        assert best == [names[t.image_index] for t in tops[channel]] and len(best) == 9  # every tile named
        assert said.startswith("image patches under each unit's 27 x 27-pixel receptive field")  # layer1.0's field
        assert projections.shape == patches.shape and projections.dtype == np.uint8 and projections.shape[-1] == 3
        assert projections.shape[0] > 3 * 64 and projections.shape[1] > 3 * 64  # three 64-pixel tiles a side


def test_a_receptive_field_is_said_by_its_whole_side_not_by_its_patch_cut_to_the_image() -> None:
    """A walk read "64 x 64 pixels" for layer2 (99 px) and layer4 (435 px) of the bundled network at 64 px: the side
    said was the patch's. The side is the layer's; the range is where the field lies on the image."""
    from explain.methods.deconvnet import Geometry, field_text

    layer2 = Geometry(stride=8, size=99, start=0.0)  # the bundled network's layer2 at 64 px
    assert field_text(layer2, (0, 7), (64, 64)) == (
        "99 x 99 pixels (more than the whole input), on the image x 7–63, y 0–49 of the 64 x 64 input, mid-grey past "
        "its edge"
    )
    # a corner unit: its clipped field is square already, so its patch has no grey (a review read the two ranges as
    # contradicting the side)
    assert field_text(layer2, (0, 0), (64, 64)) == (
        "99 x 99 pixels (more than the whole input), on the image x 0–49, y 0–49 of the 64 x 64 input"
    )
    layer4 = Geometry(stride=32, size=435, start=0.0)
    assert field_text(layer4, (1, 1), (64, 64)) == (
        "435 x 435 pixels (more than the whole input), covering the whole 64 x 64 input"
    )
    exactly = Geometry(stride=1, size=64, start=0.0)  # a field the image's size, past its edge: not "more than"
    assert field_text(exactly, (0, 0), (64, 64)) == "64 x 64 pixels, on the image x 0–31, y 0–31 of the 64 x 64 input"
    inside = Geometry(stride=4, size=11, start=0.0)
    assert field_text(inside, (2, 2), (20, 20)) == "11 x 11 pixels: x 3–13, y 3–13 of the 20 x 20 input"


def test_top9_patches_say_when_each_is_the_whole_image_and_when_grey_shows() -> None:
    """A walk saw layer3's nine patches, each a whole photo, captioned '(mid-grey: past the image's edge)'."""
    from explain.figures.top9 import patches_text
    from explain.methods.deconvnet import TopActivation

    def top(box, tile):
        return TopActivation(0, 0, (0, 0), 1.0, torch.zeros(3, 64, 64), box, tile)

    whole = [top((0, 0, 64, 64), (0, 0, 64, 64))] * 9
    assert patches_text(whole, 211, (64, 64)) == (
        "image patches under each unit's 211 x 211-pixel receptive field, each covering the whole 64 x 64 image: "
        "each patch is the whole image"
    )
    edge = [top((0, 4, 8, 16), (-4, 4, 8, 16))] + [top((4, 4, 15, 15), (4, 4, 15, 15))] * 8
    assert patches_text(edge, 11, (64, 64)) == (
        "image patches under each unit's 11 x 11-pixel receptive field (mid-grey: past the image's edge)"
    )
    assert patches_text(edge[1:], 11, (64, 64)) == "image patches under each unit's 11 x 11-pixel receptive field"


def test_boxes_and_grid_positions_are_said_in_words() -> None:
    from explain.methods.deconvnet import box_text, position_text

    assert box_text((11, 15, 38, 42), (64, 64)) == "x 11–37, y 15–41 of the 64 x 64 input"  # x1, y1 exclusive
    # counted from 1, as the channel grid's tiles are (a walk read a 0-based row and column beside 1-based tiles)
    assert position_text((7, 6), (16, 12)) == "row 8, column 7 of its 12 x 16 map"
    assert position_text((0, 0), (2, 2)) == "row 1, column 1 of its 2 x 2 map"  # the top-left cell
    assert position_text((15, 11), (16, 12)) == "row 16, column 12 of its 12 x 16 map"  # the bottom-right one


def test_a_receptive_field_past_the_image_keeps_its_square_in_a_tile() -> None:
    """Units near the edge: the tile is the whole field, mid-grey outside the image, the image part unstretched."""
    from explain.figures.render import OUTSIDE, crop_tile

    image = np.arange(10 * 10 * 3, dtype=np.uint8).reshape(10, 10, 3)
    tile = crop_tile(image, (-4, 2, 4, 10), size=8)  # an 8 x 8 field half past the left edge
    assert (tile[:, :4] == OUTSIDE).all() and (tile[:, 4:] == image[2:10, 0:4]).all()
    assert (crop_tile(image, (2, 2, 6, 6), size=4) == image[2:6, 2:6]).all()  # inside: the region itself
    from explain.methods.deconvnet import Geometry

    geo = Geometry(stride=4, size=11, start=1.5)
    x0, y0, x1, y1 = geo.field((0, 0))
    assert x0 < 0 and y0 < 0 and geo.box((0, 0), (10, 10)) == (0, 0, x1, y1)  # the box: the field, clipped


def test_a_tile_squares_the_clipped_box_off_the_image_without_shrinking_it_into_a_huge_field() -> None:
    """An edge unit's tile runs past the image only as far as squaring its clipped box needs; a field far larger than
    the image (a deep layer's 435 px on 64 px) tiles the image itself, not a 2% speck of it (a review finding)."""
    from explain.methods.deconvnet import Geometry

    edge = Geometry(stride=4, size=11, start=1.5)
    assert edge.box((2, 0), (20, 20)) == (0, 4, 8, 16) and edge.tile((2, 0), (20, 20)) == (-4, 4, 8, 16)
    deep = Geometry(stride=32, size=435, start=15.5)
    assert deep.tile((1, 1), (64, 64)) == deep.box((1, 1), (64, 64)) == (0, 0, 64, 64)
    inside = Geometry(stride=4, size=11, start=1.5)
    assert inside.tile((2, 2), (20, 20)) == inside.box((2, 2), (20, 20))  # whole: nothing to square off


def test_an_image_set_is_prepared_for_the_scan_as_the_page_prepares_it():
    """A notebook review passed `bundled_set()` to `top9_montages` as it is; `prepare_set` gives its names and the
    stacked input, each image as `prepare` makes it, at most MAX_SET_IMAGES."""
    from explain import bundled_set, prepare, prepare_set
    from explain.inputs.image_sets import MAX_SET_IMAGES

    _, info = load_classifier(BUNDLED_CLASSIFIER)
    named = bundled_set(n_generated=3)
    names, x = prepare_set(named, info.preprocess)
    assert names == [name for name, _ in named] and x.shape == (len(named), 3, 64, 64)
    assert torch.equal(x[-1:], prepare(named[-1][1], info.preprocess))
    assert len(prepare_set(named[:1] * (MAX_SET_IMAGES + 1), info.preprocess)[0]) == MAX_SET_IMAGES
