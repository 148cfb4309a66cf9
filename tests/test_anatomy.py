"""The anatomy table against torchvision's own shapes and parameter counts, and receptive fields against the
values worked out by hand; the residual block's two paths; the lecture's loop, run in pieces or at once."""

from __future__ import annotations

import pytest
import torch
import torchvision

from explain.methods.anatomy import (
    anatomy,
    anatomy_columns,
    block_paths,
    blocks,
    field_text,
    lecture_blocks,
    residual_blocks,
)
from models.architectures import ARCHITECTURES
from models.experiments.lecture_loop import LectureLoop, LoopConfig, loop_code, run
from models.nets.resnet import ResNet18

pytestmark = pytest.mark.training  # trains networks for real (seconds each)

IMAGE = torch.zeros(1, 3, 224, 224)


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "alexnet", "vgg16"])
def test_parameters_and_shapes_match_torchvision(name):
    arch = ARCHITECTURES[name]
    rows = anatomy(arch.build().eval(), IMAGE)  # on the meta device: shapes without computing
    with torch.device("meta"):  # torchvision's own network and forward, shapes only
        model = getattr(torchvision.models, name)().eval()
    leaves = {r.name: r for r in rows if r.leaf}
    assert sum(r.params for r in leaves.values()) == arch.published_params  # torchvision's own count
    assert sum(r.params for r in blocks(rows)) == arch.published_params
    image = IMAGE.to("meta")
    with torch.no_grad():  # torchvision's shapes, module by module
        assert leaves[list(leaves)[-1]].shape == tuple(model(image).shape[1:]) == (1000,)
        if name.startswith("resnet"):
            x = model.maxpool(model.relu(model.bn1(model.conv1(image))))
            for stage in ("layer1", "layer2", "layer3", "layer4"):
                x = getattr(model, stage)(x)
                last = next(r for r in rows if r.name == stage)
                assert last.shape == tuple(x.shape[1:])
        else:
            assert next(r for r in rows if r.name == "features").shape == tuple(model.features(image).shape[1:])


# Worked by hand with r_out = r_in + (k - 1) j_in and j_out = j_in s: the 7x7 stride-2 stem gives 7 (jump 2), the
# 3x3 stride-2 max-pool 7 + 2 x 2 = 11 (jump 4); each 3x3 conv adds 2 x jump: layer1's four add 8 each (43),
# layer2's first 8 at jump 4 (51, now jump 8) and three more 16 each (99), layer3 115 then 211, layer4 243 then 435.
HAND = {
    "layer1.0": (27, 4),
    "layer1.1": (43, 4),
    "layer2.0": (67, 8),
    "layer2.1": (99, 8),
    "layer3.0": (147, 16),
    "layer3.1": (211, 16),
    "layer4.0": (307, 32),
    "layer4.1": (435, 32),
}


@pytest.mark.parametrize("model", [ResNet18(10, width=0.25), torchvision.models.resnet18()], ids=["own", "torchvision"])
def test_receptive_fields_of_resnet18_match_the_hand_computation(model):
    rows = {r.name: r for r in anatomy(model.eval(), torch.zeros(1, 3, 64, 64))}
    for name, (field, jump) in HAND.items():
        assert (rows[name].field, rows[name].jump) == (field, jump), name
    stem = rows["layer0.1"] if "layer0.1" in rows else rows["maxpool"]
    assert (stem.field, stem.jump) == (11, 4)
    assert field_text(rows["avgpool"]) == "whole image" and field_text(rows["fc"]) == "whole image"
    columns = anatomy_columns(list(rows.values()))  # Build's table, as a notebook gets it
    i = columns["layer"].index("layer1")
    assert (
        columns["receptive field"][i] == field_text(rows["layer1"])
        and columns["parameters"][i] == rows["layer1"].params
    )
    assert columns["output shape"][i] == " x ".join(map(str, rows["layer1"].shape))


def test_receptive_fields_of_plain_stacks():
    """AlexNet's last conv stage sees 195 pixels and VGG-16's 212 (Araujo et al., Distill 2019, Table 1)."""
    alex = {r.name: r for r in anatomy(ARCHITECTURES["alexnet"].build().eval(), IMAGE)}
    vgg = {r.name: r for r in anatomy(ARCHITECTURES["vgg16"].build().eval(), IMAGE)}
    assert alex["features.12"].field == 195 and vgg["features.30"].field == 212
    assert not alex["avgpool"].whole_image  # 6 x 6 cells, each seeing 195 px
    # After the flatten every unit sees all 36 cells: 195 + 5 x 32 = 355 px, more than the 224-px input.
    assert field_text(alex["classifier.0"]) == field_text(alex["classifier.6"]) == "whole image"
    digits = {r.name: r for r in anatomy(ARCHITECTURES["digits-net"].build().eval(), torch.zeros(1, 1, 64, 64))}
    assert digits["features.8"].shape[1:] == (1, 1) and digits["features.8"].whole_image  # one cell, 131 px wide


def test_a_residual_blocks_two_paths():
    found = residual_blocks(ResNet18(10))
    assert list(found)[:3] == ["layer1.0", "layer1.1", "layer2.0"]
    main, shortcut = block_paths(found["layer2.0"])
    assert main == ["3x3 conv, 128, stride 2", "BatchNorm", "ReLU", "3x3 conv, 128", "BatchNorm"]
    assert shortcut == ["1x1 conv, 128, stride 2", "BatchNorm"]
    assert block_paths(found["layer1.1"])[1] == []  # the identity
    assert residual_blocks(torchvision.models.alexnet()) == {}
    # in the order the forward pass calls the layers (a fidelity review: the lecture's block declares conv1,
    # shortcut, conv2, bn1, bn2 and was drawn in that order, its ReLU before the sum missing); torchvision's in-place
    # ReLU and sum are told apart too, and Bottleneck's three convolutions come in order
    from models.nets.lecture_resnet import Network

    lecture = residual_blocks(Network(width=0.25))
    assert block_paths(lecture["layer2.0"])[0] == [
        "3x3 conv, 32, stride 2",
        "BatchNorm",
        "ReLU",
        "3x3 conv, 32",
        "BatchNorm",
        "ReLU",
    ]
    assert block_paths(residual_blocks(torchvision.models.resnet18())["layer2.0"]) == (main, shortcut)
    bottleneck = block_paths(residual_blocks(torchvision.models.resnet50())["layer1.0"])[0]
    assert [p.split(",")[0] for p in bottleneck if "conv" in p] == ["1x1 conv", "3x3 conv", "1x1 conv"]
    assert bottleneck.count("ReLU") == 2 and bottleneck[-1] == "BatchNorm"


def test_a_residual_block_is_said_in_words_beside_its_drawing():
    """Build's block code now runs the full width below the drawing (a walk: wrapped mid-expression beside it); the
    place beside the drawing says the two paths and the sum."""
    from explain.methods.anatomy import block_text

    found = residual_blocks(ResNet18(10))
    said = block_text(*block_paths(found["layer2.0"]))
    assert said.startswith("**Main path:** 3x3 conv, 128, stride 2 → BatchNorm → ReLU → 3x3 conv, 128 → BatchNorm")
    assert "**Shortcut:** 1x1 conv, 128, stride 2 → BatchNorm (a projection" in said
    assert said.endswith("**Then:** the two are added, then a ReLU.")
    assert "**Shortcut:** the identity: the input itself, added unchanged" in block_text(
        *block_paths(found["layer1.1"])
    )


def test_the_loop_in_pieces_equals_the_loop_at_once_and_follows_steplr():
    config = LoopConfig(setup="resnet-digits", epochs=2, batch_size=256, step_size=1, gamma=0.5)  # 5 steps/epoch
    whole = run(config).history
    pieces = LectureLoop(config)
    while not pieces.done:  # stopped and resumed every 3 steps
        pieces.advance(3)
    assert pieces.history == whole
    per_epoch = len(whole.step) // 2
    assert whole.lr[0] == 3e-4 and whole.lr[-1] == 1.5e-4 and whole.lr[per_epoch - 1] == 3e-4
    assert len(whole.test_accuracy) == 2 and whole.train_accuracy[-1] > 0.5  # it learns (chance is 0.1)
    assert set(whole.grad_norms) == {"layer0", "layer1", "layer2", "layer3", "layer4", "fc"}


def test_forgetting_the_scheduler_keeps_the_rate_and_the_code_says_so():
    forgot = LoopConfig(setup="resnet-digits", epochs=2, batch_size=256, step_size=1, scheduler_step=False)
    loop = LectureLoop(forgot)
    loop.advance(loop.total_steps)
    assert set(loop.history.lr) == {3e-4}
    assert "# lr_scheduler.step()" in loop_code(forgot) and "    lr_scheduler.step()" in loop_code(LoopConfig())


def test_the_digits_network_groups_its_gradient_norms_by_layer():
    from models.experiments.lecture_loop import layer_groups, network

    assert list(layer_groups(network("digits"))) == [
        "features.0",
        "features.3",
        "features.6",
        "classifier.2",
        "classifier.5",
        "classifier.7",
    ]


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"epochs": 31}, {"lr": 5.0}, {"setup": "imagenet"}, {"gamma": 0}])
def test_the_loop_refuses_settings_out_of_bounds(bad):
    with pytest.raises(ValueError):
        LoopConfig(**bad)


@pytest.mark.parametrize("build", [torchvision.models.resnet18, lambda: ResNet18(10), torchvision.models.resnet50])
def test_the_lecture_draws_the_block_that_halves_the_resolution_first(build):
    """#26: the Build page's block choice, from the modules (it once matched "stride 2" in a display string)."""
    found = residual_blocks(build())
    projecting, plain = lecture_blocks(found)
    assert projecting == "layer2.0"  # ResNet-50's layer1.0 projects too, without halving the resolution
    assert block_paths(found[plain])[1] == [] and block_paths(found[projecting])[1][0].endswith("stride 2")


def test_every_architecture_says_what_input_it_takes():
    """#26: the input comes from the architecture's `takes`, not from its title."""
    from PIL import Image

    from models.architectures import architecture_input

    image = Image.new("RGB", (50, 40))
    shapes = {name: tuple(architecture_input(name, image).shape) for name in ARCHITECTURES}
    assert shapes["digits-net"] == (1, 1, 64, 64) and ARCHITECTURES["digits-net"].takes == "digits"
    assert shapes["own-resnet18"] == (1, 3, 64, 64) and ARCHITECTURES["own-resnet18"].takes == "shapes"
    assert all(shapes[n] == (1, 3, 224, 224) for n in ("resnet18", "resnet50", "alexnet", "vgg16"))


def test_an_adaptive_pool_that_copies_values_is_named_with_what_it_costs():
    """#28: at 64 x 64 the digits net's AdaptiveAvgPool2d makes 256 x 1 x 1 into 256 x 6 x 6, feeding a 4.7 M-parameter
    Linear with 256 distinct numbers; the page says so. ResNet-18's global pool shrinks its map: nothing to say."""
    from explain.methods.anatomy import upsampling_pool_note

    digits = anatomy(ARCHITECTURES["digits-net"].build().eval(), torch.zeros(1, 1, 64, 64))
    note = upsampling_pool_note(digits)
    assert "1 x 1 map 6 x 6 by copying each value 36 times" in note and "4,719,104 parameters for 256" in note
    assert upsampling_pool_note(anatomy(ARCHITECTURES["resnet18"].build().eval(), IMAGE)) == ""


def test_the_gradient_norms_are_coloured_by_depth_each_layer_its_own():
    """A walk: the gradient-norm panel cycled the palette, three layers in near reds. Each layer now has its own
    colour along Viridis, darkest at the input, so depth reads from the colour."""
    from plotly.colors import hex_to_rgb, unlabel_rgb

    from explain.figures.training_loop import loop_figure

    loop = LectureLoop(LoopConfig(setup="resnet-digits", epochs=1, batch_size=256))
    loop.advance(2)
    lines = [t for t in loop_figure(loop.history, loop.steps_per_epoch).data if t.legendgroup == "grads"]
    assert [t.name for t in lines] == ["layer0", "layer1", "layer2", "layer3", "layer4", "fc"]
    colours = [unlabel_rgb(t.line.color) if t.line.color.startswith("rgb") else hex_to_rgb(t.line.color) for t in lines]
    assert len(set(colours)) == len(lines)
    assert lines[0].legendgrouptitle.text == "layers, input to output"
    brightness = [sum(c) for c in colours]  # Viridis brightens from its dark purple towards green
    assert brightness == sorted(brightness)


def test_the_accuracy_panel_reads_in_percent_as_the_numbers_beside_it():
    """A walk: the Accuracy panel's axis ran 0 to 1 beside 'test accuracy 93.4%'."""
    from explain.figures.training_loop import loop_figure

    loop = LectureLoop(LoopConfig(setup="digits", epochs=1, batch_size=256))
    loop.advance(1)
    figure = loop_figure(loop.history, loop.steps_per_epoch)
    assert figure.layout.annotations[1].text == "Accuracy" and figure.layout.yaxis2.tickformat == ".0%"
    from explain.figures.training_loop import scheduler_figure

    loop.advance(loop.total_steps)  # an epoch's test accuracy, for the comparison's first panel
    both = scheduler_figure(loop.history, loop.history, loop.steps_per_epoch)
    assert both.layout.annotations[0].text == "Test accuracy" and both.layout.yaxis.tickformat == ".0%"


def test_the_rate_panel_is_ticked_at_the_rates_the_runs_trained_at():
    """#28 follow-up: the scheduler comparison's Rate panel read "1.0e-3 ... 0.0e+0", ticks between the rates used;
    now they are the rates themselves (StepLR's halvings) and 0, or evenly spaced when there are many."""
    from explain.figures.training_loop import MAX_RATE_TICKS, rate_ticks

    ticks = rate_ticks([[1e-3, 1e-3, 5e-4, 2.5e-4], [1e-3] * 4])
    assert ticks == {"tickvals": [0.0, 2.5e-4, 5e-4, 1e-3], "ticktext": ["0", "0.00025", "0.0005", "0.001"]}
    assert rate_ticks([[3e-4, 1.5e-4, 7.5e-5]])["ticktext"] == ["0", "0.000075", "0.00015", "0.0003"]
    many = [[1e-3 * 0.5**i for i in range(MAX_RATE_TICKS + 1)]]
    assert rate_ticks(many) == {"tickformat": ".2g"}


def test_the_scheduler_comparison_keeps_its_epoch_ticks_apart_and_room_for_the_rate_labels():
    """A walk: twenty epoch ticks per panel ran together, and the rate's labels ran into the loss panel."""
    from explain.figures.training_loop import scheduler_figure
    from models.experiments.lecture_loop import LoopHistory

    epochs = list(range(1, 21))
    h = LoopHistory(
        step=list(range(1, 41)),
        lr=[3e-4 * 0.5 ** (s // 10) for s in range(40)],
        epoch=epochs,
        test_loss=[1.0] * 20,
        test_accuracy=[0.5] * 20,
    )
    fig = scheduler_figure(h, h, 2)
    assert {fig.layout[f"xaxis{i}"].dtick for i in ("", "2", "3")} == {4}  # about six ticks over 20 epochs
    assert fig.layout.xaxis2.domain[0] - fig.layout.xaxis.domain[1] >= 0.12


def test_a_loop_that_memorised_its_images_says_so_with_chance_beside_it():
    """A walk saw 'test accuracy 23.5%' for ResNet-18 on a few shapes, train 100%, and no word on why."""
    from types import SimpleNamespace

    from models.experiments.lecture_loop import LoopHistory, memorised_note

    def loop(train: float, test: float):
        h = LoopHistory(epoch=[1], train_accuracy=[train], test_accuracy=[test])
        return SimpleNamespace(history=h, classes=list("abcdef"), y_train=list(range(60)))

    assert memorised_note(loop(1.0, 0.235)) == (
        "Train accuracy 100% against test 24% (chance: 17% for 6 classes): the network memorised its 60 training "
        "images instead of learning the classes; more images, or augmentation, is what helps."
    )
    assert memorised_note(loop(0.95, 0.9)) == "" and memorised_note(SimpleNamespace(history=LoopHistory())) == ""


def test_the_field_note_names_residual_blocks_only_where_there_are_some_and_fields_past_the_input():
    from explain.methods.anatomy import field_note

    resnet = ARCHITECTURES["resnet18"].build().eval()
    note = field_note(anatomy(resnet, IMAGE), resnet, 224)
    assert "residual block" in note and "wider than the 224-px input reaches past its edge" in note  # 435 px
    alex = ARCHITECTURES["alexnet"].build().eval()
    assert "residual" not in field_note(anatomy(alex, IMAGE), alex, 224)
