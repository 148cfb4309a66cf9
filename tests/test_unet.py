import numpy as np
import pytest
import torch
from PIL import Image

from explain.figures.unet import colour_labels, u_figure
from explain.methods.segmentation import image_iou, level_maps, predict, score_image, wrong_pixels
from models.data.segmentation import CLASSES, SIZE, TEST_SEED, iou_scores, scene_set
from models.nets.unet import UNet
from models.segmenters import load_unet, unet_input


@pytest.mark.parametrize("skips", [True, False])
@pytest.mark.parametrize("hw", [(64, 64), (63, 77), (31, 9), (1, 1)])
def test_output_has_the_input_size_for_any_size(skips, hw):
    model = UNet(num_classes=7, base=4, depth=3, skips=skips).eval()
    assert model(torch.randn(2, 3, *hw)).shape == (2, 7, *hw)


def test_skips_concatenate_encoder_maps_and_the_ablation_does_not():
    full, ablated = UNet(base=8, skips=True), UNet(base=8, skips=False)
    assert [d[0].in_channels for d in full.decoder] == [64, 32, 16]
    assert [d[0].in_channels for d in ablated.decoder] == [32, 16, 8]
    assert isinstance(full.up[0], torch.nn.ConvTranspose2d) and full.up[0].stride == (2, 2)
    assert full.widths == [8, 16, 32, 64]


@pytest.fixture(scope="module")
def held_out():
    return scene_set(500, TEST_SEED)


@pytest.mark.parametrize("variant", ["full", "noskip"])
def test_committed_checkpoints_reproduce_their_reported_iou(variant, held_out):
    model, record = load_unet(variant, device="cpu")
    miou, per_class = iou_scores(model, *held_out)
    assert record.metrics["test_size"] == 500
    assert abs(miou - record.metrics["mean_iou"]) <= 0.01
    assert len(per_class) == len(CLASSES)


def test_the_full_unet_meets_its_target_and_beats_the_ablation():
    full = load_unet("full", device="cpu")[1].metrics["mean_iou"]
    noskip = load_unet("noskip", device="cpu")[1].metrics["mean_iou"]
    assert full >= 0.85 and full > noskip


def test_unknown_variant():
    with pytest.raises(ValueError, match="full"):
        load_unet("tiny")


def test_inspection_helpers():
    model, _ = load_unet("full", device="cpu")
    x = unet_input(Image.new("RGB", (120, 80), (200, 30, 30)))
    assert x.shape == (1, 3, SIZE, SIZE)
    maps = level_maps(model, x)
    assert next(iter(maps)).startswith("encoder 0") and list(maps)[-1] == "decoder 0"
    assert maps["decoder 0"].shape[-1] == SIZE and maps["encoder 3 (bottleneck)"].shape[-1] == SIZE // 8
    assert predict(model, x).shape == (SIZE, SIZE)
    assert len(u_figure(model, SIZE).layout.annotations) > 6
    assert colour_labels(np.zeros((2, 2), int)).shape == (2, 2, 3)


def test_iou_per_class():
    truth = np.array([[0, 1], [1, 1]])
    pred = np.array([[0, 1], [0, 1]])
    iou = image_iou(pred, truth, 3)
    assert iou[0] == pytest.approx(0.5) and iou[1] == pytest.approx(2 / 3) and np.isnan(iou[2])
    with pytest.raises(ValueError, match=r"the prediction is \(2, 2\) and the true labels \(4, 4\)"):
        score_image(pred, np.zeros((4, 4), np.int64), 3)


def test_an_image_is_scored_over_the_classes_it_has_and_stray_pixels_are_named():
    truth = np.zeros((20, 20), np.int64)
    truth[5:15, 5:15] = 1
    pred = truth.copy()
    pred[0, :4] = 3  # four stray pixels of a class the scene lacks
    score = score_image(pred, truth, 5)
    assert score.classes == (0, 1) and score.stray == {3: 4}
    assert score.mean_iou == pytest.approx((296 / 300 + 1.0) / 2)  # not dragged to 0.66 by class 3's IoU of 0
    assert np.nanmean(image_iou(pred, truth, 5)) == pytest.approx((296 / 300 + 1.0) / 3)
    assert score.pixel_accuracy == pytest.approx(396 / 400) and wrong_pixels(pred, truth).sum() == 4


def test_wrong_pixels_are_drawn_in_a_colour_no_class_has() -> None:
    """The error maps drew wrong pixels in the circle class's red, beside label maps where red means circle."""
    from explain.figures.unet import ERROR_COLOUR, LABEL_COLOURS, error_overlay

    assert min(np.abs(LABEL_COLOURS.astype(int) - np.array(ERROR_COLOUR)).sum(1)) > 150
    seen, wrong = np.full((4, 4, 3), 128, np.uint8), np.eye(4, dtype=bool)
    assert (error_overlay(seen, wrong)[wrong] == ERROR_COLOUR).all()


def test_the_diagrams_last_label_grows_away_from_its_box() -> None:
    """A walk: presenter mode's larger text pushed '1x1 conv → classes', centred beside the last box, into it. Its
    left edge now stands a gap from the box's right edge, and the axis leaves it room."""
    fig = u_figure(UNet(skips=True), 64)
    (label,) = [a for a in fig.layout.annotations if a.text.startswith("1x1 conv")]
    right = max(s.x1 for s in fig.layout.shapes)
    assert label.xanchor == "left" and label.x - right >= 0.1
    assert fig.layout.xaxis.range[1] - label.x >= 1.5


def test_the_diagrams_take_the_pages_theme_for_their_background_and_ink() -> None:
    """A walk with a dark system: Streamlit's dark theme gave the diagrams' labels light text on a white plot the
    residual block set, and the boxes read empty. Made white cards with dark ink, a later walk found them glaring on
    a dark projected page. Neither diagram sets a background or a text colour of its own, so the theme sets both; the
    boxes are translucent, read on either."""
    from explain.figures.anatomy import block_figure

    for fig in (u_figure(UNet(skips=True), 64), block_figure(["3x3 conv"], [], "layer1.0")):
        layout = fig.layout
        assert layout.paper_bgcolor is None and layout.plot_bgcolor is None
        assert layout.font.color is None and layout.title.font.color is None
        boxes = [a for a in layout.annotations if a.text and ("ch<br>" in a.text or "conv" in a.text)]
        assert boxes and all(a.font.color is None for a in boxes)
        assert all(s.fillcolor is None or s.fillcolor.startswith("rgba(") for s in layout.shapes)


def test_a_label_map_is_cropped_and_shrunk_as_the_image_is():
    """The truth of a generated sample on the U-Net page: its labels through the centre square and resize that
    `unet_input` gives the image (one `_square` serves both; checked here on the crop it must take), nearest label
    per pixel, so every value is a class."""
    import numpy as np

    from models.segmenters import unet_labels

    labels = np.zeros((40, 80), np.int64)
    labels[:, :20] = 3  # left of the centre square: cropped away
    labels[10:30, 30:50] = 5  # inside it
    out = unet_labels(labels, 20)
    assert out.shape == (20, 20) and out.dtype == np.int64 and set(np.unique(out)) == {0, 5}
    assert out[5:15, 5:15].min() == 5 and out[:5].max() == 0  # the square's middle, shrunk by 2
