"""Turn whatever a user hands us into a clean RGB picture, or a one-line reason why not.

`load_image` is the single door for user images. It budgets memory, not pixels: it refuses
decompression bombs from the header before any pixel is decoded, counts a JPEG's scans before
decoding it (a progressive JPEG with thousands of scans costs minutes of CPU), estimates what the
decoded picture will hold and refuses more than `DEFAULT_MAX_BYTES`, lets the decoder downscale
where it can (JPEG draft, `Image.reduce`) before any conversion, and turns 16-bit, 32-bit and float
samples into 8 bits without a float64 copy. Then it applies EXIF orientation, takes the first frame
of an animation, flattens transparency onto a neutral grey and bounds the longer side.
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
DEFAULT_MAX_BYTES = 300 * 2**20  # what one decode may hold at its peak, conversions included
MAX_JPEG_SCANS = 100  # cameras and encoders write 1 (baseline) or about 10 (progressive)
# A run-length BMP is decoded by Pillow in Python, a loop step per run and per pixel of a row it pads: measured on 2
# cores (2026-12-06), a 24.5-MB file of one-pixel runs took 4.5 s (3500 x 3500), and a 25-KB one of rows that end
# after one pixel 3.7 s (6000 x 6000; a review found it); 2 MB of runs or 4 megapixels of padding take about 0.4 s
# each. Such files are small drawings: a larger one is refused with a line asking for a PNG. In decimal megabytes, as
# the uploader shows a file's size (a walk read "2.9MB" there beside "2.7 MB" in the line).
MAX_RLE_BMP_BYTES, MAX_RLE_BMP_PIXELS = 2_000_000, 4_000_000

# Bytes per pixel at the peak of decoding and converting each mode to 8-bit RGB at full size (modes that
# `Image.reduce` cannot shrink are converted before they are shrunk), measured (the process's peak resident memory
# over its start, 12- and 30-megapixel files, Pillow 13; `tests/test_images.py` holds the modes and formats it lists
# below this at 12 megapixels), rounded up.
# Pillow keeps RGB and every 3-channel mode in 4 bytes a pixel. The table had said 3 for RGB and 4 for RGBA; a
# loopback review measured a 40-megapixel WebP at twice the 300 MB it allowed. Unlisted modes count 10.
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")
_PEAK_BYTES_PER_PIXEL = {
    "1": 7,  # 6.5 measured (PNG)
    "L": 2,  # 1.5
    "P": 7,  # 6.5 (PNG), 6.7 (GIF)
    "LA": 10,  # 9.6
    "RGB": 6,  # 5.5 (PNG), 5.7 (TIFF, BMP)
    "RGBA": 10,  # 9.5 (PNG)
    "CMYK": 6,  # 5.7 (TIFF)
    "YCbCr": 6,
    "I": 6,  # 5.7 (TIFF)
    "F": 6,  # 5.7 (TIFF)
    **dict.fromkeys(_SIXTEEN_BIT, 7),  # 6.5 (PNG): the samples, their bytes as a numpy copy, and the 8-bit result
}
# Pillow's WebP decoder holds libwebp's RGBA frame, that frame copied as bytes and the image, whatever the mode:
# 16.4 bytes a pixel measured for RGB, 17.7 for RGBA (lossy about the same)
_WEBP_BYTES_PER_PIXEL = 18
_TRANSPARENT_BYTES_PER_PIXEL = 11  # an image with a transparent colour, converted to RGBA at full size
_EXIF_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# A file with thousands of odd metadata tags makes PIL warn once per tag: thousands of log lines per
# upload. Whatever PIL has to say about a file, the loader already turns into one message or a picture.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class ImageLoadError(ValueError):
    """The input is not an image we can use; the message is one sentence meant for a person."""


MIN_MEANINGFUL_SIDE = 16  # pixels: below this on its shorter side, an image enlarged to a model's input shows ~nothing


def too_small(size: tuple[int, int]) -> bool:
    """Whether an image (`size` = (width, height)) is under MIN_MEANINGFUL_SIDE on its shorter side."""
    return min(size) < MIN_MEANINGFUL_SIDE


ORIGINAL_SIZE = "explainer_original_size"  # PIL info key: (width, height) as uploaded, before load_image's bound


def original_size(im: Image.Image) -> tuple[int, int]:
    """The (width, height) the image had as uploaded, upright, before `load_image` bounded its longer side."""
    w, h = im.info.get(ORIGINAL_SIZE, im.size)
    return int(w), int(h)


def size_said(im: Image.Image) -> str:
    """The image's size as a person checks it against their file: "only 12 x 9 pixels", or for one the pages shrank,
    "4000 x 20 pixels, 1024 x 5 once its longer side is bounded to 1024" (a walk's 4000 x 20 upload was said to be
    "only 1024 x 5 pixels", and refused as under 16 pixels a side although it has 20)."""
    (w, h), (w0, h0) = im.size, original_size(im)
    if (w0, h0) == (w, h):
        return f"only {w} x {h} pixels"
    return f"{w0} x {h0} pixels, {w} x {h} once its longer side is bounded to {max(w, h)} as every page bounds it"


def big_enough(im: Image.Image) -> str:
    """What an image needs to be big enough: at least MIN_MEANINGFUL_SIDE pixels a side, and, for one the pages
    shrink, no more than DEFAULT_MAX_SIDE / MIN_MEANINGFUL_SIDE times as long one way as the other."""
    side = f"at least {MIN_MEANINGFUL_SIDE} pixels on each side"
    if original_size(im) == im.size:
        return side
    ratio = DEFAULT_MAX_SIDE // MIN_MEANINGFUL_SIDE
    return f"{side} once bounded (its longer side no more than {ratio} times its shorter)"


def small_image_note(im: Image.Image, answer: str = "read the answer as a guess") -> str:
    """One line when an image is too small to hold anything a model could recognise once enlarged to its input (a
    1 x 1 upload was classified "circle 45%" with no word), else ""; `answer` says how to read what the model says."""
    if not too_small(im.size):
        return ""
    return (
        f"This image is {size_said(im)}: enlarged to the model's input it holds almost nothing to recognise, so "
        f"{answer}."
    )


def too_small_to_detect(im: Image.Image) -> str:
    """One line when an image is too small for a detector, else "": enlarged to the detector's input it holds no
    object, and every stage's picture would be one flat colour (a walk uploaded a 1 x 1 image and got solid squares
    with no word)."""
    if not too_small(im.size):
        return ""
    return f"This image is {size_said(im)}, too small to hold an object to detect: choose one {big_enough(im)}."


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


def jpeg_scan_count(data: bytes) -> int:
    """How many scans (SOS segments) the first JPEG image in `data` has, read from its markers
    without decoding. An embedded EXIF thumbnail is skipped with its APP1 segment."""
    pos, scans, n = 2, 0, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:  # entropy-coded data: find the next marker (0xFF not followed by 00 or RSTn)
            pos = data.find(b"\xff", pos)
            if pos < 0:
                break
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker == 0x00 or 0xD0 <= marker <= 0xD7 or marker == 0x01:  # stuffed byte, restart marker, TEM
            pos += 2
        elif marker == 0xD9:  # end of image
            break
        else:
            length = int.from_bytes(data[pos + 2 : pos + 4], "big")
            if marker == 0xDA:
                scans += 1
            pos += 2 + max(length, 2)
    return scans


def peak_bytes(mode: str, size: tuple[int, int], fmt: str | None = None, transparency: bool = False) -> int:
    """What decoding and converting an image of `mode` and `size` (in `fmt`, Pillow's format name) holds at its
    peak, measured on this project's files and rounded up. An image with a transparent colour (`transparency`: a
    palette GIF or PNG's, say) is turned into RGBA at full size first: 10.5 bytes a pixel measured for a palette
    PNG, 10.7 for a GIF (a review: counted as a palette's 7, a 40-megapixel one peaked at 370 MB)."""
    per_pixel = _WEBP_BYTES_PER_PIXEL if fmt == "WEBP" else _PEAK_BYTES_PER_PIXEL.get(mode, 10)
    if transparency and fmt != "WEBP":
        per_pixel = max(per_pixel, _TRANSPARENT_BYTES_PER_PIXEL)
    return per_pixel * size[0] * size[1]


def load_image(
    data: bytes | str | os.PathLike,
    *,
    max_side: int = DEFAULT_MAX_SIDE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Image.Image:
    """Decode `data` (bytes or a path) into an RGB image whose longer side is at most `max_side`.

    Raises ImageLoadError for empty, truncated or damaged files, non-images, formats other than
    PNG, JPEG, WebP, BMP, GIF and TIFF, images whose declared size exceeds `max_pixels` or whose
    decoding would hold more than `max_bytes`, JPEGs with more than MAX_JPEG_SCANS scans, and run-length BMPs of
    more than MAX_RLE_BMP_BYTES or MAX_RLE_BMP_PIXELS.
    """
    raw = _read(data)
    if not raw:
        raise ImageLoadError("The file is empty.")
    try:
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
    if peak_bytes(im.mode, im.size, im.format, "transparency" in im.info) > max_bytes:
        wide = im.mode in (*_SIXTEEN_BIT, "I", "F")
        smaller = (
            "a JPEG or a smaller version" if im.format == "WEBP" else f"a smaller{' or 8-bit' if wide else ''} version"
        )
        raise ImageLoadError(
            f"The image is {width} x {height} pixels in mode {im.mode}: decoding it would take more than "
            f"{max_bytes / 2**20:.0f} MB. Please send {smaller}."
        )
    rle = im.format == "BMP" and im.tile and im.tile[0].codec_name == "bmp_rle"
    if rle and (len(raw) > MAX_RLE_BMP_BYTES or width * height > MAX_RLE_BMP_PIXELS):
        raise ImageLoadError(
            f"This BMP is run-length compressed ({len(raw) / 1e6:.1f} MB, {width} x {height} pixels): such files "
            f"decode slowly, so one is taken up to {MAX_RLE_BMP_BYTES / 1e6:.0f} MB and "
            f"{MAX_RLE_BMP_PIXELS / 1e6:.0f} megapixels. Please send it as PNG."
        )
    if im.format == "JPEG" and (scans := jpeg_scan_count(raw)) > MAX_JPEG_SCANS:
        raise ImageLoadError(
            f"This JPEG has {scans:,} progressive scans (cameras write about 10); it would take too long to decode."
        )
    try:
        orientation = im.getexif().get(0x0112)
    except Exception:  # unreadable EXIF costs the orientation, not the picture
        orientation = None
    try:
        if im.format == "JPEG":
            im.draft("RGB", (max_side, max_side))  # decode large JPEGs at a reduced scale: faster, less memory
        im.load()
        im = shrink(im, max_side)
        if orientation in _EXIF_TRANSPOSE:
            im = im.transpose(_EXIF_TRANSPOSE[orientation])
    except Exception as exc:
        raise ImageLoadError("The image file is truncated or damaged and cannot be decoded.") from exc

    try:
        rgb = to_rgb(im)
    except Exception as exc:  # an exotic mode PIL cannot convert
        raise ImageLoadError(f"Images in colour mode {im.mode} are not supported.") from exc
    upright = (height, width) if orientation in (5, 6, 7, 8) else (width, height)  # those turn it a quarter
    rgb.info[ORIGINAL_SIZE] = upright
    return rgb


def shrink(im: Image.Image, max_side: int) -> Image.Image:
    """Bound the longer side to `max_side` before any conversion to RGB, so memory follows the
    output size: modes `Image.resize` cannot filter are first turned into ones it can."""
    if im.mode in _SIXTEEN_BIT:
        im = eight_bit(im)
    elif im.mode in ("1", "P"):
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if max(im.size) > max_side:
        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)  # reduces by whole factors first
    return im


def eight_bit(im: Image.Image, rows: int = 256) -> Image.Image:
    """A 16-bit, 32-bit or float single-band image as 8-bit "L", a band of rows at a time, so the
    conversion never holds more than the source and its 8-bit copy. 16-bit samples are scaled by
    1/257 (8-bit values stored in 16 bits are kept); floats and wider integers are stretched from their
    minimum to their maximum (for floats, of the finite values in about 512 evenly spaced rows; values beyond are
    clipped)."""
    arr = np.asarray(im)
    finite = arr
    if im.mode == "F":  # a float image's range: the finite values of sampled rows
        sampled = arr[:: max(1, arr.shape[0] // 512)]
        finite = sampled[np.isfinite(sampled)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if im.mode == "F" or hi > 65535 or lo < 0:  # floats, or integers beyond 16 bits: stretch lo..hi
        scale, offset = 255.0 / (hi - lo or 1.0), lo
    else:  # 16-bit samples, or 8-bit values stored in a wider mode
        scale, offset = (1 / 257 if hi > 255 else 1.0), 0.0
    out = np.empty(arr.shape, np.uint8)
    for r in range(0, arr.shape[0], rows):
        band = (arr[r : r + rows].astype(np.float32) - offset) * scale
        out[r : r + rows] = np.clip(np.nan_to_num(band), 0, 255).round()
    return Image.fromarray(out, "L")


def to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL mode to 8-bit RGB: transparency composited on grey, high bit depths scaled down."""
    if im.mode == "RGB":
        return im
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in (*_SIXTEEN_BIT, "I", "F"):
        im = eight_bit(im)
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (*NEUTRAL_GREY, 255))
        return Image.alpha_composite(flat, rgba).convert("RGB")
    return im.convert("RGB")


MAX_ASPECT = 4.0  # a classifier's input is padded until its longer side is at most this times its shorter


def padded_size(size: tuple[int, int], max_ratio: float = MAX_ASPECT) -> tuple[int, int] | None:
    """The (width, height) `limit_aspect` pads an image of `size` to, or None where it leaves it as it is."""
    w, h = size
    if max(w, h) <= max_ratio * min(w, h):
        return None
    return (w, max(h, int(np.ceil(w / max_ratio)))) if w > h else (max(w, int(np.ceil(h / max_ratio))), h)


def limit_aspect(im: Image.Image, max_ratio: float = MAX_ASPECT) -> Image.Image:
    """Pad a very long, thin image with grey so its sides differ by at most `max_ratio`.

    Classifier transforms resize the shorter side to a fixed size; a 10000 x 20 strip would
    otherwise become hundreds of megabytes of tensor.
    """
    target = padded_size(im.size, max_ratio)
    return im if target is None else ImageOps.pad(im, target, color=NEUTRAL_GREY)
