"""Detections against the truth: COCO's matching, AP and precision-recall from pycocotools, and the true
objects of generated scenes and of uploaded COCO annotation files."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from explain.figures.detections import draw_verdicts
from explain.figures.render import draw_box
from explain.inputs.annotations import TrueObject, coco_objects, labels_known, scene_objects
from explain.inputs.samples import sample_scene, scene_set
from explain.methods.ground_truth import match, score
from models.data.shapes import SHAPE_CLASSES
from models.detectors import Instance
from tests.bounds import within
from tests.hostile_files import BAD_ANNOTATIONS, coco_file

TRUTH = [TrueObject("star", (10, 10, 50, 50)), TrueObject("circle", (60, 60, 100, 100))]


def test_matching_marks_true_and_false_positives_and_misses():
    dets = [
        Instance("star", 0.9, (12, 12, 50, 50)),  # right
        Instance("star", 0.8, (10, 10, 49, 49)),  # a duplicate of the same star: a false positive
        Instance("circle", 0.7, (0, 0, 20, 20)),  # the wrong place
    ]
    m = match(dets, TRUTH, iou=0.5)
    assert m.true_positive == [True, False, False] and m.matched == [0, None, None]
    assert m.missed == [1] and m.iou[0] == pytest.approx(38 * 38 / 1600)
    assert match(dets, TRUTH, iou=0.96).true_positive == [False, False, False]  # stricter IoU, no match


def test_perfect_detections_score_ap_1_and_a_precision_of_1():
    scene = sample_scene("generated scene 1")
    truth = scene_objects(scene)
    dets = [Instance(o.label, 1.0 - 0.01 * i, o.box, o.mask) for i, o in enumerate(truth)]
    result = score([dets], [truth], [scene.image.shape[:2]], ("background", *SHAPE_CLASSES))
    assert result.box["AP"] == pytest.approx(1.0) and result.mask["AP"] == pytest.approx(1.0)
    assert result.objects == len(truth) and np.allclose(result.precision, 1.0)
    nothing = score([[]], [truth], [scene.image.shape[:2]], SHAPE_CLASSES)
    assert nothing.box["AP"] == 0.0 and not nothing.precision.any()


def test_a_wrong_detection_beside_ap50_of_100_is_explained():
    """A walk read "1 wrong" beside AP@0.5 100.0 as a contradiction: a duplicate scoring below the right detection
    costs AP nothing, and the page says why (at the IoU it judges right and wrong at)."""
    from explain.methods.ground_truth import perfect_ap_note

    scene = sample_scene("generated scene 1")
    truth = scene_objects(scene)
    first = truth[0]
    dets = [Instance(o.label, 0.9, o.box, o.mask) for o in truth] + [Instance(first.label, 0.1, first.box)]
    result, m = score([dets], [truth], [scene.image.shape[:2]], SHAPE_CLASSES), match(dets, truth)
    assert result.box["AP50"] == pytest.approx(1.0) and not all(m.true_positive)
    note = perfect_ap_note(result.box["AP50"], all(m.true_positive), 0.5)
    assert note.startswith(" AP ranks each class's detections by score") and note.endswith("can stay at 100.")
    assert perfect_ap_note(result.box["AP50"], all(m.true_positive), 0.75).endswith("not the 0.75 chosen here).")
    assert perfect_ap_note(0.9, False, 0.5) == "" and perfect_ap_note(1.0, True, 0.5) == ""


def test_scenes_and_a_held_out_set():
    assert sample_scene("astronaut (photo)") is None
    scene = sample_scene("generated scene 2")
    assert len(scene_objects(scene)) == len(scene.labels) >= 3
    assert len(scene_set(3)) == 3 and not np.array_equal(scene_set(1)[0].image, scene.image)


def test_a_one_shape_sample_has_its_one_object_as_truth():
    """A walk: the bundled detector found two triangles on "generated star" and the truth tab had nothing to score
    them by. The one-shape samples carry their shape's mask and box, drawn exactly as the sample's image."""
    from explain.inputs.images import load_image
    from explain.inputs.samples import sample_bytes

    for i, shape in enumerate(SHAPE_CLASSES):
        scene = sample_scene(f"generated {shape}")
        (truth,) = scene_objects(scene)
        assert truth.label == shape and list(scene.labels) == [i] and scene.masks[0].any()
        ys, xs = np.nonzero(scene.masks[0])
        assert tuple(truth.box) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        assert np.array_equal(np.asarray(load_image(sample_bytes(f"generated {shape}"))), scene.image)
    assert sample_scene("generated nonagon") is None


def _coco(**over) -> bytes:
    record = {
        "images": [{"id": 7, "file_name": "dir/cat.png", "height": 100, "width": 120}],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "zebra-ish"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "bbox": [10, 20, 30, 40]},
            {"id": 2, "image_id": 7, "category_id": 2, "bbox": [0, 0, 5, 5]},
        ],
    }
    return json.dumps({**record, **over}).encode()


def test_a_coco_annotation_file_gives_boxes_and_bad_files_one_line():
    objects = coco_objects(_coco(), "cat.png", (100, 120)).objects
    assert objects[0] == TrueObject("cat", (10.0, 20.0, 40.0, 60.0))
    assert coco_objects(_coco(), "cat.png", (100, 120)).other_name == ""  # its own name ("dir/cat.png")
    # a file's only image is taken whatever its name, and the name is kept to be said (a walk: used without a word)
    assert coco_objects(_coco(), "astronaut.png", (100, 120)).other_name == "dir/cat.png"
    known, unknown = labels_known(objects, ("background", "cat", "dog"))
    assert len(known) == 1 and unknown == ["zebra-ish"]
    bad = {
        b"not json": r"not a usable COCO annotation file: it is not valid JSON \(expecting value at line 1, column 1\)",
        b'{"images": "x': r"not valid JSON \(unterminated string starting at line 1, column 12\)",  # not "at at"
        _coco(annotations=[{"id": 1, "image_id": 7, "category_id": 1, "bbox": [1, 1, 0, 5]}]): "empty or invalid box",
        _coco(images=[{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "b.png"}]): "no image named",
        json.dumps({"images": []}).encode(): "no 'annotations' list",
        b" " * (6 * 2**20): "over 5 MB",
    }
    for data, message in bad.items():
        with pytest.raises(ValueError, match=message) as exc:
            coco_objects(data, "cat.png", (100, 120))
        assert "\n" not in str(exc.value)


# A box past the image's edge was refused as a whole file before #31; the file is now read and each box clipped
# to the image (a box wholly outside is named and left out), as the issue asks.
def test_boxes_are_clipped_to_the_image_and_one_wholly_outside_is_named_and_left_out():
    boxes = [[10, 20, 300, 40], [-50, -50, 60, 60], [500, 500, 10, 10], [-1e6, -1e6, 1e6 + 5, 1e6 + 5]]
    truth = coco_objects(coco_file(boxes), "photo.png", (100, 120))
    assert [o.box for o in truth.objects] == [(10.0, 20.0, 120.0, 60.0), (0.0, 0.0, 10.0, 10.0), (0.0, 0.0, 5.0, 5.0)]
    assert truth.outside == ["annotation `2` (`cat`) lies outside the image"]  # as code: ids and names are the file's
    odd = [{"id": 1, "name": "\ud800 a\tb"}]  # a lone surrogate cannot be sent to the browser (a loopback review)
    assert coco_objects(coco_file(boxes, categories=odd), "photo.png", (100, 120)).objects[0].label == "\ufffd a b"
    for encoding in ("utf-8-sig", "utf-16", "utf-32-le"):  # what json.loads reads, read alike
        text = coco_file(boxes).decode()
        assert coco_objects(text.encode(encoding), "photo.png", (100, 120)) == truth, encoding


@pytest.mark.parametrize("name", list(BAD_ANNOTATIONS))
def test_every_hostile_annotation_file_gets_one_line_within_a_second(name):
    """Within a second of CPU time (time.process_time: the work itself, whatever else the machine runs)."""
    data, words = BAD_ANNOTATIONS[name]
    t0 = time.process_time()
    with pytest.raises(ValueError) as exc:
        coco_objects(data, "photo.png", (1024, 1024))
    assert time.process_time() - t0 < within(1.0), name
    message = str(exc.value)
    assert words in message and "\n" not in message and len(message) < 300, message


def test_json_depth_skips_brackets_in_strings_with_any_escapes():
    import json
    import random

    from explain.inputs.annotations import DEPTH_CHUNK, json_depth

    def depth(v):
        if isinstance(v, dict):
            return 1 + max(map(depth, v.values()), default=0)
        if isinstance(v, list):
            return 1 + max(map(depth, v), default=0)
        return 0

    rng = random.Random(0)
    pieces = ["[", "]", "{", "}", "\\", '"', "a", "\\\\", '\\"', "é"]

    def value(level):
        kind = rng.random()
        if level > 6 or kind < 0.3:
            return "".join(rng.choice(pieces) for _ in range(rng.randrange(6)))
        if kind < 0.65:
            return [value(level + 1) for _ in range(rng.randrange(4))]
        return {value(99): value(level + 1) for _ in range(rng.randrange(4))}

    # scanned in chunks, carrying a backslash run, an open string and the depth across: any chunk size counts alike
    for _ in range(300):
        v = value(0)
        text = json.dumps(v, ensure_ascii=rng.random() < 0.5).encode()
        for chunk in (DEPTH_CHUNK, 1, 2, 3, 7):
            assert json_depth(text, chunk) == depth(v), (v, chunk)
    for chunk in (DEPTH_CHUNK, 1, 2, 3):
        assert json_depth(b"", chunk) == 0
        assert json_depth(b'\\\\"[[', chunk) == 0  # two backslashes escape each other: the quote opens a string
        assert json_depth(b'\\"[[', chunk) == 2  # one escapes the quote: no string (not JSON; the parser says so)
        assert json_depth(b'\\\\\\"[[', chunk) == 2  # three: the last escapes the quote


def test_drawing_a_box_costs_time_in_proportion_to_the_image_not_its_coordinates():
    """The stall of #31: PIL walks a rectangle's whole outline, so (-1e9, -1e9, 1e9, 1e9) took 8.6 s; clipped to
    the image it costs what any box does."""
    image = np.zeros((1024, 1024, 3), np.uint8)
    huge = [TrueObject("cat", (-1e9, -1e9, 1e9, 1e9)), TrueObject("cat", (-1e308, -1e308, 0.0, 0.0))]
    t0 = time.process_time()
    drawn, labelled, boxes = draw_verdicts(image, [], [], huge, [0, 1])
    assert time.process_time() - t0 < within(1.0)
    assert drawn.shape == image.shape and drawn[:, -1].any()  # the huge box's outline runs along the image's edge
    assert boxes == 2 and 1 <= labelled <= 2  # two missed objects to label, at least one of them labelled
    t0 = time.process_time()
    draw_box(image, (-(10**9), -(10**9), 10**9, 10**9))
    assert time.process_time() - t0 < within(1.0)


def test_the_truth_stays_visible_over_the_detection_that_matches_it():
    """A walk looked for the white truth boxes the caption promises: a right detection's green, drawn over them, hid
    them. The truth is drawn last, its thin outline on the green one's outer row."""
    from models.detectors import Instance

    image = np.zeros((100, 100, 3), np.uint8)
    drawn, _, _ = draw_verdicts(
        image, [Instance("star", 0.9, (20, 20, 80, 80))], [True], [TrueObject("star", (20, 20, 80, 80))], []
    )
    # the truth's 2 px of white, then the detection's green (#00C853) for the 2 px of its 4 the truth leaves (at 1
    # and 2 px a walk still found the white mostly hidden at the page's size)
    assert drawn[50, 20].tolist() == drawn[50, 21].tolist() == [255, 255, 255]
    assert drawn[50, 22].tolist() == drawn[50, 23].tolist() == [0, 200, 83] and drawn[50, 24].tolist() == [0, 0, 0]


def test_the_generated_set_scores_what_the_readme_says():
    """The page's "Score on 50 generated scenes" with the bundled detector gives the README's figures."""
    import re
    from pathlib import Path

    from explain.methods.ground_truth import score_generated_set
    from models.detectors import BUNDLED_DETECTOR, load_detector

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme[readme.index("| 50 generated scenes (the page's set) |") :]
    rows = {
        m.group(1): [float(v) for v in m.groups()[1:]]
        for m in re.finditer(r"\| (boxes|masks) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", table[:400])
    }
    model, info = load_detector(BUNDLED_DETECTOR)
    got = score_generated_set(model, info.categories)
    assert got.images == 50 and got.objects == 182
    for name, measured in (("boxes", got.box), ("masks", got.mask)):
        assert [round(measured[k], 3) for k in ("AP", "AP50", "AP75")] == pytest.approx(rows[name], abs=0.0015)
