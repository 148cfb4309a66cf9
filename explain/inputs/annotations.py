"""True objects for an image: from a generated scene, or from a COCO-format annotation file a user uploads
(read as plain JSON within fixed bounds; every box checked and clipped to the image; one-line errors)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from models.data.shapes import SHAPE_CLASSES, Scene
from models.text import code_span, printable

MAX_ANNOTATION_BYTES = 5 * 2**20
MAX_OBJECTS = 1000  # per image
MAX_RECORDS = 100_000  # images, categories or annotations in one file
MAX_DEPTH = 32  # a COCO file nests 5 deep (polygons); more is not an annotation file
MAX_COORDINATE = 1e7  # pixels; beyond any image the loader accepts (40 megapixels)
MAX_DIGITS = 20  # in a whole number: COCO's ids have 12 at most; Python refuses to convert over 4,300 in its own words


def _whole_number(digits: str) -> int:
    """A JSON whole number, refused in the project's words past MAX_DIGITS digits (a loopback review: the page showed
    Python's "Exceeds the limit (4300 digits) for integer string conversion ... use sys.set_int_max_str_digits()")."""
    if len(digits.lstrip("-")) > MAX_DIGITS:
        raise ValueError(f"a whole number in it has more than {MAX_DIGITS} digits")
    return int(digits)


@dataclass(frozen=True)
class TrueObject:
    """One annotated object: its class name (as the detector names it), box (x0, y0, x1, y1), and mask if known."""

    label: str
    box: tuple[float, float, float, float]
    mask: np.ndarray | None = None


@dataclass(frozen=True)
class AnnotationFile:
    """What a COCO annotation file gives for one image: the objects on it (boxes clipped to the image), a line
    naming each annotation left out because its box lies entirely outside the image, and the name the file gives its
    only image where that is not this image's (its boxes are still taken: a walk saw them used without a word)."""

    objects: list[TrueObject]
    outside: list[str] = field(default_factory=list)
    other_name: str = ""


def scene_objects(scene: Scene) -> list[TrueObject]:
    """A generated scene's objects, with their masks."""
    return [
        TrueObject(SHAPE_CLASSES[int(label)], tuple(float(v) for v in box), mask)
        for label, box, mask in zip(scene.labels, scene.boxes, scene.masks, strict=True)
    ]


DEPTH_CHUNK = 1 << 20  # bytes scanned at a time by `json_depth`


def json_depth(data: bytes, chunk: int = DEPTH_CHUNK) -> int:
    """How deeply a UTF-8 JSON text nests arrays and objects, counted without parsing it (brackets inside strings not
    counted), so a file of a million brackets is refused before the parser recurses into it. Linear in the file's
    size whatever it holds: a quote is a string's edge unless an odd run of backslashes precedes it (a regular
    expression skipping strings retried an unclosed one from every quote, quadratic: 160 KB of escaped quotes held
    the server 49 s). Scanned `chunk` bytes at a time, carrying the backslash run, whether a string is open and the
    depth across: a 4.3 MB file scanned whole peaked at 107 MB (tracemalloc; 32 MB in chunks), and a first scan's
    fresh pages cost a second of CPU under load (a test's bound of 1 s, missed)."""
    whole = np.frombuffer(data, np.uint8)
    deepest = depth = run = 0  # the deepest level, the level now, the backslashes just before the chunk
    inside = False  # a string open at the chunk's start
    for start in range(0, len(whole), chunk):
        b = whole[start : start + chunk]
        index = np.arange(len(b), dtype=np.int32)
        last_other = np.maximum.accumulate(np.where(b == ord("\\"), np.int32(-1), index))  # last non-backslash to i
        run_before = np.empty(len(b), np.int32)  # backslashes just before each byte, the carried run included
        run_before[0] = run
        run_before[1:] = index[:-1] - last_other[:-1] + np.where(last_other[:-1] < 0, run, 0)
        edge = (b == ord('"')) & (run_before % 2 == 0)
        # after an even count of edges (the carried one included), itself not one: outside every string
        outside = (np.cumsum(edge, dtype=np.int32) + inside) % 2 == 0
        step = np.isin(b, list(b"[{")).astype(np.int8) - np.isin(b, list(b"]}")).astype(np.int8)
        levels = np.cumsum(np.where(outside & ~edge, step, np.int8(0)), dtype=np.int32) + depth
        deepest, depth = max(deepest, int(levels.max())), int(levels[-1])
        inside = (inside + int(np.count_nonzero(edge))) % 2 == 1  # a string open at the chunk's end
        run = run + len(b) if last_other[-1] < 0 else len(b) - 1 - int(last_other[-1])
    return deepest


def _records(coco: object, name: str) -> list[dict]:
    """The file's list `name` (images, categories, annotations): a list of objects, at most MAX_RECORDS."""
    if not isinstance(coco, dict) or name not in coco:
        raise ValueError(f"it has no {name!r} list")
    records = coco[name]
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError(f"its {name!r} is not a list of objects")
    if len(records) > MAX_RECORDS:
        raise ValueError(f"it has {len(records):,} {name} (at most {MAX_RECORDS:,})")
    return records


def _number(value: object, what: str) -> float:
    """A finite JSON number no larger than MAX_COORDINATE in size (booleans and strings are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} is not a number")
    if isinstance(value, int) and abs(value) > MAX_COORDINATE:
        raise ValueError(f"{what} is out of range")
    number = float(value)
    if not math.isfinite(number) or abs(number) > MAX_COORDINATE:
        raise ValueError(f"{what} is not a finite number within ±{MAX_COORDINATE:.0e}")
    return number


def _box(annotation: dict) -> tuple[float, float, float, float]:
    """The annotation's (x, y, width, height) as (x0, y0, x1, y1): four finite numbers, width and height > 0."""
    name = f"annotation {str(annotation.get('id', '?'))[:20]}"
    bbox = annotation.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise ValueError(f"{name} has no bbox of four numbers")
    x, y, w, h = (_number(v, f"{name}'s bbox") for v in bbox)
    if w <= 0 or h <= 0:
        raise ValueError(f"{name} has an empty or invalid box (width and height must be above 0)")
    return x, y, x + w, y + h


def _clip(box: tuple[float, float, float, float], size: tuple[int, int]) -> tuple[float, float, float, float] | None:
    """The box clipped to an image of `size` (height, width); None when nothing of it lies on the image."""
    height, width = size
    x0, y0, x1, y1 = max(box[0], 0.0), max(box[1], 0.0), min(box[2], float(width)), min(box[3], float(height))
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def coco_objects(data: bytes, image_name: str, size: tuple[int, int]) -> AnnotationFile:
    """The boxes a COCO-format annotation file gives for one image (`size`: its height and width): the file's only
    image, else the one whose `file_name` ends with `image_name`. Masks are not read. Every box is checked (four
    finite numbers, width and height above 0) and clipped to the image; one lying wholly outside is left out and
    named. ValueError in one line for a file that is too big or too deep, not JSON, not COCO-shaped, with a bad
    box or too many objects, or without that image. Costs time proportional to the file, never to a number in it."""
    if len(data) > MAX_ANNOTATION_BYTES:
        raise ValueError(f"the annotation file is over {MAX_ANNOTATION_BYTES // 2**20} MB")
    try:
        # as json.loads reads bytes (UTF-8, 16 or 32), then counted as UTF-8: in UTF-16 a character's byte can be a
        # quote, and the count read every bracket after it as inside a string (a review)
        encoding = json.detect_encoding(data)
        text = data.decode(encoding)
        if json_depth(data if encoding.startswith("utf-8") else text.encode()) > MAX_DEPTH:  # UTF-8 counted as it is
            raise ValueError(f"it nests deeper than {MAX_DEPTH} levels")
        coco = json.loads(text, parse_int=_whole_number)
        images, annotations = _records(coco, "images"), _records(coco, "annotations")
        names = {}
        for c in _records(coco, "categories"):
            if not isinstance(c.get("id"), int | str) or "name" not in c:
                raise ValueError("a category has no id or name")
            names[c["id"]] = printable(str(c["name"]))[:100]  # drawn on the picture and listed as it is
        picks = images if len(images) == 1 else [i for i in images if str(i.get("file_name", "")).endswith(image_name)]
        if not picks:
            raise ValueError(f"it has no image named {image_name[:100]!r}")
        image_id = picks[0].get("id")
        named = str(picks[0].get("file_name", ""))  # compared whole, cut only to be shown
        other_name = printable(named)[:100] if named and not named.endswith(image_name) else ""
        mine = [a for a in annotations if a.get("image_id") == image_id]
        if len(mine) > MAX_OBJECTS:
            raise ValueError(f"it has {len(mine):,} objects for this image (at most {MAX_OBJECTS:,})")
        objects, outside = [], []
        for a in mine:
            category = a.get("category_id")  # a list or object here cannot name one (nor be looked up: unhashable)
            if isinstance(category, bool) or not isinstance(category, int | str) or category not in names:
                raise ValueError(f"annotation {code_span(str(a.get('id', '?')), 20)} names no known category")
            label, box = names[a["category_id"]], _box(a)
            clipped = _clip(box, size)
            if clipped is None:
                where = f"{code_span(str(a.get('id', '?')), 20)} ({code_span(label, 40)})"
                outside.append(f"annotation {where} lies outside the image")
            else:
                objects.append(TrueObject(label, clipped))
    except json.JSONDecodeError as exc:  # said plainly: a walk met "Expecting value: line 1 column 1 (char 0)"
        raise ValueError(
            # json's own words end in " at" where it means the position ("Unterminated string starting at")
            f"not a usable COCO annotation file: it is not valid JSON ({exc.msg.lower().removesuffix(' at')} at line "
            f"{exc.lineno}, column {exc.colno})"
        ) from None
    except (ValueError, RecursionError) as exc:  # our own refusals, `_whole_number`'s among them
        raise ValueError(f"not a usable COCO annotation file: {str(exc).splitlines()[0][:160]}") from None
    except UnicodeDecodeError:
        raise ValueError("not a usable COCO annotation file: it is not text in UTF-8, 16 or 32") from None
    except (TypeError, AttributeError):  # Python's own words ("unhashable type: 'list'") mean nothing to a visitor
        raise ValueError(
            "not a usable COCO annotation file: a field holds the wrong kind of value (a list or an object where COCO "
            "has a number or a name)"
        ) from None
    return AnnotationFile(objects, outside, other_name)


def labels_known(objects: Sequence[TrueObject], categories: Sequence[str]) -> tuple[list[TrueObject], list[str]]:
    """(the objects whose class the detector knows, the names of the classes it does not know)."""
    known = set(categories)
    return [o for o in objects if o.label in known], sorted({o.label for o in objects if o.label not in known})
