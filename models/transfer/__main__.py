"""The transfer lab from the terminal: scratch vs linear probe vs fine-tuning, as a resumable sweep.

    python -m models.transfer                          # the shipped offline sweep (digits, glyphs encoder)
    python -m models.transfer --task cifar10 --encoder resnet18 --sizes 1,5,25,100,500 --seeds 3 \\
        --out results/transfer/cifar10                 # on a GPU machine with the datasets at hand

Regimes (Hoiem et al. 2021, and the course):
- scratch: the whole network from random initialisation, at the base rate;
- probe: the pretrained encoder frozen in eval mode (its BatchNorm statistics do not move), a new
  linear head trained by the same loop;
- finetune: the pretrained encoder trained at `ft_ratio` times the base rate (optionally frozen for
  the first `warm_epochs`, optionally with `layer_decay` per stage towards the input), the new head
  at the base rate;
- probe-features: the course's other linear probe: features extracted once, then scikit-learn's
  logistic regression (no epochs, so no training curve).

Training subsets are class-stratified; seeds take disjoint windows of a fixed per-class shuffle
while n x seeds fits in the class. The test set is the task's fixed held-out split. Every finished
run is written at once, atomically, as its own JSON file; rerunning the same sweep skips them.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path

from models.devices import best_device
from models.files import public_path
from models.transfer.config import (
    DEFAULT_REGIMES,
    GPU_BATCH_SIZE,
    REGIMES,
    RESULTS,
    RUNNERS,
    SHIPPED,
    Progress,
    Sweep,
    TrainConfig,
    default_batch_size,
)
from models.transfer.data import BUNDLED_ENCODER, load_task
from models.transfer.schedule import ORDERS
from models.transfer.sweep import RunsFailed, parse_sizes, run_sweep


def _shown(value: object) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _floats(text: str) -> tuple[float, ...]:
    """ "0.3,1,3" -> (0.3, 1.0, 3.0)"""
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers") from None


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    ap = argparse.ArgumentParser(
        prog="python -m models.transfer", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--task", default="digits", help="digits, cifar10, cifar100, pets, flowers102 or folder:<path>")
    ap.add_argument("--encoder", default=BUNDLED_ENCODER, help=f"{BUNDLED_ENCODER}, resnet18 or resnet50")
    ap.add_argument("--regimes", default=",".join(DEFAULT_REGIMES), help=f"comma-separated, of: {', '.join(REGIMES)}")
    ap.add_argument("--sizes", default="1,2,5,10,20,50,max", help="images per class; 'max' is the task's largest")
    ap.add_argument("--seeds", type=int, default=3, help="runs per (regime, size), each on its own training subset")
    ap.add_argument("--image-size", type=int, default=224, help="network input size for photo datasets")
    notes = {
        "lr": "; the digits use 3e-3",
        "batch_size": f"; {GPU_BATCH_SIZE} for photo tasks on a GPU",
        "runner": "; " + "; ".join(f"{k}: {v}" for k, v in RUNNERS.items()),
    }
    for name, value in asdict(TrainConfig()).items():
        flag, note = f"--{name.replace('_', '-')}", notes.get(name, "")
        if isinstance(value, bool):
            ap.add_argument(flag, action="store_true", default=None, help=f"TrainConfig.{name}")
            continue
        ap.add_argument(
            flag,
            type=_floats if isinstance(value, tuple) else type(value),
            default=None,
            choices=list(RUNNERS) if name == "runner" else None,
            help=f"TrainConfig.{name} (default {_shown(value)}{note})",
        )
    ap.add_argument(
        "--workers",
        type=int,
        default=1,
        help="runs side by side in this many processes, sharing the cores or one GPU (default 1: in this process; "
        "on 2 CPU cores, 2 is about 1.5x faster for the digits)",
    )
    ap.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="run every run as a Ray task: alone, on a local Ray instance (with --workers CPUs if given); 'auto' or "
        "ray://host:port for an existing cluster (one GPU per task where it has GPUs). Needs requirements-scale.txt",
    )
    ap.add_argument(
        "--order",
        choices=list(ORDERS),
        default="longest",
        help="with --workers or --ray: " + "; ".join(f"{k}: {v}" for k, v in ORDERS.items()) + " (default longest)",
    )
    ap.add_argument("--tensorboard", default=None, metavar="DIR", help="also write each run's curves for TensorBoard")
    ap.add_argument("--out", default=None, help=f"sweep folder (default: {public_path(SHIPPED)} for digits)")
    args = ap.parse_args(argv)

    task = load_task(args.task, args.image_size)
    regimes = tuple(r.strip() for r in args.regimes.split(",") if r.strip())
    unknown = [r for r in regimes if r not in REGIMES]
    if unknown:
        ap.error(f"unknown regime(s) {unknown}; choose from {', '.join(REGIMES)}")
    overrides = {k: getattr(args, k) for k in asdict(TrainConfig()) if getattr(args, k) is not None}
    defaults = {"lr": task.default_lr, "batch_size": default_batch_size(args.task, best_device().type)}
    train = TrainConfig(**{**defaults, **overrides})
    sweep = Sweep(args.task, args.encoder, regimes, parse_sizes(args.sizes, task.max_per_class), args.seeds, train)
    out = Path(args.out) if args.out else (SHIPPED if args.task == "digits" else RESULTS / args.task.replace(":", "-"))
    bar = tqdm(total=1, unit="run")
    state = {"key": None}

    def on_progress(p: Progress) -> None:
        finished = p.epoch == p.epochs and p.batch == p.batches
        if p.run_key != state["key"] or finished:
            state["key"] = p.run_key
            bar.total = p.runs
            bar.n = p.run if finished else p.run - 1
            bar.set_description(p.run_key)
        bar.set_postfix_str(f"{p.epoch_text(train.epochs)}, batch {p.batch}/{p.batches}, {p.loss_text()}")

    if args.workers < 1:
        ap.error("--workers must be 1 or more")
    t0 = time.time()
    failed: list[tuple[str, str]] = []
    try:
        written = run_sweep(
            sweep,
            out,
            on_progress=on_progress,
            task=task,
            workers=args.workers,
            ray=args.ray,
            tensorboard=args.tensorboard,
            order=args.order,
        )
    except RunsFailed as exc:
        written, failed = exc.written, exc.failed
    bar.n = bar.total
    bar.close()
    print(f"{len(written)} new runs in {time.time() - t0:.0f}s; results in {out}", file=sys.stderr)
    for record in written:
        print(f"{record.key:>24}: test error {record.test_error:.1f}%")
    for key, error in failed:
        print(f"{key:>24}: FAILED twice ({error}); run the same command again to retry it", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
