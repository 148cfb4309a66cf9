import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explain.inputs.images import (
    DEFAULT_MAX_BYTES,
    MAX_RLE_BMP_BYTES,
    NEUTRAL_GREY,
    ImageLoadError,
    image_sha256,
    jpeg_scan_count,
    limit_aspect,
    load_image,
    original_size,
    peak_bytes,
)
from tests.bounds import within
from tests.hostile_files import BAD, GOOD, HEAVY_BAD, HEAVY_GOOD, encode, png_declaring


@pytest.mark.parametrize("name", sorted(GOOD))
def test_odd_but_valid_files_give_rgb_images(name):
    im = load_image(GOOD[name])
    assert im.mode == "RGB"
    assert max(im.size) <= 1024 and min(im.size) >= 1


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_give_a_one_line_error_quickly(name):
    tracemalloc.start()
    t0 = time.process_time()  # CPU seconds: the refusal's own work, not the machine's load
    with pytest.raises(ImageLoadError) as err:
        load_image(BAD[name])
    elapsed = time.process_time() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    message = str(err.value)
    assert message and "\n" not in message and len(message) < 200
    assert elapsed < within(1.0)
    assert peak < 50 * 2**20


def test_error_is_a_value_error():
    assert issubclass(ImageLoadError, ValueError)


def test_bomb_is_refused_from_the_header():
    with pytest.raises(ImageLoadError, match="megapixels"):
        load_image(BAD["bomb.png"])
    with pytest.raises(ImageLoadError, match="12000 x 12000"):  # below PIL's own bomb limit
        load_image(png_declaring(12_000, 12_000))


def test_max_pixels_is_respected():
    with pytest.raises(ImageLoadError, match="megapixels"):
        load_image(GOOD["rgb.png"], max_pixels=100)


def test_exif_orientation_is_applied():
    im = load_image(GOOD["exif_rotated.jpg"])
    assert im.size == (48, 64) and original_size(im) == (48, 64)  # as uploaded, upright


def test_animation_gives_its_first_frame():
    im = load_image(GOOD["animated.gif"])
    assert im.getpixel((5, 5))[0] > 200 and im.getpixel((5, 5))[1] < 50


def test_multipage_tiff_gives_its_first_page():
    assert load_image(GOOD["multipage.tiff"]).size == (16, 16)


def test_transparency_is_composited_on_neutral_grey():
    assert load_image(GOOD["rgba.png"]).getpixel((3, 3)) == NEUTRAL_GREY
    palette = load_image(GOOD["palette_transparent.png"])
    assert palette.getpixel((3, 3)) == NEUTRAL_GREY  # index 0 is transparent
    assert palette.getpixel((0, 0)) == (0, 0, 255)


def test_sixteen_bit_is_scaled_not_clipped():
    arr = np.asarray(load_image(GOOD["grey16.png"]))
    assert arr.max() > 200 and arr.min() == 0
    assert len(np.unique(arr[..., 0])) > 100


def test_greyscale_and_cmyk_convert():
    assert load_image(GOOD["grey.png"]).getpixel((0, 0)) == (77, 77, 77)
    r, g, b = load_image(GOOD["cmyk.jpg"]).getpixel((5, 5))
    assert r > 200 and g < 60 and b < 60


def test_long_side_is_bounded_and_aspect_kept():
    im = load_image(encode(Image.new("RGB", (3000, 1500)), "PNG"), max_side=600)
    assert im.size == (600, 300) and original_size(im) == (3000, 1500)


def test_a_thin_image_is_said_at_its_own_size_and_the_bound():
    """A walk: a 4000 x 20 upload was said to be "only 1024 x 5 pixels" and asked to be at least 16 pixels a side,
    which it is; the pages' bound on the longer side made it 5 pixels high. Both sizes are said, and what is needed."""
    from explain.figures.augmentation import preview_note
    from explain.inputs.images import small_image_note, too_small_to_detect

    thin = load_image(encode(Image.new("RGB", (4000, 20)), "PNG"))
    assert thin.size == (1024, 5) and original_size(thin) == (4000, 20)
    said = "This image is 4000 x 20 pixels, 1024 x 5 once its longer side is bounded to 1024 as every page bounds it"
    needed = "at least 16 pixels on each side once bounded (its longer side no more than 64 times its shorter)"
    assert too_small_to_detect(thin) == f"{said}, too small to hold an object to detect: choose one {needed}."
    assert small_image_note(thin, "read its labels as guesses").startswith(said + ":")
    assert small_image_note(thin).endswith("so read the answer as a guess.")
    assert preview_note(thin).startswith(said + ":") and preview_note(thin).endswith(f"choose an image {needed}.")
    tiny = load_image(encode(Image.new("RGB", (1, 1)), "PNG"))
    assert too_small_to_detect(tiny).startswith("This image is only 1 x 1 pixels, too small")
    assert too_small_to_detect(tiny).endswith("choose one at least 16 pixels on each side.")
    assert not too_small_to_detect(load_image(encode(Image.new("RGB", (1024, 16)), "PNG")))


def test_paths_load_and_missing_paths_explain(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(GOOD["rgb.png"])
    assert load_image(path).size == (64, 48)
    assert load_image(str(path)).size == (64, 48)
    with pytest.raises(ImageLoadError, match="Could not read"):
        load_image(tmp_path / "missing.png")


def test_limit_aspect_pads_strips_only():
    strip = load_image(GOOD["strip.png"])
    padded = limit_aspect(strip)
    assert padded.width == strip.width and padded.height * 4 >= padded.width
    normal = Image.new("RGB", (300, 200))
    assert limit_aspect(normal) is normal


def test_sha256_is_of_the_bytes():
    assert image_sha256(b"abc").startswith("ba7816bf")


# The worst accepted files and the costly refusals, each loaded in a fresh process so that its peak
# resident memory (PIL's buffers are invisible to tracemalloc) and its stderr are its own.
_MEASURE = """
import sys, time
def status_mb(field):  # VmHWM is this process's own peak (ru_maxrss keeps the forking parent's across exec)
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(field)) / 1024
from explain.inputs.images import ImageLoadError, load_image
data = open(sys.argv[1], "rb").read()
base, t0 = status_mb("VmRSS"), time.process_time()  # CPU seconds: the decode's own work, whatever else runs
try:
    result = "image %dx%d" % load_image(data).size
except ImageLoadError as exc:
    result = "refused " + str(exc)
print(result, "|", time.process_time() - t0, "|", status_mb("VmHWM") - base)
"""


@pytest.mark.parametrize("name", sorted([*HEAVY_GOOD, *HEAVY_BAD]))  # by name: each file is made when read
def test_costly_files_stay_within_their_budget(name, tmp_path):
    path = tmp_path / name
    path.write_bytes(HEAVY_GOOD[name] if name in HEAVY_GOOD else HEAVY_BAD[name])  # {**a, **b} made all five
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True, cwd=root, timeout=60, check=True
    )
    result, seconds, growth_mb = (part.strip() for part in out.stdout.split("|"))
    assert result.startswith("image" if name in HEAVY_GOOD else "refused"), result
    assert float(seconds) < within(2.0)
    assert float(growth_mb) < 400
    assert out.stderr.count("\n") < 5, out.stderr[:500]  # no warning per EXIF tag


# Modes and formats whose decoding peak `peak_bytes` states (a loopback review: a 40-megapixel WebP took about
# 600 MB against the 300 MB allowed, its table saying 3 bytes a pixel). Each is decoded in a fresh process at 12
# megapixels, one colour (the decoders hold a pixel's bytes whatever it shows; the file stays small).
PEAK_CASES = [
    ("PNG", "1"),
    ("PNG", "L"),
    ("PNG", "P"),
    ("PNG", "P+transparency"),
    ("GIF", "P"),
    ("GIF", "P+transparency"),
    ("PNG", "L+transparency"),
    ("PNG", "I;16"),
    ("TIFF", "I"),
    ("TIFF", "F"),
    ("PNG", "LA"),
    ("PNG", "RGB"),
    ("PNG", "RGBA"),
    ("TIFF", "CMYK"),
    ("BMP", "RGB"),
    ("WEBP", "RGB"),
    ("WEBP", "RGBA"),
]


@pytest.mark.parametrize(("fmt", "mode"), PEAK_CASES, ids=[f"{f}-{m}" for f, m in PEAK_CASES])
def test_a_decodes_peak_is_within_what_peak_bytes_says(fmt, mode, tmp_path):
    size, mode, transparent = (4000, 3000), *mode.split("+")[:1], "+transparency" in mode
    one = 1 if mode == "1" else 90 if mode in ("L", "P", "I", "F", "I;16") else (90,) * len(mode)
    im = Image.new(mode, size, one)
    path = tmp_path / f"image.{fmt.lower()}"
    options = {"lossless": True} if fmt == "WEBP" else {"transparency": 90} if transparent else {}
    path.write_bytes(encode(im, fmt, **options))
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True, cwd=root, timeout=60, check=True
    )
    result, _, growth_mb = (part.strip() for part in out.stdout.split("|"))
    assert result == "image 1024x768", result
    # the 1024-pixel result and the interpreter's own allocations on top: a few MB whatever the mode
    allowed = peak_bytes(mode, size, fmt, transparent) / 2**20
    assert float(growth_mb) <= allowed + 8, (float(growth_mb), allowed)


def test_a_large_webp_is_refused_before_it_is_decoded():
    """At 40 megapixels a WebP would hold about 700 MB (18 bytes a pixel), so it is refused in one line. Shown on a
    2000 x 2000 WebP against a bound just under its 72 MB (a review: building a 40-megapixel one took the test
    process to 490 MB)."""
    assert peak_bytes("RGB", (6300, 6300), "WEBP") > DEFAULT_MAX_BYTES >= peak_bytes("RGB", (4000, 4000), "WEBP")
    data = encode(Image.new("RGB", (2000, 2000), (10, 200, 30)), "WEBP", lossless=True)
    with pytest.raises(ImageLoadError, match=r"2000 x 2000 pixels in mode RGB: .* Please send a JPEG or a smaller"):
        load_image(data, max_bytes=18 * 2000 * 2000 - 1)
    assert load_image(data, max_bytes=18 * 2000 * 2000).size == (1024, 1024)


def test_sixteen_bit_40_megapixels_keep_their_gradient():
    arr = np.asarray(load_image(HEAVY_GOOD["grey16_40mp.png"]))
    assert arr.shape == (640, 1024, 3) and arr.min() == 0 and arr.max() >= 250


def test_scan_bomb_is_counted_not_decoded():
    assert jpeg_scan_count(HEAVY_BAD["scan_bomb.jpg"]) > 10_000
    assert jpeg_scan_count(GOOD["rgb.jpg"]) == 1
    assert jpeg_scan_count(encode(Image.new("RGB", (64, 64)), "JPEG", progressive=True)) < 20
    with pytest.raises(ImageLoadError, match="scans"):
        load_image(HEAVY_BAD["scan_bomb.jpg"])


def rle_bmp(side: int, run: int, row_pixels: int | None = None) -> bytes:
    """A `side` x `side` 8-bit run-length BMP (BI_RLE8) drawn in runs of `run` pixels of two colours in turn, each
    row ending after `row_pixels` (the whole row when None; the decoder pads the rest)."""
    import struct

    row = bytes([run, 5, run, 9]) * ((row_pixels or side) // (2 * run))
    row += (bytes([run, 5]) if (row_pixels or side) % (2 * run) else b"") + b"\x00\x00"  # then end of line
    data = row * side + b"\x00\x01"  # end of bitmap
    palette = b"".join(bytes([i, i, 255 - i, 0]) for i in range(256))
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, side, side, 1, 8, 1, len(data), 2835, 2835, 256, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset) + info + palette + data


def test_a_large_run_length_bmp_is_refused_before_its_slow_decode():
    """Pillow decodes a run-length BMP in Python, a step per run and per pixel of a row it pads: 24.5 MB of one-pixel
    runs took 4.5 s of the server, 25 KB of rows ending after one pixel 3.7 s at 6000 x 6000 (a review). A small one
    (a drawing) decodes as before."""
    small = rle_bmp(256, 2)
    assert len(small) < MAX_RLE_BMP_BYTES
    arr = np.asarray(load_image(small))
    assert arr.shape == (256, 256, 3) and len(np.unique(arr.reshape(-1, 3), axis=0)) == 2
    big = rle_bmp(1200, 1)  # 2.9 MB of one-pixel runs (2,883,480 bytes), 1.44 megapixels
    assert len(big) > MAX_RLE_BMP_BYTES
    with pytest.raises(ImageLoadError, match=r"^This BMP is run-length compressed \(2\.9 MB, 1200 x 1200 pixels\)"):
        load_image(big)
    padded = rle_bmp(2001, 1, row_pixels=1)  # 4.004 megapixels in 10 KB
    assert len(padded) < 20_000
    with pytest.raises(ImageLoadError, match=r"2001 x 2001 pixels\): such files decode slowly, so one is taken up"):
        load_image(padded)
    assert load_image(rle_bmp(1999, 1, row_pixels=1)).size == (1024, 1024)  # within 4 megapixels: decoded


def test_memory_budget_refuses_from_the_header():
    with pytest.raises(ImageLoadError, match=r"MB\. Please send a smaller or 8-bit version\.$"):
        load_image(HEAVY_GOOD["float_40mp.tiff"], max_bytes=100 * 2**20)
    rgba = encode(Image.new("RGBA", (1000, 1000), (1, 2, 3, 4)), "PNG")  # 8-bit already: "smaller" alone
    with pytest.raises(ImageLoadError, match=r"in mode RGBA: .* MB\. Please send a smaller version\.$"):
        load_image(rgba, max_bytes=5 * 2**20)


@pytest.mark.parametrize("side", [600, 1100, 2100])
def test_a_float_image_of_any_height_is_stretched_to_8_bits(side):
    """A review over loopback: a float TIFF 1,024 rows or taller was refused ("colour mode F is not supported"): the
    finite-value mask was taken from every other row and applied to all of them."""
    import io

    ramp = np.linspace(-2.0, 3.0, side, dtype=np.float32)
    values = np.broadcast_to(ramp, (side, side)).copy()
    values[0, 0] = np.nan
    buffer = io.BytesIO()
    Image.fromarray(values, "F").save(buffer, "TIFF")
    rgb = np.asarray(load_image(buffer.getvalue()))
    assert rgb.shape[-1] == 3 and rgb[..., 0].min() == 0 and rgb[..., 0].max() == 255
