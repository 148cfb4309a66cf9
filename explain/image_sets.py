"""Image sets to scan for top activations: the bundled samples plus generated shapes, uploads,
or a folder the user names, which must lie under a configured root."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from explain.images import ImageLoadError, load_image
from explain.samples import SAMPLE_NAMES, sample_bytes
from models.shapes import make_scene, make_shape_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
DEFAULT_ROOT = Path(__file__).resolve().parents[1] / "data" / "images"


def image_root() -> Path:
    """The only folder tree the app reads user images from: $EXPLAINER_IMAGE_ROOT, else ./data/images."""
    return Path(os.environ.get("EXPLAINER_IMAGE_ROOT", DEFAULT_ROOT)).resolve()


def bundled_set(n_generated: int = 48, size: int = 192, seed: int = 0) -> list[tuple[str, Image.Image]]:
    """The samples every page offers, plus `n_generated` generated shape images and scenes."""
    out = [(name, load_image(sample_bytes(name))) for name in SAMPLE_NAMES]
    rng = np.random.default_rng(seed)
    for i in range(n_generated):
        arr = make_scene(rng, size, n_objects=(2, 4)).image if i % 3 == 2 else make_shape_image(rng, size)[0]
        out.append((f"generated #{i + 1}", Image.fromarray(arr)))
    return out


def folder_set(
    relative: str, limit: int = 1000, root: Path | None = None
) -> tuple[list[tuple[str, Image.Image]], list[str]]:
    """Images in `relative` (a folder under the image root, searched recursively, at most `limit`),
    and one line per file that could not be loaded. ValueError when the folder is outside the root
    (a `..` or a symbolic link that leads out counts as outside) or does not exist."""
    root = (root or image_root()).resolve()
    folder = (root / relative).resolve()
    if folder != root and root not in folder.parents:
        raise ValueError(f"Only folders under {root} can be read.")
    if not folder.is_dir():
        raise ValueError(f"There is no folder {relative!r} under {root}.")
    images, problems = [], []
    for path in sorted(folder.rglob("*")):
        if len(images) >= limit:
            break
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        real = path.resolve()
        if root not in real.parents:
            problems.append(f"{path.name}: skipped, it links outside {root}")
            continue
        try:
            images.append((str(path.relative_to(folder)), load_image(real)))
        except ImageLoadError as exc:
            problems.append(f"{path.name}: {exc}")
    return images, problems
