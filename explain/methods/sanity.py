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

from explain.methods.attributions import attribute, gradient_magnitude
from explain.methods.layers import parametric_units
from explain.methods.maps import to_map
from models.lock import lock_for, seeded_rngs


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


def fully_randomised_text(results: dict[str, list[SanityStep]], metric: str = "spearman") -> str:
    """What this run shows at its end, in one sentence, and on the way there in a second (`_on_the_way`): each
    method's `metric` similarity to its original map once every layer is randomised, most similar first (a walk read
    the prose's 'Guided Backprop and Deconvolution are known to fail this test' beside a photo's run where Guided
    Backprop ended below Integrated Gradients). A constant map's similarity is left out, said as such."""
    ended = {m: steps[-1] for m, steps in results.items() if steps}
    kept = sorted(((getattr(s, metric), m) for m, s in ended.items() if not s.constant), reverse=True)
    if not kept:
        return ""
    said = ", ".join(f"{m} {v:.2f}" for v, m in kept)
    flat = [m for m, s in ended.items() if s.constant]
    tail = f"; {', '.join(flat)} became constant, which says nothing" if flat else ""
    return (
        f"In this run, once every layer is randomised, the {METRICS[metric]} with the original "
        f"map is {said} (1 = unchanged; the highest explains the model least){tail}." + _on_the_way(results, metric)
    )


def _on_the_way(results: dict[str, list[SanityStep]], metric: str) -> str:
    """One more sentence where a run has more than one randomised step: each method's `metric` averaged over them,
    highest first, so a curve that stays high for longest ranks so even when it ends low (a walk read the last step
    alone while Guided Backprop's curve stayed highest longest). Constant steps say nothing and are left out."""
    means = {}
    for m, steps in results.items():
        kept = [getattr(s, metric) for s in steps[1:] if not s.constant]
        if len(steps) > 2 and kept:
            means[m] = float(np.mean(kept))
    if not means:
        return ""
    order = sorted(means.items(), key=lambda kv: -kv[1])
    ranked = ", ".join(f"{m} {v:.2f}" for m, v in order)
    said = (
        " Averaged over every randomised step (higher: it stayed similar for longer, so it explains the model "
        f"less): {ranked}."
    )
    ended = max(((getattr(s[-1], metric), m) for m, s in results.items() if s and not s[-1].constant), default=None)
    if ended is not None and ended[1] != order[0][0]:
        said += (
            f" The two orders differ: {order[0][0]} stayed similar the longest, {ended[1]} was the most similar at the "
            "end; either counts against a method."
        )
    if any(getattr(s, metric) < 0 for steps in results.values() for s in steps[1:] if not s.constant):
        said += " Below 0, a map ranks the pixels roughly opposite to its original: unlike it, not closer to it."
    return said


def shown_steps(steps: list[SanityStep], at_most: int = 6) -> list[SanityStep]:
    """At most `at_most` of a cascade's steps to draw as maps, evenly spaced, the original and the fully randomised
    last step always among them (a walk found the grid stop before the last step while its heading said 'each')."""
    if len(steps) <= at_most:
        return list(steps)
    picks = dict.fromkeys(round(i * (len(steps) - 1) / (at_most - 1)) for i in range(at_most))
    return [steps[i] for i in picks]


def hog_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of the HOG features (scikit-image's `hog`) of two H x W maps: do their edges agree?"""
    cell = max(4, min(a.shape) // 8)
    fa, fb = (hog(m, pixels_per_cell=(cell, cell), cells_per_block=(2, 2)) for m in (a, b))
    if fa.std() == 0 or fb.std() == 0:  # a constant map has no edges: nothing to correlate
        return 0.0
    return float(np.corrcoef(fa, fb)[0, 1])


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps (0 where it is undefined: a constant map, checked first so SciPy's
    ConstantInputWarning does not fill the server's log)."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(np.nan_to_num(spearmanr(a.ravel(), b.ravel()).statistic))


def similarity(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(Spearman rank correlation, SSIM) of two absolute H x W maps in [0, 1]."""
    return spearman(a, b), float(structural_similarity(a, b, data_range=1.0))


VARIANTS = {  # how the model is randomised and how maps are made before they are compared
    "paper": "as published: each layer re-initialised as at the start of training (its own reset_parameters), "
    "maps as the authors' code makes them (|attribution| summed over channels, scaled from its minimum to its "
    "99th percentile; signed maps summed and scaled by the 99th percentile of the sum, x to (x + p) / 2p)",
    "rescaled": "this project's earlier variant: weights re-drawn from N(0, the trained tensor's std), maps as "
    "the page shows them (|sum over channels|, divided by the clipping percentile)",
}


def paper_map(attribution: torch.Tensor | np.ndarray, mode: str = "absolute", percentile: float = 99.0) -> np.ndarray:
    """A C x H x W attribution as Adebayo et al.'s code shows it (PAIR saliency's VisualizeImageGrayscale and
    VisualizeImageDiverging): absolute values per channel summed, then (x - min) / (p-th percentile - min) clipped
    to [0, 1]; signed: summed, span = |p-th percentile of the sum|, then (x + span) / (2 span) clipped to [-1, 1]
    (so most values land in [0, 1]: the code's own arithmetic, kept because only the clipping changes the ranks)."""
    a = attribution.detach().float().cpu().numpy() if isinstance(attribution, torch.Tensor) else np.asarray(attribution)
    a = np.nan_to_num(a.astype(np.float64))
    if mode == "absolute":
        image = np.abs(a).sum(axis=0) if a.ndim == 3 else np.abs(a)
        vmin, vmax = image.min(), np.percentile(image, percentile)
        return np.clip((image - vmin) / (vmax - vmin), 0.0, 1.0) if vmax > vmin else np.zeros_like(image)
    image = a.sum(axis=0) if a.ndim == 3 else a
    span = abs(np.percentile(image, percentile))  # of the signed values, as VisualizeImageDiverging has it
    return np.clip((image + span) / (2 * span), -1.0, 1.0) if span > 0 else np.zeros_like(image)


def _maps(attribution: torch.Tensor, percentile: float, variant: str, magnitude: bool) -> tuple[np.ndarray, np.ndarray]:
    """The (absolute, signed) H x W maps of an attribution in the variant's convention (`magnitude`: a gradient's,
    as the page shows it; the paper's absolute maps sum every method's |attribution| per channel)."""
    if variant == "paper":
        return paper_map(attribution, "absolute", percentile), paper_map(attribution, "signed", percentile)
    return to_map(attribution, "absolute", percentile, magnitude), to_map(attribution, "signed", percentile)


def _step(
    layer: str,
    original: tuple[np.ndarray, np.ndarray],
    attribution: torch.Tensor,
    percentile: float,
    variant: str,
    magnitude: bool,
) -> SanityStep:
    """One SanityStep: the absolute and signed maps of `attribution` compared with the original's."""
    absolute, signed = _maps(attribution, percentile, variant, magnitude)
    rho, ssim = similarity(original[0], absolute)
    return SanityStep(layer, rho, ssim, absolute, spearman(original[1], signed), hog_similarity(original[0], absolute))


@torch.no_grad()
def randomize_(module: nn.Module, generator: torch.Generator) -> None:
    """Re-draw every weight and bias of `module` in place: N(0, std of the original) per tensor,
    so the scale survives and only the learned structure is lost."""
    for p in module.parameters():
        std = float(p.std()) if p.numel() > 1 else 1.0
        p.copy_(torch.randn(p.shape, generator=generator) * (std or 0.01))


@torch.no_grad()
def reinitialize_(module: nn.Module, seed: int) -> None:
    """Re-initialise `module`'s trainable parameters as at the start of training, each layer by its own
    `reset_parameters` (Kaiming-uniform convolutions and linear layers, BatchNorm's scale 1 and shift 0), from
    `seed`; BatchNorm's running statistics are not parameters and stay, as in the paper's TensorFlow code, which
    re-initialised trainable variables only."""
    device = next(module.parameters()).device
    with seeded_rngs(seed, device):
        for m in module.modules():
            if not hasattr(m, "reset_parameters") or not any(True for _ in m.parameters(recurse=False)):
                continue
            kept = {n: b.clone() for n, b in m.named_buffers(recurse=False)}
            m.reset_parameters()
            for n, b in kept.items():
                getattr(m, n).copy_(b)


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
    variant: str = "paper",
) -> list[SanityStep]:
    """The method's map for the trained model, then after randomising each unit in turn from the
    output down (`fc`, `layer4.1`, …, `conv1`). The first step, `original`, has similarity 1. `variant`: one of
    VARIANTS (the paper's re-initialisation and map convention by default)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant is one of {', '.join(VARIANTS)}, not {variant!r}")
    params = params or {}
    first = attribute(model, inputs, method, target, **params)[0]
    magnitude = gradient_magnitude(method, params)
    original = _maps(first, percentile, variant, magnitude)
    steps = [SanityStep("original", 1.0, 1.0, original[0])]
    with lock_for(model):
        scrambled = copy.deepcopy(model).eval()
    gen = torch.Generator().manual_seed(seed)
    units = parametric_units(scrambled)
    for i, name in enumerate(units):
        if variant == "paper":
            reinitialize_(scrambled.get_submodule(name), seed * 1_000 + i)
        else:
            randomize_(scrambled.get_submodule(name), gen)
        attribution = attribute(scrambled, inputs, method, target, **params)[0]
        steps.append(_step(name, original, attribution, percentile, variant, magnitude))
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
    variant: str = "paper",
) -> dict[str, list[SanityStep]]:
    """The cascading randomisation of each method in `params` (method key -> its parameters), in turn, as the
    Attributions page's sanity tab runs them; `progress(done, total)` counts methods."""
    out = {}
    for i, (method, method_params) in enumerate(params.items()):
        if progress:
            progress(i, len(params))
        out[method] = cascading_randomization(
            model, inputs, method, target, method_params, percentile=percentile, variant=variant
        )
    return out
