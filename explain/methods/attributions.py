"""Attribution methods: one registry over Captum, one call signature, no re-implementation.

`attribute(model, inputs, method, target, **params)` returns exactly what the Captum class
returns for the arguments listed in the method's entry (Grad-CAM is upsampled to the input
size with Captum's own `LayerAttribution.interpolate`). Randomised methods take a `seed` and
draw their noise inside a forked RNG, so a result is reproducible and cacheable.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from captum.attr import (
    Deconvolution,
    GuidedBackprop,
    GuidedGradCam,
    InputXGradient,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Occlusion,
    Saliency,
)
from captum.attr._core.gradient_shap import InputBaselineXGradient  # what GradientShap tunnels; not exported
from torch import nn
from torchvision.transforms.v2 import functional as TF

from explain.methods.grad_cam_pp import grad_cam_pp
from explain.methods.layers import MIN_CAM_SIDE, default_cam_layer, output_kept_intact, spatial_layers
from explain.methods.maps import is_constant, map_note
from explain.methods.occlusion import check_occlusion
from models.devices import on_model_device
from models.lock import lock_for, seeded_rngs
from models.params import Param


@dataclass(frozen=True)
class Method:
    """An attribution method: its name (the key of METHODS), title, parameters, and the Captum call that computes it."""

    name: str
    title: str
    summary: str
    params: tuple[Param, ...]
    run: Callable[..., torch.Tensor]  # (model, inputs, target, **params)
    needs_relu_modules: bool = False  # Captum overrides the gradient of nn.ReLU modules, and only those


# What one batch of a method may hold, in MB: a batch-size field is lowered to fit (the map is the same; memory and time
# change). A loopback review took a 2.7 GB-class server to 4.9 GB with Integrated Gradients' batch of 64 on ResNet-50.
ATTRIBUTION_MB = int(os.environ.get("EXPLAINER_ATTRIBUTION_MB", "512"))
CAPPED = (
    f"A batch holds at most what fits in {ATTRIBUTION_MB} MB on this server (for a large network at 224 px, a few "
    "images): a larger setting is lowered to that."
)
BASELINES = ("zeros", "blurred", "noise")
NOISE_SEED = 0  # the `noise` baseline's fixed draw
SMOOTHGRAD_IG_STEPS = 8  # Integrated Gradients' steps per noisy copy when SmoothGrad averages it
ZERO_BASELINE = (  # what an input of zeros is: the models normalise, so it is not black unless they take plain pixels
    "zeros after normalisation (the mean colour the model was normalised with; black for a model given plain [0, 1] "
    "pixels)"
)


def baseline(inputs: torch.Tensor, kind: str) -> torch.Tensor:
    """A reference input: `zeros` (ZERO_BASELINE), a `blurred` copy (shapes and objects are gone), or fixed Gaussian
    `noise`. The blur's kernel is a quarter of the shorter side wide with sigma a third of that (a twelfth of the
    side), so it is cut at 1.5 sigma: measured on an impulse its spread is about a sixteenth of the side (14 px at
    224, 4 px at 64; a fidelity review found the docstring claiming the twelfth)."""
    if kind == "zeros":
        return torch.zeros_like(inputs)
    if kind == "blurred":
        k = max(3, (min(inputs.shape[-2:]) // 4) | 1)
        return TF.gaussian_blur(inputs, kernel_size=[k, k], sigma=[k / 3, k / 3])
    if kind == "noise":
        gen = torch.Generator().manual_seed(NOISE_SEED)
        return (torch.randn(inputs.shape, generator=gen) * 0.5).to(inputs)
    raise ValueError(f"unknown baseline {kind!r}; choose one of {', '.join(BASELINES)}")


def run_seeded(fn: Callable[[], torch.Tensor], seed: int, device: torch.device) -> torch.Tensor:
    """Run `fn` with torch's and NumPy's global RNGs seeded (Captum draws from both), then restore them; no other
    thread draws from them meanwhile (`models.lock.seeded_rngs`)."""
    with seeded_rngs(seed, device):
        return fn()


def _saliency(model, x, target):
    return Saliency(model).attribute(x, target=target, abs=False)


def _integrated_gradients(model, x, target, n_steps, baseline_kind, internal_batch_size):
    return IntegratedGradients(model).attribute(
        x, baselines=baseline(x, baseline_kind), target=target, n_steps=n_steps, internal_batch_size=internal_batch_size
    )


def _smoothgrad(model, x, target, base, nt_samples, sigma, batch_size, seed):
    # Smilkov et al.'s noise level: sigma times the image's range. Captum's NoiseTunnel takes one deviation for the
    # whole input, so a batch of several images shares its whole range (the pages explain one image at a time)
    stdev = sigma * float(x.max() - x.min())
    if base == "saliency":
        tunnel, extra = NoiseTunnel(Saliency(model)), {"abs": False}
    else:
        tunnel, extra = (
            NoiseTunnel(IntegratedGradients(model)),
            {"n_steps": SMOOTHGRAD_IG_STEPS, "internal_batch_size": batch_size},
        )
    return _smoothgrad_of(tunnel, x, target, nt_samples, batch_size, stdev, seed, **extra)


def _smoothgrad_of(
    tunnel: NoiseTunnel, x: torch.Tensor, target: int, samples: int, batch_size: int, stdevs: float, seed: int, **extra
) -> torch.Tensor:
    """A NoiseTunnel's average over `samples` noisy copies of `x`, `batch_size` at a time, its noise drawn from
    `seed`: SmoothGrad, and Gradient SHAP as Captum computes it."""
    return run_seeded(
        lambda: tunnel.attribute(
            x,
            nt_type="smoothgrad",
            nt_samples=samples,
            nt_samples_batch_size=batch_size,
            stdevs=stdevs,
            target=target,
            **extra,
        ),
        seed,
        x.device,
    )


def _input_x_gradient(model, x, target):
    return InputXGradient(model).attribute(x, target=target)


def _gradient_shap(model, x, target, n_samples, stdevs, seed, batch_size):
    """Captum's GradientShap as its `attribute` runs it (NoiseTunnel over InputBaselineXGradient, baselines drawn from
    the distribution), with NoiseTunnel's `nt_samples_batch_size`: GradientShap puts every sample in one batch (a
    loopback review: 128 samples of ResNet-50 took 13 GB). With the batch at least the samples, the same map."""
    refs = torch.cat([baseline(x, "zeros"), baseline(x, "blurred")])
    tunnel = NoiseTunnel(InputBaselineXGradient(model))
    return _smoothgrad_of(
        tunnel, x, target, n_samples, batch_size, stdevs, seed, draw_baseline_from_distrib=True, baselines=refs
    )


def _guided_backprop(model, x, target):
    return GuidedBackprop(model).attribute(x, target=target)


def _deconvolution(model, x, target):
    return Deconvolution(model).attribute(x, target=target)


def _grad_cam(model, x, target, layer, relu):
    cam = LayerGradCam(model, model.get_submodule(layer)).attribute(x, target=target, relu_attributions=relu)
    return LayerAttribution.interpolate(cam, tuple(x.shape[2:]), "bilinear")


def _torchcam(extractor: str, **options: Any):
    """A class activation map from torchcam (F. Fernandez; light: torch, numpy, Pillow, matplotlib, no OpenCV),
    upsampled to the input like Captum's Grad-CAM; raw values (not torchcam's 0-1 rescaling), so maps go
    through the same `to_map` as every other method."""

    def run(model, x, target, layer, **params):
        from torchcam import methods

        x = x.detach().clone().requires_grad_(True)  # the scores must reach the layer's activations
        with (
            torch.enable_grad(),
            getattr(methods, extractor)(model, layer, input_shape=tuple(x.shape[1:]), **options, **params) as cam,
            output_kept_intact(model.get_submodule(layer)),  # after torchcam's hooks: they keep the layer's own output
        ):
            maps = cam(class_idx=target, scores=model(x), normalized=False)[0]
        return F.interpolate(maps[:, None].float(), size=tuple(x.shape[2:]), mode="bilinear", align_corners=False)

    return run


def _grad_cam_pp(model, x, target, layer):
    cam = grad_cam_pp(model, x, target, layer)  # the authors' formula: torchcam 0.5.0's leaves a step out
    return LayerAttribution.interpolate(cam, tuple(x.shape[2:]), "bilinear")


def _guided_grad_cam(model, x, target, layer):
    return GuidedGradCam(model, model.get_submodule(layer)).attribute(x, target=target, interpolate_mode="bilinear")


class SettingsError(ValueError):
    """A method's settings cannot run on this input (not the model's fault): the page says so in those words."""


def _occlusion(model, x, target, window, stride, batch_size):
    try:  # at most MAX_POSITIONS forward passes, as the Features tab
        check_occlusion(tuple(x.shape[-2:]), window, stride)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    return Occlusion(model).attribute(
        x,
        sliding_window_shapes=(x.shape[1], window, window),
        strides=(x.shape[1], stride, stride),
        baselines=0,
        target=target,
        perturbations_per_eval=batch_size,
    )


LAYER = Param(
    "layer",
    "Layer",
    None,
    "layer",
    help="The module whose activations and gradients are used. The default is the last one whose map is at least "
    f"{MIN_CAM_SIDE} x {MIN_CAM_SIDE} at this input size: Grad-CAM's usual last convolutional stage (layer4 of a "
    "ResNet at 224 px), or an earlier one for a small input (the bundled ResNet sees 64 px, where layer4 is 2 x 2: "
    "a few upsampled blocks, no place in the image).",
)
BATCH = Param(
    "batch_size",
    "Batch size",
    16,
    "int",
    1,
    256,
    help="How many images go through the model at once (memory and speed only: the map is the same). " + CAPPED,
)
SEED = Param("seed", "Seed", 0, "int", 0, 10_000, help="The noise is drawn from this seed.")

METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "saliency",
            "Saliency",
            "The gradient of the class score with respect to each pixel.",
            (),
            _saliency,
        ),
        Method(
            "integrated_gradients",
            "Integrated Gradients",
            "Gradients averaged along a straight path from a baseline image to the input, times the difference.",
            (
                Param("n_steps", "Steps", 32, "int", 4, 256, help="Points on the path (more is more exact)."),
                Param(
                    "baseline_kind",
                    "Baseline",
                    "zeros",
                    "choice",
                    choices=BASELINES,
                    shown=("zeros after normalisation", "blurred copy", f"Gaussian noise (seed {NOISE_SEED})"),
                    help=f"The image the path starts from, which gets no attribution: {ZERO_BASELINE}, a blurred "
                    "copy of the input, or fixed Gaussian noise.",
                ),
                Param(
                    "internal_batch_size",
                    "Batch size",
                    16,
                    "int",
                    1,
                    256,
                    help="How many points of the path go through the model at once (memory and speed only). " + CAPPED,
                ),
            ),
            _integrated_gradients,
        ),
        Method(
            "smoothgrad",
            "SmoothGrad",
            "The average map over noisy copies of the input (NoiseTunnel), which removes gradient speckle.",
            (
                Param(
                    "base",
                    "Over",
                    "saliency",
                    "choice",
                    choices=("saliency", "integrated_gradients"),
                    shown=("Saliency", f"Integrated Gradients ({SMOOTHGRAD_IG_STEPS} steps)"),
                    help="The method whose maps of the noisy copies are averaged.",
                ),
                Param(
                    "nt_samples",
                    "Noise samples",
                    16,
                    "int",
                    2,
                    128,
                    help="How many noisy copies are averaged: more is smoother and slower.",
                ),
                Param(
                    "sigma",
                    "Noise level (fraction of input range)",
                    0.15,
                    "float",
                    0.0,
                    1.0,
                    help="The noise's standard deviation over the input's range (max − min), SmoothGrad's σ / (x_max − "
                    "x_min); Smilkov et al. found 10-20% works best.",
                ),
                BATCH,
                SEED,
            ),
            _smoothgrad,
        ),
        Method("input_x_gradient", "Input x Gradient", "The gradient times the input.", (), _input_x_gradient),
        Method(
            "gradient_shap",
            "Gradient SHAP",
            f"Expected gradients over random points between the input and two baselines: {ZERO_BASELINE} and a "
            "blurred copy.",
            (
                Param(
                    "n_samples",
                    "Samples",
                    16,
                    "int",
                    2,
                    128,
                    help="Random points between a baseline and the input whose gradients are averaged.",
                ),
                Param(
                    "stdevs",
                    "Noise standard deviation",
                    0.1,
                    "float",
                    0.0,
                    1.0,
                    help="Gaussian noise added to the input for each sample, before the random point between it and "
                    "a baseline is taken; in the normalised input's units (Captum's stdevs).",
                ),
                SEED,
                BATCH,
            ),
            _gradient_shap,
        ),
        Method(
            "guided_backprop",
            "Guided Backprop",
            "Backpropagation that lets only positive gradients through ReLUs where the input was positive; the "
            "first convolution's signed weights still carry the signal to the pixels, so signed maps show negatives.",
            (),
            _guided_backprop,
            needs_relu_modules=True,
        ),
        Method(
            "deconvolution",
            "Deconvolution",
            "Zeiler & Fergus' deconvnet: ReLUs rectify the signal coming down, ignoring the forward pass.",
            (),
            _deconvolution,
            needs_relu_modules=True,
        ),
        Method(
            "grad_cam",
            "Grad-CAM",
            "A layer's activations weighted by their average gradient, upsampled to the image.",
            (LAYER, Param("relu", "Keep positive evidence only (ReLU)", True, "bool")),
            _grad_cam,
        ),
        Method(
            "grad_cam_pp",
            "Grad-CAM++",
            "Like Grad-CAM, with each location's positive gradient weighted (from second- and third-order terms) "
            "so that several instances of a class all light up; as the authors' code computes it.",
            (LAYER,),
            _grad_cam_pp,
        ),
        Method(
            "score_cam",
            "Score-CAM",
            "Each activation map of the layer, upsampled, masks the input; its weight is how much that raises the "
            "class score. No gradients. From torchcam, whose weights are a softmax, taken over the maps, of how much "
            "each raises the class's logit; the authors' code weights each map by the masked image's class "
            "probability instead, and scales each map to [0, 1] after upsampling it, where torchcam scales it "
            "before (masks under 0.01 apart on average on [0, 1]).",
            (LAYER, Param("batch_size", "Masked images per batch", 32, "int", 1, 256, help=CAPPED)),
            _torchcam("ScoreCAM"),
        ),
        Method(
            "layer_cam",
            "LayerCAM",
            "Activations weighted by their positive gradients location by location, not averaged over the map: "
            "finer maps, even at early layers (torchcam).",
            (LAYER,),
            _torchcam("LayerCAM"),
        ),
        Method(
            "guided_grad_cam",
            "Guided Grad-CAM",
            "Guided Backprop multiplied by the Grad-CAM map, upsampled bilinearly as the Grad-CAM paper does (Captum's "
            "GuidedGradCam defaults to nearest-neighbour upsampling).",
            (LAYER,),
            _guided_grad_cam,
            needs_relu_modules=True,
        ),
        Method(
            "occlusion",
            "Occlusion",
            f"How much the class score drops when a square patch is replaced by {ZERO_BASELINE}, for every patch "
            "position.",
            (
                Param("window", "Window (pixels)", 32, "int", 2, 224, scales_with_input=True),
                Param("stride", "Stride (pixels)", 16, "int", 1, 224, scales_with_input=True),
                Param("batch_size", "Patches per batch", 32, "int", 1, 512, help=CAPPED),
            ),
            _occlusion,
        ),
    )
}


def params_for(method: str, input_size: int = 224) -> tuple[Param, ...]:
    """The parameters of `method` for a square input of `input_size` pixels: lengths in pixels (Occlusion's window
    and stride) default to their 224-px value scaled and range up to the input's side."""
    return tuple(p.on_input(input_size) for p in _method(method).params)


def defaults(method: str, input_size: int = 224, layer: str | None = None) -> dict[str, Any]:
    """The default parameters of `method` for a square input of `input_size` pixels."""
    return {p.name: layer if p.kind == "layer" else p.default for p in params_for(method, input_size)}


def _method(method: str) -> Method:
    try:
        return METHODS[method]
    except KeyError:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}") from None


def gradient_magnitude(method: str, params: Mapping[str, Any] | None = None) -> bool:
    """Whether the method's absolute map is the gradient's magnitude per channel, summed (`to_map`'s `magnitude`):
    Saliency, and SmoothGrad over Saliency. Simonyan et al. take the largest channel's |gradient|; Captum's Saliency
    (abs=True by default) and SmoothGrad's reference code sum them, as here. Other methods' absolute maps are
    |sum over channels|, as Captum's visualisation makes them."""
    return method == "saliency" or (method == "smoothgrad" and (params or {}).get("base", "saliency") == "saliency")


def method_summary(method: str, mode: str, channels: int, params: Mapping[str, Any] | None = None) -> str:
    """The method's one-line summary as its panel and its parameters show it, with how the map on screen sums a
    colour image's channels where that is a choice: a gradient's absolute map adds up |gradient| over R, G and B
    (`gradient_magnitude`). A walk read that clause under a grey-scale model's map, and under a signed one."""
    text = METHODS[method].summary
    if gradient_magnitude(method, params) and channels == 3:
        text = text.removesuffix(".")
        if mode == "absolute":
            text += (
                "; its absolute map adds up |gradient| over R, G and B (Simonyan et al. take the largest channel's)."
            )
        else:
            text += "; its signed map adds up the gradient over R, G and B, signs and all."
    return text


def sign_is_direction(method: str, params: Mapping[str, Any] | None = None) -> bool:
    """Whether the method's sign is a direction, not evidence: a gradient's (Saliency, SmoothGrad over it) or a
    gradient-like backward pass's (Guided Backprop, Deconvolution) says which way a small change moves the score,
    where Integrated Gradients, SHAP and Occlusion weigh a pixel for or against the class."""
    return gradient_magnitude(method, params) or method in ("guided_backprop", "deconvolution")


def positive_only(method: str, params: Mapping[str, Any] | None = None) -> bool:
    """Whether the method's map is never negative: Grad-CAM with its ReLU ticked, Grad-CAM++, and torchcam's
    Score-CAM and LayerCAM, which end in a ReLU as their papers do."""
    relu = (params or {}).get("relu", True)
    return (method == "grad_cam" and relu) or method in ("grad_cam_pp", "score_cam", "layer_cam")


def panel_note(
    method: str, params: Mapping[str, Any], attribution: np.ndarray, mode: str, layer_side: int | None = None
) -> str:
    """The line under a method's map, or "": why the map shows little (`map_note`), and, for a signed map that
    cannot be negative, that it has no blue by construction, not because nothing counts against the class."""
    notes = [map_note(attribution, layer_side)]
    side = np.asarray(attribution).shape[-1]
    if method == "occlusion" and is_constant(attribution) and params.get("window", 0) >= side:
        notes[0] += f" Occlusion's {params['window']}-pixel square covers the whole {side}-pixel input: one position."
    if mode == "signed" and positive_only(method, params):
        notes.append(
            "No blue by construction: the ReLU (Method parameters) keeps positive evidence only; untick it to see "
            "what counts against the class."
            if method == "grad_cam"
            else f"No blue by construction: {METHODS[method].title} ends in a ReLU, as in its paper, so it shows "
            "evidence for the class only."
        )
    return " ".join(n for n in notes if n)


def magnitude_methods(params: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
    """Of the methods in `params` (method -> its parameters), those whose absolute map is a gradient's magnitude."""
    return frozenset(m for m, p in params.items() if gradient_magnitude(m, p))


def direction_methods(params: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
    """Of the methods in `params` (method -> its parameters), those whose sign is a direction (`sign_is_direction`)."""
    return frozenset(m for m, p in params.items() if sign_is_direction(m, p))


BATCH_FIELDS = ("batch_size", "internal_batch_size")  # the methods' fields that set memory and speed only
_ACTIVATIONS: weakref.WeakKeyDictionary[nn.Module, dict[tuple[int, ...], int]] = weakref.WeakKeyDictionary()
_ACTIVATIONS_LOCK = threading.Lock()


def activation_bytes(model: nn.Module, inputs: torch.Tensor) -> int:
    """Bytes of every leaf module's output for one image of `inputs`' size: what each image of a batch keeps for a
    backward pass. Measured once per model and input size by a forward pass of one image, under the model's lock."""
    shape = tuple(inputs.shape[1:])
    with _ACTIVATIONS_LOCK:
        known = _ACTIVATIONS.get(model, {}).get(shape)
    if known is not None:
        return known
    total = 0

    def count(module: nn.Module, args: Any, out: Any) -> None:
        nonlocal total
        if isinstance(out, torch.Tensor):
            total += out.numel() * out.element_size()

    with lock_for(model), torch.no_grad():
        handles = [m.register_forward_hook(count) for m in model.modules() if not any(True for _ in m.children())]
        try:
            model(on_model_device(model, inputs[:1]))
        finally:
            for h in handles:
                h.remove()
    with _ACTIVATIONS_LOCK:
        _ACTIVATIONS.setdefault(model, {})[shape] = total
    return total


def batch_cap(model: nn.Module, inputs: torch.Tensor) -> int:
    """The most images a method's batch may hold on this server: ATTRIBUTION_MB over twice an image's activations
    (kept for the backward pass, and their gradients); 0 when not even one image fits."""
    return ATTRIBUTION_MB * 2**20 // max(1, 2 * activation_bytes(model, inputs))


def attribute(model: nn.Module, inputs: torch.Tensor, method: str, target: int, **params: Any) -> torch.Tensor:
    """The attribution of class `target` for a batch `inputs`, shaped like `inputs`
    (N x 1 x H x W for Grad-CAM, upsampled). Missing parameters take their defaults; a CAM method given no layer
    takes the page's default, `default_cam_layer` (the last convolutional stage's maps at this input size).

    Holds the model's lock while Captum's hooks are on it, so concurrent callers sharing a
    model get the same result they would get alone. A batch-size field above `batch_cap` is lowered to it.
    """
    m = _method(method)
    known = {p.name for p in m.params}
    if unknown := set(params) - known:
        raise ValueError(f"{m.title} has no parameter(s) {', '.join(sorted(unknown))}")
    full = {**defaults(method, inputs.shape[-1]), **params}
    if "layer" in known and not full.get("layer"):  # the page's default: a notebook or the batch tab names none
        full["layer"] = default_cam_layer(spatial_layers(model, on_model_device(model, inputs)))
    if m.needs_relu_modules and not any(isinstance(mod, nn.ReLU) for mod in model.modules()):
        raise ValueError(f"{m.title} needs nn.ReLU modules and this model has none")
    cap = batch_cap(model, inputs)
    if cap == 0:  # not even one image fits (a re-attack: ResNet-50 at 1,024 px, 3.6 GB)
        raise ValueError(
            f"This network at {inputs.shape[-1]} px needs about {2 * activation_bytes(model, inputs) / 2**20:,.0f} MB "
            f"for one image's attribution; this server gives an attribution {ATTRIBUTION_MB:,} MB "
            "(EXPLAINER_ATTRIBUTION_MB)."
        )
    full.update({f: min(int(full[f]), cap) for f in BATCH_FIELDS if f in known})
    inputs = on_model_device(model, inputs)
    with lock_for(model):
        return m.run(model, inputs, target, **full).detach().cpu()
