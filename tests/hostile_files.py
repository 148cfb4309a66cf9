"""Generated odd and hostile image files, shared by the loader tests and the page tests."""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Callable, Iterator, Mapping
from functools import partial

import numpy as np
from PIL import Image


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def photo(w: int = 64, h: int = 48) -> Image.Image:
    """A small RGB gradient: every pixel different, so orientation changes are visible."""
    yy, xx = np.mgrid[0:h, 0:w]
    return Image.fromarray(np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) % 256], -1).astype(np.uint8))


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` pixels but carries almost no data (a bomb)."""
    data = encode(Image.new("RGB", (1, 1)), "PNG")
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return data[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[33:]


def exif_rotated_jpeg() -> bytes:
    """A 64 x 48 JPEG whose EXIF says 'rotate 90 degrees' (orientation 6): it displays 48 x 64."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(photo(), "JPEG", exif=exif.tobytes())


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (20, 10), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def multipage_tiff() -> bytes:
    pages = [Image.new("RGB", (16, 16), (200, 10, 10)), Image.new("RGB", (32, 32), (10, 200, 10))]
    return encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])


def palette_png_with_transparency() -> bytes:
    im = Image.new("P", (8, 8), 0)
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.putpixel((0, 0), 1)
    return encode(im, "PNG", transparency=0)


def png16() -> bytes:
    arr = (np.arange(64 * 32, dtype=np.uint16).reshape(32, 64) * 31).astype(np.uint16)
    return encode(Image.fromarray(arr), "PNG")


GOOD: dict[str, bytes] = {
    "rgb.png": encode(photo(), "PNG"),
    "rgb.jpg": encode(photo(), "JPEG"),
    "rgb.webp": encode(photo(), "WEBP"),
    "rgb.bmp": encode(photo(), "BMP"),
    "exif_rotated.jpg": exif_rotated_jpeg(),
    "animated.gif": animated_gif(),
    "multipage.tiff": multipage_tiff(),
    "palette_transparent.png": palette_png_with_transparency(),
    "rgba.png": encode(Image.new("RGBA", (10, 10), (255, 0, 0, 0)), "PNG"),
    "grey.png": encode(Image.new("L", (10, 10), 77), "PNG"),
    "grey16.png": png16(),
    "cmyk.jpg": encode(Image.new("CMYK", (10, 10), (0, 255, 255, 0)), "JPEG"),
    "one_pixel.png": encode(Image.new("RGB", (1, 1), (1, 2, 3)), "PNG"),
    "strip.png": encode(Image.new("RGB", (10_000, 20), (9, 9, 9)), "PNG"),
}

BAD: dict[str, bytes] = {
    "empty.png": b"",
    "truncated.png": GOOD["rgb.png"][: len(GOOD["rgb.png"]) // 2],
    "truncated.jpg": GOOD["rgb.jpg"][: len(GOOD["rgb.jpg"]) // 2],
    "text.png": b"this is not an image, just text renamed to .png\n" * 20,
    "page.html": b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>",
    "drawing.svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10"/></svg>',
    "bomb.png": png_declaring(50_000, 50_000),
    "icon.ico": encode(photo(16, 16), "ICO"),
}


def wide_samples(mode: str, fmt: str, width: int = 8000, height: int = 5000) -> bytes:
    """A 40-megapixel image with 16-bit, 32-bit or float samples: a few hundred KB that decode to
    hundreds of MB (a gradient, so the conversion to 8 bits has something to scale)."""
    dtype = {"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]
    ramp = np.arange(width) % 256 / 255  # repeats every 256 pixels, so the file stays small
    row = (ramp * {"I;16": 65535, "I": 1_000_000, "F": 1.0}[mode]).astype(dtype)
    im = Image.fromarray(np.broadcast_to(row, (height, width)).copy())
    return encode(im, fmt, **({"compression": "tiff_adobe_deflate"} if fmt == "TIFF" else {}))


def jpeg_scan_bomb(scans: int = 20_000, side: int = 1024) -> bytes:
    """A progressive JPEG whose last scan is repeated `scans` times: small, and minutes of CPU to decode."""
    data = encode(Image.new("RGB", (side, side), (90, 120, 150)), "JPEG", progressive=True)
    start = data.rindex(b"\xff\xda")  # the last scan runs from its SOS marker to the end-of-image marker
    return data[:-2] + data[start:-2] * (scans - 1) + data[-2:]


def exif_flood(tags: int = 8_000) -> bytes:
    """A PNG whose EXIF block lists `tags` entries larger than the file: PIL warns once per entry."""
    entries = b"".join(struct.pack(">HHII", 0x9000 + i, 1, 1 << 20, 8) for i in range(tags))
    exif = b"MM\x00\x2a" + struct.pack(">IH", 8, tags) + entries + b"\x00" * 4
    return encode(photo(), "PNG", exif=exif)


class Generated(Mapping[str, bytes]):
    """Files by name, each made the first time it is read and kept: encoding the heavy ones took 3.2 s, which every
    process importing this module paid at import (each pytest worker, while collecting, whether it ran them or not)."""

    def __init__(self, makers: dict[str, Callable[[], bytes]]) -> None:
        self._makers, self._made = makers, {}

    def __getitem__(self, name: str) -> bytes:
        if name not in self._made:
            self._made[name] = self._makers[name]()
        return self._made[name]

    def __contains__(self, name: object) -> bool:
        return name in self._makers

    def __iter__(self) -> Iterator[str]:
        return iter(self._makers)

    def __len__(self) -> int:
        return len(self._makers)


# The worst files a visitor can send that are still accepted, and the ones refused for their cost.
HEAVY_GOOD = Generated(
    {
        "grey16_40mp.png": partial(wide_samples, "I;16", "PNG"),
        "int32_40mp.tiff": partial(wide_samples, "I", "TIFF"),
        "float_40mp.tiff": partial(wide_samples, "F", "TIFF"),
        "exif_flood.png": exif_flood,
    }
)
HEAVY_BAD = Generated({"scan_bomb.jpg": jpeg_scan_bomb})


def coco_file(boxes: list, image: dict | None = None, **over) -> bytes:
    """A COCO annotation file for one image ("photo.png", 100 x 120) with one "cat" object per box."""
    record = {
        "images": [image or {"id": 7, "file_name": "photo.png", "height": 100, "width": 120}],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [{"id": i, "image_id": 7, "category_id": 1, "bbox": b} for i, b in enumerate(boxes)],
    }
    return json.dumps({**record, **over}).encode()


# Annotation files an attacker or an unlucky user might upload, each with the words its one-line refusal says.
BAD_ANNOTATIONS: dict[str, tuple[bytes, str]] = {
    "huge box": (coco_file([[-1e308, -1e308, 1e308, 1e308]]), "not a finite number within"),
    # 16 digits: past MAX_COORDINATE, within MAX_DIGITS (10**30, the case before, is now refused as too many digits)
    "huge integer": (coco_file([[0, 0, 10**15, 5]]), "out of range"),
    "overflowing sum": (
        b'{"images": [{"id": 7}], "categories": [{"id": 1, "name": "c"}], "annotations": '
        b'[{"id": 0, "image_id": 7, "category_id": 1, "bbox": [1e400, 0, 1, 1]}]}',
        "finite",
    ),
    "NaN": (
        b'{"images": [{"id": 7}], "categories": [{"id": 1, "name": "c"}], "annotations": '
        b'[{"id": 0, "image_id": 7, "category_id": 1, "bbox": [NaN, 0, 1, 1]}]}',
        "finite",
    ),
    "infinite": (
        b'{"images": [{"id": 7}], "categories": [{"id": 1, "name": "c"}], "annotations": '
        b'[{"id": 0, "image_id": 7, "category_id": 1, "bbox": [0, 0, Infinity, 1]}]}',
        "finite",
    ),
    "negative width": (coco_file([[50, 50, -10, 5]]), "empty or invalid box"),
    "zero area": (coco_file([[50, 50, 0, 0]]), "empty or invalid box"),
    "a box of three numbers": (coco_file([[1, 2, 3]]), "no bbox of four numbers"),
    "a box of strings": (coco_file([["1", "2", "3", "4"]]), "not a number"),
    "a box of booleans": (coco_file([[True, True, True, True]]), "not a number"),
    "a box that is a dict": (coco_file([{"x": 1}]), "no bbox of four numbers"),
    "too many objects": (coco_file([[1, 1, 2, 2]] * 1001), "at most 1,000"),
    "millions of objects": (
        b'{"images": [{"id": 7}], "categories": [], "annotations": [' + b",".join([b"{}"] * 1_500_000) + b"]}",
        "1,500,000 annotations (at most 100,000)",
    ),
    "too many images": (
        b'{"images": [' + b",".join([b"{}"] * 150_000) + b'], "annotations": []}',
        "150,000 images (at most 100,000)",
    ),
    "deep nesting": (b"[" * 100_000 + b"]" * 100_000, "nests deeper than"),
    "deep nesting, unclosed": (b'{"a": ' + b"[" * 1_000_000, "nests deeper than"),
    # an unclosed string of escaped quotes, at the size cap: a regular expression skipping strings retried it from
    # every quote, in time quadratic in the size (a review: 160 KB held the server 49 s; 5 MB would take hours)
    "an unclosed string of escaped quotes": (b'"' + b'\\"' * (5 * 2**19 - 1), "not a usable COCO annotation file"),
    "escaped quotes hiding brackets": (b'["' + b'\\"[' * 1_000_000 + b'"]', "not a usable COCO"),
    # UTF-16 and UTF-32, which json.loads reads: a character whose byte is a quote hid the brackets after it
    "deep nesting in UTF-16": (('["\u2200", ' + "[" * 400 + "]" * 400 + "]").encode("utf-16-le"), "nests deeper than"),
    "deep nesting in UTF-32": (('["\\"", ' + "[" * 400 + "]" * 400 + "]").encode("utf-32"), "nests deeper than"),
    "over 5 MB": (b" " * (5 * 2**20 + 1), "over 5 MB"),
    "not JSON": (b"\x89PNG\r\n\x1a\n not json", "not a usable COCO annotation file"),
    "empty": (b"", "not a usable COCO annotation file"),
    "a list": (b"[1, 2, 3]", "no 'images' list"),
    "images not a list": (b'{"images": 5, "categories": [], "annotations": []}', "'images' is not a list"),
    "unknown category": (coco_file([[1, 1, 2, 2]], categories=[{"id": 2, "name": "dog"}]), "no known category"),
    "unhashable category": (
        b'{"images": [{"id": 7}], "categories": [{"id": 1, "name": "c"}], "annotations": '
        b'[{"id": 0, "image_id": 7, "category_id": [1], "bbox": [0, 0, 1, 1]}]}',
        "annotation `0` names no known category",  # was Python's "unhashable type: 'list'" (a loopback review)
    ),
    "a category id that is a list": (
        b'{"images": [{"id": 7}], "categories": [{"id": [1], "name": "c"}], "annotations": []}',
        "a category has no id or name",
    ),
    "a category without a name": (coco_file([[1, 1, 2, 2]], categories=[{"id": 1}]), "no id or name"),
    "no such image": (
        coco_file([], images=[{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "b.png"}]),
        "no image named",
    ),
    # Python's own words ("Exceeds the limit (4300 digits) ... use sys.set_int_max_str_digits()") were shown (a review)
    "a digit string of 5,000 digits": (b'{"images": [{"id": ' + b"9" * 5000 + b"}]}", "more than 20 digits"),
    "a category id of 4,400 digits": (
        b'{"images": [{"id": 7}], "categories": [{"id": -' + b"9" * 4400 + b', "name": "c"}], "annotations": []}',
        "a whole number in it has more than 20 digits",
    ),
}
