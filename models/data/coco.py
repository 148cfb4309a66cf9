"""COCO-format records for detections and ground truth (RLE masks), and COCO-style AP with pycocotools."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def rle(mask: np.ndarray) -> dict[str, Any]:
    """A boolean H x W mask as COCO's compressed RLE, JSON-ready (counts as text)."""
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(encoded["size"]), "counts": encoded["counts"].decode("ascii")}


def xywh(box: Sequence[float]) -> list[float]:
    """(x0, y0, x1, y1) -> COCO's (x, y, width, height)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return [x0, y0, x1 - x0, y1 - y0]


def ground_truth(
    images: Sequence[tuple[int, int]], annotations: Sequence[Sequence[dict[str, Any]]], categories: Sequence[str]
) -> dict[str, Any]:
    """A COCO dataset dict. `images` are (height, width); `annotations[i]` lists image i's objects
    as {"label": index into categories, "box": (x0, y0, x1, y1), "mask": bool H x W}."""
    out = {
        "images": [{"id": i, "height": h, "width": w} for i, (h, w) in enumerate(images)],
        "categories": [{"id": c + 1, "name": name} for c, name in enumerate(categories)],
        "annotations": [],
    }
    for i, objs in enumerate(annotations):
        for obj in objs:
            out["annotations"].append(
                {
                    "id": len(out["annotations"]) + 1,
                    "image_id": i,
                    "category_id": int(obj["label"]) + 1,
                    "bbox": xywh(obj["box"]),
                    "area": float(obj["mask"].sum()),
                    "iscrowd": 0,
                    "segmentation": rle(obj["mask"]),
                }
            )
    return out


def results(image_id: int, instances: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """COCO result records for one image's detections ({"label", "score", "box", "mask" or None})."""
    out = []
    for inst in instances:
        record = {
            "image_id": image_id,
            "category_id": int(inst["label"]) + 1,
            "bbox": xywh(inst["box"]),
            "score": float(inst["score"]),
        }
        if inst.get("mask") is not None:
            record["segmentation"] = rle(inst["mask"])
        out.append(record)
    return out


def _evaluated(gt: dict[str, Any], dets: list[dict[str, Any]], kind: str) -> COCOeval:
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        evaluator = COCOeval(coco, coco.loadRes(dets), kind)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def average_precision(gt: dict[str, Any], dets: list[dict[str, Any]], kind: str = "bbox") -> dict[str, float]:
    """COCO AP (0.5:0.95), AP50 and AP75 for `kind` "bbox" or "segm"; zeros when nothing was detected."""
    return evaluate(gt, dets, kind)[0]


def evaluate(
    gt: dict[str, Any], dets: list[dict[str, Any]], kind: str = "bbox", iou: float = 0.5
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """One pycocotools evaluation: (AP, AP50 and AP75; COCO's 101 recall points; the interpolated precision
    there for the IoU threshold of COCO's ten (0.5 to 0.95) nearest `iou`, averaged over the categories that
    have true objects, all areas, 100 detections). Precision is 0 where that recall is never reached; all
    zeros when nothing was detected."""
    recall = np.linspace(0, 1, 101)
    if not dets:
        return {"AP": 0.0, "AP50": 0.0, "AP75": 0.0}, recall, np.zeros_like(recall)
    evaluator = _evaluated(gt, dets, kind)
    s = evaluator.stats
    ap = {"AP": float(s[0]), "AP50": float(s[1]), "AP75": float(s[2])}
    t = int(np.argmin(np.abs(evaluator.params.iouThrs - iou)))
    p = evaluator.eval["precision"][t, :, :, 0, -1]  # recall x category
    present = [k for k in range(p.shape[1]) if (p[:, k] > -1).any()]
    if not present:
        return ap, recall, np.zeros_like(recall)
    return ap, recall, np.clip(p[:, present], 0, None).mean(axis=1)
