"""Detectors: torchvision's COCO R-CNNs with the project's bundled shapes Mask R-CNN as fallback.

Same loading order as the classifiers (cache, download with progress, bundled with the reason
recorded). `detect(model, image)` runs one image and returns plain `Instance` records in the
image's own pixel coordinates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision.models import WeightsEnum
from torchvision.models.detection import (
    FasterRCNN_ResNet50_FPN_V2_Weights,
    KeypointRCNN_ResNet50_FPN_Weights,
    MaskRCNN_ResNet50_FPN_V2_Weights,
    MaskRCNN_ResNet50_FPN_Weights,
)
from torchvision.transforms.v2 import functional as TF

from models.devices import best_device, model_device
from models.hub import weights_cache
from models.hub.bundled import bundled
from models.hub.fallback import ModelSpec, WeightsInfo, load_with_fallback
from models.lock import lock_for
from models.mask_paste import use_batched_paste

log = logging.getLogger("explainer.detection")
BUNDLED_DETECTOR = "shapes"
# COCO's person skeleton as pairs of keypoint indices (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles)
COCO_SKELETON = [
    (15, 13),
    (13, 11),
    (16, 14),
    (14, 12),
    (11, 12),
    (5, 11),
    (6, 12),
    (5, 6),
    (5, 7),
    (6, 8),
    (7, 9),
    (8, 10),
    (1, 2),
    (0, 1),
    (0, 2),
    (1, 3),
    (2, 4),
    (3, 5),
    (4, 6),
]


def _spec(name: str, title: str, weights: WeightsEnum | None) -> ModelSpec:
    return ModelSpec(name, title, weights, fallback=BUNDLED_DETECTOR, retrain="python -m models.train.detector")


DETECTORS: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        _spec("maskrcnn_resnet50_fpn", "Mask R-CNN ResNet-50 FPN (COCO)", MaskRCNN_ResNet50_FPN_Weights.COCO_V1),
        _spec(
            "maskrcnn_resnet50_fpn_v2", "Mask R-CNN ResNet-50 FPN v2 (COCO)", MaskRCNN_ResNet50_FPN_V2_Weights.COCO_V1
        ),
        _spec(
            "keypointrcnn_resnet50_fpn",
            "Keypoint R-CNN ResNet-50 FPN (COCO)",
            KeypointRCNN_ResNet50_FPN_Weights.COCO_V1,
        ),
        _spec(
            "fasterrcnn_resnet50_fpn_v2",
            "Faster R-CNN ResNet-50 FPN v2, boxes only (COCO)",
            FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1,
        ),
        _spec(BUNDLED_DETECTOR, "Shapes Mask R-CNN (bundled)", None),
    )
}


@dataclass(frozen=True)
class Instance:
    """One detection, in the input image's pixels."""

    label: str
    score: float
    box: tuple[float, float, float, float]  # (x0, y0, x1, y1)
    mask: np.ndarray | None = None  # bool H x W
    keypoints: np.ndarray | None = None  # K x 3: x, y, visibility score
    label_index: int = 0  # index into the detector's categories


DRAWN = ("masks", "boxes", "keypoints")  # what a detection can be drawn with


def shown_detections(instances: list[Instance], threshold: float, classes: list[str]) -> list[int]:
    """Indices into `instances` of the detections a filter keeps: those scoring at least `threshold` in `classes`
    (an index names a detection whatever the filter: a link says which one it focuses by it)."""
    return [n for n, i in enumerate(instances) if i.score >= threshold and i.label in classes]


def drawable(model: nn.Module) -> tuple[str, ...]:
    """What `model`'s detections can be drawn with, of DRAWN: masks from a Mask R-CNN, keypoints from a Keypoint
    R-CNN, boxes from any (a walk found 'keypoints' chosen for the bundled Mask R-CNN, which has none)."""
    heads = getattr(model, "roi_heads", None)
    has = {
        "masks": heads is not None and heads.has_mask(),
        "boxes": True,
        "keypoints": heads is not None and heads.has_keypoint(),
    }
    return tuple(k for k in DRAWN if has[k])


@dataclass(frozen=True, kw_only=True)
class DetectorInfo(WeightsInfo):
    """What is running and why; for a keypoint model, the names of its keypoints."""

    keypoint_names: tuple[str, ...] = ()


def coco_figures(weights: WeightsEnum) -> str:
    """The COCO val2017 figures torchvision records in the weights' metadata, as one phrase."""
    metrics = weights.meta["_metrics"]["COCO-val2017"]
    names = {"box_map": "box AP", "mask_map": "mask AP", "kp_map": "keypoint AP"}
    return ", ".join(f"{names[k]} {v:.1f}" for k, v in metrics.items() if k in names) + " on COCO val2017"


def _bundled(requested: str, reason: str) -> tuple[nn.Module, DetectorInfo]:
    record = bundled("shapes-maskrcnn")
    m = record.metrics
    metrics = (
        f"box AP {100 * m['box_AP']:.1f}, mask AP {100 * m['mask_AP']:.1f} (mask AP@0.5 "
        f"{100 * m['mask_AP50']:.1f}) on {m['test_size']} held-out generated scenes"
    )
    info = DetectorInfo(
        requested=requested,
        name=BUNDLED_DETECTOR,
        title=DETECTORS[BUNDLED_DETECTOR].title,
        source="bundled",
        categories=("background", *record.classes),
        metrics=metrics,
        reason=reason,
        weights_file=record.public_file,
        weights_sha256=record.sha256,
    )
    return record.build(), info


def _torchvision(
    spec: ModelSpec, allow_download: bool, progress: weights_cache.Progress | None
) -> tuple[nn.Module, DetectorInfo]:
    assert spec.weights is not None
    model, source, path, digest = weights_cache.pretrained(
        spec.weights, spec.name, allow_download, progress, weights_backbone=None
    )
    meta = spec.weights.meta
    info = DetectorInfo(
        requested=spec.name,
        name=spec.name,
        title=spec.title,
        source=source,
        categories=tuple(meta["categories"]),
        metrics=coco_figures(spec.weights),
        keypoint_names=tuple(meta.get("keypoint_names", ())),
        weights_file=str(path),
        weights_sha256=digest,
    )
    return model, info


def load_detector(
    name: str,
    *,
    device: torch.device | str | None = None,
    allow_download: bool = True,
    progress: weights_cache.Progress | None = None,
) -> tuple[nn.Module, DetectorInfo]:
    """A detector in eval mode; the bundled shapes detector stands in when COCO weights are unavailable."""
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")
    spec = DETECTORS[name]
    model, info = load_with_fallback(
        spec,
        "COCO",
        lambda: _torchvision(spec, allow_download, progress),
        _bundled,
        ". The bundled detector knows only the generated shapes.",
    )
    log.info("loaded detector %s as %s from %s", name, info.name, info.source)
    model.categories = info.categories  # so that detect(model, image) can name what it finds
    use_batched_paste(model)  # torchvision's mask paste without its per-mask loop (models/mask_paste.py)
    return model.eval().to(device or best_device()), info


def detector_input(image: Image.Image, device: torch.device | str = "cpu") -> torch.Tensor:
    """An RGB image -> the 3 x H x W float tensor in [0, 1] the R-CNNs take (they normalise and resize inside)."""
    return TF.to_dtype(TF.pil_to_tensor(image).to(device), torch.float32, scale=True)  # bytes cross, not floats


def detect(model: nn.Module, image: Image.Image, categories: tuple[str, ...] | None = None) -> list[Instance]:
    """All detections for one image, most confident first (the models keep at most 100). Label
    names come from `categories`, else from the `categories` that `load_detector` gives the model."""
    return detect_batch(model, [image], categories)[0]


@torch.no_grad()
def detect_batch(
    model: nn.Module, images: list[Image.Image], categories: tuple[str, ...] | None = None, batch_size: int = 8
) -> list[list[Instance]]:
    """Detections for a set of images, `batch_size` images per forward pass (the R-CNNs batch images of any
    size inside); one list per image, as `detect` gives it."""
    device = model_device(model)
    names = categories or getattr(model, "categories", None) or ()
    found = []
    for i in range(0, len(images), batch_size):
        with lock_for(model):
            outs = model([detector_input(im, device) for im in images[i : i + batch_size]])
        found += [_instances(out, names) for out in outs]
    return found


def _binary(masks: torch.Tensor) -> np.ndarray:
    """Pasted mask probabilities -> boolean masks on the CPU, above 0.5 as torchvision's examples cut them: on a GPU
    compared there (a byte a pixel crosses, not four), on the CPU by numpy, which compared an image's 69 masks at
    640 x 480 in 8 ms where torch took 18 (2 cores; the bundled detector's page path read 1.20x its model's time)."""
    return (masks > 0.5).cpu().numpy() if masks.device.type != "cpu" else masks.numpy() > 0.5


def _instances(out: dict[str, torch.Tensor], names: tuple[str, ...]) -> list[Instance]:
    """One image's R-CNN output as plain records on the CPU."""
    masks = _binary(out["masks"][:, 0]) if "masks" in out else None
    keypoints = out["keypoints"].cpu().numpy() if "keypoints" in out else None
    if keypoints is not None and "keypoints_scores" in out:
        keypoints = keypoints.copy()
        keypoints[..., 2] = out["keypoints_scores"].cpu().numpy()
    instances = []
    for i, (label, score, box) in enumerate(
        zip(out["labels"].tolist(), out["scores"].tolist(), out["boxes"].tolist(), strict=True)
    ):
        instances.append(
            Instance(
                names[label] if label < len(names) else str(label),
                float(score),
                tuple(box),
                None if masks is None else masks[i],
                None if keypoints is None else keypoints[i],
                label,
            )
        )
    return instances
