"""Benchmark of the feature inspector with ResNet-18 at 224 x 224 on the device it finds.

    python bench/bench_features.py [--images 500] [--batch 50]

Prints (1) the cost of one deconvnet reconstruction in units of one full forward pass (target:
at most 3) and (2) the throughput of the top-9 scan over N images against a plain batched
forward pass over the same images (target: at least 80%), both with and without the nine
reconstructions per channel that follow the scan. Random weights unless ImageNet ones are cached.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from bench.timing import imagenet_classifier, timed
from explain.methods.deconvnet import channel_maxima, reconstruct, top_activations
from models.devices import best_device, device_name


def clock(fn, device, repeats: int = 5) -> float:
    """Median seconds over `repeats` calls, after one warm-up call."""
    times = [timed(fn, device) for _ in range(repeats + 1)]
    return statistics.median(times[1:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=500, help="images in the top-9 scan")
    ap.add_argument("--batch", type=int, default=50, help="images per forward pass")
    ap.add_argument("--layer", default="layer3", help="layer whose channels are scanned")
    ap.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = ap.parse_args()
    device = best_device()
    model, weights = imagenet_classifier("resnet18", device)
    print(f"device: {device_name(device)}; torch {torch.__version__}; ResNet-18 weights: {weights}")

    x = torch.randn(1, 3, 224, 224, device=device)
    with torch.no_grad():
        forward = clock(lambda: model(x), device)
    recon = clock(lambda: reconstruct(model, x, args.layer, 5), device)
    print(
        f"one forward pass: {forward * 1000:.1f} ms; one reconstruction at {args.layer}: {recon * 1000:.1f} ms "
        f"= {recon / forward:.2f} forward passes (target <= 3)"
    )

    images = torch.randn(args.images, 3, 224, 224, generator=torch.Generator().manual_seed(0)).to(device)

    def plain():
        with torch.no_grad():
            for i in range(0, len(images), args.batch):
                model(images[i : i + args.batch])

    channels = [0, 1, 2, 3]
    t_plain = clock(plain, device, repeats=1)
    t_scan = clock(lambda: channel_maxima(model, images, args.layer, channels, args.batch), device, repeats=1)
    t_top9 = clock(lambda: top_activations(model, images, args.layer, channels, 9, args.batch), device, repeats=1)
    n = len(images)
    print(f"\n{n} images, batches of {args.batch}, layer {args.layer}, {len(channels)} channels:")
    print(f"- plain batched forward pass: {n / t_plain:.1f} images/s")
    print(f"- top-9 scan: {n / t_scan:.1f} images/s = {t_plain / t_scan:.0%} of the forward pass (target >= 80%)")
    print(f"- scan plus 9 reconstructions per channel: {n / t_top9:.1f} images/s = {t_plain / t_top9:.0%}")
    if args.json:
        print(
            "JSON "
            + json.dumps(
                {
                    "reconstruction, in forward passes": recon / forward,
                    "plain forward (images/s)": n / t_plain,
                    "top-9 scan (images/s)": n / t_scan,
                    "top-9 scan / plain forward": t_plain / t_scan,
                    "scan + reconstructions / plain forward": t_plain / t_top9,
                }
            )
        )


if __name__ == "__main__":
    main()
