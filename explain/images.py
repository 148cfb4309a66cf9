"""Turn whatever a user hands us into a clean RGB picture, or a one-line reason why not.

`load_image` is the single door for user images: it refuses decompression bombs from the
header before any pixel is decoded, applies EXIF orientation, takes the first frame of an
animation, flattens transparency onto a neutral grey, converts palette, greyscale, 16-bit and
CMYK images, and bounds the longer side.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
NEUTRAL_GREY = (128, 128, 128)
DEFAULT_MAX_SIDE = 1024
DEFAULT_MAX_PIXELS = 40_000_000


class ImageLoadError(ValueError):
    """The input is not an image we can use; the message is one sentence meant for a person."""


def image_sha256(data: bytes) -> str:
    """Hex SHA-256 of the raw bytes: the cache key for everything computed from an upload."""
    return hashlib.sha256(data).hexdigest()


def _read(data: bytes | str | os.PathLike) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    try:
        return Path(data).read_bytes()
    except OSError as exc:
        raise ImageLoadError(f"Could not read {Path(data).name}: {exc.strerror or exc}.") from exc


def load_image(
    data: bytes | str | os.PathLike,
    *,
    max_side: int = DEFAULT_MAX_SIDE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Image.Image:
    """Decode `data` (bytes or a path) into an RGB image whose longer side is at most `max_side`.

    Raises ImageLoadError for empty, truncated or damaged files, non-images, formats other than
    PNG, JPEG, WebP, BMP, GIF and TIFF, and images whose declared size exceeds `max_pixels`.
    """
    raw = _read(data)
    if not raw:
        raise ImageLoadError("The file is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(raw), formats=FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(f"The image is larger than the {max_pixels / 1e6:.0f} megapixels allowed.") from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(
            "This file is not an image in a supported format (PNG, JPEG, WebP, BMP, GIF, TIFF)."
        ) from exc
    except Exception as exc:  # a header so broken that PIL's parser itself fails
        raise ImageLoadError("The image file is damaged and cannot be read.") from exc

    width, height = im.size
    if width < 1 or height < 1:
        raise ImageLoadError("The image has no pixels.")
    if width * height > max_pixels:
        raise ImageLoadError(
            f"The image is {width} x {height} pixels, more than the {max_pixels / 1e6:.0f} megapixels allowed."
        )
    try:
        if im.format == "JPEG":
            im.draft("RGB", (max_side, max_side))  # decode large JPEGs at a reduced scale: faster, less memory
        im.load()
        im = ImageOps.exif_transpose(im)
    except Exception as exc:
        raise ImageLoadError("The image file is truncated or damaged and cannot be decoded.") from exc

    try:
        im = to_rgb(im)
    except Exception as exc:  # an exotic mode PIL cannot convert
        raise ImageLoadError(f"Images in colour mode {im.mode} are not supported.") from exc
    if max(im.size) > max_side:
        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return im


def to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL mode to 8-bit RGB: transparency composited on grey, high bit depths scaled down."""
    if im.mode == "RGB":
        return im
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(im, dtype=np.float64)
        if im.mode == "F":
            lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
            arr = (arr - lo) / (hi - lo or 1.0) * 255.0
        elif arr.max(initial=0) > 255:  # 16-bit samples
            arr = arr / 257.0
        im = Image.fromarray(np.clip(np.nan_to_num(arr), 0, 255).astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (*NEUTRAL_GREY, 255))
        return Image.alpha_composite(flat, rgba).convert("RGB")
    return im.convert("RGB")


def limit_aspect(im: Image.Image, max_ratio: float = 4.0) -> Image.Image:
    """Pad a very long, thin image with grey so its sides differ by at most `max_ratio`.

    Classifier transforms resize the shorter side to a fixed size; a 10000 x 20 strip would
    otherwise become hundreds of megabytes of tensor.
    """
    w, h = im.size
    if max(w, h) <= max_ratio * min(w, h):
        return im
    target = (w, max(h, int(np.ceil(w / max_ratio)))) if w > h else (max(w, int(np.ceil(h / max_ratio))), h)
    return ImageOps.pad(im, target, color=NEUTRAL_GREY)
