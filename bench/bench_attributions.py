"""Benchmark of the attribution explorer on one 224 x 224 image with ResNet-18.

    python bench/bench_attributions.py [--repeats 3]

For every method with its default parameters: the time of `explain.methods.attributions.attribute`
(the page's code path on a cache miss) and of the same Captum call made directly, their ratio
(target: at most 1.10), and the total of all methods (target: 15 s on 2 CPU cores).
ResNet-18 runs with ImageNet weights when they are cached, else with random weights (same cost).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from captum import attr as ca
from captum.attr._core.gradient_shap import InputBaselineXGradient  # what GradientShap tunnels; not exported

from bench.timing import imagenet_classifier, timed
from explain.methods.attributions import METHODS, attribute, baseline, batch_cap, defaults, run_seeded
from explain.methods.grad_cam_pp import grad_cam_pp
from models.devices import best_device, device_name


def direct(model, x, method: str, target: int, p: dict) -> torch.Tensor:
    """The same computation written straight against Captum, as a user of Captum would."""
    if method == "saliency":
        return ca.Saliency(model).attribute(x, target=target, abs=False)
    if method == "integrated_gradients":
        return ca.IntegratedGradients(model).attribute(
            x,
            baselines=torch.zeros_like(x),
            target=target,
            n_steps=p["n_steps"],
            internal_batch_size=p["internal_batch_size"],
        )
    if method == "smoothgrad":
        stdev = p["sigma"] * float(x.max() - x.min())
        return run_seeded(
            lambda: ca.NoiseTunnel(ca.Saliency(model)).attribute(
                x,
                nt_type="smoothgrad",
                nt_samples=p["nt_samples"],
                nt_samples_batch_size=p["batch_size"],
                stdevs=stdev,
                target=target,
                abs=False,
            ),
            p["seed"],
            x.device,
        )
    if method == "input_x_gradient":
        return ca.InputXGradient(model).attribute(x, target=target)
    if method == "gradient_shap":
        refs = torch.cat([torch.zeros_like(x), baseline(x, "blurred")])
        batch = min(p["batch_size"], batch_cap(model, x))  # the page's batches, capped by memory (8 here at 224 px)
        if batch >= p["n_samples"]:  # all samples in one batch: GradientShap itself
            call = lambda: ca.GradientShap(model).attribute(  # noqa: E731
                x, baselines=refs, n_samples=p["n_samples"], stdevs=p["stdevs"], target=target
            )
        else:  # what GradientShap runs, NoiseTunnel over InputBaselineXGradient, given a batch size (it takes none)
            call = lambda: ca.NoiseTunnel(InputBaselineXGradient(model)).attribute(  # noqa: E731
                x,
                nt_type="smoothgrad",
                nt_samples=p["n_samples"],
                nt_samples_batch_size=batch,
                stdevs=p["stdevs"],
                target=target,
                draw_baseline_from_distrib=True,
                baselines=refs,
            )
        return run_seeded(call, p["seed"], x.device)
    if method == "guided_backprop":
        return ca.GuidedBackprop(model).attribute(x, target=target)
    if method == "deconvolution":
        return ca.Deconvolution(model).attribute(x, target=target)
    if method == "grad_cam":
        cam = ca.LayerGradCam(model, model.layer4).attribute(x, target=target, relu_attributions=True)
        return ca.LayerAttribution.interpolate(cam, tuple(x.shape[2:]), "bilinear")
    if method == "guided_grad_cam":
        return ca.GuidedGradCam(model, model.layer4).attribute(x, target=target, interpolate_mode="bilinear")
    if method == "occlusion":
        w, s = p["window"], p["stride"]
        return ca.Occlusion(model).attribute(
            x,
            sliding_window_shapes=(3, w, w),
            strides=(3, s, s),
            baselines=0,
            target=target,
            perturbations_per_eval=p["batch_size"],
        )
    if method == "grad_cam_pp":  # the paper's formula (explain.methods.grad_cam_pp): torchcam 0.5.0's loses a step
        cam = grad_cam_pp(model, x, target, "layer4")
        return torch.nn.functional.interpolate(cam, size=x.shape[2:], mode="bilinear", align_corners=False)
    if method in ("score_cam", "layer_cam"):
        from torchcam import methods

        name = {"score_cam": "ScoreCAM", "layer_cam": "LayerCAM"}[method]
        options = {"batch_size": p["batch_size"]} if method == "score_cam" else {}
        xg = x.clone().requires_grad_(True)
        with getattr(methods, name)(model, "layer4", input_shape=tuple(x.shape[1:]), **options) as extractor:
            maps = extractor(class_idx=target, scores=model(xg), normalized=False)[0]
        return torch.nn.functional.interpolate(maps[:, None], size=x.shape[2:], mode="bilinear", align_corners=False)
    raise KeyError(method)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3, help="timings per method")
    ap.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    device = best_device()
    model, weights = imagenet_classifier("resnet18", device)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0)).to(device)
    print(f"device: {device_name(device)}; torch {torch.__version__}; ResNet-18 weights: {weights}")
    print(f"median of {args.repeats} runs after one warm-up\n")
    print("| method | page path s | direct Captum s | ratio |\n|---|---|---|---|")
    total, figures = 0.0, {}
    for method in METHODS:
        p = defaults(method, 224, "layer4")
        page = lambda m=method, p=p: attribute(model, x, m, 1, **p)  # noqa: E731
        raw = lambda m=method, p=p: direct(model, x, m, 1, p)  # noqa: E731
        torch.testing.assert_close(
            page(), raw().detach().cpu()
        )  # same numbers, or the timing means nothing (page: CPU)
        a, b = [], []
        for _ in range(args.repeats):
            a.append(timed(page, device))
            b.append(timed(raw, device))
        ma, mb = statistics.median(a), statistics.median(b)
        total += ma
        print(f"| {METHODS[method].title} | {ma:.3f} | {mb:.3f} | {ma / mb:.2f} |")
        figures[f"{METHODS[method].title} (s)"] = ma
        figures[f"{METHODS[method].title}, page / direct Captum"] = ma / mb
    print(f"\nall {len(METHODS)} methods with their defaults: {total:.1f} s (target 15 s on 2 CPU cores)")
    figures["all methods together (s)"] = total
    if args.json:
        print("JSON " + json.dumps(figures))


if __name__ == "__main__":
    main()
