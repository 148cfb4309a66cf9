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


def test_no_masks_paste_to_an_empty_batch_of_the_image_size():
    masks, boxes = random_masks(0, 20, 30, seed=0)
    assert paste_masks(masks, boxes, (20, 30)).shape == (0, 1, 20, 30)


def test_masks_pasted_in_chunks_are_the_same_masks(monkeypatch):
    masks, boxes = random_masks(40, 60, 70, seed=3)
    whole = paste_masks(masks, boxes, (60, 70))
    monkeypatch.setattr(models.mask_paste, "CHUNK_ELEMENTS", 3 * 60 * 70)  # three masks a pass, the last pass one
    chunked = paste_masks(masks, boxes, (60, 70))
    assert_same_masks(chunked, paste_masks_in_image(masks, boxes, (60, 70)))
    if TEST_DEVICE == "cpu":  # on a GPU, cuBLAS picks its kernel by batch size, and its rounding with it
        assert torch.equal(chunked, whole)


@torch.no_grad()
def test_a_detector_gives_torchvisions_detections_with_the_batched_paste():
    model, _ = load_detector(BUNDLED_DETECTOR)
    assert type(model.transform) is BatchedPasteTransform
    scenes = [make_scene(np.random.default_rng(seed), 128, n_objects=4).image for seed in (5, 6)]
    images = [detector_input(Image.fromarray(scene), model_device(model)) for scene in scenes]
    ours = model(images)
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


def test_models_without_an_rcnn_transform_are_left_as_they_are():
    model = torch.nn.Linear(2, 2)
    assert use_batched_paste(model) is model and not hasattr(model, "transform")
