"""A torchvision R-CNN opened up stage by stage, and a Grad-CAM for one of its detections.

Stages: the FPN feature maps (P2-P6), the region proposal network's proposals with their
objectness, the final detections after per-class non-maximum suppression, and for one detection
its 28 x 28 mask logits (Mask R-CNN) or 17 keypoint heatmaps (Keypoint R-CNN), each read from
the model's own modules in the order its forward pass uses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection.rpn import concat_box_prediction_layers
from torchvision.models.detection.transform import resize_boxes
from torchvision.ops import box_iou, clip_boxes_to_image

from models.devices import model_device, on_model_device
from models.lock import lock_for
from models.text import percent


@dataclass(frozen=True)
class StageSettings:
    """The thresholds a torchvision R-CNN applies between its stages in eval mode, as the stages' texts state them
    (a fidelity review: the texts named NMS only, and the score slider went down to 0, below what the model keeps)."""

    pre_nms: int  # RPN: proposals kept per FPN level before its non-maximum suppression
    post_nms: int  # RPN: proposals kept after it
    rpn_iou: float  # RPN: its NMS's IoU threshold
    min_score: float  # box head: detections scoring under this are dropped (box_score_thresh)
    iou: float  # box head: its per-class NMS's IoU threshold
    per_image: int  # box head: at most this many detections


NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _layers(n: int, noun: str) -> str:
    """ "four 3 x 3 convolutions", "one fully connected layer": a small count in words, as prose has it."""
    return f"{NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else f'{n:,}'} {noun}{'' if n == 1 else 's'}"


def box_head_text(model: nn.Module) -> str:
    """What `model`'s box head does to a proposal's pooled features, read from its modules: "two fully connected
    layers" (torchvision's TwoMLPHead: Mask R-CNN, Keypoint R-CNN, the bundled detector), "four 3 x 3 convolutions,
    each with BatchNorm and a ReLU, then one fully connected layer" (FastRCNNConvFCHead: the v2 models; a fidelity
    review found the page saying two fully connected layers of every model)."""
    head = model.roi_heads.box_head
    convs = [m for m in head.modules() if isinstance(m, nn.Conv2d)]
    fcs = _layers(sum(isinstance(m, nn.Linear) for m in head.modules()), "fully connected layer")
    if not convs:
        return fcs
    sides = {f"{c.kernel_size[0]} x {c.kernel_size[1]}" for c in convs}
    size = f"{sides.pop()} " if len(sides) == 1 else ""
    norm = any(isinstance(m, nn.BatchNorm2d) for m in head.modules())
    return (
        f"{_layers(len(convs), size + 'convolution')}, each with {'BatchNorm and ' if norm else ''}a ReLU, then {fcs}"
    )


def stage_settings(model: nn.Module) -> StageSettings:
    """`model`'s thresholds as its eval-mode forward pass uses them (RegionProposalNetwork.filter_proposals,
    RoIHeads.postprocess_detections)."""
    rpn, heads = model.rpn, model.roi_heads
    return StageSettings(
        int(rpn._pre_nms_top_n["testing"]),
        int(rpn._post_nms_top_n["testing"]),
        float(rpn.nms_thresh),
        float(heads.score_thresh),
        float(heads.nms_thresh),
        int(heads.detections_per_img),
    )


@dataclass(frozen=True)
class Stages:
    """What each stage produced for one image; boxes are in the input image's pixels."""

    features: dict[str, np.ndarray]  # FPN level -> C x h x w
    proposals: np.ndarray  # N x 4, strongest first
    objectness: np.ndarray  # N, in [0, 1]
    boxes: np.ndarray  # final detections, M x 4
    labels: np.ndarray  # M
    scores: np.ndarray  # M
    resized_to: tuple[int, int]  # the size the model actually saw
    image_hw: tuple[int, int]  # the input image's size (height, width)
    settings: StageSettings | None = None  # the thresholds between the stages


def one_image(x: torch.Tensor) -> torch.Tensor:
    """A detector's one image as 3 x H x W (torchvision's R-CNNs take a list of them): a batch of one, as a
    classifier's `prepare` makes, is unwrapped; anything else is refused in one line (a notebook review read
    torchvision's "expected a list of 3d tensors")."""
    if x.dim() == 4 and x.shape[0] == 1:
        return x[0]
    if x.dim() != 3:
        raise ValueError(f"a detector takes one image as 3 x H x W, not a tensor of shape {tuple(x.shape)}")
    return x


@torch.no_grad()
def run_stages(model: nn.Module, x: torch.Tensor) -> Stages:
    """Run `x` (3 x H x W in [0, 1], or a batch of one) through the model one stage at a time."""
    x = on_model_device(model, one_image(x))
    with lock_for(model):
        original = [tuple(x.shape[-2:])]
        images, _ = model.transform([x])
        features = model.backbone(images.tensors)
        feats = list(features.values())
        objectness, deltas = model.rpn.head(feats)
        anchors = model.rpn.anchor_generator(images, feats)
        per_level = [o[0].numel() for o in objectness]
        objectness, deltas = concat_box_prediction_layers(objectness, deltas)
        proposals = model.rpn.box_coder.decode(deltas, anchors).view(1, -1, 4)
        boxes, scores = model.rpn.filter_proposals(proposals, objectness, images.image_sizes, per_level)
        detections, _ = model.roi_heads(features, boxes, images.image_sizes)
        detections = model.transform.postprocess(detections, images.image_sizes, original)[0]
    size = images.image_sizes[0]
    return Stages(
        {k: v[0].cpu().numpy() for k, v in features.items()},
        resize_boxes(boxes[0], size, original[0]).cpu().numpy(),
        scores[0].cpu().numpy(),
        detections["boxes"].cpu().numpy(),
        detections["labels"].cpu().numpy(),
        detections["scores"].cpu().numpy(),
        tuple(size),
        original[0],
        stage_settings(model),
    )


def _box_on_features(model: nn.Module, stages: Stages, boxes: Sequence[float] | np.ndarray):
    """(FPN features, the boxes in the resized image (N x 4), the resized size, the original size): what the second
    stage starts from for one box (x0, y0, x1, y1) or N x 4 boxes given in the input image's pixels. The features are
    those `run_stages` kept, on the model's device: the second stage reads them as they are, so following one
    detection does not run the backbone again (seconds a pass for a COCO model on a CPU)."""
    device = model_device(model)
    features = {k: torch.from_numpy(v)[None].to(device) for k, v in stages.features.items()}
    given = torch.as_tensor(np.asarray(boxes, dtype=np.float32), device=device).reshape(-1, 4)
    return features, resize_boxes(given, stages.image_hw, stages.resized_to), list(stages.resized_to), stages.image_hw


@torch.no_grad()
def head_outputs(model: nn.Module, stages: Stages, box: tuple[float, float, float, float], label: int) -> dict:
    """For one detection: its 28 x 28 mask logits for its class (Mask R-CNN) and its keypoint
    heatmaps (Keypoint R-CNN), computed by the heads from the detection's box on the image's `stages`."""
    out: dict[str, np.ndarray] = {}
    with lock_for(model):
        features, roi, size, _ = _box_on_features(model, stages, box)
        heads = model.roi_heads
        if getattr(heads, "mask_predictor", None) is not None:
            logits = heads.mask_predictor(heads.mask_head(heads.mask_roi_pool(features, [roi], [size])))
            out["mask_logits"] = logits[0, label].cpu().numpy()
        if getattr(heads, "keypoint_predictor", None) is not None:
            maps = heads.keypoint_predictor(heads.keypoint_head(heads.keypoint_roi_pool(features, [roi], [size])))
            out["keypoint_heatmaps"] = maps[0].cpu().numpy()
    return out


def source_proposal(
    stages: Stages, box: tuple[float, float, float, float] | None
) -> tuple[int, tuple[float, float, float, float]] | None:
    """(rank, box) of the proposal a detection with `box` most likely came from (the one overlapping it most), or
    of the strongest proposal when `box` is None; None when there is no proposal."""
    if not len(stages.proposals):
        return None
    i = 0 if box is None else int(box_iou(torch.tensor([box]), torch.from_numpy(stages.proposals).float())[0].argmax())
    return i, tuple(float(v) for v in stages.proposals[i])


@dataclass(frozen=True)
class Followed:
    """The proposal the second stage is followed on: its rank by objectness, its box (input-image pixels), and why
    it: "strongest" (no detection chosen), "source" (the proposal the chosen detection came from,
    `detection_source`) or "overlap" (none reproduces the detection, say the proposals were cut: the one overlapping
    it most, a guess)."""

    rank: int
    box: tuple[float, float, float, float]
    why: Literal["strongest", "source", "overlap"]

    @property
    def exact(self) -> bool:
        """Whether this is the detection's known source, whose box the box head moves onto the detection's."""
        return self.why == "source"


def follow(
    stages: Stages,
    box: tuple[float, float, float, float] | None = None,
    source: tuple[int, tuple[float, float, float, float]] | None = None,
) -> Followed | None:
    """The proposal to follow through stages 3 and 4 for a detection with `box` (None: no detection chosen) whose
    `source` (`detection_source`'s answer) is known or None: that source, else the proposal overlapping `box` most,
    else the strongest; None without proposals. The box head pools proposals, not the detections they become."""
    picked = source or source_proposal(stages, box)
    if picked is None:
        return None
    why = "strongest" if box is None else "source" if source else "overlap"
    return Followed(picked[0], picked[1], why)


SOURCE_PIXELS = 0.5  # a proposal is a detection's source when the box head moves it to within this of the detection


@torch.no_grad()
def detection_source(
    model: nn.Module,
    stages: Stages,
    box: tuple[float, float, float, float],
    label: int,
    score: float,
) -> tuple[int, tuple[float, float, float, float]] | None:
    """(rank, box) of the proposal a detection came from: the one that the box head, run on every proposal at once
    as `roi_heads` runs them, moves for the detection's class onto the detection's `box` (within SOURCE_PIXELS,
    clipped to the image as torchvision clips) with the detection's `score` as that class's probability (within
    1e-3); None when no proposal does (then `source_proposal`'s overlap is a guess). The proposals and features
    are the image's `stages`. A walk found the guess by overlap naming a proposal whose class
    probability (54%) was not the detection's score (87%)."""
    proposals = stages.proposals
    if not len(proposals):
        return None
    with lock_for(model):
        features, rois, size, original = _box_on_features(model, stages, proposals)
        heads = model.roi_heads
        logits, regression = heads.box_predictor(heads.box_head(heads.box_roi_pool(features, [rois], [size])))
        i = _source_row(heads, (logits, regression), rois, (size, original), (box, label, score))
    return (i, tuple(float(v) for v in proposals[i])) if i is not None else None


def _source_row(
    heads: nn.Module,
    outputs: tuple[torch.Tensor, torch.Tensor],
    rois: torch.Tensor,
    sizes: tuple[Sequence[int], Sequence[int]],
    detection: tuple[tuple[float, float, float, float], int, float],
) -> int | None:
    """The row of the box predictor's `outputs` (class logits, box regression: a row per RoI in `rois`, in the
    resized image) that `roi_heads` turns into `detection` (box in the input image's pixels, label, score): the one
    it moves for the label onto the box (within SOURCE_PIXELS, clipped as torchvision clips, `sizes` the resized
    and input sizes) with the score as that class's probability (within 1e-3); None when no row does."""
    (logits, regression), (size, original), (box, label, score) = outputs, sizes, detection
    with torch.no_grad():
        probability = F.softmax(logits.float(), -1)[:, label]
        moved = heads.box_coder.decode(regression, [rois]).reshape(len(rois), -1, 4)[:, label]
        moved = resize_boxes(clip_boxes_to_image(moved, size), size, original)
        gap = (moved - torch.tensor([box], dtype=moved.dtype, device=moved.device)).abs().amax(1)
        gap[(probability - score).abs() > 1e-3] = float("inf")
    i = int(gap.argmin())
    return i if float(gap[i]) <= SOURCE_PIXELS else None


@dataclass(frozen=True)
class BoxHeads:
    """One proposal through the second stage: its RoI features (RoIAlign from the FPN level its size picks), the
    box head's class probabilities, and the box the regression moves it to (clipped to the image, as torchvision
    clips) for the most likely object class, or for the class of the detection it became."""

    features: np.ndarray  # 256 x 7 x 7 pooled features
    level: int  # FPN level the box was pooled from (0 = P2, stride 4)
    probabilities: np.ndarray  # one per class, background first
    refined: tuple[float, float, float, float]  # for class `best`, in input-image pixels
    best: int  # that class's index (never the background)
    detection: bool = False  # `best` is the class of the detection this proposal became, not the most probable

    def moved_text(self, proposal: tuple[float, float, float, float]) -> str:
        """How far the box head moved `proposal`, its largest corner shift in whole pixels, in words: a walk saw no
        red box where the green one, drawn over it, had moved it by a pixel or two."""
        shift = round(max(abs(a - b) for a, b in zip(proposal, self.refined, strict=True)))
        return f"moved by up to {shift} px" + (", so green all but covers red" if shift <= 3 else "")

    def moved_for(self, categories: list[str]) -> str:
        """What the refined box is, in words: moved for the most probable object class; when the background is more
        probable still, it says so, with both probabilities (the chart beside it ranks the background first)."""
        why = "the detection's class" if self.detection else "its most probable object class"
        said = f"as the box head moves it for {categories[self.best]}, {why}"
        background, best = self.probabilities[0], self.probabilities[self.best]
        if background > best:
            said += f" (the background is more probable: {percent(background, 0)} against {percent(best, 0)})"
        return said


@torch.no_grad()
def box_heads(
    model: nn.Module, stages: Stages, box: tuple[float, float, float, float], label: int | None = None
) -> BoxHeads:
    """Run one box (a proposal, in the input image's pixels) through the model's RoI features, box head and
    box predictor, as `roi_heads` does for every proposal before scoring thresholds and per-class NMS; the box is
    moved for `label` (the class of the detection the proposal became: its box then is the detection's), else for
    the most probable object class. The features are the image's `stages`."""
    with lock_for(model):
        features, roi, size, original = _box_on_features(model, stages, box)
        heads = model.roi_heads
        pooled = heads.box_roi_pool(features, [roi], [size])
        level = int(heads.box_roi_pool.map_levels([roi])[0])  # set by the call above: the box's FPN level
        logits, regression = heads.box_predictor(heads.box_head(pooled))
        probabilities = F.softmax(logits, -1)[0]
        best = label if label is not None else int(probabilities[1:].argmax()) + 1
        moved = heads.box_coder.decode(regression, [roi]).reshape(-1, 4)[best]
        refined = resize_boxes(clip_boxes_to_image(moved[None], size), size, original)[0]
    return BoxHeads(
        pooled[0].float().cpu().numpy(),
        level,
        probabilities.float().cpu().numpy(),
        tuple(float(v) for v in refined),
        best,
        label is not None,
    )


POOL = "pool"  # torchvision's extra FPN level: P5 max-pooled, used by the RPN only
BOX_LEVEL = "box"  # a Grad-CAM level choice: the level the box head pooled the detection's features from


@dataclass(frozen=True)
class DetectionCams:
    """Grad-CAM of one detection's class score (its logit, before the softmax, as Selvaraju et al. take a class's
    score) at every FPN level the box head reads (P2-P5), from one backward pass: each H x W in [0, 1] over the image;
    the IoU with which the detection was found again; and the level the box head pooled its features from, the one
    level where its score has a gradient (None if it has none)."""

    maps: dict[str, np.ndarray]
    iou: float
    pooled_from: str | None

    def level_of(self, level: str) -> str:
        """The level a choice draws: BOX_LEVEL is the one pooled from (the finest when the score has no gradient)."""
        return level if level != BOX_LEVEL else self.pooled_from or next(iter(self.maps))

    def at(self, level: str) -> np.ndarray:
        """The map at `level` (a level key or BOX_LEVEL)."""
        return self.maps[self.level_of(level)]


def detection_cams(
    model: nn.Module, x: torch.Tensor, box: tuple[float, float, float, float], label: int
) -> DetectionCams:
    """Grad-CAM of one detection's class score at each level. The model is run again with gradients on; the
    detection is found again among the new outputs as the one of the same class that overlaps `box` most (IoU), and
    its class logit is differentiated once with respect to every level's feature map: the logit of the proposal the
    detection came from (`_source_row`), whose softmax is the detection's score. Grad-CAM differentiates the score
    before the softmax; the probability's gradient (what this differentiated until a fidelity review) weighs in every
    other class's logit too, and vanishes as the probability nears 1 (on the bundled detector its maps' rank
    correlation with the logit's was 0.31 at worst). Proposals reach the box head
    detached and each is pooled from one level, picked from its size (torchvision's LevelMapper); the box
    regression then moves it, so the detection's own box can name a neighbouring level near a level's edge: the
    level with the gradient is the one it was pooled from. `x` as `run_stages` takes it."""
    x = on_model_device(model, one_image(x))
    with lock_for(model), torch.enable_grad():
        original = [tuple(x.shape[-2:])]
        images, _ = model.transform([x])
        features = model.backbone(images.tensors)
        pooled = [k for k in features if k != POOL]  # the levels the box head reads (P6 feeds the RPN only)
        proposals, _ = model.rpn(images, features)
        heads = model.roi_heads
        seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}  # the box predictor's outputs: a row per proposal

        def keep(_module: nn.Module, _inputs: tuple, out: tuple[torch.Tensor, torch.Tensor]) -> None:
            seen.setdefault("out", out)  # returns None: a hook's return value would replace the module's output

        hook = heads.box_predictor.register_forward_hook(keep)
        try:
            detections, _ = heads(features, proposals, images.image_sizes)
        finally:
            hook.remove()
        found = model.transform.postprocess(detections, images.image_sizes, original)[0]
        same = (found["labels"] == label).nonzero().flatten()
        if len(same) == 0:
            raise ValueError("the detection was not found again")
        ious = box_iou(torch.tensor([box], dtype=torch.float, device=x.device), found["boxes"][same].detach())[0]
        best = same[int(ious.argmax())]
        again = (tuple(float(v) for v in found["boxes"][best].detach()), label, float(found["scores"][best].detach()))
        row = _source_row(heads, seen["out"], proposals[0], (images.image_sizes[0], original[0]), again)
        if row is None:  # the same pass made the detection from one of these rows: not seen on any model here
            raise ValueError("the proposal the detection came from was not found")
        # the levels' gradients alone: a backward() also filled .grad on the shared model's parameters, kept for the
        # process's life (a review)
        found_grads = torch.autograd.grad(seen["out"][0][row, label], [features[k] for k in pooled], allow_unused=True)
        grads = {k: torch.zeros_like(features[k]) if g is None else g for k, g in zip(pooled, found_grads, strict=True)}
        read = [k for k in pooled if bool(grads[k].any())]  # one level at most: a box is pooled from one
        pooled_from = max(read, key=lambda k: float(grads[k].abs().sum())) if read else None
        cams = {
            k: F.relu((grads[k].mean(dim=(2, 3), keepdim=True) * features[k]).sum(dim=1, keepdim=True)).detach()
            for k in pooled
        }
    h, w = images.image_sizes[0]
    maps = {}
    for k, cam in cams.items():
        cam = F.interpolate(cam, size=images.tensors.shape[-2:], mode="bilinear", align_corners=False)[..., :h, :w]
        cam = F.interpolate(cam, size=original[0], mode="bilinear", align_corners=False)[0, 0]
        peak = float(cam.max())
        maps[k] = (cam / peak if peak > 0 else cam).cpu().numpy()
    return DetectionCams(maps, float(ious.max()), pooled_from)


def explain_detection(
    model: nn.Module, x: torch.Tensor, box: tuple[float, float, float, float], label: int, level: str = BOX_LEVEL
) -> tuple[np.ndarray, float, str | None]:
    """One level's map of `detection_cams`, for a notebook: (the map at `level`, by default the level the box head
    pooled the detection from, as the page shows first; the IoU; that level). The default was level "0", which for a
    large box pooled from a coarser level is all zeros (a notebook review)."""
    cams = detection_cams(model, x, box, label)
    return cams.at(level), cams.iou, cams.pooled_from


@dataclass(frozen=True)
class RoiComparison:
    """One box pooled from one FPN level both ways, as channel means of the size x size output: RoIPool (the box
    snapped to whole cells, the maximum over uneven bins), the average over those same bins, and RoIAlign as the
    model's box head runs it (bilinear samples at exact positions, averaged). The differences, relative to RoIAlign's
    mean magnitude over all channels, split the gap in two: max against average, then the snapping."""

    level: str
    stride: int
    pool: np.ndarray  # size x size
    align: np.ndarray  # size x size
    exact: tuple[float, float, float, float]  # (x0, y0, x1, y1) in feature cells
    quantised: tuple[int, int, int, int]  # the first and last cells RoIPool reads, inclusive
    difference: float  # mean |pool - align| over all channels, relative to mean |align|
    max_vs_average: float  # mean |pool - average over the same snapped bins|, relative to mean |align|
    snapping: float  # mean |average over the snapped bins - align|, relative to mean |align|
    aligned: bool = False  # RoIAlign with the half-pixel correction (aligned=True) instead of the model's own
    half_pixel: float = 0.0  # mean |aligned=True - aligned=False|, relative to the model's (aligned=False) mean |.|


def fpn_level_name(level: str | int) -> str:
    """The lecture's name of an FPN level as torchvision keys it ("0" is P2, ..., "3" is P5; "pool" is P6)."""
    return "P6 (pool)" if str(level) == POOL else f"P{int(level) + 2}"


def fpn_stride(level: str | int) -> int:
    """How many input pixels (of the resized image) one cell of the level spans: 4 for P2 up to 64 for P6."""
    return 64 if str(level) == POOL else 2 ** (int(level) + 2)


def poolable_level(level: str) -> str:
    """The level RoI pooling reads for a chosen one: the box heads pool from P2-P5 only (torchvision's
    MultiScaleRoIAlign), so the pool level P6 falls back to P5."""
    return "3" if level == POOL else level


def roi_level(stages: Stages, box: tuple[float, float, float, float], image_hw: tuple[int, int]) -> str:
    """The FPN level the box heads pool `box` (input-image pixels) from: torchvision's own LevelMapper (FPN paper,
    eq. 1: k = floor(4 + log2(sqrt(w h) / 224)), clamped to P2..P5) on the box in the resized image; keyed "0".."3"."""
    from torchvision.ops.poolers import LevelMapper

    sy, sx = stages.resized_to[0] / image_hw[0], stages.resized_to[1] / image_hw[1]
    resized = torch.tensor([[box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy]], dtype=torch.float32)
    return str(int(LevelMapper(k_min=2, k_max=5)([resized])[0]))


def _average_over_pool_bins(feature: torch.Tensor, q: tuple[int, int, int, int], size: int) -> torch.Tensor:
    """The mean (not RoIPool's max) over RoIPool's own bins: cells q[0]..q[2] by q[1]..q[3], inclusive, split as
    torchvision's roi_pool kernel splits them (floor of the start, ceiling of the end)."""
    _, h, w = feature.shape
    x0, y0, x1, y1 = q
    bin_w, bin_h = max(x1 - x0 + 1, 1) / size, max(y1 - y0 + 1, 1) / size
    out = torch.zeros(feature.shape[0], size, size)
    for i in range(size):
        ys = min(max(int(np.floor(i * bin_h)) + y0, 0), h), min(max(int(np.ceil((i + 1) * bin_h)) + y0, 0), h)
        for j in range(size):
            xs = min(max(int(np.floor(j * bin_w)) + x0, 0), w), min(max(int(np.ceil((j + 1) * bin_w)) + x0, 0), w)
            if ys[1] > ys[0] and xs[1] > xs[0]:
                out[:, i, j] = feature[:, ys[0] : ys[1], xs[0] : xs[1]].mean(dim=(1, 2))
    return out


def roi_pool_vs_align(
    stages: Stages,
    level: str,
    box: tuple[float, float, float, float],
    image_hw: tuple[int, int],
    size: int = 7,
    aligned: bool = False,
) -> RoiComparison:
    """Pool `box` (in the input image's pixels) from FPN level `level` with torchvision's `roi_pool` (Fast
    R-CNN: the box snapped to whole cells, then the maximum over uneven bins) and with `roi_align` as Mask R-CNN's
    box head calls it (torchvision's MultiScaleRoIAlign: sampling ratio 2, `aligned=False`), both to size x size,
    and split their difference into max-against-average and the snapping. `aligned=True` shows RoIAlign with the
    half-pixel correction instead (Detectron2's default and the paper's intent; torchvision's box head does not use
    it); `half_pixel` says how much that changes the pooled values either way."""
    from torchvision.ops import roi_align, roi_pool

    feature = torch.from_numpy(stages.features[level]).float()[None]
    stride = fpn_stride(level)  # P2..P5: strides 4 to 32 of the resized image
    sy, sx = stages.resized_to[0] / image_hw[0], stages.resized_to[1] / image_hw[1]
    x0, y0, x1, y1 = box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy
    rois = torch.tensor([[0.0, x0, y0, x1, y1]])
    pooled = roi_pool(feature, rois, size, spatial_scale=1 / stride)[0]
    model_align = roi_align(feature, rois, size, spatial_scale=1 / stride, sampling_ratio=2, aligned=False)[0]
    corrected = roi_align(feature, rois, size, spatial_scale=1 / stride, sampling_ratio=2, aligned=True)[0]
    half_pixel = float((corrected - model_align).abs().mean() / model_align.abs().mean().clamp_min(1e-12))
    shown = corrected if aligned else model_align
    exact = tuple(v / stride for v in (x0, y0, x1, y1))
    # roi_pool's C++ round(), half away from zero (np.round rounds half to even: 2.5 -> 2 where roi_pool reads 3);
    # it reads these cells inclusive
    quantised = tuple(int(np.sign(v) * np.floor(abs(v) + 0.5)) for v in exact)
    averaged = _average_over_pool_bins(feature[0], quantised, size)
    scale = shown.abs().mean().clamp_min(1e-12)

    def relative(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a - b).abs().mean() / scale)

    return RoiComparison(
        level,
        stride,
        pooled.mean(0).numpy(),
        shown.mean(0).numpy(),
        exact,
        quantised,
        relative(pooled, shown),
        relative(pooled, averaged),
        relative(averaged, shown),
        aligned,
        half_pixel,
    )


def cam_note(
    cam: np.ndarray, level: str, pooled_from: str | None, box: tuple[float, float, float, float] | None = None
) -> str:
    """What a reader of a detection's Grad-CAM at `level` must know, in one line, or "". Why the map is empty: the
    box head pooled the detection's features from `pooled_from` alone (proposals reach the heads detached), so its
    score has no gradient at any other level; at its own level an empty map means the gradient-weighted sum is
    nowhere positive; with `pooled_from` None the score has no gradient at any level. Why a map peaks outside the
    detection's `box` (image pixels): the score's gradient reaches only the cells RoIAlign sampled for it (under the
    detection's proposal, which the box regression then moved to `box`; bilinear sampling reaches one cell further),
    but Grad-CAM weighs each channel by its mean gradient and draws the weighted channels over the whole level, so
    what lies outside shows where those channels respond, not what this score read."""
    if np.any(cam):
        if box is None:
            return ""
        x0, y0, x1, y1 = box
        rows, cols = np.indices(cam.shape)
        inside = (cols >= x0) & (cols <= x1) & (rows >= y0) & (rows <= y1)
        if inside.flat[int(np.argmax(cam))]:
            return ""
        held, share = float(cam[inside].sum() / cam.sum()), float(inside.mean())  # of the map; of the image
        # Said as the box's share of the map against its share of the image, compared as printed (a review: "90%,
        # less than 90%"); four walks stumbled on the earlier "x% lies outside, less than the y% a map spread evenly
        # ... would put there"
        shown, area = round(100 * held), round(100 * share)
        if shown > area:
            lean = f"but the box still holds more of the map than its share of the image: {shown}% of the map"
        elif shown < area and held < 0.5:
            lean = f"and so does most of the map: the box holds {shown}% of it"
        elif shown < area:  # a large box: it holds most of the map, though less than its share (a review)
            lean = f"and the box holds less of the map than its share of the image: {shown}% of the map"
        else:
            lean = f"and the box holds about its share of the image: {shown}% of the map"
        return (
            f"The map's peak lies outside the box, {lean}, on {area}% of the image. Why: this score's gradient "
            "reaches only the features RoIAlign read under the detection's proposal (about its box), but Grad-CAM "
            f"weighs each channel by its mean gradient and draws the weighted channels over all of "
            f"{fpn_level_name(level)}, so away from the box the map shows where those channels respond, not what the "
            "detection read. Read it inside the box only: there it shows where, among the cells this score read, the "
            "channels it relies on respond most."  # a walk: the note said why, not what to take from the map
        )
    if pooled_from is None:
        return (
            "The map is empty: this detection's class score has no gradient at any level (the box head's units are "
            "all inactive for this box, so nothing before them changes its logit)."
        )
    if level != pooled_from:
        return (
            f"The map is empty at {fpn_level_name(level)}: the box head pooled this detection's features from "
            f"{fpn_level_name(pooled_from)} (the level its proposal's size picks), so its score has no gradient at "
            f"{fpn_level_name(level)}."
        )
    return (
        f"The map is empty: at {fpn_level_name(level)} the gradient-weighted channels sum to nothing positive "
        "anywhere (Grad-CAM keeps the positive part)."
    )
