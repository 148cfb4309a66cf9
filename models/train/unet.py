"""Train the bundled U-Nets on generated shapes scenes: the full model and the no-skip ablation.

    python -m models.train.unet                    # both committed checkpoints (about 15 min on 2 CPU cores)
    python -m models.train.unet --variant full     # one of them
    python -m models.train.unet --epochs 1 --train-size 64 --out /tmp    # a quick try

Per-pixel labels come free with the generator (0 background, 1 + shape index). Prints the
mean IoU over the 7 classes on held-out scenes from a seed the training never uses.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import torch
from torch import nn
from tqdm import tqdm

from models.data.preprocess import IMAGENET_MEAN, IMAGENET_STD
from models.data.segmentation import CLASSES, SIZE, TEST_SEED, iou_scores, scene_set
from models.devices import best_device
from models.hub.checkpoints import save_trained
from models.nets.unet import UNet
from models.segmenters import UNETS
from models.train.cli import add_training_flags, command_parser


def train(variant: str, args: argparse.Namespace, data) -> float:
    (x_train, y_train), (x_test, y_test) = data
    torch.manual_seed(args.seed)
    device = best_device()
    model = UNet(num_classes=len(CLASSES), base=args.base, depth=args.depth, skips=variant == "full").to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * ((len(x_train) + args.batch_size - 1) // args.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=gen)
        bar = tqdm(range(0, len(order), args.batch_size), desc=f"{variant} {epoch + 1}/{args.epochs}", leave=False)
        for i in bar:
            idx = order[i : i + args.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            if torch.rand(1, generator=gen).item() < 0.5:  # flips keep every label valid
                xb, yb = xb.flip(-1), yb.flip(-1)
            loss = loss_fn(model(xb.to(device)), yb.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        miou, _ = iou_scores(model, x_test, y_test)
        print(f"{variant} epoch {epoch + 1}: loss {loss.item():.3f}, held-out mean IoU {miou:.4f}", flush=True)

    # The committed file stores fp16: measure exactly those weights.
    model.load_state_dict({k: v.half().float() if v.is_floating_point() else v for k, v in model.state_dict().items()})
    miou, per_class = iou_scores(model, x_test, y_test)
    record = {
        "architecture": "models.nets.unet.UNet",
        "classes": list(CLASSES),
        "config": {
            "base": args.base,
            "depth": args.depth,
            "skips": variant == "full",
            "image_size": SIZE,
            "mean": IMAGENET_MEAN,
            "std": IMAGENET_STD,
        },
        "metrics": {
            "mean_iou": round(miou, 4),
            "iou_per_class": per_class,
            "test_size": len(x_test),
            "test_seed": TEST_SEED,
        },
        "command": shlex.join(["python", "-m", "models.train.unet", *sys.argv[1:]]),
        "trained": {"epochs": args.epochs, "train_size": len(x_train), "seed": args.seed, "torch": torch.__version__},
    }
    save_trained(UNETS[variant], model.state_dict(), record, args.out)
    print(f"{variant}: held-out mean IoU {miou:.4f} on {len(x_test)} scenes; per class {per_class}", flush=True)
    return miou


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = command_parser("models.train.unet", __doc__)
    ap.add_argument(
        "--variant",
        choices=["full", "noskip", "both"],
        default="both",
        help="the U-Net, the same net without skip connections, or both",
    )
    ap.add_argument("--epochs", type=int, default=12, help="passes over the training scenes")
    ap.add_argument("--train-size", type=int, default=4000, help="generated training scenes")
    ap.add_argument(
        "--test-size", type=int, default=500, help="generated held-out scenes (from a seed training never uses)"
    )
    ap.add_argument("--base", type=int, default=16, help="channels at the first level (doubled at each level down)")
    ap.add_argument("--depth", type=int, default=3, help="levels of down-sampling")
    add_training_flags(ap, batch_size=32, lr=3e-3, items="scenes")
    args = ap.parse_args(argv)
    t0 = time.time()
    data = scene_set(args.train_size, args.seed), scene_set(args.test_size, TEST_SEED)
    print(f"generated {args.train_size} + {args.test_size} scenes in {time.time() - t0:.0f}s", flush=True)
    variants = ["full", "noskip"] if args.variant == "both" else [args.variant]
    return {v: train(v, args, data) for v in variants}


if __name__ == "__main__":
    main()
