"""Train the bundled offline detector: a small Mask R-CNN on generated multi-object scenes.

    python -m models.train.detector                       # the committed checkpoint
    python -m models.train.detector --steps 20 --out /tmp # a quick try

The backbone starts from the bundled shapes ResNet-18 (itself trained by this project), the rest
from scratch. Every step draws fresh scenes from a seeded generator (instance masks and boxes come
free with it). At the end it prints COCO box and mask AP on held-out scenes from a seed the
training never uses (pycocotools).
"""

from __future__ import annotations

import math
import shlex
import sys
import time

import numpy as np
import torch
from tqdm import tqdm

from models.data.coco import average_precision, ground_truth, results
from models.data.shapes import SHAPE_CLASSES, Scene, make_scene
from models.devices import best_device
from models.hub.bundled import bundled
from models.hub.checkpoints import save_trained
from models.nets.shapes_maskrcnn import IMAGE_SIZE, shapes_maskrcnn
from models.train.cli import add_training_flags, command_parser

NAME = "shapes-maskrcnn"
TEST_SEED = 30_000
SCENE = {"n_objects": (1, 5), "radius": (0.08, 0.22)}


def scene_batch(rng: np.random.Generator, n: int, device) -> tuple[list[torch.Tensor], list[dict], list[Scene]]:
    """`n` scenes as Mask R-CNN inputs (images in [0, 1]) and targets (labels 1..6)."""
    images, targets, scenes = [], [], []
    while len(scenes) < n:
        s = make_scene(rng, IMAGE_SIZE, **SCENE)
        if not len(s.labels):
            continue
        scenes.append(s)
        images.append(torch.from_numpy(s.image.copy()).permute(2, 0, 1).float().div(255).to(device))
        targets.append(
            {
                "boxes": torch.from_numpy(s.boxes).to(device),
                "labels": torch.from_numpy(s.labels + 1).to(device),
                "masks": torch.from_numpy(s.masks.astype(np.uint8)).to(device),
            }
        )
    return images, targets, scenes


@torch.no_grad()
def detection_ap(model, n: int = 200, seed: int = TEST_SEED, batch_size: int = 16) -> dict[str, float]:
    """COCO box and mask AP (and AP50, AP75) on `n` held-out scenes."""
    model.eval()
    device = next(model.parameters()).device
    rng = np.random.default_rng(seed)
    gts, dets, shapes = [], [], []
    for start in range(0, n, batch_size):
        images, _, scenes = scene_batch(rng, min(batch_size, n - start), device)
        for out, s in zip(model(images), scenes, strict=True):
            i = len(shapes)
            shapes.append(s.image.shape[:2])
            gts.append(
                [
                    {"label": int(lab), "box": box, "mask": m}
                    for lab, box, m in zip(s.labels, s.boxes, s.masks, strict=True)
                ]
            )
            masks = (out["masks"][:, 0] > 0.5).cpu().numpy()
            dets += results(
                i,
                [
                    {"label": int(lab) - 1, "score": float(sc), "box": b.tolist(), "mask": m}
                    for lab, sc, b, m in zip(out["labels"], out["scores"], out["boxes"], masks, strict=True)
                ],
            )
    gt = ground_truth(shapes, gts, SHAPE_CLASSES)
    box, segm = average_precision(gt, dets, "bbox"), average_precision(gt, dets, "segm")
    return {**{f"box_{k}": round(v, 4) for k, v in box.items()}, **{f"mask_{k}": round(v, 4) for k, v in segm.items()}}


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = command_parser("models.train.detector", __doc__)
    ap.add_argument("--steps", type=int, default=900, help="training steps")
    ap.add_argument("--test-size", type=int, default=200, help="held-out scenes the APs are measured on")
    add_training_flags(ap, batch_size=8, lr=1e-3, items="scenes")
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    device = best_device()
    body = bundled("shapes-resnet18").build()
    model = shapes_maskrcnn(backbone=body).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-4)
    warmup = min(100, args.steps // 10)

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, args.steps - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    model.train()
    bar = tqdm(range(args.steps), desc="training")
    for step in bar:
        images, targets, _ = scene_batch(rng, args.batch_size, device)
        losses = model(images, targets)
        loss = sum(losses.values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if (step + 1) % 100 == 0:
            print(f"step {step + 1}: loss {loss.item():.3f} ({time.time() - t0:.0f}s)", flush=True)

    model.load_state_dict({k: v.half().float() if v.is_floating_point() else v for k, v in model.state_dict().items()})
    metrics = detection_ap(model, args.test_size)
    record = {
        "architecture": "models.nets.shapes_maskrcnn.shapes_maskrcnn",
        "classes": list(SHAPE_CLASSES),
        "config": {"image_size": IMAGE_SIZE, "scene": {k: list(v) for k, v in SCENE.items()}},
        "metrics": {**metrics, "test_size": args.test_size, "test_seed": TEST_SEED},
        "command": shlex.join(["python", "-m", "models.train.detector", *(argv or sys.argv[1:])]),
        "trained": {"steps": args.steps, "batch_size": args.batch_size, "seed": args.seed, "torch": torch.__version__},
    }
    save_trained(NAME, model.state_dict(), record, args.out)
    print(f"held-out ({args.test_size} scenes): {metrics} ({time.time() - t0:.0f}s in all)", flush=True)
    return metrics


if __name__ == "__main__":
    main()
