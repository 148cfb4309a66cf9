"""The command line every training command shares: its name in --help, and the flags they all take."""

from __future__ import annotations

import argparse


def command_parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """A parser whose usage line reads `python -m <module>`, with the module's docstring as its description."""
    return argparse.ArgumentParser(
        prog=f"python -m {module}", description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def add_training_flags(ap: argparse.ArgumentParser, *, batch_size: int, lr: float, items: str = "images") -> None:
    """--batch-size, --lr (AdamW), --seed and --out, with this command's defaults."""
    ap.add_argument("--batch-size", type=int, default=batch_size, help=f"{items} per training step")
    ap.add_argument("--lr", type=float, default=lr, help="AdamW learning rate")
    ap.add_argument("--seed", type=int, default=0, help="seed of the data and the initialisation")
    ap.add_argument("--out", default=None, help="save here instead of the bundled checkpoint (a folder)")


def add_resnet_flags(ap: argparse.ArgumentParser, *, image_size: int) -> None:
    """--image-size of the generated images and --width of the course ResNet-18."""
    ap.add_argument("--image-size", type=int, default=image_size, help="side of the generated images, in pixels")
    ap.add_argument("--width", type=float, default=0.5, help="ResNet-18 width multiplier (0.5: half the channels)")
