"""Drawing detections with torchvision's drawing utilities, and the COCO-format export of them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from PIL import ImageColor
from torchvision.utils import draw_bounding_boxes, draw_keypoints, draw_segmentation_masks

from explain.figures.render import boxes_on_image, draw_box, draw_labels, grey_maps
from explain.methods.rcnn_stages import RoiComparison, Stages
from models.data.coco import results
from models.detectors import COCO_SKELETON, Instance
from models.text import counted, percent

COLOURS = ["#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c"]


def colour_of(index: int) -> str:
    return COLOURS[index % len(COLOURS)]


def contrasting_colour(image: np.ndarray, mask: np.ndarray) -> str:
    """The drawing colour farthest (in RGB) from the mean colour of `image` under `mask`: a mask drawn over its own
    object in a colour close to the object's (a crimson mask on a crimson hexagon) cannot be seen."""
    pixels = np.asarray(image)[np.asarray(mask, dtype=bool)]
    if not len(pixels):
        return COLOURS[0]
    mean = pixels.reshape(-1, 3).mean(0)
    rgb = {c: np.array(ImageColor.getrgb(c), dtype=float) for c in COLOURS}
    return max(COLOURS, key=lambda c: float(((rgb[c] - mean) ** 2).sum()))


def draw(image: np.ndarray, instances: Sequence[Instance], **options: Any) -> np.ndarray:
    """The detections drawn over an H x W x 3 uint8 image: `drawn_with_count`'s picture, same options."""
    return drawn_with_count(image, instances, **options)[0]


def _why_none(total: int) -> str:
    """Why no detection is listed, without a full stop: the filters left none of the `total` found, or the detector
    found nothing."""
    if total == 1:  # not "None of the 1 detection"
        return "The one detection found does not pass the score threshold and classes chosen"
    if total:
        return f"None of the {total:,} detections passes the score threshold and classes chosen"
    return "The detector found nothing in this image"


def pick_hint(kept: int, total: int, to: str, no_class: bool = False) -> str:
    """What to do to follow one detection (`to`: what following it shows), or why there is none to follow (a walk
    read "Click a row of the table above" under an empty table); `no_class`: every class was taken out of the filter
    (a walk was told to lower a threshold already at 0)."""
    if kept:
        return f"Click a row of the detections table, at the top of the page, to {to}."  # far above (a walk)
    if total and no_class:
        return f"No class is chosen in the filter above: choose one, then click a row to {to}."
    if total:
        return f"{_why_none(total)}: lower the threshold or choose more classes, then click a row to {to}."
    return f"{_why_none(0)}, so there is no detection to follow."


class Listed(NamedTuple):
    """How many detections the table lists (`kept`) of those found, and whether no class is chosen in the filter: why
    no detection is followed, when none is."""

    kept: int
    found: int
    no_class: bool = False

    def hint(self, to: str) -> str:
        """`pick_hint` for these counts."""
        return pick_hint(self.kept, self.found, to, self.no_class)


def listing_text(kept: int, total: int) -> str:
    """The line over the detections' table: how many of all the model found are shown, and that a row can be
    clicked and what follows the click (a walk saw only the picture change: the rest is thousands of pixels below);
    without rows, why there are none (a walk read "0 of 0 detections shown. Click a row to focus it." over an
    empty table)."""
    if kept:
        return (
            f"{kept} of {counted(total, 'detection')} shown. Click a row to follow that detection: the picture shows "
            "it alone, and the pipeline's stages below and *Explain one detection* follow it."
        )
    return f"{_why_none(total)}."


def labels_left_off(labelled: int, boxes: int) -> str:
    """The words a picture's caption adds when `labelled` of its `boxes` hold a label (the others had no free spot;
    see `drawn_with_count`), or "" when every box is labelled."""
    return f"; {labelled} of {boxes} labelled: a label with no free spot is left off" if labelled < boxes else ""


def drawn_with_count(
    image: np.ndarray,
    instances: Sequence[Instance],
    *,
    masks: bool = True,
    boxes: bool = True,
    keypoints: bool = True,
    focus: int | None = None,
    alpha: float = 0.45,
    text_scale: float = 1.0,
    colour: str | Sequence[str] | None = None,
    ids: Sequence[int] | None = None,
    thick: int | None = None,
) -> tuple[np.ndarray, int]:
    """The detections drawn over an H x W x 3 uint8 image, and how many of the boxes' labels the picture holds (a
    caption says so when some were left off); `focus` (an index into `instances`) draws that one alone, thicker.
    Labels are sized to the image, times `text_scale`, and never cover each other: where a weaker box's label finds
    no free spot it is left off (`label_spots`). `colour` draws every instance in that one colour (a sequence: each
    in its own); else each gets `colour_of` its entry in `ids` (its number among all the model found, so a filter does
    not recolour it; a walk), or of its index. `thick` (an index into `instances`) draws that box thicker, over the
    others, its label placed with theirs (drawn in a second call, a red proposal's label covered a grey one's)."""
    img = torch.tensor(np.asarray(image)).permute(2, 0, 1)
    chosen = list(enumerate(instances)) if focus is None else [(focus, instances[focus])]
    if not chosen:
        return np.ascontiguousarray(image), 0
    if colour is not None and not isinstance(colour, str):
        shade = {i: colour[i] for i, _ in chosen}
    else:
        shade = {i: colour or colour_of(ids[i] if ids is not None else i) for i, _ in chosen}
    colours = list(shade.values())
    shown = 0
    with_masks = [(i, inst) for i, inst in chosen if inst.mask is not None]
    if masks and with_masks:
        stack = torch.from_numpy(np.stack([inst.mask for _, inst in with_masks]))
        img = draw_segmentation_masks(img, stack, alpha=alpha, colors=[shade[i] for i, _ in with_masks])
    if boxes:
        labels = [f"{inst.label} {percent(inst.score, 0)}".strip() for _, inst in chosen]
        box_tensor = boxes_on_image([inst.box for _, inst in chosen], img)
        img = draw_bounding_boxes(img, box_tensor, colors=colours, width=3 if focus is not None else 2)
        if thick is not None and focus is None:
            img = draw_bounding_boxes(img, box_tensor[[thick]], colors=colours[thick], width=3)
        img, shown = draw_labels(img, box_tensor, labels, colours, text_scale)
    with_points = [inst for _, inst in chosen if inst.keypoints is not None]
    if keypoints and with_points:
        points = torch.from_numpy(np.stack([inst.keypoints[:, :2] for inst in with_points])).float()
        visible = torch.from_numpy(np.stack([inst.keypoints[:, 2] > 0 for inst in with_points]))
        img = draw_keypoints(
            img, points, connectivity=COCO_SKELETON, colors="#00ff66", radius=3, width=2, visibility=visible
        )
    return img.permute(1, 2, 0).numpy(), shown


OTHERS, FOLLOWED = "#BDBDBD", "#FF1744"  # stage 2: the proposals, and the one stages 3 and 4 follow


def proposals_picture(
    image: np.ndarray, boxes: Sequence, scores: Sequence, followed: int | None, text_scale: float = 1.0
) -> tuple[np.ndarray, int]:
    """Detection's stage 2: the proposals over the image, each labelled with its rank by objectness ("#1", which
    stages 3 and 4 name a proposal by) and its score, and how many labels the picture holds. `followed` (an index
    among them) is drawn in red over the others in grey (a walk: a thick red box among boxes whose colours include red
    was hard to find), thicker, and its label is placed first: labels go strongest first, and a weak followed one lost
    its label to those before it (a review), or, drawn in a second call, covered one of theirs (a walk)."""
    props = [Instance(f"#{r + 1}", float(s), tuple(b)) for r, (b, s) in enumerate(zip(boxes, scores, strict=True))]
    if followed is None:
        return drawn_with_count(image, props, masks=False, keypoints=False, text_scale=text_scale)
    order = [followed, *(r for r in range(len(props)) if r != followed)]
    return drawn_with_count(
        image,
        [props[r] for r in order],
        masks=False,
        keypoints=False,
        text_scale=text_scale,
        colour=[FOLLOWED] + [OTHERS] * (len(order) - 1),
        thick=0,
    )


def coco_json(
    instances: Sequence[Instance], categories: Sequence[str], image_size: tuple[int, int], file_name: str = "image"
) -> str:
    """The detections as COCO results (RLE masks), with the category list and image record around them. A category's
    id is its index in `categories` (torchvision's list: COCO's own ids); the background (index 0) and torchvision's
    "N/A" gaps are not categories in a COCO file (a walk found `{"id": 0, "name": "background"}` listed), unless a
    detection names one (torchvision's heads can score an "N/A" class), so that every annotation's category is there."""
    record = {
        "images": [{"id": 0, "file_name": file_name, "height": image_size[0], "width": image_size[1]}],
        "categories": [
            {"id": i, "name": name}
            for i, name in enumerate(categories)
            if i > 0 and (name != "N/A" or any(inst.label_index == i for inst in instances))  # one a box names stays
        ],
        "annotations": [
            {**r, "category_id": inst.label_index, "id": n + 1}
            for n, (inst, r) in enumerate(
                zip(
                    instances,
                    results(
                        0,
                        [
                            {"label": inst.label_index - 1, "score": inst.score, "box": inst.box, "mask": inst.mask}
                            for inst in instances
                        ],
                    ),
                    strict=True,
                )
            )
        ],
    }
    return json.dumps(record)


VERDICT_COLOURS = {"right": "#00C853", "wrong": "#FF1744", "missed": "#FF9100", "truth": "#FFFFFF"}
LABEL_ORDER = ("wrong", "missed", "right")  # whose label a verdict picture places first where room is short


def draw_verdicts(
    image: np.ndarray,
    detections: Sequence[Instance],
    true_positive: Sequence[bool],
    truth: Sequence,
    missed: Sequence[int],
    text_scale: float = 1.0,
) -> tuple[np.ndarray, int, int]:
    """The true boxes (thin, white), each detection green when right and red when wrong, and the missed true
    objects in orange, thick, over an H x W x 3 uint8 image; with how many labels it holds of how many. The true
    boxes are drawn last, over the others (drawn first, a right detection's green hid the truth it matched; a walk
    looked for the white the caption promised). Labels are
    placed wrong first, then missed, then right (each group strongest first): where two have no room for both, the
    one that tells the student something they cannot read off the colours alone is kept."""
    img = torch.tensor(np.asarray(image)).permute(2, 0, 1)
    placed: list[tuple[torch.Tensor, list[str], list[str]]] = []  # (boxes, labels, verdicts) to label once drawn
    if detections:
        labels = [
            f"{d.label} {percent(d.score, 0)} {'right' if ok else 'wrong'}"
            for d, ok in zip(detections, true_positive, strict=True)
        ]
        verdicts = ["right" if ok else "wrong" for ok in true_positive]
        boxes = boxes_on_image([d.box for d in detections], img)
        # 4 px, the truth's 2 px drawn over them: both seen where a right detection matches its truth (at 2 px each
        # a walk found the white mostly hidden at the page's size)
        img = draw_bounding_boxes(img, boxes, colors=[VERDICT_COLOURS[v] for v in verdicts], width=4)
        placed += [(boxes, labels, verdicts)]
    if missed:
        boxes = boxes_on_image([truth[j].box for j in missed], img)
        img = draw_bounding_boxes(img, boxes, colors=VERDICT_COLOURS["missed"], width=4)
        placed += [(boxes, [f"missed {truth[j].label}" for j in missed], ["missed"] * len(missed))]
    if truth:
        truths = boxes_on_image([o.box for o in truth], img)
        img = draw_bounding_boxes(img, truths, colors=VERDICT_COLOURS["truth"], width=2)
    shown = 0
    if placed:  # every label in one pass, over every box: none covers another
        boxes = torch.cat([b for b, _, _ in placed])
        labels = [label for _, labels, _ in placed for label in labels]
        verdicts = [v for _, _, verdicts in placed for v in verdicts]
        order = sorted(range(len(labels)), key=lambda i: LABEL_ORDER.index(verdicts[i]))  # stable: strongest first
        colours = [VERDICT_COLOURS[verdicts[i]] for i in order]
        img, shown = draw_labels(img, boxes[order], [labels[i] for i in order], colours, text_scale)
    return img.permute(1, 2, 0).numpy(), shown, len(detections) + len(missed)


ROI_EXACT, ROI_SNAPPED = "#00C853", "#FF1744"  # green: the box RoIAlign samples; red: the cells RoIPool reads


def roi_picture(stages: Stages, roi: RoiComparison, side: int = 480) -> np.ndarray:
    """The level's channel mean in grey, each cell `side // width` pixels, with the exact box (green) and the whole
    cells RoIPool reads (red: first to last cell inclusive, so its right and bottom edges end one cell further)."""
    fmap = grey_maps(stages.features[roi.level].mean(0, keepdims=True))[0]
    scale = max(1, side // fmap.shape[1])
    grid = np.repeat(np.repeat(fmap, scale, 0), scale, 1)
    grid = np.stack([grid] * 3, axis=-1)
    exact = tuple(round(v * scale) for v in roi.exact)
    x0, y0, x1, y1 = roi.quantised
    snapped = (x0 * scale, y0 * scale, (x1 + 1) * scale, (y1 + 1) * scale)
    return draw_box(draw_box(grid, exact, ROI_EXACT, 2), snapped, ROI_SNAPPED, 2)
