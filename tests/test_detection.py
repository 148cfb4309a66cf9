import json

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from explain.figures.detections import coco_json, draw
from explain.methods.rcnn_stages import box_heads, explain_detection, head_outputs, run_stages, source_proposal
from models.data.coco import average_precision, ground_truth, results
from models.data.shapes import SHAPE_CLASSES, make_scene
from models.detectors import (
    BUNDLED_DETECTOR,
    DETECTORS,
    Instance,
    detect,
    detect_batch,
    detector_input,
    load_detector,
)
from models.nets.shapes_maskrcnn import shapes_maskrcnn

SCENE = make_scene(np.random.default_rng(2), 128, n_objects=3)


def small(name: str) -> torch.nn.Module:
    """A torchvision detector with random weights, at a small input size to keep the test quick."""
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None, weights_backbone=None, min_size=128, max_size=160)
    model.categories = tuple(DETECTORS[name].weights.meta["categories"])
    return model.eval()


@pytest.mark.parametrize("name", [n for n in DETECTORS if n != BUNDLED_DETECTOR])
def test_detect_returns_the_documented_structure(name):
    model = small(name)
    model.roi_heads.score_thresh = 0.0  # random weights: keep whatever comes out
    outputs = []  # the model's own output, as detect's one forward pass returned it
    model.register_forward_hook(lambda module, args, out: outputs.append(out))
    instances = detect(model, Image.fromarray(SCENE.image))
    assert instances, "a random detector with no threshold still returns boxes"
    for inst in instances:
        assert isinstance(inst.label, str) and isinstance(inst.score, float) and len(inst.box) == 4
        x0, y0, x1, y1 = inst.box
        assert 0 <= x0 <= x1 <= 128 and 0 <= y0 <= y1 <= 128
        has_mask = name.startswith("maskrcnn")
        assert (inst.mask is not None) == has_mask
        if has_mask:
            assert inst.mask.shape == (128, 128) and inst.mask.dtype == bool
        assert (inst.keypoints is not None) == name.startswith("keypoint")
        if inst.keypoints is not None:
            assert inst.keypoints.shape == (17, 3)
    # the page offers to draw what the detections carry, no more (a walk: keypoints offered for a Mask R-CNN)
    from models.detectors import drawable

    assert drawable(model) == tuple(
        k for k, has in (("masks", has_mask), ("boxes", True), ("keypoints", name.startswith("keypoint"))) if has
    )
    scores = [i.score for i in instances]
    assert scores == sorted(scores, reverse=True)
    if has_mask:  # each mask is the model's own pasted mask cut at 0.5 (compared by numpy on the CPU, for speed)
        (out,) = outputs[0]
        assert np.array_equal(np.stack([i.mask for i in instances]), (out["masks"][:, 0] > 0.5).numpy())


def test_drawing_puts_mask_pixels_exactly_where_the_mask_is():
    image = np.full((40, 50, 3), 100, np.uint8)
    mask = np.zeros((40, 50), bool)
    mask[5:20, 10:30] = True
    mask[25, 40] = True
    drawn = draw(image, [Instance("x", 0.9, (10, 5, 30, 20), mask)], boxes=False)
    changed = (drawn != image).any(axis=2)
    assert np.array_equal(changed, mask)


def test_a_single_mask_is_drawn_in_the_colour_farthest_from_its_object():
    """The mask head's panel drew a crimson hexagon's mask in crimson (the first colour), where it cannot be seen."""
    from explain.figures.detections import COLOURS, contrasting_colour

    image = np.zeros((40, 50, 3), np.uint8)
    image[5:20, 10:30] = (230, 25, 75)  # the first drawing colour, #e6194b
    mask = np.zeros((40, 50), bool)
    mask[5:20, 10:30] = True
    colour = contrasting_colour(image, mask)
    assert colour in COLOURS and colour != COLOURS[0]
    drawn = draw(image, [Instance("hexagon", 0.98, (10, 5, 30, 20), mask)], boxes=False, colour=colour, alpha=0.6)
    assert np.abs(drawn[mask].astype(int) - image[mask].astype(int)).sum(1).min() > 100  # every mask pixel changed


def test_coco_json_round_trips_through_pycocotools():
    instances = [
        Instance(SHAPE_CLASSES[int(lab)], 0.9 - 0.1 * i, tuple(map(float, box)), m, None, int(lab) + 1)
        for i, (lab, box, m) in enumerate(zip(SCENE.labels, SCENE.boxes, SCENE.masks, strict=True))
    ]
    record = json.loads(coco_json(instances, ("background", *SHAPE_CLASSES), (128, 128), "scene.png"))
    coco = COCO()
    coco.dataset = {"images": record["images"], "categories": record["categories"], "annotations": []}
    coco.createIndex()
    res = coco.loadRes(record["annotations"])
    names = {c["id"]: c["name"] for c in record["categories"]}  # the test read the list by position before
    for ann, inst in zip(res.loadAnns(res.getAnnIds()), instances, strict=True):
        assert np.array_equal(mask_utils.decode(ann["segmentation"]).astype(bool), inst.mask)
        assert ann["bbox"] == pytest.approx(
            [inst.box[0], inst.box[1], inst.box[2] - inst.box[0], inst.box[3] - inst.box[1]]
        )
        assert names[ann["category_id"]] == inst.label
    # COCO's categories: no background, and none of torchvision's "N/A" gaps (ids are kept: COCO's own)
    assert sorted(names) == list(range(1, len(SHAPE_CLASSES) + 1))
    coco_style = json.loads(coco_json([], ("__background__", "person", "N/A", "bicycle"), (8, 8)))["categories"]
    assert coco_style == [{"id": 1, "name": "person"}, {"id": 3, "name": "bicycle"}]
    on_a_gap = Instance("N/A", 0.9, (1.0, 1.0, 4.0, 4.0), None, None, 2)  # a head can score a gap: it stays listed
    named = json.loads(coco_json([on_a_gap], ("__background__", "person", "N/A", "bicycle"), (8, 8)))
    assert {"id": 2, "name": "N/A"} in named["categories"] and named["annotations"][0]["category_id"] == 2


def test_perfect_detections_score_full_ap():
    gts = [
        [
            {"label": int(lab), "box": box, "mask": m}
            for lab, box, m in zip(SCENE.labels, SCENE.boxes, SCENE.masks, strict=True)
        ]
    ]
    dets = results(0, [{**g, "score": 1.0} for g in gts[0]])
    gt = ground_truth([(128, 128)], gts, SHAPE_CLASSES)
    assert average_precision(gt, dets, "bbox")["AP"] == pytest.approx(1.0)
    assert average_precision(gt, dets, "segm")["AP50"] == pytest.approx(1.0)
    assert average_precision(gt, [], "segm")["AP"] == 0.0


def test_pipeline_stages_and_one_detection_explained():
    torch.manual_seed(0)
    model = shapes_maskrcnn().eval()
    model.roi_heads.score_thresh = 0.0
    x = detector_input(Image.fromarray(SCENE.image))  # on the CPU by default, as a classifier's `prepare`
    stages = run_stages(model, x)
    # a batch of one, as a classifier's input is, is the same image; another shape is refused in one line
    assert np.array_equal(run_stages(model, x[None]).boxes, stages.boxes)
    with pytest.raises(ValueError, match=r"one image as 3 x H x W, not a tensor of shape \(2, 3, 128, 128\)"):
        run_stages(model, torch.stack([x, x]))
    assert list(stages.features) == ["0", "1", "2", "3", "pool"]
    assert stages.features["0"].shape[1:] == (32, 32)
    assert len(stages.proposals) == len(stages.objectness) > 0
    assert (np.diff(stages.objectness) <= 1e-6).all() or len(stages.proposals) > 0
    box, label = tuple(stages.boxes[0]), int(stages.labels[0])
    assert head_outputs(model, stages, box, label)["mask_logits"].shape == (28, 28)
    cam, iou, _ = explain_detection(model, x, box, label, "1")
    assert cam.shape == (128, 128) and cam.min() >= 0 and cam.max() <= 1 and iou == pytest.approx(1.0)
    # the thresholds the stage texts state are the model's own (a fidelity review: the texts named NMS only)
    rules = stages.settings
    assert (rules.min_score, rules.iou, rules.per_image) == (0.0, model.roi_heads.nms_thresh, 100)
    assert (rules.pre_nms, rules.post_nms, rules.rpn_iou) == (
        model.rpn._pre_nms_top_n["testing"],
        model.rpn._post_nms_top_n["testing"],
        model.rpn.nms_thresh,
    )
    assert len(stages.proposals) <= rules.post_nms and len(stages.boxes) <= rules.per_image


def test_every_detection_is_followed_from_the_proposal_it_came_from():
    """A walk: stage 3c followed the proposal overlapping a detection most and captioned it 'the one circle 87% came
    from' while the box head gave that proposal 54% circle. The source is the proposal the box head turns into the
    detection: its class probability is the detection's score. On the page's first sample the overlap picks another
    proposal for 8 of its 14 detections."""
    from dataclasses import replace

    from explain.inputs.samples import sample_scene
    from explain.methods.rcnn_stages import Followed, detection_source

    model, _ = load_detector(BUNDLED_DETECTOR)
    x = detector_input(Image.fromarray(sample_scene("generated scene 1").image), torch.device("cpu"))
    stages = run_stages(model, x)
    guessed_wrong = 0
    for i in range(len(stages.boxes)):
        box, label, score = tuple(float(v) for v in stages.boxes[i]), int(stages.labels[i]), float(stages.scores[i])
        found = detection_source(model, stages, box, label, score)
        assert found is not None, f"detection {i}: no proposal reproduces it"
        heads = box_heads(model, stages, found[1], label)  # moved for the detection's class: its own box (a review)
        assert heads.probabilities[label] == pytest.approx(score, abs=1e-3) and heads.detection
        assert heads.refined == pytest.approx(box, abs=0.01) and "the detection's class" in heads.moved_for(
            ["background", *SHAPE_CLASSES]
        )
        guessed_wrong += source_proposal(stages, box)[0] != found[0]
    assert len(stages.boxes) >= 10 and guessed_wrong > 0
    # a box no proposal is moved to has no source to name, nor has a real detection's box with another score
    assert detection_source(model, stages, (0.0, 0.0, 5.0, 5.0), 1, 0.5) is None
    assert detection_source(model, stages, box, label, score - 0.01) is None
    # which proposal the stages follow, and why (the rule lived in ui/): the source when known, else the best
    # overlap as a guess, else the strongest
    from explain.methods.rcnn_stages import follow

    assert follow(stages, box, found) == Followed(found[0], found[1], "source") and follow(stages, box, found).exact
    guess = follow(stages, box, None)
    assert (guess.rank, guess.why, guess.exact) == (source_proposal(stages, box)[0], "overlap", False)
    assert (follow(stages).rank, follow(stages).why) == (0, "strongest")
    assert follow(replace(stages, proposals=stages.proposals[:0]), box) is None


def test_following_a_detection_reads_the_kept_features_without_running_the_backbone(monkeypatch):
    """Each detection clicked ran the backbone again for its heads, its source proposal and its box head (three
    passes, seconds each for a COCO model on a CPU); the second stage now reads the features `run_stages` kept."""
    model, _ = load_detector(BUNDLED_DETECTOR)
    x = detector_input(Image.fromarray(SCENE.image), torch.device("cpu"))
    stages = run_stages(model, x)
    box, label, score = tuple(float(v) for v in stages.boxes[0]), int(stages.labels[0]), float(stages.scores[0])

    def backbone_again(*_):
        raise AssertionError("the backbone ran again")

    monkeypatch.setattr(model.backbone, "forward", backbone_again)
    assert head_outputs(model, stages, box, label)["mask_logits"].shape == (28, 28)
    from explain.methods.rcnn_stages import detection_source

    found = detection_source(model, stages, box, label, score)
    assert found is not None and box_heads(model, stages, found[1], label).refined == pytest.approx(box, abs=0.01)


def test_box_heads_move_a_proposal_onto_the_detection_it_becomes():
    """The second stage run by hand on one proposal gives what roi_heads gives: the bundled detector's box for
    the proposal behind a detection is that detection's box, and the class it scores highest is its label."""
    model, _ = load_detector(BUNDLED_DETECTOR)
    x = detector_input(Image.fromarray(SCENE.image), torch.device("cpu"))
    stages = run_stages(model, x)
    _, proposal = source_proposal(stages, tuple(float(v) for v in stages.boxes[0]))
    assert source_proposal(stages, None) == (0, tuple(float(v) for v in stages.proposals[0]))  # the strongest
    out = box_heads(model, stages, proposal)
    assert out.features.shape[1:] == (7, 7) and 0 <= out.level <= 3
    assert out.probabilities.sum() == pytest.approx(1.0, abs=1e-5) and out.best == int(stages.labels[0])
    refined = torchvision.ops.box_iou(torch.tensor([out.refined]), torch.from_numpy(stages.boxes[:1]))
    assert float(refined) > 0.95


def test_the_refined_box_caption_says_when_the_background_ranks_first() -> None:
    """Stage 3c said 'green as the box head moves it for triangle' beside a chart ranking the background first."""
    from explain.methods.rcnn_stages import BoxHeads

    def heads(probabilities: list[float]) -> BoxHeads:
        return BoxHeads(np.zeros((1, 7, 7)), 0, np.array(probabilities), (0.0, 0.0, 1.0, 1.0), 2)

    names = ["background", "circle", "triangle"]
    said = heads([0.563, 0.1, 0.337]).moved_for(names)
    assert said == (
        "as the box head moves it for triangle, its most probable object class "
        "(the background is more probable: 56% against 34%)"
    )
    assert (
        heads([0.1, 0.2, 0.7]).moved_for(names)
        == "as the box head moves it for triangle, its most probable object class"
    )


def test_keypoint_heads_give_seventeen_heatmaps():
    model = small("keypointrcnn_resnet50_fpn")
    x = detector_input(Image.fromarray(SCENE.image), torch.device("cpu"))
    assert head_outputs(model, run_stages(model, x), (10.0, 10.0, 60.0, 90.0), 1)["keypoint_heatmaps"].shape == (
        17,
        56,
        56,
    )


def test_unknown_detector():
    with pytest.raises(ValueError, match="maskrcnn_resnet50_fpn"):
        load_detector("yolo")


def test_bundled_detector_finds_the_shapes():
    model, info = load_detector(BUNDLED_DETECTOR, device="cpu")
    assert info.source == "bundled" and info.categories[1:] == SHAPE_CLASSES
    hits, total = 0, 0
    for seed in range(5):
        scene = make_scene(np.random.default_rng(900 + seed), 128, n_objects=(2, 4), radius=(0.08, 0.22))
        found = [i for i in detect(model, Image.fromarray(scene.image)) if i.score >= 0.5]
        for label, box in zip(scene.labels, scene.boxes, strict=True):
            total += 1
            same = [i for i in found if i.label == SHAPE_CLASSES[label]]
            if same:
                iou = torchvision.ops.box_iou(torch.tensor([box]), torch.tensor([i.box for i in same])).max()
                hits += float(iou) > 0.7
    assert hits >= 0.9 * total


@pytest.mark.parametrize("name", [n for n in DETECTORS if n != BUNDLED_DETECTOR])
def test_coco_detectors_fall_back_offline_and_say_why(name, torch_home):
    _, info = load_detector(name, device="cpu")
    assert info.is_fallback and "offline" in info.reason and "knows only the generated shapes" in info.reason


def test_batched_detection_equals_one_image_at_a_time():
    model, _ = load_detector(BUNDLED_DETECTOR)
    rng = np.random.default_rng(3)
    images = [Image.fromarray(make_scene(rng, 128, n_objects=(1, 3)).image) for _ in range(3)]
    batched = detect_batch(model, images, batch_size=2)
    for image, found in zip(images, batched, strict=True):
        alone = detect(model, image)
        assert [i.label for i in found] == [i.label for i in alone] and alone
        np.testing.assert_allclose([i.box for i in found], [i.box for i in alone], atol=1e-2)


def test_unlabelled_boxes_are_drawn_with_their_score_alone(monkeypatch):
    import explain.figures.detections as detections
    from models.detectors import Instance

    drawn = {}

    def spy(img, boxes, labels, *args):
        drawn["labels"] = labels
        return img, len(labels)

    monkeypatch.setattr(detections, "draw_labels", spy)
    image = np.zeros((40, 40, 3), np.uint8)
    detections.draw(image, [Instance("", 0.96, (1, 1, 20, 20)), Instance("star", 0.5, (2, 2, 30, 30))])
    assert drawn["labels"] == ["96%", "star 50%"]  # a proposal's objectness once, not "0.96 96%"


def test_roi_pool_snaps_the_box_and_roi_align_does_not():
    from explain.methods.rcnn_stages import Stages, roi_pool_vs_align

    feature = np.arange(2 * 16 * 16, dtype=np.float32).reshape(2, 16, 16)
    stages = Stages(
        {"0": feature}, np.zeros((0, 4)), np.zeros(0), np.zeros((0, 4)), np.zeros(0), np.zeros(0), (64, 64), (64, 64)
    )
    roi = roi_pool_vs_align(stages, "0", (5.0, 9.0, 30.0, 41.0), (64, 64))  # stride 4 at P2
    assert roi.stride == 4 and roi.exact == (1.25, 2.25, 7.5, 10.25) and roi.quantised == (1, 2, 8, 10)
    assert roi.pool.shape == roi.align.shape == (7, 7) and roi.difference > 0


def test_fpn_levels_are_named_and_strided_in_one_place():
    """#26: P2-P5 and the pool level P6 as torchvision keys them, their strides, and the level RoI pooling reads."""
    from explain.methods.rcnn_stages import POOL, fpn_level_name, fpn_stride, poolable_level

    assert [fpn_level_name(k) for k in ("0", "1", "2", "3", POOL)] == ["P2", "P3", "P4", "P5", "P6 (pool)"]
    assert [fpn_stride(k) for k in (0, 1, 2, 3, POOL)] == [4, 8, 16, 32, 64]
    assert poolable_level(POOL) == "3" and poolable_level("1") == "1"


def test_most_probable_is_top_k_without_running_the_model():
    """#26: the box head's top five come from the same helper as a classifier's top five."""
    from explain.methods.classify import most_probable, top_k

    probs = torch.tensor([0.1, 0.5, 0.05, 0.3, 0.05])
    best = most_probable(probs, list("abcde"), k=3)
    assert [(p.index, p.label) for p in best] == [(1, "b"), (3, "d"), (0, "a")]
    assert best[0].probability == pytest.approx(0.5)
    model = torch.nn.Linear(5, 5).eval()
    x = torch.randn(1, 5, generator=torch.Generator().manual_seed(0))
    via_model = top_k(model, x, list("abcde"), k=5)
    assert via_model == most_probable(torch.softmax(model(x)[0], 0).detach(), list("abcde"), k=5)


def test_the_roi_align_shown_is_the_one_the_box_head_runs_at_the_level_the_box_picks():
    """#27: the page pooled with `aligned=True` at the level chosen in a selector; the box head runs torchvision's
    MultiScaleRoIAlign (`aligned=False`) at the level its LevelMapper picks. Both now agree with the model itself."""
    from explain.methods.rcnn_stages import roi_level, roi_pool_vs_align

    model, _ = load_detector(BUNDLED_DETECTOR)
    x = detector_input(Image.fromarray(SCENE.image), torch.device("cpu"))
    stages = run_stages(model, x)
    hw = SCENE.image.shape[:2]
    for proposal in stages.proposals[:5]:
        box = tuple(float(v) for v in proposal)
        out = box_heads(model, stages, box)
        level = roi_level(stages, box, hw)
        assert level == str(out.level)
        roi = roi_pool_vs_align(stages, level, box, hw)
        np.testing.assert_allclose(roi.align, out.features.mean(0), atol=1e-5)
        assert roi.max_vs_average > 0 and roi.max_vs_average + roi.snapping >= roi.difference - 1e-9


def test_roi_level_follows_the_fpn_papers_level_mapper():
    from explain.methods.rcnn_stages import Stages, roi_level

    stages = Stages(
        {}, np.zeros((0, 4)), np.zeros(0), np.zeros((0, 4)), np.zeros(0), np.zeros(0), (800, 800), (800, 800)
    )
    sides = {10: "0", 111: "0", 112: "1", 223: "1", 224: "2", 448: "3", 800: "3"}  # k = floor(4 + log2(side / 224))
    assert {s: roi_level(stages, (0.0, 0.0, float(s), float(s)), (800, 800)) for s in sides} == sides
    assert roi_level(stages, (5.0, 5.0, 5.0, 9.0), (800, 800)) == "0"  # an empty box: the finest level


def test_roi_pool_reads_its_snapped_cells_inclusive_and_the_average_over_them_separates_max_from_snapping():
    from explain.methods.rcnn_stages import Stages, roi_pool_vs_align

    feature = np.zeros((1, 16, 16), np.float32)
    feature[0, 10, 8] = 7.0  # the last row and column of the snapped box (1, 2, 8, 10) below
    stages = Stages(
        {"0": feature}, np.zeros((0, 4)), np.zeros(0), np.zeros((0, 4)), np.zeros(0), np.zeros(0), (64, 64), (64, 64)
    )
    roi = roi_pool_vs_align(stages, "0", (5.0, 9.0, 30.0, 41.0), (64, 64))
    assert roi.quantised == (1, 2, 8, 10) and roi.pool.max() == 7.0  # RoIPool reads cell (10, 8)
    # an edge at 10.5 cells: roi_pool rounds half away from zero and reads row 11 (np.round, used before a fidelity
    # review, gives 10, the even one)
    feature[0, 10, 8], feature[0, 11, 8] = 0.0, 5.0
    roi = roi_pool_vs_align(stages, "0", (5.0, 9.0, 30.0, 42.0), (64, 64))
    assert roi.exact[3] == 10.5 and roi.quantised == (1, 2, 8, 11) and roi.pool.max() == 5.0


def test_the_half_pixel_correction_is_an_option_and_its_effect_is_measured():
    from torchvision.ops import roi_align

    from explain.methods.rcnn_stages import Stages, roi_pool_vs_align

    feature = np.random.default_rng(0).random((4, 16, 16)).astype(np.float32)
    stages = Stages(
        {"0": feature}, np.zeros((0, 4)), np.zeros(0), np.zeros((0, 4)), np.zeros(0), np.zeros(0), (64, 64), (64, 64)
    )
    box = (5.0, 9.0, 30.0, 41.0)
    model_way, corrected = (roi_pool_vs_align(stages, "0", box, (64, 64), aligned=a) for a in (False, True))
    rois = torch.tensor([[0.0, *box]])
    direct = {
        a: roi_align(torch.from_numpy(feature)[None], rois, 7, spatial_scale=0.25, sampling_ratio=2, aligned=a)[0]
        for a in (False, True)
    }
    np.testing.assert_allclose(corrected.align, direct[True].mean(0).numpy(), atol=1e-6)
    np.testing.assert_allclose(model_way.align, direct[False].mean(0).numpy(), atol=1e-6)
    change = float((direct[True] - direct[False]).abs().mean() / direct[False].abs().mean())
    assert model_way.half_pixel == corrected.half_pixel == pytest.approx(change) and change > 0
    assert corrected.aligned and not model_way.aligned


def test_a_detections_grad_cam_differentiates_its_class_logit_before_the_softmax():
    """A fidelity review: the map differentiated the detection's score, the softmax probability (Grad-CAM takes a
    class's score before the softmax, as Captum's LayerGradCam does for the classifiers). Computed here another way:
    the stage features as leaves, the proposal the detection came from pooled through the box head alone, its class
    logit differentiated; the maps agree, and the probability's gradient gives another map."""
    import torch.nn.functional as F

    from explain.methods.rcnn_stages import detection_cams, detection_source

    model, _ = load_detector(BUNDLED_DETECTOR)
    x = detector_input(Image.fromarray(SCENE.image))
    stages = run_stages(model, x)
    heads, h, w = model.roi_heads, *stages.resized_to
    padded = [int(np.ceil(v / model.transform.size_divisible) * model.transform.size_divisible) for v in (h, w)]
    rows = _rows_of_detections(model, stages)  # each detection's proposal, found apart from the code under test
    assert len(rows) == len(stages.boxes)
    differs = []
    for i in range(min(3, len(stages.boxes))):
        box, label, score = tuple(float(v) for v in stages.boxes[i]), int(stages.labels[i]), float(stages.scores[i])
        cams = detection_cams(model, x, box, label)
        rank, proposal = detection_source(model, stages, box, label, score)
        assert rank == rows[i]
        features = {k: torch.from_numpy(v)[None].requires_grad_() for k, v in stages.features.items() if k != "pool"}
        roi = torchvision.models.detection.transform.resize_boxes(torch.tensor([proposal]), stages.image_hw, (h, w))
        logits, _ = heads.box_predictor(heads.box_head(heads.box_roi_pool(features, [roi], [(h, w)])))
        maps = {}
        for name, value in (("logit", logits[0, label]), ("probability", F.softmax(logits, -1)[0, label])):
            level = cams.pooled_from
            grad = torch.autograd.grad(value, features[level], retain_graph=True)[0]
            cam = F.relu((grad.mean(dim=(2, 3), keepdim=True) * features[level]).sum(1, keepdim=True)).detach()
            cam = F.interpolate(cam, size=padded, mode="bilinear", align_corners=False)[..., :h, :w]
            cam = F.interpolate(cam, size=stages.image_hw, mode="bilinear", align_corners=False)[0, 0]
            maps[name] = (cam / cam.max()).numpy()
        np.testing.assert_allclose(cams.maps[cams.pooled_from], maps["logit"], atol=1e-3)
        differs.append(float(np.abs(maps["probability"] - maps["logit"]).max()))
    assert max(differs) > 0.05, differs  # the quantity matters: the probability's map is another one
    # only the levels' gradients are taken: the shared model's parameters are left without .grad (a review: a
    # backward() filled them, kept for the process's life)
    assert all(p.grad is None for p in model.parameters())


def _rows_of_detections(model: torch.nn.Module, stages) -> list[int]:
    """The proposal each detection of `stages` came from, as torchvision's `postprocess_detections` makes it, with
    each candidate's row carried through its steps (a review's check, apart from `_source_row`)."""
    from torchvision.models.detection.transform import resize_boxes
    from torchvision.ops import boxes as box_ops

    heads, size = model.roi_heads, list(stages.resized_to)
    features = {k: torch.from_numpy(v)[None] for k, v in stages.features.items()}
    rois = resize_boxes(torch.from_numpy(stages.proposals).float(), stages.image_hw, stages.resized_to)
    with torch.no_grad():
        logits, regression = heads.box_predictor(heads.box_head(heads.box_roi_pool(features, [rois], [size])))
    boxes = box_ops.clip_boxes_to_image(heads.box_coder.decode(regression, [rois]), size)[:, 1:].reshape(-1, 4)
    scores = torch.nn.functional.softmax(logits, -1)[:, 1:]
    labels = torch.arange(1, logits.shape[1]).expand_as(scores).reshape(-1)
    rows = torch.arange(len(rois)).view(-1, 1).expand_as(scores).reshape(-1)
    scores = scores.reshape(-1)
    keep = torch.where(scores > heads.score_thresh)[0]
    keep = keep[box_ops.remove_small_boxes(boxes[keep], min_size=1e-2)]
    keep = keep[box_ops.batched_nms(boxes[keep], scores[keep], labels[keep], heads.nms_thresh)]
    return rows[keep[: heads.detections_per_img]].tolist()


def test_a_detections_grad_cam_is_empty_away_from_its_level_and_says_why():
    """#28: at a level other than the one its features were pooled from, a detection's map is all zero (its score
    has no gradient there); the page defaults to its own level and names the reason for an empty map. Its own level
    is the one its score has a gradient at, found in the same backward pass: a walk's fix, since the level picked
    from the detection's final box (roi_level) can differ from the one its proposal was pooled from."""
    from explain.methods.rcnn_stages import BOX_LEVEL, cam_note, detection_cams

    model, _ = load_detector(BUNDLED_DETECTOR)
    x = detector_input(Image.fromarray(SCENE.image), torch.device("cpu"))
    stages = run_stages(model, x)
    for i in range(min(3, len(stages.boxes))):
        box, label = tuple(float(v) for v in stages.boxes[i]), int(stages.labels[i])
        cams = detection_cams(model, x, box, label)
        own = cams.pooled_from
        assert list(cams.maps) == ["0", "1", "2", "3"] and own in cams.maps and cams.level_of(BOX_LEVEL) == own
        assert cams.at(BOX_LEVEL) is cams.maps[own] and cams.maps[own].max() > 0
        assert all(not np.any(cams.maps[k]) for k in cams.maps if k != own)  # no gradient anywhere else
        # the notebook's one-level call gives the same map
        alone, iou, named = explain_detection(model, x, box, label, BOX_LEVEL)
        assert named == own and iou == cams.iou and np.array_equal(alone, cams.maps[own])
    other = sorted(k for k in cams.maps if k != own)[0]
    assert cam_note(cams.maps[own], own, own) == ""
    assert "pooled this detection's features from" in cam_note(cams.maps[other], other, own)
    assert "no gradient at any level" in cam_note(cams.maps[other], "0", None)
    # A walk found a map at P2 peaking on the background with no word on why: the score read only the box's cells,
    # Grad-CAM draws its weighted channels everywhere. A map whose peak lies outside the box says so, with its share.
    cam = np.zeros((64, 64), np.float32)
    cam[10:20, 10:20], cam[40:50, 40:50] = 0.5, 1.0  # a third of the mass inside (10..29), its peak outside
    assert cam_note(cam, own, own, (10.0, 10.0, 29.0, 29.0)).startswith(
        "The map's peak lies outside the box, but the box still holds more of the map than its share of the image: "
        "33% of the map, on 10% of the image. Why:"  # the way it leans, then both shares: four walks stumbled on
        # the earlier "67% of it lies outside, less than the 90% a map spread evenly ... would put there"
    )
    # and what to take from it (a walk: the note said why, not how to read the map)
    assert cam_note(cam, own, own, (10.0, 10.0, 29.0, 29.0)).endswith(
        "Read it inside the box only: there it shows where, among the cells this score read, the channels it relies on "
        "respond most."
    )
    assert cam_note(cam, own, own, (35.0, 35.0, 55.0, 55.0)) == ""  # the peak inside: nothing to explain
    spread = np.ones((64, 64), np.float32)
    spread[50, 50] = 2.0  # peak outside; mass spread evenly: as an even spread would put it
    assert "and the box holds about its share of the image: 25% of the map, on 25% of the image" in cam_note(
        spread, own, own, (0.0, 0.0, 31.0, 31.0)
    )
    corner = np.zeros((64, 64), np.float32)
    corner[40:, 40:] = 1.0  # all of it outside the box, the peak too
    assert "and so does most of the map: the box holds 0% of it, on 25% of the image" in cam_note(
        corner, own, own, (0.0, 0.0, 31.0, 31.0)
    )
    large = np.ones((10, 10), np.float32)
    large[8:] = 1.2
    large[9, 9] = 1.5  # the peak outside a box of 80% of the image holding 77% of the map (a review: it said "most")
    assert "and the box holds less of the map than its share of the image: 77% of the map, on 80% of the image" in (
        cam_note(large, own, own, (0.0, 0.0, 9.0, 7.0))
    )
    at_own = cams.maps[own]
    note = cam_note(at_own, own, own, box)
    peak_y, peak_x = np.unravel_index(int(np.argmax(at_own)), at_own.shape)
    assert (note == "") == (box[0] <= peak_x <= box[2] and box[1] <= peak_y <= box[3])


def test_labels_never_cover_each_other_and_the_strongest_keeps_its_place(monkeypatch):
    """Lecture pictures: detections whose boxes start close together wrote their labels over each other (torchvision
    puts every label inside its box's top-left corner). Each label takes the first free spot of four at its box's
    left edge, then four at its right edge, the strongest first; one with no free spot is left off."""
    import explain.figures.detections as detections
    from explain.figures.detections import draw_verdicts
    from explain.figures.render import draw_labels, label_spots
    from explain.inputs.annotations import TrueObject
    from models.detectors import Instance

    boxes = [(50, 50, 150, 150), (55, 52, 140, 140), (52, 54, 145, 150), (51, 51, 149, 149), (53, 53, 150, 150)]
    spots = label_spots(boxes, [(60, 16)] * 5, 200, 200)
    assert spots[0] == (50, 50)  # where torchvision puts it
    assert spots[1] == (55, 140 - 16)  # inside and above its top-left corner is the first label: its bottom-left
    assert spots[2] == (52, 151)  # just below its outline (its last row is 150)
    bands = [(x, y, x + 60, y + 16) for x, y in (s for s in spots if s is not None)]
    for i, a in enumerate(bands):
        assert a[0] >= 0 and a[2] <= 200 and a[1] >= 0 and a[3] <= 200
        for b in bands[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    assert spots[3] is None and spots[4] is None  # no free spot around nearly the same box: left off
    # moved left to stay on the image; a label larger than a third of its box goes outside it, here below (no room
    # above), not over the object it names (a walk: labels hid a cat's eye)
    assert label_spots([(180, 0, 199, 30)], [(60, 16)], 200, 200) == [(140, 31)]
    assert label_spots([(100, 100, 119, 130)], [(60, 16)], 200, 200) == [(100, 84)]  # above, where there is room
    assert label_spots([(0, 0, 50, 50)], [(120, 16)], 100, 100) == [None]  # wider than the image: left off
    assert label_spots(
        [(10, 10, 60, 60), (10, 10, 60, 60), (10, 10, 60, 60), (10, 10, 60, 60)], [(30, 10)] * 4, 100, 100
    )[3] == (10, 61)  # below the box's outline (its last row is 60), not over it
    img, shown = draw_labels(torch.zeros(3, 200, 200, dtype=torch.uint8), torch.tensor(boxes), ["a"] * 5, "#ffe119")
    # the short labels "a" find free spots at the boxes' right edges too (the 60-px ones above have none: left off)
    assert shown == 5 and img.shape == (3, 200, 200) and img.dtype == torch.uint8 and img.is_contiguous()
    # enlarged labels that would leave more off than the normal size does are drawn at the normal size (a walk: 4 of
    # 6 labelled in presenter mode); where the enlarged ones all fit, they stay enlarged
    crowded = torch.tensor([(0, 20, 60, 60), (0, 0, 60, 40), (0, 40, 60, 80)])
    small = torch.zeros(3, 100, 100, dtype=torch.uint8)
    assert draw_labels(small, crowded, ["hexagon 98%"] * 3, "#ffe119")[1] > 0
    at_scale = draw_labels(small, crowded, ["hexagon 98%"] * 3, "#ffe119", 1.5)
    assert at_scale[1] == draw_labels(small, crowded, ["hexagon 98%"] * 3, "#ffe119")[1]
    roomy = torch.tensor([(10, 10, 90, 90)])
    assert not torch.equal(
        draw_labels(small, roomy, ["a"], "#ffe119", 1.5)[0], draw_labels(small, roomy, ["a"], "#ffe119")[0]
    )
    narrow = label_spots(boxes, [(20, 16)] * 5, 200, 200)
    assert narrow[3] == (150 - 20, 51) and narrow[4] == (151 - 20, 150 - 16)  # inside top-right; bottom-right
    # A verdict picture labels its detections and the missed objects in one pass: a missed object's label finds
    # another spot than the detection of the same place (two passes each put theirs in the same corner).
    image = np.zeros((200, 200, 3), np.uint8)
    truth = [TrueObject("star", (50.0, 50.0, 150.0, 150.0)), TrueObject("circle", (52.0, 52.0, 148.0, 148.0))]
    calls = []
    real = detections.draw_labels

    def count(*args):
        calls.append(args[2])
        return real(*args)

    monkeypatch.setattr(detections, "draw_labels", count)
    draw_verdicts(image, [Instance("star", 0.9, (50, 50, 150, 150))], [True], truth, [1])
    # the missed object's label first: a right detection reads off its green box, a missed one needs its name
    assert calls == [["missed circle", "star 90% right"]]
    # Where labels compete for room (a walk: the wrong detection, the weakest, was the one left unlabelled), the
    # wrong detection's label is kept and a right one's left off, and the picture says how many it holds.
    found = [Instance("star", 0.99, b) for b in boxes[:4]] + [Instance("circle", 0.6, boxes[4])]
    _, labelled, total = draw_verdicts(image, found, [True, True, True, True, False], [], [])
    assert calls[-1][0] == "circle 60% wrong" and (labelled, total) == (4, 5)  # the first placed always has room


def test_how_far_the_box_head_moved_a_proposal_is_said_in_pixels():
    """A walk saw no red proposal under the green refined box: it had moved by a pixel or two."""
    from explain.methods.rcnn_stages import BoxHeads

    heads = BoxHeads(np.zeros((1, 7, 7)), 0, np.array([0.1, 0.9]), (10.0, 10.0, 50.4, 52.0), 1)
    assert heads.moved_text((10.0, 11.0, 50.0, 50.0)) == "moved by up to 2 px, so green all but covers red"
    assert heads.moved_text((0.0, 10.0, 50.0, 52.0)) == "moved by up to 10 px"


def test_a_detection_keeps_its_colour_when_a_filter_hides_others() -> None:
    """A walk: removing a class recoloured the focused circle (colours followed the row). With `ids` (each
    detection's number among all found) a detection is drawn in the same colour whichever others are shown."""
    from explain.figures.detections import COLOURS, drawn_with_count
    from models.detectors import Instance

    image = np.zeros((40, 40, 3), np.uint8)
    a, b = Instance("a", 0.9, (2, 2, 12, 12)), Instance("b", 0.8, (20, 20, 30, 30))
    both, _ = drawn_with_count(image, [a, b], masks=False, keypoints=False, ids=[0, 1])
    alone, _ = drawn_with_count(image, [b], masks=False, keypoints=False, ids=[1])
    shown = tuple(int(c) for c in alone[20, 25])  # b's top edge
    assert shown == tuple(int(c) for c in both[20, 25]) and "#{:02X}{:02X}{:02X}".format(*shown) == COLOURS[1].upper()


def test_the_box_head_is_described_as_each_model_has_it():
    """A fidelity review: stage 4 said "two fully connected layers" of every model; the v2 models' box head
    (torchvision's FastRCNNConvFCHead) is four 3 x 3 convolutions with BatchNorm, then one fully connected layer."""
    from explain.methods.rcnn_stages import box_head_text

    assert box_head_text(small("maskrcnn_resnet50_fpn_v2")) == (
        "four 3 x 3 convolutions, each with BatchNorm and a ReLU, then one fully connected layer"
    )
    assert box_head_text(small("maskrcnn_resnet50_fpn")) == "two fully connected layers"
    assert box_head_text(shapes_maskrcnn()) == "two fully connected layers"


def test_a_label_is_not_pushed_against_another_box_where_a_spot_apart_from_them_is_free():
    """A walk read the augmentation sample's "triangle" as the square's: the triangle's box touched the picture's top,
    so its label went below the box, against the square's outline at the same height. A spot touching no other box is
    taken first (here inside the triangle's own box); boxes that overlap anyway keep the order as it was."""
    from explain.figures.render import label_spots

    triangle, square = (0, 0, 95, 100), (96, 95, 160, 150)
    assert label_spots([triangle], [(95, 25)], 200, 200) == [(0, 101)]  # alone: below, outside what it names
    assert label_spots([triangle, square], [(95, 25), (60, 16)], 200, 200)[0] == (0, 0)  # not against the square
    # a label that would hide its whole box stays outside it, near its neighbours or not (a review: a 60 x 14 label
    # went over the whole of a 20 x 20 box, neighbours 8 px above and 19 px below)
    small = [(100, 100, 119, 119), (100, 70, 160, 92), (100, 138, 160, 160)]
    assert label_spots(small, [(60, 14)] * 3, 200, 200)[0] == (100, 86)
    # nested boxes: above the outer one, not inside it over the inner one's outline
    assert label_spots([(10, 10, 60, 60), (20, 20, 50, 50)], [(30, 10)] * 2, 100, 100)[0] == (10, 0)
    # no spot apart from every other box (one box holds the whole picture): the first free one, as before
    assert label_spots([(10, 10, 60, 60), (0, 0, 99, 99)], [(30, 10)] * 2, 100, 100)[0] == (10, 10)


def test_a_followed_proposal_is_drawn_thick_in_red_with_its_label_placed_first():
    """Detection's stage 2. A walk in presenter mode: the red proposal stages 3 and 4 follow, drawn in a second call
    over the grey ones, had its label put on a grey one's ("#1 100%" covered "#4 100%"); then, drawn in one call in
    rank order, a weak followed one lost its label to the stronger ones (a review: 10 proposals on one box, #10
    followed, its outline alone red). Its label is placed first, and the others' labels find their own spots."""
    from explain.figures.detections import FOLLOWED, OTHERS, proposals_picture

    image = np.zeros((200, 200, 3), np.uint8)
    boxes, scores = [(40.0, 60.0, 160.0, 180.0)] * 10, [1.0 - 0.05 * r for r in range(10)]

    def pixels(drawn: np.ndarray, colour: str) -> int:
        rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
        return int((drawn == np.array(rgb, np.uint8)).all(-1).sum())

    for rank in (0, 9):
        drawn, labelled = proposals_picture(image, boxes, scores, rank)
        assert labelled >= 2
        # its label where torchvision puts one, inside the box's top-left corner: red there, not a grey label's band
        # (rank 9 placed in rank order: 0 red and 338 grey pixels in this patch; placed first: 332 red)
        corner = drawn[60:76, 43:80]
        assert pixels(corner, FOLLOWED) > 250 and pixels(corner, OTHERS) == 0, rank
        assert pixels(drawn, OTHERS) > 100, rank  # a grey label's band: the others' boxes lie under the red one
        assert drawn[60 + 1, 100].tolist() == [0xFF, 0x17, 0x44]  # the red box over the grey ones
