"""Image sets to scan for top activations: the bundled samples plus generated shapes, uploads,
or a folder the user names, which must lie under a configured root."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from explain.inputs.images import ImageLoadError, load_image
from explain.inputs.samples import SAMPLE_NAMES, sample_bytes
from explain.inputs.upload_limits import IMAGE_MB
from models.data.shapes import make_scene, make_shape_image
from models.files import MB
from models.text import display_name, sendable

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "data" / "images"
MAX_SET_IMAGES = 200  # one scan holds them all as model inputs: 200 x 3 x 224 x 224 floats is 120 MB
MAX_FOLDER_CHARS = 255
MAX_ENTRIES_READ = 20_000  # files and folders a folder's listing reads before it stops looking
SCAN_SIDE = 512  # images of a set are loaded this small: the models see 224 pixels at most


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


def _walk(folder: Path, most: int) -> Iterator[Path]:
    """The entries under `folder` in the order `sorted(folder.rglob("*"))` gives (a folder's name, then what it
    holds, by name), at most `most`, read a folder at a time: the caller stops when it has enough, so a tree of
    millions of files costs what its first entries do (sorting the whole tree first took 1.9 s for 200,000 files,
    on every rerun of the page). Symbolic links to folders are not followed, as `rglob` does not."""
    stack, count = [iter(sorted(os.scandir(folder), key=lambda e: e.name))], 0
    while stack and count < most:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        count += 1
        yield Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            with contextlib.suppress(PermissionError):  # a folder inside that cannot be read is skipped, as by rglob
                stack.append(iter(sorted(os.scandir(entry.path), key=lambda e: e.name)))


MAX_FOLDERS_LISTED = 200


def image_folders(root: Path | None = None, most: int = MAX_FOLDERS_LISTED) -> list[str]:
    """The folders a visitor can scan: "." (the image root itself) and the folders under it, as paths relative to it in
    sorted order, at most `most`, taken level by level (the top level first: a deep or crowded tree does not hide the
    folders beside it, an attack's 3,000 subfolders had); links to folders are not followed, names that are not UTF-8
    are left out (Streamlit cannot send them), and each folder's first MAX_ENTRIES_READ entries are looked through for
    folders ([] when the server has no image root). Folders alone are descended into: a folder of many images neither
    costs its files nor hides the folders after it. A walk had met a bare text box labelled with an environment
    variable."""
    root = (root or image_root()).resolve()
    if not root.is_dir():
        return []
    found, level = [], [root]
    while level and len(found) < most - 1:
        below = []
        for folder in level:
            for sub in _subfolders(folder):
                relative = str(sub.relative_to(root))
                if len(found) < most - 1 and len(relative) <= MAX_FOLDER_CHARS and sendable(relative):
                    found.append(relative)
                    below.append(sub)
        level = below
    return [".", *sorted(found, key=lambda r: Path(r).parts)]


def _subfolders(folder: Path) -> list[Path]:
    """The folders directly in `folder` (not links), by name, among its first MAX_ENTRIES_READ entries."""
    found = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in itertools.islice(entries, MAX_ENTRIES_READ):
            if entry.is_dir(follow_symlinks=False):
                found.append(Path(entry.path))
    return sorted(found, key=lambda p: p.name)


def folder_files(relative: str, limit: int = MAX_SET_IMAGES, root: Path | None = None) -> list[Path]:
    """The image files in `relative` (a folder under the image root, searched recursively, at most
    `limit`, in sorted order, among its first MAX_ENTRIES_READ entries). ValueError, with a message
    that names no server path, when the name is too long, the folder lies outside the root (a `..` or
    a symbolic link that leads out counts as outside) or does not exist."""
    if len(relative) > MAX_FOLDER_CHARS:
        raise ValueError(f"A folder name has at most {MAX_FOLDER_CHARS} characters.")
    root = (root or image_root()).resolve()
    try:
        folder = (root / relative).resolve()
        if folder != root and root not in folder.parents:
            raise ValueError("Only folders under the image folder can be read.")
        if not folder.is_dir():
            raise ValueError(f"There is no folder {relative!r} in the image folder.")
        files = []
        for path in _walk(folder, MAX_ENTRIES_READ):
            if len(files) >= limit:
                break
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file() and sendable(str(path)):
                files.append(path)
    except OSError as exc:
        raise ValueError(f"That folder cannot be read ({exc.strerror or type(exc).__name__}).") from exc
    except RuntimeError as exc:  # pathlib's "Symlink loop" (an attack replaced a listed folder by one)
        raise ValueError("That folder cannot be read (a symbolic link loops).") from exc
    return files


def files_signature(paths: Iterable[str | os.PathLike]) -> str:
    """SHA-256 over the path, size and modification time of each file (as `folder_files` listed them): what a
    folder's scan is keyed on before its files are decoded (decoding them on every press, outside the queue, took
    5.6 s for 200 12-MP photos: a loopback attack)."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            stat = os.stat(path)
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
        except OSError:
            digest.update(f"{path}\0gone\0".encode())
    return digest.hexdigest()


def folder_set(
    relative: str, limit: int = MAX_SET_IMAGES, root: Path | None = None
) -> tuple[list[tuple[str, Image.Image]], list[str]]:
    """The images of `folder_files(relative, limit, root)`, each with its longer side at most
    SCAN_SIDE, and one line per file that could not be loaded (or links outside the root). ValueError, in one
    line, as `folder_files` raises it, or when files were found and none of them could be loaded (a review: the scan
    then raised on an empty batch)."""
    root = (root or image_root()).resolve()
    files = folder_files(relative, limit, root)  # first: it refuses a folder outside the root or a looping link
    folder = (root / relative).resolve()
    images, problems = [], []
    for path in files:
        name = display_name(str(path.relative_to(folder)))
        try:
            real = path.resolve()
            size = real.stat().st_size
        except (OSError, RuntimeError):  # gone since it was listed, or a link that loops
            problems.append(f"{name}: skipped, it cannot be read")
            continue
        if root not in real.parents:
            problems.append(f"{name}: skipped, it links outside the image folder")
            continue
        if size > IMAGE_MB * MB:  # read whole before decoding: an attack's 3 GB file took the server to 4.1 GB
            problems.append(f"{name}: skipped, it is over {IMAGE_MB} MB (an upload's limit too)")
            continue
        try:
            images.append((name, load_image(real, max_side=SCAN_SIDE)))
        except ImageLoadError as exc:
            problems.append(f"{name}: {exc}")
    if files and not images:
        raise ValueError(f"None of the {len(files)} image files there could be read ({problems[0].rstrip('.')}).")
    return images, problems


def set_sha256(images: list[tuple[str, Image.Image]]) -> str:
    """SHA-256 over every image's name, size and full pixel content: the cache key of a scan."""
    digest = hashlib.sha256()
    for name, im in images:
        digest.update(f"{name}\0{im.mode}\0{im.size}\0".encode())
        digest.update(im.tobytes())
    return digest.hexdigest()
