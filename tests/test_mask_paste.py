"""The batched mask paste gives torchvision's paste, and the detectors that use it give torchvision's detections."""

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.models.detection.roi_heads import paste_masks_in_image
from torchvision.models.detection.transform import GeneralizedRCNNTransform

import models.mask_paste
from models.data.shapes import make_scene
from models.detectors import BUNDLED_DETECTOR, detector_input, load_detector
from models.devices import model_device
from models.mask_paste import BatchedPasteTransform, paste_masks, use_batched_paste
from tests.on_device import TEST_DEVICE

ROUNDING = 2e-6  # float32 rounding of values in [0, 1]: the two compute the same taps and weights, in other kernels


def random_masks(n: int, h: int, w: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n mask probabilities (28 x 28) and boxes inside an h x w image, as a detector gives them: some at the image's
    edges (the expanded box then leaves the image), some under a pixel wide, one the whole image."""
    g = torch.Generator().manual_seed(seed)
    masks = torch.rand(n, 1, 28, 28, generator=g)
    corner = torch.rand(n, 2, generator=g) * torch.tensor([w * 0.8, h * 0.8])
    size = torch.rand(n, 2, generator=g) * torch.tensor([w * 0.5, h * 0.5])
    size[: n // 5] *= 0.002  # under a pixel
    boxes = torch.cat([corner, corner + size], 1)
    boxes[n // 5 : 2 * n // 5, :2] = 0  # at the top-left edge
    boxes[2 * n // 5 : 3 * n // 5, 2:] = torch.tensor([w, h], dtype=torch.float32)  # at the bottom-right edge
    boxes[n - 1 :] = torch.tensor([0, 0, w, h], dtype=torch.float32)  # (none when n is 0)
    return masks.to(TEST_DEVICE), boxes.to(TEST_DEVICE)


def assert_same_masks(ours: torch.Tensor, library: torch.Tensor) -> None:
    """Equal to float rounding, and the same pixels above 0.5 except where the library's value is within rounding."""
    assert ours.shape == library.shape and ours.dtype == library.dtype
    assert (ours - library).abs().max().item() <= ROUNDING
    flipped = (ours > 0.5) != (library > 0.5)
    assert ((library - 0.5).abs()[flipped] <= ROUNDING).all()


@pytest.mark.parametrize(("n", "h", "w"), [(100, 480, 640), (10, 37, 53), (25, 300, 200), (1, 1, 1)])
def test_the_batched_paste_is_torchvisions_paste(n, h, w):
    masks, boxes = random_masks(n, h, w, seed=n + h)
    assert_same_masks(paste_masks(masks, boxes, (h, w)), paste_masks_in_image(masks, boxes, (h, w)))


def test_masks_that_are_not_square_and_boxes_turned_inside_out_paste_as_torchvision_pastes_them():
    """A review: the height's resize used the width's size (14 x 28 masks failed), and a box with x1 < x0, which
    torchvision resizes to one pixel and then pastes nowhere, filled a column."""
    masks, boxes = random_masks(12, 60, 80, seed=7)
    tall = masks[..., :14, :]
    assert_same_masks(paste_masks(tall, boxes, (60, 80)), paste_masks_in_image(tall, boxes, (60, 80)))
    inverted = torch.tensor([[20.0, 10.0, 15.0, 30.0], [10.0, 40.0, 30.0, 33.0]], device=masks.device)
    pasted = paste_masks(masks[:2], inverted, (60, 80))
    assert_same_masks(pasted, paste_masks_in_image(masks[:2], inverted, (60, 80)))
    assert not pasted.any()


def test_masks_in_half_precision_or_under_autocast_are_pasted_in_float32():
    """A review: bfloat16 masks failed, and under autocast the products ran in bfloat16 (values off by 4e-3, so a
    pixel near 0.5 could change side). The paste computes in float32 and returns the masks' dtype."""
    masks, boxes = random_masks(20, 50, 70, seed=9)
    library = paste_masks_in_image(masks, boxes, (50, 70))
    half = paste_masks(masks.bfloat16(), boxes, (50, 70))
    assert half.dtype == torch.bfloat16
    assert (half.float() - library).abs().max().item() <= 1e-2  # the masks' own bfloat16 rounding (2**-8 of 1)
    with torch.autocast(masks.device.type, dtype=torch.bfloat16):
        under_autocast = paste_masks(masks, boxes, (50, 70))
    assert under_autocast.dtype == torch.float32
    assert_same_masks(under_autocast, library)


def test_no_masks_paste_to_an_empty_batch_of_the_image_size():
    masks, boxes = random_masks(0, 20, 30, seed=0)
    assert paste_masks(masks, boxes, (20, 30)).shape == (0, 1, 20, 30)


def test_masks_pasted_in_chunks_are_the_same_masks(monkeypatch):
    masks, boxes = random_masks(40, 60, 70, seed=3)
    whole = paste_masks(masks, boxes, (60, 70))
    monkeypatch.setattr(models.mask_paste, "CHUNK_ELEMENTS", 3 * 60 * 70)  # three masks a pass, the last pass one
    chunked = paste_masks(masks, boxes, (60, 70))
    monkeypatch.setattr(models.mask_paste, "CHUNK_ELEMENTS", 1)  # an image larger than a chunk: one mask a pass
    one_by_one = paste_masks(masks, boxes, (60, 70))
    for pasted in (chunked, one_by_one):
        assert_same_masks(pasted, paste_masks_in_image(masks, boxes, (60, 70)))
        if TEST_DEVICE == "cpu":  # on a GPU, cuBLAS picks its kernel by batch size, and its rounding with it
            assert torch.equal(pasted, whole)


@torch.no_grad()
def test_a_detector_gives_torchvisions_detections_with_the_batched_paste(monkeypatch):
    import models.mask_paste

    monkeypatch.setattr(models.mask_paste, "BATCHED_ON", ("cpu", "cuda", "mps"))  # on the CPU too, to test it here
    calls = []  # and it runs (a review: on the CPU the library's loop would pass this test unseen)
    monkeypatch.setattr(models.mask_paste, "paste_masks", lambda *a: calls.append(a) or paste_masks(*a))
    model, _ = load_detector(BUNDLED_DETECTOR)
    assert type(model.transform) is BatchedPasteTransform
    scenes = [make_scene(np.random.default_rng(seed), 128, n_objects=4).image for seed in (5, 6)]
    images = [detector_input(Image.fromarray(scene), model_device(model)) for scene in scenes]
    ours = model(images)
    assert len(calls) == len(images)
    model.transform.__class__ = GeneralizedRCNNTransform  # the library's own transform, same state
    try:
        library = model(images)
    finally:
        use_batched_paste(model)
    assert all(len(out["boxes"]) for out in library)
    for out, expected in zip(ours, library, strict=True):
        for key in ("boxes", "labels", "scores"):
            assert torch.equal(out[key], expected[key])
        assert_same_masks(out["masks"], expected["masks"])


@torch.no_grad()
def test_on_the_cpu_a_detector_pastes_with_torchvisions_loop(monkeypatch):
    """On 2 CPU cores torchvision's per-mask paste was as fast as the batched one or faster (bench_detection), so the
    batched paste is for accelerators only."""
    import models.mask_paste

    calls = []
    monkeypatch.setattr(models.mask_paste, "paste_masks", lambda *a: calls.append(a) or paste_masks(*a))
    model, _ = load_detector(BUNDLED_DETECTOR, device=torch.device("cpu"))
    scene = make_scene(np.random.default_rng(5), 128, n_objects=4).image
    assert len(model([detector_input(Image.fromarray(scene), torch.device("cpu"))])[0]["masks"]) and calls == []


def test_models_without_an_rcnn_transform_are_left_as_they_are():
    model = torch.nn.Linear(2, 2)
    assert use_batched_paste(model) is model and not hasattr(model, "transform")
