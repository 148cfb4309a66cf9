"""True objects for an image: from a generated scene, or from a COCO-format annotation file a user uploads
(read as plain JSON within fixed bounds; one-line errors)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.data.shapes import SHAPE_CLASSES, Scene

MAX_ANNOTATION_BYTES = 5 * 2**20
MAX_OBJECTS = 1000  # per image


@dataclass(frozen=True)
class TrueObject:
    """One annotated object: its class name (as the detector names it), box (x0, y0, x1, y1), and mask if known."""

    label: str
    box: tuple[float, float, float, float]
    mask: np.ndarray | None = None


def scene_objects(scene: Scene) -> list[TrueObject]:
    """A generated scene's objects, with their masks."""
    return [
        TrueObject(SHAPE_CLASSES[int(label)], tuple(float(v) for v in box), mask)
        for label, box, mask in zip(scene.labels, scene.boxes, scene.masks, strict=True)
    ]


def coco_objects(data: bytes, image_name: str, size: tuple[int, int]) -> list[TrueObject]:
    """The boxes a COCO-format annotation file gives for one image (`size`: its height and width): the file's only
    image, else the one whose `file_name` ends with `image_name`. Masks are not read. ValueError in one line
    for a file that is too big, not JSON, not COCO-shaped, or without that image."""
    if len(data) > MAX_ANNOTATION_BYTES:
        raise ValueError(f"the annotation file is over {MAX_ANNOTATION_BYTES // 2**20} MB")
    try:
        coco = json.loads(data)
        images, annotations, categories = coco["images"], coco["annotations"], coco["categories"]
        names = {int(c["id"]): str(c["name"]) for c in categories}
        picks = images if len(images) == 1 else [i for i in images if str(i.get("file_name", "")).endswith(image_name)]
        if not picks:
            raise ValueError(f"it has no image named {image_name!r}")
        image_id = picks[0]["id"]
        mine = [a for a in annotations if a.get("image_id") == image_id]
        if len(mine) > MAX_OBJECTS:
            raise ValueError(f"it has {len(mine)} objects for this image (at most {MAX_OBJECTS})")
        objects = []
        for a in mine:
            x, y, w, h = (float(v) for v in a["bbox"])
            if not all(np.isfinite([x, y, w, h])) or w <= 0 or h <= 0:
                raise ValueError(f"annotation {a.get('id')} has an empty or invalid box")
            objects.append(TrueObject(names[int(a["category_id"])], (x, y, x + w, y + h)))
    except ValueError as exc:
        raise ValueError(f"not a usable COCO annotation file: {str(exc).splitlines()[0][:160]}") from None
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ValueError(f"not a usable COCO annotation file (missing or malformed {exc})") from None
    height, width = size
    if any(o.box[2] > width * 1.01 or o.box[3] > height * 1.01 for o in objects):
        raise ValueError("not a usable COCO annotation file: its boxes lie outside this image")
    return objects


def labels_known(objects: Sequence[TrueObject], categories: Sequence[str]) -> tuple[list[TrueObject], list[str]]:
    """(the objects whose class the detector knows, the names of the classes it does not know)."""
    known = set(categories)
    return [o for o in objects if o.label in known], sorted({o.label for o in objects if o.label not in known})
