"""Detections against the truth: which detection is right (a true positive), which is wrong (a false positive)
and which true object no detection found (a miss), at a chosen IoU, as COCO matches them; and COCO's AP and
precision-recall curve (pycocotools) for one image or a set."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torchvision.ops import box_iou

from explain.inputs.annotations import TrueObject, scene_objects
from explain.inputs.samples import GENERATED_SIZE, SCENE_OBJECTS, scene_set
from models.data.coco import average_precision, evaluate, ground_truth, results
from models.data.shapes import SHAPE_RADIUS
from models.detectors import Instance, detect_batch


@dataclass(frozen=True)
class Matching:
    """Per detection (in the order given): whether it is a true positive, the true object it matched (None for a
    false positive) and its best IoU with a true object of its class; the true objects nothing matched."""

    true_positive: list[bool]
    matched: list[int | None]
    iou: list[float]
    missed: list[int]


def match(detections: Sequence[Instance], truth: Sequence[TrueObject], iou: float = 0.5) -> Matching:
    """COCO's greedy matching on boxes: detections in order of falling score, each taking the still unmatched
    true object of its class with the highest IoU, if that IoU is at least `iou`."""
    order = sorted(range(len(detections)), key=lambda i: -detections[i].score)
    ious = np.zeros((len(detections), len(truth)))
    if len(detections) and len(truth):
        d = torch.tensor([det.box for det in detections], dtype=torch.float64)
        t = torch.tensor([obj.box for obj in truth], dtype=torch.float64)
        ious = box_iou(d, t).numpy()
    taken: set[int] = set()
    tp, matched, best = [False] * len(detections), [None] * len(detections), [0.0] * len(detections)
    for i in order:
        same = [j for j, obj in enumerate(truth) if obj.label == detections[i].label]
        best[i] = float(max((ious[i, j] for j in same), default=0.0))
        free = [j for j in same if j not in taken and ious[i, j] >= iou]
        if free:
            j = max(free, key=lambda j: ious[i, j])
            taken.add(j)
            tp[i], matched[i] = True, j
    return Matching(tp, matched, best, [j for j in range(len(truth)) if j not in taken])


@dataclass(frozen=True)
class SetScore:
    """COCO AP of detections against the truth over one image or a set: box AP, mask AP (None without masks on
    both sides), and the box precision-recall curve at the chosen IoU."""

    images: int
    objects: int
    box: dict[str, float]
    mask: dict[str, float] | None
    recall: np.ndarray
    precision: np.ndarray
    iou: float


def score(
    detections: Sequence[Sequence[Instance]],
    truth: Sequence[Sequence[TrueObject]],
    sizes: Sequence[tuple[int, int]],
    categories: Sequence[str],
    iou: float = 0.5,
) -> SetScore:
    """COCO AP (pycocotools) of each image's detections against its true objects. `sizes`: (height, width) per
    image; `categories`: the class names both sides use (true objects of another class are dropped)."""
    names = [c for c in categories if c not in ("background", "__background__", "N/A")]
    index = {name: i for i, name in enumerate(names)}
    with_masks = (
        any(objs for objs in truth)
        and all(o.mask is not None for objs in truth for o in objs)
        and all(d.mask is not None for dets in detections for d in dets)
    )
    annotations = [
        [
            {"label": index[o.label], "box": o.box, "mask": o.mask if o.mask is not None else _box_mask(o.box, hw)}
            for o in objs
            if o.label in index
        ]
        for objs, hw in zip(truth, sizes, strict=True)
    ]
    gt = ground_truth(list(sizes), annotations, names)
    dets = [
        r
        for i, image_dets in enumerate(detections)
        for r in results(
            i,
            [
                {"label": index[d.label], "score": d.score, "box": d.box, "mask": d.mask if with_masks else None}
                for d in image_dets
                if d.label in index
            ],
        )
    ]
    # the box scores from the boxes alone (pycocotools' loadRes reads a result's bbox first whatever it carries, so
    # this changes no figure; it keeps the masks out of the box evaluation's copy)
    boxes_only = [{k: v for k, v in d.items() if k != "segmentation"} for d in dets]
    box, recall, precision = evaluate(gt, boxes_only, "bbox", iou)
    mask = average_precision(gt, dets, "segm") if with_masks else None
    objects = sum(len(a) for a in annotations)
    return SetScore(len(sizes), objects, box, mask, recall, precision, iou)


def image_ap_text(here: SetScore, every_detection_right: bool, iou: float) -> str:
    """The page's line on one image's AP, in percent as COCO's tables give it; where none of its true objects is of a
    class the detector knows, that there is no AP (pycocotools' -1, which a walk read as "box AP -100.0")."""
    if here.objects == 0:
        return (
            "**This image**: none of its true objects is of a class the detector knows, so there is no AP to compute "
            "(COCO averages precision over the classes of the true objects)."
        )
    mask = f", mask AP {100 * here.mask['AP']:.1f}" if here.mask else ""
    return (
        f"**This image**, every detection the model kept (not only those above the threshold): box AP "
        f"{100 * here.box['AP']:.1f} (AP@0.5 {100 * here.box['AP50']:.1f}){mask}."
        + perfect_ap_note(here.box["AP50"], every_detection_right, iou)
    )


def perfect_ap_note(ap50: float, every_detection_right: bool, iou: float) -> str:
    """Why AP@0.5 can stay at 100 beside a wrong detection, when it does (a walk read "1 wrong" beside AP@0.5 100.0 as
    a contradiction); "" otherwise. `iou`: the threshold the page judges right and wrong at."""
    if ap50 < 0.9995 or every_detection_right:
        return ""
    judged = f" (which judges at IoU 0.5, not the {iou:g} chosen here)." if iou != 0.5 else "."
    return (
        " AP ranks each class's detections by score and averages over the classes in the image: a wrong detection "
        "costs nothing when it scores below every right one of its class, or when no object of its class is in the "
        "image, so AP@0.5 can stay at 100" + judged
    )


def _box_mask(box: Sequence[float], size: tuple[int, int]) -> np.ndarray:
    """A filled box as a mask: COCO's area for a true object annotated with a box only."""
    out = np.zeros(size, bool)
    x0, y0, x1, y1 = (int(np.round(v)) for v in box)
    out[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = True
    return out


SET_SIZE = 50  # held-out generated scenes a detector is scored on (the Detection page's button, the README's figure)


def one_shape_note() -> str:
    """Why the bundled detector misses or splits a one-shape sample ("generated star": two triangles on its arms; a
    walk saw it fail on the app's own sample with no word): that shape is drawn larger than any in its training
    scenes, the sizes read from its card and the generator."""
    from models.hub.bundled import bundled

    card = bundled("shapes-maskrcnn")
    fewest, most = card.config["scene"]["n_objects"]
    small, large = card.config["scene"]["radius"]
    return (
        f"This sample is one large shape (its radius {SHAPE_RADIUS[0]:.0%} to {SHAPE_RADIUS[1]:.0%} of the image's "
        f"side), as the classifiers train on. The bundled detector was trained on scenes of {fewest} to {most} "
        f"smaller shapes ({small:.0%} to {large:.0%}), so a shape this large is unlike any it saw: it may miss it or "
        "find parts of it as other shapes (the truth tab scores it). Pick a generated scene to see it work."
    )


def versus_card() -> str:
    """Why the page's held-out score and the bundled detector's card differ: the card's is measured on scenes drawn
    like its training scenes, the page's on scenes drawn like the page's samples (a walk read the two
    as contradicting each other: box AP 82.4 on the card, 75.3 on the page)."""
    from models.hub.bundled import bundled

    card = bundled("shapes-maskrcnn")  # its record: what it was trained and tested on
    side, test_size, trained = GENERATED_SIZE * 2, card.metrics["test_size"], card.config["image_size"]
    fewest, most = card.config["scene"]["n_objects"]
    box, mask = 100 * card.metrics["box_AP"], 100 * card.metrics["mask_AP"]
    return (  # named by its figures: with a COCO model chosen, the page shows COCO's beside its name too (a walk)
        f"The bundled detector's own figures (box AP {box:.1f}, mask AP {mask:.1f}) come from {test_size} scenes "
        "drawn like its training scenes "
        f"({trained} x {trained} pixels, {fewest} to {most} shapes); these are drawn like "
        f"the page's samples ({side} x {side}, {SCENE_OBJECTS[0]} to {SCENE_OBJECTS[1]} shapes, so more of them "
        "overlap), a different test set: the two figures are not expected to agree."
    )


def score_generated_set(
    model: torch.nn.Module,
    categories: Sequence[str],
    iou: float = 0.5,
    n: int = SET_SIZE,
    report: Callable[[int, int], None] | None = None,
) -> SetScore:
    """The detector's COCO AP over `n` held-out generated scenes (`scene_set`), detected in batches of ten."""
    from PIL import Image

    scenes, found = scene_set(n), []
    for i in range(0, n, 10):
        if report is not None:
            report(i, n)
        found += detect_batch(model, [Image.fromarray(s.image) for s in scenes[i : i + 10]], categories)
    return score(found, [scene_objects(s) for s in scenes], [s.image.shape[:2] for s in scenes], categories, iou)
