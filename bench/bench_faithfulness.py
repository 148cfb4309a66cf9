"""Benchmark of the deletion and insertion curves (the Attributions page's Faithfulness tab) on one image.

    python bench/bench_faithfulness.py [--repeats 3] [--json]

Side by side in one run, for ResNet-18 at 224 x 224 (ImageNet weights when cached, else random weights: same cost)
and the bundled 64 x 64 shapes model: the seconds of `deletion_insertion` on RISE's grid (one pixel row per step:
224 steps at 224 px, what the page does by default) and on the 20-step grid the page used before, and on RISE's grid
for a map two thirds of whose pixels tie at zero (as a ReLU leaves Grad-CAM's: the steps that end inside the tie run
for three orders of it), with the forward passes each took; and the peak size of one batch of images (the curves are
made 16 images at a time, so memory does not grow with the steps).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from bench.timing import imagenet_classifier, timed
from explain.methods.faithfulness import deletion_insertion
from models.classifiers import load_classifier
from models.devices import best_device, device_name


def measure(name: str, side: int, repeats: int, device: torch.device) -> dict[str, float]:
    model = imagenet_classifier(name, device)[0] if name == "resnet18" else load_classifier(name, device=device)[0]
    seen = [0]
    model.register_forward_hook(lambda module, args, out: seen.__setitem__(0, seen[0] + len(args[0])))
    x = torch.randn(1, 3, side, side, generator=torch.Generator().manual_seed(0)).to(device)
    heat = np.random.default_rng(0).random((side, side))
    tied = np.where(heat < 2 / 3, 0.0, heat)  # two thirds of the pixels at zero, as a ReLU leaves a Grad-CAM map
    out = {}
    for label, steps, ranked in (("rise", None, heat), ("20", 20, heat), ("rise_tied", None, tied)):
        seen[0] = 0
        seconds = [
            timed(lambda s=steps, r=ranked: deletion_insertion(model, x, r, 0, s), device) for _ in range(repeats)
        ]
        out[f"{name}_{label}_s"] = statistics.median(seconds)
        out[f"{name}_{label}_forwards"] = seen[0] // repeats
    out[f"{name}_batch_mb"] = 16 * 3 * side * side * 4 / 2**20
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per grid (the median is shown)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = ap.parse_args()
    device = best_device()
    figures = {**measure("resnet18", 224, args.repeats, device), **measure("shapes-resnet18", 64, args.repeats, device)}
    if args.json:
        print("JSON " + json.dumps(figures))  # the prefix run_all.py reads
        return
    print(f"Deletion + insertion on one image, {device_name(device)}, torch threads {torch.get_num_threads()}")
    print("| model | grid | forward passes | seconds |")
    print("|---|---|---|---|")
    for name in ("resnet18", "shapes-resnet18"):
        for label, title in (
            ("rise", "RISE (one row per step)"),
            ("20", "20 steps"),
            ("rise_tied", "RISE, two thirds of the map tied (three orders)"),
        ):
            print(f"| {name} | {title} | {figures[f'{name}_{label}_forwards']} | {figures[f'{name}_{label}_s']:.2f} |")
    print(f"One batch of 16 images: {figures['resnet18_batch_mb']:.1f} MB at 224 px.")


if __name__ == "__main__":
    main()
