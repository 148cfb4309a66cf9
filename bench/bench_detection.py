"""Benchmark of the detection page's model path on the device it finds.

    python bench/bench_detection.py [--repeats 3] [--only shapes,maskrcnn_resnet50_fpn]

For each detector: seconds per image for `models.detectors.detect` (the page's path: tensor
conversion, the model, conversion to Instance records) and for a direct call of the torchvision
model on the same tensor, and their ratio (target: at most 1.10); images per second of the page's
batched path and the detections it returns per image. COCO models run with random weights unless
cached: the same network cost, but random weights keep 100 boxes on this scene (scored 0.77-1.00 on
the CPU), so a Mask R-CNN does the work of 100 detections per image (mask head, pasting the masks
into the image as the page does: in one pass with models/mask_paste.py on a GPU, torchvision's loop
on the CPU; copying the masks to the CPU); a second
row keeps at most 10. The image is a 640 x 480 generated scene. Then, for each Mask R-CNN, following one
detection as the page does when a row is clicked (its mask head, the proposal it came from, its box head) on the
stages the page keeps, beside one backbone pass, which each of the three ran again before they read the kept
features. Last, the paste alone, torchvision's per-mask loop against the batched paste, for 100 masks.
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
import torchvision
from PIL import Image
from torchvision.models.detection.roi_heads import paste_masks_in_image

from bench.timing import timed
from explain.methods.rcnn_stages import box_heads, detection_source, head_outputs, run_stages
from models.data.shapes import make_scene
from models.detectors import DETECTORS, detect, detect_batch, detector_input, load_detector
from models.devices import best_device, device_name
from models.hub import weights_cache
from models.mask_paste import paste_masks, use_batched_paste

CAPPED = 10  # detections per image for the second Mask R-CNN figure under random weights


def batched_rate(
    model: torch.nn.Module, image: Image.Image, batch: int, repeats: int, device: torch.device
) -> tuple[float, int]:
    """(images per second of the page's batched path, median of `repeats` after one warm-up; detections per image)."""
    images = [image] * batch
    seconds = [timed(lambda: detect_batch(model, images, batch_size=batch), device) for _ in range(repeats + 1)][1:]
    found = len(detect_batch(model, [image])[0])
    return batch / statistics.median(seconds), found


def follow_seconds(model: torch.nn.Module, x: torch.Tensor, repeats: int, device: torch.device) -> tuple[float, float]:
    """(following the strongest detection: its heads, its source proposal and its box head on the kept stages; one
    transform + backbone pass) in seconds, medians of `repeats` after one warm-up."""
    stages = run_stages(model, x)
    box, label, score = tuple(float(v) for v in stages.boxes[0]), int(stages.labels[0]), float(stages.scores[0])

    def follow() -> None:
        head_outputs(model, stages, box, label)
        detection_source(model, stages, box, label, score)
        box_heads(model, stages, box, label)

    @torch.no_grad()
    def backbone() -> None:
        model.backbone(model.transform([x])[0].tensors)

    return tuple(statistics.median([timed(f, device) for _ in range(repeats + 1)][1:]) for f in (follow, backbone))


def paste_seconds(device: torch.device, masks: int = 100, repeats: int = 5) -> tuple[float, float]:
    """(torchvision's per-mask paste, the batched paste) in seconds for `masks` random 28 x 28 masks in boxes across a
    640 x 480 image, median of `repeats` after one warm-up: the step models/mask_paste.py replaces, alone."""
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(masks, 1, 28, 28, generator=g).to(device)
    corner = torch.rand(masks, 2, generator=g) * torch.tensor([448.0, 336.0])
    boxes = torch.cat([corner, corner + 1 + torch.rand(masks, 2, generator=g) * 190], 1).to(device)
    return tuple(
        statistics.median([timed(lambda f=f: f(probs, boxes, (480, 640)), device) for _ in range(repeats + 1)][1:])
        for f in (paste_masks_in_image, paste_masks)
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3, help="timings per detector")
    ap.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    ap.add_argument("--batch", type=int, default=8, help="images per forward pass for the batched throughput")
    ap.add_argument("--only", default="", help="comma-separated detectors to time (all by default; all take 13 min)")
    args = ap.parse_args()
    device = best_device()
    image = Image.fromarray(make_scene(np.random.default_rng(0), (640, 480), n_objects=4).image)
    print(f"device: {device_name(device)}; torch {torch.__version__}; image 640 x 480\n")
    print(f"| detector | weights | page path s | direct s | ratio | batched ({args.batch}) images/s | detections |")
    print("|---|---|---|---|---|---|---|")
    figures = {}
    followed = []
    only = [n for n in args.only.split(",") if n]
    if unknown := set(only) - set(DETECTORS):
        ap.error(f"no detector named {', '.join(sorted(unknown))}: choose among {', '.join(DETECTORS)}")
    for name, spec in DETECTORS.items():
        if only and name not in only:
            continue
        if spec.weights is None or weights_cache.is_cached(spec.weights):
            model, info = load_detector(name, device=device, allow_download=False)
            weights = info.source
        else:
            torch.manual_seed(0)
            model = torchvision.models.get_model(name, weights=None, weights_backbone=None).eval().to(device)
            use_batched_paste(model)  # as load_detector gives it to the page
            model.categories = tuple(spec.weights.meta["categories"])
            weights = "random (not cached)"
        x = detector_input(image, device)

        def direct(m=model, x=x):
            with torch.no_grad():
                return m([x])

        page = [timed(lambda m=model: detect(m, image), device) for _ in range(args.repeats + 1)][1:]
        raw = [timed(direct, device) for _ in range(args.repeats + 1)][1:]
        a, b = statistics.median(page), statistics.median(raw)
        rate, found = batched_rate(model, image, args.batch, args.repeats, device)
        print(f"| {name} | {weights} | {a:.2f} | {b:.2f} | {a / b:.2f} | {rate:.1f} | {found:.0f} |", flush=True)
        figures[f"{name} per image (s)"] = a
        figures[f"{name}, page / direct"] = a / b
        figures[f"{name} batched images/s"] = rate
        figures[f"{name} detections per image"] = found
        heads = getattr(model, "roi_heads", None)
        if weights.startswith("random") and heads is not None and heads.has_mask() and found > CAPPED:
            # random weights keep 100 boxes, each with its mask head, its mask pasted into the image and copied to
            # the CPU: the same model keeping its CAPPED most confident shows that share
            kept, heads.detections_per_img = heads.detections_per_img, CAPPED
            rate, found = batched_rate(model, image, args.batch, args.repeats, device)
            heads.detections_per_img = kept
            print(f"| {name}, at most {CAPPED} detections | {weights} | | | | {rate:.1f} | {found:.0f} |", flush=True)
            figures[f"{name} batched images/s, at most {CAPPED} detections"] = rate
        if heads is not None and heads.has_mask():
            follow, backbone = follow_seconds(model, x, args.repeats, device)
            followed.append(f"{name}: {follow:.2f} s, one backbone pass {backbone:.2f} s")
            figures[f"{name} following one detection (s)"] = follow
            figures[f"{name} one backbone pass (s)"] = backbone
    print("\nfollowing one detection on the kept stages (heads, source proposal, box head):", "; ".join(followed))
    library, batched = paste_seconds(device)
    print(
        f"\npasting 100 masks into a 640 x 480 image: torchvision's loop {library * 1e3:.1f} ms, batched "
        f"(models/mask_paste.py) {batched * 1e3:.1f} ms"
    )
    figures["paste 100 masks, torchvision's loop (s)"] = library
    figures["paste 100 masks, batched (s)"] = batched
    if args.json:
        print("JSON " + json.dumps(figures))


if __name__ == "__main__":
    main()
