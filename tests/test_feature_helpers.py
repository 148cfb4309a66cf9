import os

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from explain.figures.render import montage
from explain.inputs.image_sets import bundled_set, folder_set
from explain.methods.filters import feature_maps, filter_images
from explain.methods.occlusion import occlusion_sensitivity, positions
from models.classifiers import BUNDLED_CLASSIFIER, load_classifier
from models.devices import on_model_device
from tests.hostile_files import BAD, GOOD
from tests.on_device import tolerance


@pytest.mark.parametrize("name, count, size", [("alexnet", 64, 11), ("vgg16", 64, 3), ("resnet50", 64, 7)])
def test_first_layer_filters_become_rgb_tiles(name, count, size):
    tiles = filter_images(torchvision.models.get_model(name))
    assert tiles.shape == (count, size, size, 3) and tiles.dtype == np.uint8


def test_a_grey_input_networks_filters_are_grey_tiles_and_others_are_refused_in_words():
    """A walk kept the course's digits net (one grey input channel) from Build and Features crashed on its filters."""
    from models.nets.digits_nets import DigitsConvNet

    tiles = filter_images(DigitsConvNet(batchnorm=False))
    assert tiles.shape == (64, 11, 11) and tiles.dtype == np.uint8
    with pytest.raises(ValueError, match="takes 2 channels: neither grey nor RGB"):
        filter_images(torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3)))


def test_what_a_grey_input_network_sees_is_drawn_grey():
    """A one-channel network's input, its reconstructions and the crop it sees are pictures in grey (the top-9 scan
    crashed on a 1 x H x W projection; Attributions showed the photo in colour as what the network sees)."""
    from PIL import Image

    from explain.figures.render import input_image, symmetric_image
    from explain.methods.classify import model_view
    from models.own import OwnCard, preprocess_of

    assert np.all(input_image(torch.full((1, 1, 4, 4), 0.5), (0.0,), (1.0,)) == 128)
    assert symmetric_image(torch.ones(1, 4, 4)).shape == (4, 4, 3)
    card = OwnCard("digits-net", tuple("0123456789"), 64, 1, (0.3,), (0.3,), 1.0, "net", 0.9, "trained", {})
    seen = model_view(Image.new("RGB", (80, 80), (200, 30, 30)), preprocess_of(card))
    assert seen.shape == (80, 80, 3) and len(set(seen[0, 0])) == 1  # grey: its three channels equal


def test_zero_weight_is_mid_grey():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 1, 3))
    model[0].weight.data.zero_()
    model[0].weight.data[0, 0, 0, 0] = 1.0
    tiles = filter_images(model)
    assert tiles[0, 0, 0, 0] == 255 and tiles[0, 1, 1, 1] == 128


def test_the_filters_smoothness_is_measured_and_the_bundled_networks_explained():
    """A walk found the bundled network's layer-1 filters looking like noise with no word on it: the caption measures
    how smooth they are (neighbouring weights' correlation) and says where the paper's filters come from."""
    from explain.methods.filters import filters_note, first_conv, neighbour_correlation

    torch.manual_seed(0)
    noise, smooth = torch.nn.Conv2d(3, 64, 7), torch.nn.Conv2d(3, 64, 7)
    ramp = torch.linspace(-1, 1, 7)
    smooth.weight.data = (ramp[None, None, :, None] + ramp[None, None, None, :]).expand(64, 3, 7, 7).clone()
    assert abs(neighbour_correlation(noise)) < 0.1 and neighbour_correlation(smooth) > 0.9
    noise.weight.data += 10 * torch.randn(64, 1, 1, 1)  # a level per filter is no smoothness (uncentred: 0.99)
    assert abs(neighbour_correlation(noise)) < 0.1
    assert (
        neighbour_correlation(torch.nn.Conv2d(3, 8, 1)) is None and filters_note(torch.nn.Conv2d(3, 8, 1), "own") == ""
    )
    _, conv = first_conv(load_classifier(BUNDLED_CLASSIFIER)[0])
    note = filters_note(conv, "bundled")
    assert note.startswith(f"Neighbouring weights correlate {neighbour_correlation(conv):.2f}") and "ImageNet" in note
    assert "to compare" not in filters_note(conv, "cache")  # an ImageNet network's own filters: no pointer
    # offline, with no ImageNet weights cached, it says they cannot be shown (a walk: 'pick AlexNet' led in a
    # circle to the same bundled network); with some cached, it names them
    assert "this server has no ImageNet weights and cannot download them" in note
    assert "to compare, pick AlexNet or ResNet-18, whose" in filters_note(conv, "bundled", ["AlexNet", "ResNet-18"])


def test_feature_maps_come_sorted_by_strength():
    model, _ = load_classifier(BUNDLED_CLASSIFIER)
    fmap, order = feature_maps(model, torch.randn(1, 3, 64, 64), "layer1")
    peaks = fmap.flatten(1).amax(1)
    assert sorted(order) == list(range(fmap.shape[0]))
    assert (peaks[order][:-1] >= peaks[order][1:]).all()


def test_montage_layout():
    grid = montage(np.zeros((5, 4, 4, 3), np.uint8), cols=3, pad=1, scale=2)
    assert grid.shape == (2 * 9 + 1, 3 * 9 + 1, 3)
    assert (grid[0, 0] == 255).all()  # colour tiles: white gaps


def test_grey_tiles_are_parted_by_a_colour_that_no_grey_tile_holds():
    """A walk: 2 x 2 maps, each with a white cell, ran together across white gaps into one checkerboard."""
    from explain.figures.render import GRID

    grid = montage(np.full((4, 2, 2), 255, np.uint8), cols=2, pad=2, scale=3)
    assert tuple(grid[0, 0]) == GRID and len(set(GRID)) > 1  # not a grey
    assert (grid[2:8, 2:8] == 255).all() and tuple(grid[2, 8]) == GRID  # a tile, then the gap beside it


def test_occlusion_positions_reach_the_far_edge():
    assert positions(10, 4, 3).tolist() == [0, 3, 6]
    assert positions(11, 4, 3).tolist() == [0, 3, 6, 7]


def test_occlusion_sensitivity_shapes_and_meaning():
    model, _ = load_classifier(BUNDLED_CLASSIFIER)
    x = torch.randn(1, 3, 64, 64)
    maps = occlusion_sensitivity(model, x, "layer1", 2, 3, window=16, stride=8, batch_size=10)
    assert maps.activation.shape == maps.probability.shape == maps.label.shape == (7, 7)
    assert ((maps.probability >= 0) & (maps.probability <= 1)).all()
    whole = occlusion_sensitivity(model, x, "layer1", 2, 3, window=64, stride=64)
    with torch.no_grad():
        grey = torch.softmax(model(on_model_device(model, torch.zeros_like(x))), 1)[0, 3].item()
    assert whole.probability.shape == (1, 1) and whole.probability[0, 0] == pytest.approx(grey, rel=tolerance(1e-5))


def test_bundled_image_set_holds_photos_and_generated_images():
    images = bundled_set(n_generated=6, size=64)
    names = [n for n, _ in images]
    assert "astronaut (photo)" in names and sum(n.startswith("generated #") for n in names) == 6
    assert all(im.mode == "RGB" for _, im in images)


def test_folder_set_reads_only_under_its_root(tmp_path):
    root = tmp_path / "root"
    (root / "mine" / "sub").mkdir(parents=True)
    (root / "mine" / "a.png").write_bytes(GOOD["rgb.png"])
    (root / "mine" / "sub" / "b.jpg").write_bytes(GOOD["rgb.jpg"])
    (root / "mine" / "broken.png").write_bytes(BAD["truncated.png"])
    (root / "mine" / "notes.txt").write_text("not an image")
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "s.png").write_bytes(GOOD["rgb.png"])
    os.symlink(outside / "s.png", root / "mine" / "link.png")
    os.symlink(outside, root / "escape")

    images, problems = folder_set("mine", root=root)
    assert sorted(n for n, _ in images) == ["a.png", "sub/b.jpg"]
    assert any("broken.png" in p for p in problems) and any("link.png" in p for p in problems)
    for bad in ("..", "../secret", "escape", "/etc"):
        with pytest.raises(ValueError, match="Only folders under"):
            folder_set(bad, root=root)
    with pytest.raises(ValueError, match="no folder"):
        folder_set("missing", root=root)
    assert len(folder_set("mine", limit=1, root=root)[0]) == 1
    (root / "junk").mkdir()
    (root / "junk" / "broken.png").write_bytes(BAD["truncated.png"])
    with pytest.raises(ValueError, match=r"None of the 1 image files there could be read \(broken.png: "):
        folder_set("junk", root=root)  # a review: the scan then met an empty batch and raised


def test_the_folders_listed_are_under_the_root_and_bounded(tmp_path):
    from explain.inputs.image_sets import image_folders

    assert image_folders(root=tmp_path / "none") == []
    root = tmp_path / "root"
    for name in ("b", "a/x", "a/y"):
        (root / name).mkdir(parents=True)
    (root / "a" / "p.png").write_bytes(GOOD["rgb.png"])
    os.symlink(tmp_path, root / "escape")  # a link to a folder outside is not followed or listed
    assert image_folders(root=root) == [".", "a", "a/x", "a/y", "b"]
    assert image_folders(root=root, most=3) == [".", "a", "b"]  # cut level by level: the top level first


def test_a_hostile_image_tree_is_listed_and_read_without_a_traceback(tmp_path, monkeypatch):
    """A loopback attack: a folder named in bytes that are not UTF-8 broke the page (Streamlit could not send it), a
    deep or crowded tree hid the folders beside it, a looping link raised RuntimeError, and a 3 GB file was read
    whole (4.1 GB of the server)."""
    from explain.inputs import image_sets

    root = tmp_path / "root"
    (root / "crowded").mkdir(parents=True)
    for i in range(30):
        (root / "crowded" / f"sub{i:02d}").mkdir()
    (root / "photos").mkdir()
    os.mkdir(os.fsencode(root) + b"/bad\xffname")
    listed = image_sets.image_folders(root=root, most=10)
    assert listed[:2] == [".", "crowded"] and "photos" in listed and len(listed) == 10  # the top level first
    assert all("bad" not in name for name in listed)  # not sendable: left out
    (root / "photos" / "a.png").write_bytes(GOOD["rgb.png"])
    os.symlink(root / "photos" / "loop.png", root / "photos" / "loop.png")  # a link to itself
    monkeypatch.setattr(image_sets, "IMAGE_MB", 0)  # every real file is over the limit now
    with pytest.raises(
        ValueError, match=r"None of the 1 image files there could be read \(a\.png: skipped, it is over"
    ):
        image_sets.folder_set("photos", root=root)
    os.symlink(root / "loop", root / "loop")
    with pytest.raises(ValueError, match="a symbolic link loops"):
        image_sets.folder_files("loop", root=root)


def test_a_folder_of_many_images_neither_costs_its_files_nor_hides_the_folders_after_it(tmp_path, monkeypatch):
    """A review: the list walked every file, up to 20,000 entries in all, so a folder of 25,000 images hid the
    folders after it (and cost 0.12 s a rerun). Folders alone are descended into now."""
    from explain.inputs import image_sets

    monkeypatch.setattr(image_sets, "MAX_ENTRIES_READ", 30)
    (tmp_path / "a" / "inner").mkdir(parents=True)
    (tmp_path / "z").mkdir()
    for i in range(25):
        (tmp_path / "a" / f"{i:02d}.png").touch()
    assert image_sets.image_folders(root=tmp_path) == [".", "a", "a/inner", "z"]


def test_folder_images_are_rgb(tmp_path):
    Image.new("L", (9, 9)).save(tmp_path / "g.png")
    images, _ = folder_set(".", root=tmp_path)
    assert images[0][1].mode == "RGB"


def test_default_feature_layer_sees_a_part_of_the_picture():
    import torch

    from explain.methods.deconvnet import feature_layers, geometry
    from models.classifiers import load_classifier

    model, _ = load_classifier("shapes-resnet18")
    x = torch.zeros(1, 3, 64, 64)
    names, default = feature_layers(model, x)
    assert default in names and default == "layer1.0"  # the README's choice for the bundled 64-px model
    assert geometry(model, default).size <= 32


def test_the_outline_lists_the_top_two_levels_and_always_the_default():
    from explain.methods.deconvnet import outline_layers

    names = ["conv1", "layer1.0.conv1", "layer1.0", "layer1", "block.inner.deep"]
    assert outline_layers(names, "layer1") == ["conv1", "layer1.0", "layer1"]
    assert outline_layers(names, "block.inner.deep") == ["conv1", "layer1.0", "layer1", "block.inner.deep"]


def test_the_worst_occlusion_square_is_where_the_probability_is_lowest():
    """#26: the square the page draws comes from explain (a notebook draws the same one)."""
    from explain.methods.occlusion import OcclusionMaps

    probability = np.ones((3, 4))
    probability[2, 1] = 0.1
    maps = OcclusionMaps(
        probability, probability, np.zeros((3, 4), int), (np.array([0, 8, 16]), np.array([0, 8, 16, 24]))
    )
    assert maps.worst_square(10) == (8, 16, 18, 26)


def test_occlusion_maps_are_drawn_in_the_images_pixels_with_their_colour_bars_below():
    """#28: the maps were 65 px wide beside their colour bars, titled past their width, on axes of square positions."""
    from explain.figures.charts import occlusion_figures
    from explain.methods.occlusion import OcclusionMaps

    p = np.random.default_rng(0).random((3, 4))
    maps = OcclusionMaps(p, p, np.zeros((3, 4), int), (np.array([0, 8, 16]), np.array([0, 8, 16, 24])))
    for fig in occlusion_figures(maps, ["circle"], 0, "layer1.0 channel 3", window=10):
        # a square over pixels 0..9 is centred at 4.5 in pixel coordinates (a fidelity review: it was drawn at 5)
        assert list(fig.data[0].x) == [4.5, 12.5, 20.5, 28.5] and list(fig.data[0].y) == [4.5, 12.5, 20.5]
        assert fig.layout.xaxis.title.text == "x (pixels)" and fig.layout.coloraxis.colorbar.orientation == "h"
        assert len(fig.layout.title.text.split("<br>")[0]) <= 30  # the title's first line fits over the map


def test_a_flat_occlusion_map_says_why_and_names_no_worst_square():
    from explain.methods.occlusion import OcclusionMaps

    corners = (np.array([0, 8]), np.array([0, 8]))
    flat = OcclusionMaps(np.ones((2, 2)), np.full((2, 2), 0.998), np.zeros((2, 2), int), corners)
    assert "stays within 0.0%" in flat.flat_note(12, 64, "star")
    varied = OcclusionMaps(np.ones((2, 2)), np.array([[0.9, 0.2], [0.8, 0.9]]), np.zeros((2, 2), int), corners)
    assert varied.flat_note(12, 64, "star") == ""


def test_the_feature_map_grid_always_shows_the_chosen_channel_and_says_where():
    """A walk chose a channel outside the 32 strongest and found its map nowhere on the page."""
    from explain.methods.deconvnet import tiles_with

    order = list(range(40, 0, -1))  # 40 channels, strongest first
    shown, said = tiles_with(order, 30)
    strongest = ", ".join(map(str, order[:32]))
    assert shown == order[:32] and said == (
        f"the 32 channels with the strongest activations, strongest first: {strongest}. The chosen channel, 30, is "
        "tile 11 (row 2, column 3), framed in magenta."
    )
    # one outside the strongest is not listed among them (a walk read it named one of the 32, then "not among")
    shown, said = tiles_with(order, 3)
    assert shown == [*order[:31], 3] and said == (
        f"the 31 channels with the strongest activations, strongest first: {', '.join(map(str, order[:31]))}; then "
        "the chosen channel, 3, which is not among the 32 strongest, in the last tile, framed in magenta."
    )
    assert tiles_with([2, 0, 1], 1) == (
        [2, 0, 1],
        "the 3 channels with the strongest activations, strongest first: 2, 0, 1. The chosen channel, 1, is tile 3 "
        "(row 1, column 3), framed in magenta.",
    )


def test_a_channel_that_does_not_fire_says_there_is_nothing_to_project():
    """A walk chose a channel whose activations were all 0 and read its flat grey projection as broken."""
    from explain.methods.deconvnet import silent_note

    assert silent_note(5, 0.0).startswith("Channel 5 does not fire on this image: its strongest activation is 0,")
    assert silent_note(5, 0.2) == ""


def test_a_grids_chosen_tile_is_framed_and_the_others_are_not():
    """A walk looked for the chosen channel among 32 tiles with only the caption's row and column to go by."""
    from explain.figures.render import GRID, MARK

    grid = montage(np.full((5, 4, 4), 200, np.uint8), cols=3, pad=2, mark=4)  # tile 4: row 2, column 2
    top, left = 2 + 1 * 6, 2 + 1 * 6
    frame = np.ones(grid.shape[:2], bool)
    frame[top - 2 : top + 6, left - 2 : left + 6] = False
    assert (grid[top - 2 : top + 6, left - 2 : left + 6][[0, -1]] == MARK).all()  # the frame's top and bottom rows
    assert (grid[top : top + 4, left : left + 4] == 200).all()  # the tile itself untouched
    assert not (grid[frame] == MARK).all(axis=-1).any() and tuple(grid[0, 0]) == GRID  # nowhere else


def test_a_layer_no_longer_listed_falls_to_the_block_that_holds_it():
    from explain.methods.deconvnet import enclosing_layer

    shown = ["layer0.0", "layer2.0", "layer2"]
    assert enclosing_layer("layer2.0.bn1", shown) == "layer2.0"
    assert enclosing_layer("layer2.1.conv1", shown) == "layer2"
    assert enclosing_layer("head.fc", shown) == "layer0.0"
