"""Turn maps into pictures: one colormap per kind of map, overlays, montages, PNG bytes.

Every page draws attribution maps, reconstructions and masks through these functions, so a
map is always normalised and coloured the same way wherever it appears.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import plotly.colors
import torch
from PIL import Image, ImageColor

from explain.methods.maps import Mode

# Plotly's Inferno starts at "#000004", one of the placeholder colours (#000001 to #000024) that Streamlit's chart
# element replaces with its theme's colours anywhere in a figure's JSON: "no evidence" was drawn pink (purple without
# the theme). The same scale, with black as its first stop.
INFERNO = ("#000000", *plotly.colors.sequential.Inferno[1:])
COLORSCALES: dict[str, str | tuple[str, ...]] = {"signed": "RdBu_r", "absolute": INFERNO}


def symmetric_image(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """A 3 x H x W signed tensor (a reconstruction; 1 x H x W for a network that takes one grey channel) -> H x W x 3
    uint8, zero at mid-grey.

    The same scale is used for every channel and both signs, so colours are comparable.
    """
    a = x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, np.float64)
    if a.ndim == 3 and a.shape[0] in (1, 3):  # channels first
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 3 and a.shape[-1] == 1:  # one grey channel, drawn grey
        a = np.repeat(a, 3, axis=-1)
    scale = np.abs(a).max() or 1.0
    return ((a / scale * 0.5 + 0.5) * 255).round().clip(0, 255).astype(np.uint8)


@cache
def label_font_file() -> str:
    """A TrueType font for labels drawn into pictures: DejaVu Sans, which matplotlib (a dependency of Captum)
    ships. torchvision's default is a fixed 10-pixel bitmap font, unreadable on a projector."""
    import matplotlib

    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")


SHOWN_WIDTH = 400  # pixels: about the narrowest a page shows a picture with labels at 1280 px (half the main column)


def label_style(colours: str | Sequence[str], height: int, width: int, scale: float = 1.0) -> dict:
    """`draw_bounding_boxes` keyword arguments for labels readable where the picture is shown and over each other:
    1/30 of the image's shorter side, at least 12 pixels, and at least 12 pixels once the picture is shrunk to
    SHOWN_WIDTH (a walk measured labels 8 px high on a 600-px photo shown 400 px wide), but no more than a quarter of
    the height (or 12), times `scale` (presenter mode asks for larger), each label on a band of its box's colour in
    black or white, whichever contrasts more."""

    def ink(colour: str) -> str:
        r, g, b = ImageColor.getrgb(colour)[:3]
        return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "white"

    inks = ink(colours) if isinstance(colours, str) else [ink(c) for c in colours]
    size = max(12, min(height, width) / 30, 12 * width / SHOWN_WIDTH)
    size = round(min(size, max(12, height / 4)) * scale)  # a wide strip's labels no taller than a quarter of it
    return {"font": label_font_file(), "font_size": size, "fill_labels": True, "label_colors": inks}


Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels


def label_spots(boxes: Sequence[Rect], sizes: Sequence[tuple[float, float]], height: int, width: int) -> list:
    """Where each box's label goes, as the top-left corner of its w x h band, the boxes taken in the order given (the
    strongest first): inside the box's top-left corner (where torchvision puts it), else just above the box, else
    inside its bottom-left corner, else just below its outline, then the same four at the box's right edge (a walk
    found a weak detection unlabelled whose bottom-right corner was free). A label that would cover over a fifth of
    its box tries the spots outside the box first, above then below (walks found labels hiding a cat's eye, the
    object they named, among detections and then among proposals); the first spot that stays on the image
    (moved left to fit its width), covers no label placed before it and comes no nearer another box than half its
    height (a walk read a label pushed below its box, beside a neighbour's outline, as that neighbour's), unless it is
    inside a box the label would cover over half of; failing that, the first spot of the first two kinds. None where
    no spot is free (or the label is wider or taller than the image): that label is left off rather than written
    over another, which no one could read."""
    placed: list[Rect] = []
    out: list[tuple[float, float] | None] = []
    boxes = [tuple(map(float, b)) for b in boxes]  # plain numbers: a tensor's were 100x slower to compare (a review)

    def apart(a: Rect, b: Rect, gap: float = 0.0) -> bool:
        return a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1]

    for i, ((x0, y0, x1, y1), (w, h)) in enumerate(zip(boxes, sizes, strict=True)):
        below = math.floor(y1) + 1  # the outline's last row is y1, whole pixels
        right = math.floor(x1) + 1 - w  # flush with the outline's last column
        inside, area = (y0, y1 - h), (x1 - x0 + 1) * (y1 - y0 + 1)
        rows = (y0, y0 - h, y1 - h, below)
        if 5 * w * h > area:  # the label would hide much of what it names: outside first
            rows = (y0 - h, below, y0, y1 - h)
        # a spot near no other box comes first, but never one inside a box the label would mostly hide (over half):
        # a 60 x 14 label went over the whole of a 20 x 20 box to keep away from its neighbours (a review)
        may_go_inside = 2 * w * h <= area
        free, alone = [], []  # the bands that stay on the image and cover no label; those near no other box
        for x, y in ((max(0.0, min(x, width - w)), y) for x in (x0, right) for y in rows):
            band = (x, y, x + w, y + h)
            if y >= 0 and y + h <= height and w <= width and all(apart(band, p) for p in placed):
                free.append(band)
                near = any(not apart(band, b, h / 2) for j, b in enumerate(boxes) if j != i)  # half a label: beside
                if not near and (may_go_inside or y not in inside):
                    alone.append(band)
                    break
        band = (alone or free or [None])[0]
        if band is not None:
            placed.append(band)
        out.append(None if band is None else (band[0], band[1]))
    return out


def draw_labels(
    img: torch.Tensor, boxes: torch.Tensor, labels: Sequence[str], colours: str | Sequence[str], scale: float = 1.0
) -> tuple[torch.Tensor, int]:
    """Each box's label (boxes N x 4 in pixels, on a 3 x H x W uint8 image) on a band of its box's colour in the
    style of `label_style`, placed by `label_spots` so that no label covers another: every label of a picture in one
    call, after all its boxes are drawn. Labels enlarged by `scale` (presenter mode) that would leave more of them off
    than the normal size does are drawn at the normal size (a walk: 4 of 6 labelled on a projector, 6 of 6 otherwise).
    Returns the picture and how many labels it holds (the others had no spot)."""
    from PIL import ImageDraw, ImageFont

    if not labels:
        return img, 0
    colours = [colours] * len(labels) if isinstance(colours, str) else list(colours)
    pad = 2

    def placed(at: float) -> tuple[dict, ImageFont.FreeTypeFont, list, list, list]:
        style = label_style(colours, *img.shape[-2:], at)
        font = ImageFont.truetype(style["font"], style["font_size"])
        texts = [font.getbbox(label) for label in labels]
        sizes = [(r - left + 2 * pad, b - t + 2 * pad) for left, t, r, b in texts]
        # whole pixels, as torchvision draws the boxes: a box that moves by a rounding error moves no label
        return style, font, texts, sizes, label_spots(boxes.to(torch.int64).tolist(), sizes, *img.shape[-2:])

    style, font, texts, sizes, spots = placed(scale)
    if scale > 1 and None in spots:
        normal = placed(1.0)
        if sum(s is not None for s in normal[-1]) > sum(s is not None for s in spots):
            style, font, texts, sizes, spots = normal
    picture = Image.fromarray(img.permute(1, 2, 0).numpy())
    draw = ImageDraw.Draw(picture)
    for label, (left, top, _, _), (w, h), spot, colour, ink in zip(
        labels, texts, sizes, spots, colours, style["label_colors"], strict=True
    ):
        if spot is not None:
            x, y = spot
            draw.rectangle((x, y, x + w - 1, y + h - 1), fill=colour)
            draw.text((x + pad - left, y + pad - top), label, fill=ink, font=font)
    return torch.from_numpy(np.array(picture)).permute(2, 0, 1).contiguous(), sum(s is not None for s in spots)


def plotly_scale(mode: Mode) -> str | list[str]:
    """The mode's colour scale (COLORSCALES) as Plotly takes it: a name, or a list of colours."""
    scale = COLORSCALES[mode]
    return scale if isinstance(scale, str) else list(scale)


@cache
def colormap_lut(mode: Mode) -> np.ndarray:
    """A 256 x 3 uint8 lookup table sampled from the mode's Plotly colour scale."""
    colors = plotly.colors.sample_colorscale(plotly_scale(mode), list(np.linspace(0, 1, 256)), colortype="tuple")
    return (np.array(colors) * (255 if max(max(c) for c in colors) <= 1 else 1)).round().astype(np.uint8)


def colorize(m: np.ndarray, mode: Mode = "absolute") -> np.ndarray:
    """An H x W map from `to_map` -> H x W x 3 uint8 with the mode's colour scale."""
    t = (m + 1) / 2 if mode == "signed" else m
    return colormap_lut(mode)[np.clip((t * 255).round(), 0, 255).astype(np.uint8)]


def upsample(m: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """An H x W map resized to `shape` (rows, columns) by bilinear interpolation, values kept as they are."""
    if m.shape == tuple(shape):
        return m
    resized = Image.fromarray(np.asarray(m, np.float32)).resize(shape[::-1], Image.Resampling.BILINEAR)
    return np.asarray(resized, np.float64)


def overlay(
    image: np.ndarray, m: np.ndarray, mode: Mode = "absolute", alpha: float = 0.6, grey_under: bool = False
) -> np.ndarray:
    """Blend a map over an RGB image at the image's resolution (the map upsampled to it); each pixel's opacity
    grows with the map's magnitude there. `grey_under`: over the image's channel mean, as Captum's blended heat map
    draws it (`visualize_image_attr`), so the map's colours do not mix with the image's (red over green read as
    olive in a walk)."""
    img = np.asarray(image, dtype=np.float64)
    if grey_under:
        img = np.repeat(img.mean(axis=-1, keepdims=True), 3, axis=-1)
    m = upsample(m, img.shape[:2])
    weight = (alpha * np.abs(m))[..., None]
    return (img * (1 - weight) + colorize(m, mode) * weight).round().astype(np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    """H x W x 3 uint8 -> PNG file contents (for download buttons)."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgb, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def input_image(batch: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """Undo normalisation of the first image in `batch` -> H x W x 3 uint8 (what the model saw: grey, for a network
    that takes one channel)."""
    x = batch[0].detach().float().cpu() * torch.tensor(std).view(-1, 1, 1) + torch.tensor(mean).view(-1, 1, 1)
    x = x.expand(3, -1, -1) if x.shape[0] == 1 else x
    return (x.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


GRID = (76, 120, 168)  # the gaps between grey tiles: no grey, so a tile's white or black edge cell stays its own


MARK = (255, 43, 214)  # magenta: the frame of a grid's chosen tile, as the receptive-field box is drawn


def montage(
    tiles: np.ndarray,
    cols: int,
    pad: int = 2,
    scale: int = 1,
    background: int | tuple[int, int, int] | None = None,
    mark: int | None = None,
) -> np.ndarray:
    """Lay N x h x w (x 3) tiles out in a grid with `pad` pixels between them (a 24th of a tile's side, if more), each
    tile enlarged `scale` times by pixel repetition (so small filters stay crisp). The gaps are white between colour
    tiles and GRID's blue between grey ones (a walk could not tell where 2 x 2 maps, each with a white cell, met white
    gaps); the gap around tile `mark` is MARK's magenta (a walk looked for the chosen channel among 32 tiles)."""
    tiles = np.asarray(tiles)
    if background is None:
        background = GRID if tiles.ndim == 3 else 255
    if tiles.ndim == 3:
        tiles = np.repeat(tiles[..., None], 3, axis=-1)
    tiles = tiles.repeat(scale, axis=1).repeat(scale, axis=2)
    n, h, w = tiles.shape[:3]
    pad = max(pad, h // 24)  # gaps that stay visible between large tiles
    rows = -(-n // cols)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), background, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        if i == mark:
            out[top - pad : top + h + pad, left - pad : left + w + pad] = MARK
        out[top : top + h, left : left + w] = tile
    return out


def grey_maps(maps: np.ndarray, shared: bool = False) -> np.ndarray:
    """N x h x w activations -> N x h x w uint8, each map scaled by its own maximum, or all by the largest of them
    where `shared` (so tiles compare: at a 2 x 2 layer each map on its own scale showed black and white squares
    alike, a walk); negatives clipped."""
    m = np.clip(np.asarray(maps, np.float64), 0, None)
    peak = m.max(initial=0.0) if shared else m.reshape(len(m), -1).max(axis=1).reshape(-1, 1, 1)
    return (m / np.where(peak > 0, peak, 1) * 255).round().astype(np.uint8)


OUTSIDE = 128  # mid-grey: what a tile shows where a receptive field runs past the image (a projection's zero)


def crop_tile(rgb: np.ndarray, box: tuple[int, int, int, int], size: int = 64) -> np.ndarray:
    """The (x0, y0, x1, y1) region of an H x W x 3 image, resized to a `size` x `size` tile; where the box runs past
    the image the tile is mid-grey, so a square receptive field at the edge keeps its shape (clipped and stretched
    to a square, its patch was distorted and its projection pushed to the tile's edge: a walk finding)."""
    x0, y0, x1, y1 = box
    image = np.asarray(rgb)
    region = np.full((max(1, y1 - y0), max(1, x1 - x0), 3), OUTSIDE, np.uint8)
    top, left, bottom, right = max(0, y0), max(0, x0), min(image.shape[0], y1), min(image.shape[1], x1)
    if bottom > top and right > left:
        region[top - y0 : bottom - y0, left - x0 : right - x0] = image[top:bottom, left:right]
    return np.asarray(Image.fromarray(region).resize((size, size), Image.Resampling.NEAREST))


def boxes_on_image(boxes: Sequence[Sequence[float]], image: torch.Tensor) -> torch.Tensor:
    """(x0, y0, x1, y1) boxes as a float tensor clipped to a C x H x W image: drawing then costs time in
    proportion to the image, never to a coordinate (PIL walks every pixel of a rectangle's outline)."""
    from torchvision.ops import clip_boxes_to_image

    return clip_boxes_to_image(torch.tensor(boxes, dtype=torch.float).reshape(-1, 4), tuple(image.shape[-2:]))


def draw_box(rgb: np.ndarray, box: tuple[int, int, int, int], colour: str = "#00FF66", width: int = 2) -> np.ndarray:
    """The image with one rectangle drawn on it (torchvision's drawing utility)."""
    from torchvision.utils import draw_bounding_boxes

    img = torch.from_numpy(np.require(rgb, np.uint8, ["C", "W"])).permute(2, 0, 1)  # writable: no torch warning
    drawn = draw_bounding_boxes(img, boxes_on_image([box], img), colors=colour, width=width)
    return drawn.permute(1, 2, 0).numpy()
