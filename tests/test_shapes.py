import numpy as np
import pytest

from models.data.shapes import (
    BACKGROUNDS,
    SHAPE_CLASSES,
    background,
    classification_set,
    make_scene,
    make_shape_image,
    masks_to_boxes,
    shape_mask,
)


def test_same_seed_same_scene():
    a, b = make_scene(np.random.default_rng(5)), make_scene(np.random.default_rng(5))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.masks, b.masks)


def test_scene_annotations_are_consistent():
    for seed in range(20):
        scene = make_scene(np.random.default_rng(seed), size=(96, 80), n_objects=(2, 5))
        n = len(scene.labels)
        assert scene.image.shape == (80, 96, 3) and scene.image.dtype == np.uint8
        assert scene.masks.shape == (n, 80, 96) and scene.boxes.shape == (n, 4)
        assert (scene.masks.sum(0) <= 1).all()  # instances never overlap
        assert np.array_equal(scene.boxes, masks_to_boxes(scene.masks))
        for mask, label in zip(scene.masks, scene.labels, strict=True):
            assert (scene.label_map[mask] == label + 1).all()
        assert (scene.label_map[~scene.masks.any(0)] == 0).all()


def test_box_is_tight():
    mask = np.zeros((1, 10, 10), bool)
    mask[0, 2:5, 3:8] = True
    assert masks_to_boxes(mask).tolist() == [[3, 2, 8, 5]]


@pytest.mark.parametrize("kind", SHAPE_CLASSES)
def test_every_shape_draws_inside_its_radius(kind):
    mask = shape_mask(kind, (64, 64), 32, 32, 20, 0.3)
    ys, xs = np.nonzero(mask)
    assert mask.sum() > 200
    assert ((xs - 31.5) ** 2 + (ys - 31.5) ** 2).max() <= 21.5**2


@pytest.mark.parametrize("kind", BACKGROUNDS)
def test_backgrounds_are_valid(kind):
    bg = background(np.random.default_rng(0), (40, 30), kind)
    assert bg.shape == (30, 40, 3) and bg.min() >= 0 and bg.max() <= 1


def test_unknown_names_are_refused():
    with pytest.raises(ValueError):
        shape_mask("blob", (8, 8), 4, 4, 3, 0)
    with pytest.raises(ValueError):
        background(np.random.default_rng(0), (8, 8), "plaid")


def test_classification_set_is_balanced_and_reproducible():
    x, y = classification_set(60, seed=3, size=32)
    assert x.shape == (60, 32, 32, 3) and np.bincount(y).tolist() == [10] * len(SHAPE_CLASSES)
    x2, y2 = classification_set(60, seed=3, size=32)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)


def test_shape_image_honours_label():
    _, label = make_shape_image(np.random.default_rng(0), 32, label=4)
    assert label == 4
