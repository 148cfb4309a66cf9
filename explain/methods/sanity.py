"""Adebayo et al. (2018)'s model-randomisation sanity check, cascading from the top layer down.

A map that explains the model should change as the model's learned weights are destroyed.
The shared model is never touched: the randomisation happens on a private deep copy.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr
from skimage.feature import hog
from skimage.metrics import structural_similarity
from torch import nn

from explain.methods.attributions import attribute
from explain.methods.layers import parametric_units
from explain.methods.maps import to_map
from models.lock import lock_for


@dataclass(frozen=True)
class SanityStep:
    """The map after randomising every unit down to and including `layer`, compared with the original."""

    layer: str
    spearman: float  # rank correlation of the absolute maps
    ssim: float  # structural similarity of the absolute maps, both scaled to [0, 1]
    heatmap: np.ndarray  # H x W absolute map in [0, 1]
    spearman_signed: float = 1.0  # rank correlation of the signed maps (without absolute values)
    hog: float = 1.0  # Pearson correlation of the absolute maps' histograms of oriented gradients

    @property
    def constant(self) -> bool:
        """The map became a uniform tile: similarities to it say nothing about the method."""
        return float(np.ptp(self.heatmap)) < 1e-6


METRICS = {  # the paper's four similarity metrics (Adebayo et al. 2018, Section 3), by SanityStep field
    "spearman": "Spearman rank correlation (absolute maps)",
    "spearman_signed": "Spearman rank correlation (signed maps)",
    "ssim": "SSIM (absolute maps)",
    "hog": "HOG similarity (absolute maps)",
}


def hog_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of the HOG features (scikit-image's `hog`) of two H x W maps: do their edges agree?"""
    cell = max(4, min(a.shape) // 8)
    fa, fb = (hog(m, pixels_per_cell=(cell, cell), cells_per_block=(2, 2)) for m in (a, b))
    if fa.std() == 0 or fb.std() == 0:  # a constant map has no edges: nothing to correlate
        return 0.0
    return float(np.corrcoef(fa, fb)[0, 1])


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps (0 where it is undefined: a constant map)."""
    return float(np.nan_to_num(spearmanr(a.ravel(), b.ravel()).statistic))


def similarity(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(Spearman rank correlation, SSIM) of two absolute H x W maps in [0, 1]."""
    return spearman(a, b), float(structural_similarity(a, b, data_range=1.0))


def _step(layer: str, original: tuple[np.ndarray, np.ndarray], attribution: torch.Tensor, percentile: float):
    """One SanityStep: the absolute and signed maps of `attribution` compared with the original's."""
    absolute, signed = (to_map(attribution, mode, percentile) for mode in ("absolute", "signed"))
    rho, ssim = similarity(original[0], absolute)
    return SanityStep(layer, rho, ssim, absolute, spearman(original[1], signed), hog_similarity(original[0], absolute))


@torch.no_grad()
def randomize_(module: nn.Module, generator: torch.Generator) -> None:
    """Re-draw every weight and bias of `module` in place: N(0, std of the original) per tensor,
    so the scale survives and only the learned structure is lost."""
    for p in module.parameters():
        std = float(p.std()) if p.numel() > 1 else 1.0
        p.copy_(torch.randn(p.shape, generator=generator) * (std or 0.01))


def cascading_randomization(
    model: nn.Module,
    inputs: torch.Tensor,
    method: str,
    target: int,
    params: dict[str, Any] | None = None,
    *,
    percentile: float = 99.0,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[SanityStep]:
    """The method's map for the trained model, then after randomising each unit in turn from the
    output down (`fc`, `layer4.1`, …, `conv1`). The first step, `original`, has similarity 1."""
    params = params or {}
    first = attribute(model, inputs, method, target, **params)[0]
    original = (to_map(first, "absolute", percentile), to_map(first, "signed", percentile))
    steps = [SanityStep("original", 1.0, 1.0, original[0])]
    with lock_for(model):
        scrambled = copy.deepcopy(model).eval()
    gen = torch.Generator().manual_seed(seed)
    units = parametric_units(scrambled)
    for i, name in enumerate(units):
        randomize_(scrambled.get_submodule(name), gen)
        steps.append(_step(name, original, attribute(scrambled, inputs, method, target, **params)[0], percentile))
        if progress:
            progress(i + 1, len(units))
    return steps


def sanity_of_methods(
    model: nn.Module,
    inputs: torch.Tensor,
    target: int,
    params: dict[str, dict[str, Any]],
    *,
    percentile: float = 99.0,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, list[SanityStep]]:
    """The cascading randomisation of each method in `params` (method key -> its parameters), in turn, as the
    Attributions page's sanity tab runs them; `progress(done, total)` counts methods."""
    out = {}
    for i, (method, method_params) in enumerate(params.items()):
        if progress:
            progress(i, len(params))
        out[method] = cascading_randomization(model, inputs, method, target, method_params, percentile=percentile)
    return out
