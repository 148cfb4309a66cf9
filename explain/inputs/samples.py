"""Sample images for every page: real photos that scikit-image ships, and generated shapes.

Each sample is returned as PNG bytes, so it goes through the same `load_image` door and the
same content-hash caching as an upload.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache, lru_cache

import numpy as np
from PIL import Image

from models.data.shapes import SHAPE_CLASSES, Scene, make_scene, make_shape_scene

PHOTOS: dict[str, str] = {
    "astronaut (photo)": "astronaut",
    "chelsea the cat (photo)": "chelsea",
    "coffee (photo)": "coffee",
    "rocket (photo)": "rocket",
}
GENERATED_SIZE = 192


def _photo(name: str) -> np.ndarray:
    import skimage.data  # imported lazily: scikit-image is slow to import and only needed here

    return getattr(skimage.data, name)()


def _shape_scene(label: int) -> Scene:
    """The "generated <shape>" sample of a class, with its one object's mask and box."""
    return make_shape_scene(np.random.default_rng(1000 + label), GENERATED_SIZE, label)


def _shape(label: int) -> np.ndarray:
    return _shape_scene(label).image


SCENE_SEEDS = (7, 11, 23)  # "generated scene 1" to "generated scene 3"
HELD_OUT_SCENES = 50_000  # the seeds of `scene_set`: no sample and no training command draws from here
SCENE_OBJECTS = (3, 5)  # shapes in a sample scene, fewest and most
SCENE_RADIUS = (0.08, 0.22)  # their circumradius, a fraction of the scene's side


def scene(seed: int) -> Scene:
    """A generated scene as the samples draw it (size, number and size of objects), with its true objects."""
    return make_scene(np.random.default_rng(seed), GENERATED_SIZE * 2, n_objects=SCENE_OBJECTS, radius=SCENE_RADIUS)


def _scene(seed: int) -> np.ndarray:
    return scene(seed).image


@lru_cache(maxsize=16)  # the 9 generated samples: a page asks on every rerun, and a scene takes 60 ms to draw
def sample_scene(name: str) -> Scene | None:
    """The generated image behind a sample name, with its truth: a scene's objects ("generated scene 2"), or a
    one-shape sample's one ("generated star"); None for the photos. Kept once drawn: do not change its arrays."""
    for i, seed in enumerate(SCENE_SEEDS, start=1):
        if name == f"generated scene {i}":
            return scene(seed)
    if name.startswith("generated ") and name[len("generated ") :] in SHAPE_CLASSES:
        return _shape_scene(SHAPE_CLASSES.index(name[len("generated ") :]))
    return None


def sample_truth(name: str, sha256: str) -> Scene | None:
    """The generated sample `name`, with its truth, when the image (`sha256`, of its bytes) is that sample; None
    for a photo, or for other bytes under a sample's name (an upload so named is the visitor's own image)."""
    from explain.inputs.images import image_sha256

    if name not in GENERATED or image_sha256(sample_bytes(name)) != sha256:  # the bytes first: nothing drawn for them
        return None
    return sample_scene(name)


def scene_set(n: int) -> list[Scene]:
    """n generated scenes like the samples, from seeds nothing else uses: a set to score a detector on."""
    return [scene(HELD_OUT_SCENES + i) for i in range(n)]


def _sources() -> dict[str, Callable[[], np.ndarray]]:
    out: dict[str, Callable[[], np.ndarray]] = {k: (lambda n=v: _photo(n)) for k, v in PHOTOS.items()}
    out |= {f"generated {shape}": (lambda i=i: _shape(i)) for i, shape in enumerate(SHAPE_CLASSES)}
    out |= {f"generated scene {i}": (lambda s=s: _scene(s)) for i, s in enumerate(SCENE_SEEDS, start=1)}
    return out


SAMPLE_NAMES: tuple[str, ...] = tuple(_sources())
GENERATED: frozenset[str] = frozenset(n for n in SAMPLE_NAMES if n not in PHOTOS)  # drawn by the project's generator
# one shape each, as the bundled classifiers and a network trained on shapes saw them; the scenes hold several (a walk
# read "cross 81%" on a scene with no cross, with no word that the classifier never saw a scene)
ONE_SHAPE: frozenset[str] = frozenset(f"generated {shape}" for shape in SHAPE_CLASSES)


@cache
def sample_bytes(name: str) -> bytes:
    """The named sample encoded as PNG; KeyError for an unknown name."""
    arr = _sources()[name]()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()
