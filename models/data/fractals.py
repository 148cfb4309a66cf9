"""FractalDB-style images (Kataoka et al., ACCV 2020): a richer procedural source task to pretrain on.

A category is one iterated function system (IFS): two to four random contractive affine maps of the
plane. Its images are the system's attractor, drawn by the chaos game, with per-instance variation
(one map's parameters scaled by 0.8-1.2 as in FractalDB, a random flip and quarter turn, a random
drawing resolution). The attractors are stroke-and-blob patterns of ink on black, which is why they
teach a network features that transfer to handwriting where the shapes classifier's do not.
"""

from __future__ import annotations

import numpy as np

MIN_FILL = 0.12  # a category whose attractor covers less of its box than this is a dot or a line: redrawn


def sample_system(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One IFS category: (A, b) with A of shape K x 2 x 2 and b of shape K x 2, every map contractive."""
    k = int(rng.integers(2, 5))
    while True:
        a = rng.uniform(-1.0, 1.0, size=(k, 2, 2))
        b = rng.uniform(-1.0, 1.0, size=(k, 2))
        if np.linalg.norm(a, ord=2, axis=(1, 2)).max() < 0.95:
            return a, b


def attractor(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, points: int = 6000) -> np.ndarray:
    """Points on the attractor of the IFS (A, b), by the chaos game: many walkers in parallel, each map
    chosen with probability proportional to |det A|, the first 20 steps discarded."""
    walkers, burn_in = 200, 20
    det = np.abs(np.linalg.det(a)) + 1e-3
    prob = det / det.sum()
    x = rng.uniform(-1.0, 1.0, size=(walkers, 2))
    steps = burn_in + points // walkers
    choice = rng.choice(len(a), size=(steps, walkers), p=prob)
    out = np.empty((steps - burn_in, walkers, 2))
    for t in range(steps):
        k = choice[t]
        x = np.einsum("wij,wj->wi", a[k], x) + b[k]
        if t >= burn_in:
            out[t - burn_in] = x
    return out.reshape(-1, 2)


def render(pts: np.ndarray, size: int, margin: float = 0.1) -> np.ndarray:
    """size x size float32 image in [0, 1]: the points' occupancy, fitted into the frame keeping the aspect."""
    lo, hi = pts.min(0), pts.max(0)
    span = float((hi - lo).max()) + 1e-9
    uv = (pts - (lo + hi) / 2) / span * (1 - 2 * margin) + 0.5
    ij = np.clip((uv * size).astype(int), 0, size - 1)
    img = np.zeros((size, size), np.float32)
    img[ij[:, 1], ij[:, 0]] = 1.0
    return img


def fill_rate(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> float:
    """The fraction of a 32 x 32 frame the attractor covers: FractalDB's filter against degenerate systems."""
    return float(render(attractor(a, b, rng, points=4000), 32).mean())


def categories(n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """`n` IFS categories whose attractors fill at least MIN_FILL of their frame; a pure function of `seed`."""
    rng = np.random.default_rng(seed)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    while len(out) < n:
        a, b = sample_system(rng)
        if fill_rate(a, b, rng) >= MIN_FILL:
            out.append((a, b))
    return out


def instance(system: tuple[np.ndarray, np.ndarray], rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """One image of a category: a perturbed map, a flip and quarter turn, drawn at a random resolution
    (size/4 to size) and enlarged back to `size` by bilinear interpolation, so stroke width varies."""
    a, b = system[0].copy(), system[1].copy()
    k = rng.integers(len(a))
    a[k] *= rng.uniform(0.8, 1.2)
    res = int(rng.integers(size // 4, size + 1))
    img = render(attractor(a, b, rng), res)
    if res != size:
        grid = (np.arange(size) + 0.5) * res / size - 0.5
        i0 = np.clip(np.floor(grid).astype(int), 0, res - 1)
        i1 = np.clip(i0 + 1, 0, res - 1)
        w = np.clip(grid - i0, 0.0, 1.0)[:, None]
        rows = img[i0] * (1 - w) + img[i1] * w
        img = rows[:, i0] * (1 - w.T) + rows[:, i1] * w.T
    if rng.random() < 0.5:
        img = img[:, ::-1]
    return np.ascontiguousarray(np.rot90(img, int(rng.integers(4))), dtype=np.float32)


def instances(
    systems: list[tuple[np.ndarray, np.ndarray]], per_category: int, seed: int, size: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """(images N x size x size float32, labels N int64): `per_category` images of each category, a
    pure function of `seed`."""
    rng = np.random.default_rng(seed)
    images = np.stack([instance(s, rng, size) for s in systems for _ in range(per_category)])
    labels = np.repeat(np.arange(len(systems)), per_category)
    return images, labels
