"""Deletion and insertion curves (Petsiuk et al., RISE, 2018): how fast the class probability
falls as the most-attributed pixels are removed, and rises as they are revealed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from explain.methods.attributions import baseline
from explain.methods.maps import to_map
from models.devices import on_model_device
from models.lock import lock_for


@dataclass(frozen=True)
class Curves:
    """Probabilities of the target class against the fraction of pixels removed / revealed."""

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray

    @property
    def deletion_auc(self) -> float:
        """Lower is more faithful: the credited pixels really carried the score."""
        return float(np.trapezoid(self.deletion, self.fractions))

    @property
    def insertion_auc(self) -> float:
        """Higher is more faithful: the credited pixels alone restore the score."""
        return float(np.trapezoid(self.insertion, self.fractions))


@torch.no_grad()
def _probabilities(model: nn.Module, images: torch.Tensor, target: int, batch_size: int) -> np.ndarray:
    images = on_model_device(model, images)
    chunks = [images[i : i + batch_size] for i in range(0, len(images), batch_size)]
    with lock_for(model):
        return torch.cat([torch.softmax(model(c).float(), 1)[:, target] for c in chunks]).cpu().numpy()


RANKINGS = {
    "signed": "signed value (evidence for the class first, against it last; Petsiuk et al.)",
    "absolute": "absolute value (evidence for and against mixed)",
}


def ranking_map(attribution: torch.Tensor | np.ndarray, by: str = "signed") -> np.ndarray:
    """The H x W map whose order ranks pixels for deletion and insertion: the channel-summed attribution by its
    signed value (the paper's importance for the class) or by its absolute value. No percentile clipping, so
    the strongest pixels are not tied."""
    if by not in RANKINGS:
        raise ValueError(f"rank by one of {', '.join(RANKINGS)}, not {by!r}")
    return to_map(attribution, by, percentile=100.0)


def deletion_insertion(
    model: nn.Module,
    inputs: torch.Tensor,
    heatmap: np.ndarray,
    target: int,
    steps: int = 20,
    batch_size: int = 16,
) -> Curves:
    """Curves for one image (`inputs` is 1 x C x H x W) and an H x W importance map.

    Deletion replaces pixels, most important first, by the zero baseline (the mean colour);
    insertion starts from a blurred copy and puts the original pixels back in the same order.
    Ties are broken by pixel index, so the curves are deterministic.
    """
    h, w = inputs.shape[-2:]
    if heatmap.shape != (h, w):
        raise ValueError(f"the map is {heatmap.shape}, the image {h} x {w}")
    order = np.argsort(-heatmap.ravel(), kind="stable")
    fractions = np.linspace(0, 1, steps + 1)
    rank = np.empty(h * w, dtype=np.int64)
    rank[order] = np.arange(h * w)
    counts = np.round(fractions * h * w).astype(np.int64)
    masks = torch.from_numpy(rank[None, :] < counts[:, None]).view(-1, 1, h, w).to(inputs.device)
    x = inputs[:1]
    removed = torch.where(masks, baseline(x, "zeros"), x)
    revealed = torch.where(masks, x, baseline(x, "blurred"))
    return Curves(
        fractions,
        _probabilities(model, removed, target, batch_size),
        _probabilities(model, revealed, target, batch_size),
    )


def faithfulness_of_maps(
    model: nn.Module,
    inputs: torch.Tensor,
    attributions: dict[str, torch.Tensor | np.ndarray],
    target: int,
    by: str = "signed",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Curves]:
    """Deletion and insertion curves for each attribution (method key -> 1 x C x H x W or C x H x W), its pixels
    ranked `by` one of RANKINGS, as the page's faithfulness tab measures them; `progress` counts maps."""
    out = {}
    for i, (method, attribution) in enumerate(attributions.items()):
        if progress:
            progress(i, len(attributions))
        a = attribution[0] if attribution.ndim == 4 else attribution
        out[method] = deletion_insertion(model, inputs, ranking_map(a, by), target)
    return out
