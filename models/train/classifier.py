"""Train the bundled offline classifier: the course ResNet-18 on generated shapes.

    python -m models.train.classifier            # the committed checkpoint (about 8 min on 2 CPU cores)
    python -m models.train.classifier --epochs 1 --train-size 600 --out /tmp/x   # a quick try

Reads top to bottom like torchvision's reference script: arguments, data, model, loop,
evaluation, checkpoint. Seeds are fixed, so the same command gives the same accuracy.
"""

from __future__ import annotations

import shlex
import sys
import time

import torch

from models.data.preprocess import IMAGENET_MEAN, IMAGENET_STD, to_tensor
from models.data.shapes import SHAPE_CLASSES, classification_set
from models.devices import best_device
from models.hub.checkpoints import save_trained
from models.nets.resnet import ResNet18
from models.train.cli import add_resnet_flags, add_training_flags, command_parser
from models.train.loop import fit_classifier

NAME = "shapes-resnet18"
TEST_SEED = 10_000  # held-out images come from a seed the training set never uses


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random flips and quarter turns: the shapes' classes do not change under them."""
    if torch.rand(1, generator=generator).item() < 0.5:
        x = x.flip(3)
    return torch.rot90(x, int(torch.randint(0, 4, (1,), generator=generator)), dims=(2, 3))


def main(argv: list[str] | None = None) -> float:
    ap = command_parser("models.train.classifier", __doc__)
    ap.add_argument("--epochs", type=int, default=12, help="passes over the training images")
    ap.add_argument("--train-size", type=int, default=24_000, help="generated training images")
    ap.add_argument(
        "--test-size", type=int, default=3_000, help="generated held-out images (from a seed training never uses)"
    )
    add_resnet_flags(ap, image_size=64)
    add_training_flags(ap, batch_size=128, lr=2e-3, items="images")
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    device = best_device()
    t0 = time.time()
    x_train, y_train = classification_set(args.train_size, seed=args.seed, size=args.image_size)
    x_test, y_test = classification_set(args.test_size, seed=TEST_SEED, size=args.image_size)
    x_train, x_test = to_tensor(x_train), to_tensor(x_test)
    y_train, y_test = torch.from_numpy(y_train), torch.from_numpy(y_test)
    print(f"generated {len(x_train)} training and {len(x_test)} held-out images in {time.time() - t0:.0f}s")

    model = ResNet18(len(SHAPE_CLASSES), width=args.width).to(device)
    accuracy = fit_classifier(
        model,
        (x_train, y_train),
        (x_test, y_test),
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        augment=augment,
    )
    record = {
        "architecture": "models.nets.resnet.ResNet18",
        "classes": list(SHAPE_CLASSES),
        "config": {"width": args.width, "image_size": args.image_size, "mean": IMAGENET_MEAN, "std": IMAGENET_STD},
        "metrics": {"accuracy": round(accuracy, 4), "test_size": args.test_size, "test_seed": TEST_SEED},
        "command": shlex.join(["python", "-m", "models.train.classifier", *(argv or sys.argv[1:])]),
        "trained": {
            "epochs": args.epochs,
            "train_size": args.train_size,
            "seed": args.seed,
            "torch": torch.__version__,
        },
    }
    save_trained(NAME, model.state_dict(), record, args.out)
    print(f"held-out accuracy {accuracy:.4f} on {args.test_size} generated images ({time.time() - t0:.0f}s in all)")
    return accuracy


if __name__ == "__main__":
    main()
