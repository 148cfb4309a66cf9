"""Pretrain the transfer lab's encoder: the course ResNet-18 on a formula-driven source task.

    python -m models.train.encoder                  # the committed glyphs encoder (about 9 min on 2 CPU cores)
    python -m models.train.encoder --source fractals --out /tmp/x   # the FractalDB-style alternative
    python -m models.train.encoder --categories 20 --per-category 20 --epochs 1 --out /tmp/x   # a quick try

The shapes classifier solves its six-class task to 99.9%, and its features do not help on
handwritten digits (fine-tuning it loses to training from scratch). Hundreds of invented
categories are a richer source: FractalDB-style fractals (`models/data/fractals.py`) or invented
pen-stroke characters (`models/data/glyphs.py`). Both are here so the comparison can be rerun; the
README gives the measured transfer of each. Seeds are fixed.
"""

from __future__ import annotations

import shlex
import sys
import time

import numpy as np
import torch

from models.data import fractals, glyphs
from models.devices import best_device
from models.hub.checkpoints import save_trained
from models.nets.resnet import ResNet18
from models.train.cli import add_resnet_flags, add_training_flags, command_parser
from models.train.loop import fit_classifier

SOURCES = {"glyphs": glyphs, "fractals": fractals}
NAME = "{source}-resnet18"
TEST_SEED = 40_000  # held-out instances of the same categories come from a seed training never uses


def glyph_input(images: np.ndarray, mean: float, std: float) -> torch.Tensor:
    """N x H x W greyscale in [0, 1] -> standardised N x 3 x H x W (the grey level on all three channels)."""
    x = torch.from_numpy(np.asarray(images, dtype=np.float32)).unsqueeze(1)
    return ((x - mean) / std).expand(-1, 3, -1, -1).contiguous()


def main(argv: list[str] | None = None) -> float:
    ap = command_parser("models.train.encoder", __doc__)
    ap.add_argument(
        "--source",
        choices=sorted(SOURCES),
        default="glyphs",
        help="procedural glyphs (the bundled encoder) or FractalDB-style fractals",
    )
    ap.add_argument("--categories", type=int, default=1000, help="number of generated classes")
    ap.add_argument("--per-category", type=int, default=60, help="training images per class")
    ap.add_argument("--test-per-category", type=int, default=10, help="held-out images per class")
    ap.add_argument("--epochs", type=int, default=10, help="passes over the training images")
    add_resnet_flags(ap, image_size=32)
    add_training_flags(ap, batch_size=128, lr=2e-3, items="images")
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    device = best_device()
    t0 = time.time()
    source = SOURCES[args.source]
    name = NAME.format(source=args.source)
    cats = source.categories(args.categories, args.seed)
    x_train, y_train = source.instances(cats, args.per_category, args.seed + 1, args.image_size)
    x_test, y_test = source.instances(cats, args.test_per_category, TEST_SEED, args.image_size)
    mean, std = float(x_train.mean()), float(x_train.std())
    x_train, x_test = glyph_input(x_train, mean, std), glyph_input(x_test, mean, std)
    y_train, y_test = torch.from_numpy(y_train), torch.from_numpy(y_test)
    print(f"generated {len(x_train)} training and {len(x_test)} held-out images in {time.time() - t0:.0f}s")

    model = ResNet18(args.categories, width=args.width).to(device)
    acc = fit_classifier(
        model,
        (x_train, y_train),
        (x_test, y_test),
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
    )
    record = {
        "architecture": "models.nets.resnet.ResNet18",
        "classes": [f"{args.source}-{i}" for i in range(args.categories)],
        "config": {"source": args.source, "width": args.width, "image_size": args.image_size, "mean": mean, "std": std},
        "metrics": {"accuracy": round(acc, 4), "test_per_category": args.test_per_category, "test_seed": TEST_SEED},
        "command": shlex.join(["python", "-m", "models.train.encoder", *(argv or sys.argv[1:])]),
        "trained": {
            "epochs": args.epochs,
            "categories": args.categories,
            "per_category": args.per_category,
            "seed": args.seed,
            "torch": torch.__version__,
        },
    }
    save_trained(name, model.state_dict(), record, args.out)
    took = time.time() - t0
    print(f"held-out accuracy {acc:.4f} over {args.categories} {args.source} categories ({took:.0f}s in all)")
    return acc


if __name__ == "__main__":
    main()
