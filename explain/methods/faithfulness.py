"""Deletion and insertion curves (Petsiuk et al., RISE, 2018): how fast the class probability
falls as the most-attributed pixels are removed, and rises as they are revealed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from explain.methods.attributions import METHODS, baseline, direction_methods, magnitude_methods
from explain.methods.maps import to_map
from models.devices import on_model_device
from models.lock import lock_for
from models.text import percent


@dataclass(frozen=True)
class Curves:
    """Probabilities of the target class against the fraction of pixels removed / revealed."""

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    tied: float = 0.0  # the share of the map's pixels that share their value with another (their order is drawn)
    orders: int = 1  # how many drawn orders of those pixels the curves average (`deletion_insertion`)
    deletion_range: tuple[float, float] | None = None  # the deletion area's least and most over those orders
    insertion_range: tuple[float, float] | None = None

    @property
    def deletion_auc(self) -> float:
        """Lower is more faithful: the credited pixels really carried the score."""
        return float(np.trapezoid(self.deletion, self.fractions))

    @property
    def insertion_auc(self) -> float:
        """Higher is more faithful: the credited pixels alone restore the score."""
        return float(np.trapezoid(self.insertion, self.fractions))


RISE_BLUR = (11, 5.0)  # RISE's insertion substrate: a Gaussian kernel of 11 x 11 pixels, sigma 5 (its evaluation code)


def rise_blur(x: torch.Tensor, size: int = RISE_BLUR[0], sigma: float = RISE_BLUR[1]) -> torch.Tensor:
    """RISE's blurred copy: each channel convolved with its `gkern` (a unit impulse smoothed by SciPy's
    gaussian_filter, size x size), zero padding, on the normalised image, as in its evaluation code."""
    from scipy.ndimage import gaussian_filter

    impulse = np.zeros((size, size))
    impulse[size // 2, size // 2] = 1.0
    kernel = torch.from_numpy(gaussian_filter(impulse, sigma).astype(np.float32)).to(x.device, x.dtype)
    channels = x.shape[1]
    weight = kernel.expand(channels, 1, size, size)
    return torch.nn.functional.conv2d(x, weight, padding=size // 2, groups=channels)


GRIDS = {  # how many pixels move per step: RISE's one row (its default), or a coarser grid that costs less
    "rise": None,
    "50": 50,
    "20": 20,
}


def pixels_per_step(h: int, w: int, steps: int | None = None) -> int:
    """RISE's grid: one row's worth of pixels per step (the image width; 224 steps at 224 px) by default, else
    enough that `steps` steps cover the image."""
    return w if steps is None else max(1, -(-(h * w) // max(1, steps)))


@torch.no_grad()
def _curve(
    model: nn.Module,
    start: torch.Tensor,
    finish: torch.Tensor,
    rank: np.ndarray,
    counts: np.ndarray,
    target: int,
    batch: int,
) -> np.ndarray:
    """The target's probability with the `counts[i]` pixels ranked first moved from `start` to `finish`, for each i
    (RISE's CausalMetric: counts are multiples of its pixels per step), the images made `batch` at a time so memory
    stays bounded."""
    h, w = start.shape[-2:]
    rank_map = torch.from_numpy(rank.reshape(h, w)).to(start.device)
    moved = torch.from_numpy(counts).to(start.device)
    out = []
    with lock_for(model):
        for first in range(0, len(counts), batch):
            masks = (rank_map[None] < moved[first : first + batch, None, None])[:, None]
            images = torch.where(masks, finish, start)
            out.append(torch.softmax(model(on_model_device(model, images)).float(), 1)[:, target].cpu())
    return torch.cat(out).numpy()


TIE_ORDERS = 3  # drawn orders of a map's tied pixels that its curves average, where a step cuts through a tie


def removal_order(heatmap: np.ndarray, draw: int = 0) -> tuple[np.ndarray, float]:
    """(pixel indices, most important first; the share of pixels that tie with another). RISE's code leaves equal
    values in the order `argsort` gives them, which follows the pixels' index: a ReLU's zeros (often most of a
    Grad-CAM map) or Occlusion's windows would go top rows first, an order the map does not give, and one that tracks
    where the object sits (a fidelity review: a Grad-CAM map of the bundled model, 72% zeros, scored a deletion area
    of 0.28 with them removed top rows first and 0.67 bottom rows first). Here tied pixels go in a random order drawn
    from seed `draw`; an untied map is ranked exactly as RISE's code ranks it."""
    flat = heatmap.ravel()
    tiebreak = np.random.default_rng(draw).permutation(flat.size)
    order = np.lexsort((tiebreak, -flat))  # by value, then by the drawn order
    ranked = flat[order]
    equal = ranked[1:] == ranked[:-1]
    tied = np.r_[equal, False] | np.r_[False, equal]
    return order, float(tied.mean())


RANKINGS = {
    "meaning": "value as the method means it (signed where the sign is evidence, absolute where it is a gradient's "
    "direction)",
    "signed": "signed value (evidence for the class first, against it last; Petsiuk et al.)",
    "absolute": "absolute value (evidence for and against mixed)",
}


def ranking_for(by: str, direction: bool) -> str:
    """How one map is ranked under the page's choice `by`: "meaning" ranks a map whose sign is a gradient's direction
    (`explain.methods.attributions.sign_is_direction`) by absolute value and every other by signed value, so no map
    is scored against what its sign means (a walk saw the paper's signed default warned against for two of the four
    default methods); "signed" and "absolute" rank every map alike."""
    if by not in RANKINGS:
        raise ValueError(f"rank by one of {', '.join(RANKINGS)}, not {by!r}")
    return ("absolute" if direction else "signed") if by == "meaning" else by


def ranking_map(attribution: torch.Tensor | np.ndarray, by: str = "signed", magnitude: bool = False) -> np.ndarray:
    """The H x W map whose order ranks pixels for deletion and insertion: the channel-summed attribution by its
    signed value (the paper's importance for the class) or by its absolute value, as the page's map shows it
    (`magnitude`: a gradient's, `to_map`). No percentile clipping, so the strongest pixels are not tied."""
    if by not in ("signed", "absolute"):
        raise ValueError(f"rank one map by signed or absolute value, not {by!r}")
    return to_map(attribution, by, percentile=100.0, magnitude=magnitude)


def deletion_insertion(
    model: nn.Module,
    inputs: torch.Tensor,
    heatmap: np.ndarray,
    target: int,
    steps: int | None = None,
    batch_size: int = 16,
    orders: int = TIE_ORDERS,
) -> Curves:
    """Curves for one image (`inputs` is 1 x C x H x W) and an H x W importance map (`ranking_map` makes it from an
    attribution as the page does: `to_map`'s percentile clipping would tie the strongest pixels), as RISE's evaluation
    code computes them (Petsiuk et al., 2018): pixels ranked by the map, most important first, replaced
    `pixels_per_step` at a time (by default one row's worth: H steps) by the zero baseline (the mean colour, for a model
    normalised by it) for deletion, or put back into RISE's blurred copy for insertion; probabilities of `target` after
    a softmax; the x axis is step / steps, so the areas are RISE's `auc`. Where RISE scores the model's top class,
    this scores `target` (the page's class: the same where it explains the prediction). Pixels the map ties go in a
    random order (`removal_order`); where a step moves part of a tie, the curves are the mean over `orders` drawn
    orders (seeds 0, 1, ...: deterministic; only the steps that cut a tie are run again), and the areas' range over
    them is kept: on the bundled model's Grad-CAM maps one order's deletion area moved by a standard deviation of
    0.07-0.09 from order to order."""
    h, w = inputs.shape[-2:]
    if heatmap.shape != (h, w):
        raise ValueError(f"the map is {heatmap.shape}, the image {h} x {w}")
    per_step = pixels_per_step(h, w, steps)
    n_steps = -(-(h * w) // per_step)
    counts = np.minimum(np.arange(n_steps + 1) * per_step, h * w)
    x = inputs[:1]
    substrate, blurred = baseline(x, "zeros"), rise_blur(x)

    def curves(order: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rank = np.empty(h * w, dtype=np.int64)
        rank[order] = np.arange(h * w)
        moved = counts[at]
        return (
            _curve(model, x, substrate, rank, moved, target, batch_size),
            _curve(model, blurred, x, rank, moved, target, batch_size),
        )

    order, tied = removal_order(heatmap)
    ranked = heatmap.ravel()[order]
    cut = (counts > 0) & (counts < h * w)  # a step whose moved pixels end inside a tie: the order decides them
    cut[cut] = ranked[counts[cut] - 1] == ranked[counts[cut]]
    fractions = np.arange(n_steps + 1) / n_steps
    first = Curves(fractions, *curves(order, np.arange(n_steps + 1)), tied)
    if orders < 2 or not cut.any():
        return first
    runs = [first]
    for draw in range(1, orders):  # only the steps that cut a tie differ from the first order's
        deletion, insertion = first.deletion.copy(), first.insertion.copy()
        deletion[cut], insertion[cut] = curves(removal_order(heatmap, draw)[0], np.flatnonzero(cut))
        runs.append(Curves(fractions, deletion, insertion))
    deletions, insertions = [r.deletion_auc for r in runs], [r.insertion_auc for r in runs]
    return Curves(
        fractions,
        np.mean([r.deletion for r in runs], 0),
        np.mean([r.insertion for r in runs], 0),
        tied,
        orders,
        (min(deletions), max(deletions)),
        (min(insertions), max(insertions)),
    )


def faithfulness_of_maps(
    model: nn.Module,
    inputs: torch.Tensor,
    attributions: dict[str, torch.Tensor | np.ndarray],
    target: int,
    by: str = "meaning",
    progress: Callable[[int, int], None] | None = None,
    steps: int | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Curves]:
    """Deletion and insertion curves for each attribution (method key -> 1 x C x H x W or C x H x W), its pixels
    ranked `by` one of RANKINGS, as the page's faithfulness tab measures them: by default as each method means its
    map (a notebook review: the default was "signed", which scores Saliency's and Guided Backprop's maps against
    what their sign means). `params` (method key -> the parameters its map was made with; each method's defaults
    where missing) tells which maps are a gradient's magnitude or direction (SmoothGrad's depends on its base);
    `progress` counts maps."""
    if by == "meaning" and (unknown := [m for m in attributions if m not in METHODS]):  # its meaning is unknown
        raise ValueError(f"ranking by meaning needs METHODS' keys, not {unknown[0]!r}: rank by 'signed' or 'absolute'")
    params = {m: (params or {}).get(m, {}) for m in attributions}
    magnitude, directions = magnitude_methods(params), direction_methods(params)
    out = {}
    for i, (method, attribution) in enumerate(attributions.items()):
        if progress:
            progress(i, len(attributions))
        a = attribution[0] if attribution.ndim == 4 else attribution
        rank = ranking_map(a, ranking_for(by, method in directions), method in magnitude)
        out[method] = deletion_insertion(model, inputs, rank, target, steps)
    return out


def flat_note(curves: dict[str, Curves], side: int) -> str:
    """Why the curves cannot show much, in one line, or "": the blurred copy alone (insertion's start) or the
    mean-colour image (deletion's end) already scores at least 90% of the image's own probability for the class,
    the same for every method since both ends are the same images."""
    if not curves:
        return ""
    c = next(iter(curves.values()))
    full = float(c.deletion[0])
    notes = []
    if full > 0 and c.insertion[0] >= 0.9 * full:
        notes.append(
            f"the blurred copy alone scores {percent(c.insertion[0], 0)} for the class (the image itself "
            f"{percent(full, 0)}): "
            f"RISE's 11-pixel blur leaves a {side}-pixel image recognisable, so insertion has nothing to restore"
        )
    if full > 0 and c.deletion[-1] >= 0.9 * full:
        notes.append(f"the mean-colour image still scores {percent(c.deletion[-1], 0)}, so deletion cannot fall")
    if notes:
        return "Flat curves here: " + "; ".join(notes) + ". Their areas say little about the maps."
    if len(curves) > 1:
        for name, areas in (
            ("insertion", [v.insertion_auc for v in curves.values()]),
            ("deletion", [v.deletion_auc for v in curves.values()]),
        ):
            if max(areas) - min(areas) < SEPARATES:
                # to the digit where they differ (a walk read "within 0.000 of each other (0.999 to 0.999)")
                spread = max(areas) - min(areas)
                digits = 3 if spread >= 0.001 else 4
                close = (
                    f"are all {min(areas):.{digits}f}"
                    if round(spread, digits) == 0
                    else f"lie within {spread:.{digits}f} of each other ({min(areas):.{digits}f} to "
                    f"{max(areas):.{digits}f})"
                )
                return (
                    f"The {name} areas of all {len(curves)} maps {close}: on this image the {name} test cannot tell "
                    "the methods apart."
                )
    return ""


SEPARATES = 0.02  # areas closer than this do not rank methods: a few pixels' ties or one image's noise


def tie_note(curves: Mapping[str, Curves]) -> str:
    """Which maps (by title) had their tied pixels drawn in several orders, how many of their pixels tie and how far
    their areas moved between the orders (where it shows at the table's three places), in one line; "" where none
    did."""

    def moved(c: Curves) -> bool:  # by the orders, at the three places the page shows
        return any(round(r[1], 3) != round(r[0], 3) for r in (c.deletion_range, c.insertion_range))

    drawn = {title: c for title, c in curves.items() if c.orders > 1 and moved(c)}
    if not drawn:
        return ""
    orders = max(c.orders for c in drawn.values())
    each = "; ".join(
        f"{title}: {percent(c.tied, 0)} of its pixels tie, deletion area {c.deletion_range[0]:.3f} to "
        f"{c.deletion_range[1]:.3f} over the orders" + (" (insertion {:.3f} to {:.3f})".format(*c.insertion_range))
        for title, c in drawn.items()
    )
    wide = any(r[1] - r[0] >= SEPARATES for c in drawn.values() for r in (c.deletion_range, c.insertion_range))
    return (
        "A map gives the pixels it ties (a ReLU's zeros, Occlusion's windows) no order: where a step cut through a "
        f"tie, the curves are the mean over {orders} random orders of its pixels. {each}."
        + (" A difference between methods within such a range says little." if wide else "")
    )
