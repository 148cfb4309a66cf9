"""Benchmark of the transfer lab.

    python bench/bench_transfer.py [--skip-sweep] [--threads 2]
    python bench/bench_transfer.py --runners [--sizes 1,2,5 --seeds 2]   # in-process vs processes vs Ray
    python bench/bench_transfer.py --ceiling   # the most parallel 1-thread runs can gain over 2-thread runs

Prints, on the device it finds:
1. the wall time of the shipped offline sweep (digits, bundled glyphs encoder, 4 regimes x 7 sizes x
   3 seeds), run from scratch into a temporary folder (target: at most 10 minutes on 2 CPU cores);
2. fine-tuning throughput in training images per second (the bundled encoder on digits at 32 px, and
   ImageNet ResNet-18 at 224 px with random weights, which cost the same as real ones);
3. the cached-feature linear probe (features once + logistic regression) against the frozen-encoder
   probe trained by the loop: for one run, the loop's time to get within half a point of the cached
   probe's test accuracy; and over the sweep's 21 probe runs (7 sizes x 3 seeds), total time and
   mean error of each (each extracts the features once for all of them: the loop's runner keeps the frozen
   encoder's features too, so what differs is the fit, the C grid's against 15 epochs of a linear layer).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.devices import best_device, device_name
from models.transfer import (
    BUNDLED_ENCODER,
    Encoder,
    Sweep,
    TrainConfig,
    feature_probe,
    load_encoder,
    load_task,
    run_sweep,
    subset,
)
from models.transfer.config import default_batch_size
from models.transfer.loop import Data, train_epochs


def sweep_time(device: torch.device) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        runs = run_sweep(Sweep(), out, device=device)
        return time.perf_counter() - t0, len(runs)


def runner_race(sweep: Sweep, device: torch.device) -> dict[str, float]:
    """Wall seconds of `sweep` from scratch in this process (the default torch threads), in two worker
    processes of one thread each, and as Ray tasks on a local instance with two CPUs (one thread each)."""
    out = {}
    for name, kwargs in (
        ("in-process", {}),
        ("2 processes", {"workers": 2, "threads": 1}),
        ("Ray, 2 workers", {"workers": 2, "ray": "local"}),
    ):
        with tempfile.TemporaryDirectory() as folder:
            t0 = time.perf_counter()
            run_sweep(sweep, folder, device=device, **kwargs)
            out[name] = time.perf_counter() - t0
    return out


def parallel_ceiling(task, encoder: Encoder, device: torch.device, regime: str = "finetune", n: int = 10) -> dict:
    """The most any runner of single-thread runs can gain over one run at a time with all the cores' threads:
    seconds of one run with 2 torch threads, with 1, and of two 1-thread runs side by side in worker processes.
    The ceiling is 2 x (2-thread run) / (the pair's wall time)."""
    from models.transfer.runners import Processes, context

    cfg, out = TrainConfig(lr=3e-3), {}
    ctx = context(task, encoder, cfg, device)
    before = torch.get_num_threads()
    for threads in (2, 1):
        torch.set_num_threads(threads)
        t0 = time.perf_counter()
        ctx.run(regime, n, 0, cfg.lr)
        out[f"one run, {threads} threads (s)"] = time.perf_counter() - t0
    torch.set_num_threads(before)
    pool = Processes(ctx, 2, threads=1)
    for f in [pool.submit(regime, 1, seed, cfg.lr, None) for seed in (0, 1)]:
        f.result()  # both workers started and warm (the task and encoder loaded)
    t0 = time.perf_counter()
    for f in [pool.submit(regime, n, seed, cfg.lr, None) for seed in (0, 1)]:
        f.result()
    out["two 1-thread runs side by side (s)"] = time.perf_counter() - t0
    pool.close(cancel=False)
    out["ceiling (x)"] = 2 * out["one run, 2 threads (s)"] / out["two 1-thread runs side by side (s)"]
    return out


def finetune_throughput(encoder: Encoder, task, device: torch.device, steps: int = 20, batch: int = 64) -> float:
    """Training images per second of full fine-tuning (AMP and channels-last on CUDA, as in the loop)."""
    cfg = TrainConfig(epochs=1, min_batches=steps, batch_size=batch)
    model = encoder.build(len(task.classes), pretrained=True)
    data = Data(task, device)
    idx = subset(task.y_train, max(1, batch // len(task.classes) + 1), 0)
    train_epochs(model, "finetune", data, idx, TrainConfig(epochs=1, min_batches=3, batch_size=batch), 0)  # warm-up
    _history, seconds, seen = train_epochs(model, "finetune", data, idx, cfg, 0)
    return seen / seconds


def imagenet_resnet18_task(n: int = 640):
    """A stand-in photo task at 224 px (random images; only the cost is measured)."""
    from models.transfer.data import Task, _photo_to_input

    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, 224, 224), dtype=torch.uint8, generator=g)
    y = torch.arange(n) % 10
    return Task("random224", "random", tuple(map(str, range(10))), x, y, x[:64], y[:64], _photo_to_input(224))


def probe_race(encoder: Encoder, task, device: torch.device, n: int, max_epochs: int = 60) -> dict:
    """Seconds for each probe to reach the cached-feature probe's test accuracy. The loop's time is its
    training time up to the first epoch that gets within half a point (its evaluations not counted)."""
    idx = subset(task.y_train, n, 0)
    t0 = time.perf_counter()
    cached = feature_probe(task, encoder, idx, device)
    cached_s = time.perf_counter() - t0  # the one-off feature extraction included
    target = cached["test_accuracy"]
    torch.manual_seed(0)
    model = encoder.build(len(task.classes), pretrained=True)
    cfg = TrainConfig(epochs=max_epochs, lr=task.default_lr, step_size=10**6)  # constant rate
    history, _, _ = train_epochs(model, "probe", Data(task, device), idx, cfg, 0)
    reached = next((h for h in history if h["test_accuracy"] >= target - 0.005), history[-1])
    return {
        "cached_s": cached_s,
        "cached_acc": target,
        "loop_s": reached["seconds"],
        "loop_acc": reached["test_accuracy"],
        "loop_epochs": reached["epoch"],
        "reached": reached["test_accuracy"] >= target - 0.005,
    }


def probe_sweep(encoder: Encoder, task, device: torch.device) -> dict:
    """Both probes over the shipped sweep's sizes and seeds, each from an empty feature cache: scikit-learn's
    logistic regression (its C chosen on validation) on features extracted once, and the loop's linear layer trained
    with the sweep's schedule, which reads the same kind of cached features (the runner extracts the frozen encoder's
    features once per process: before, this bench let the loop use the features the first half had extracted). Mean
    test error of each, and total seconds (the loop's: its runs' recorded seconds, evaluations not counted)."""
    from models.transfer import loop as transfer

    sweep = Sweep()
    transfer._FEATURES.clear()
    t0 = time.perf_counter()
    cached = [
        feature_probe(task, encoder, subset(task.y_train, n, s), device)
        for s in range(sweep.seeds)
        for n in sweep.sizes
    ]
    cached_s = time.perf_counter() - t0
    transfer._FEATURES.clear()  # the loop pays its own extraction, in its first run
    loop = [
        transfer.train_run(task, encoder, "probe", n, s, sweep.train, device)
        for s in range(sweep.seeds)
        for n in sweep.sizes
    ]
    return {
        "runs": len(loop),
        "cached_s": cached_s,
        "cached_err": 100 * (1 - sum(r["test_accuracy"] for r in cached) / len(cached)),
        "loop_s": sum(r["seconds"] for r in loop),
        "loop_err": sum(r["test_error"] for r in loop) / len(loop),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-sweep", action="store_true", help="skip the offline sweep (the slowest figure)")
    ap.add_argument("--throughput-only", action="store_true", help="only the fine-tuning throughputs (item 2)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave the default)")
    ap.add_argument(
        "--runners",
        action="store_true",
        help="only compare runners on the sweep: in-process, 2 processes, Ray with 2 workers",
    )
    ap.add_argument(
        "--ceiling", action="store_true", help="only measure what parallel 1-thread runs can gain over one 2-thread run"
    )
    ap.add_argument("--sizes", default="", help="with --runners: the sweep's sizes (default the shipped ones)")
    ap.add_argument("--seeds", type=int, default=3, help="with --runners: seeds")
    ap.add_argument("--json", action="store_true", help="also print the figures as one JSON line (for run_all.py)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = best_device()
    print(f"device: {device_name(device)}, torch threads {torch.get_num_threads()}")
    task, encoder = load_task("digits"), load_encoder(BUNDLED_ENCODER)
    figures: dict[str, float] = {}
    if args.ceiling:
        for name, value in parallel_ceiling(task, encoder, device).items():
            print(f"  {name}: {value:.2f}")
        return
    if args.runners:
        sizes = tuple(int(n) for n in args.sizes.split(",")) if args.sizes else Sweep().sizes
        sweep = Sweep(sizes=sizes, seeds=args.seeds)
        times = runner_race(sweep, device)
        print(f"\nsweep of {len(list(sweep.runs()))} runs (sizes {sizes}, {args.seeds} seeds):")
        for name, seconds in times.items():
            print(f"  {name}: {seconds:.0f} s ({times['in-process'] / seconds:.2f}x the in-process speed)")
            figures[f"sweep, {name} (s)"] = seconds
        if args.json:
            print("JSON " + json.dumps(figures))
        return

    print("\n| measurement | value |\n|---|---|")
    ft = figures["fine-tuning, bundled encoder, digits 32 px (images/s)"] = finetune_throughput(encoder, task, device)
    print(f"| fine-tuning, bundled encoder, digits at 32 px | {ft:,.0f} images/s |")
    import torchvision

    arch = torchvision.models.resnet18
    rn18 = Encoder("resnet18", "resnet18", arch, arch().state_dict(), "random weights")
    steps = 3 if device.type == "cpu" else 30
    photo_batch = default_batch_size("cifar10", device.type)  # what a photo task's sweep uses here (256 on CUDA)
    for batch in sorted({64, photo_batch}):
        ft224 = finetune_throughput(rn18, imagenet_resnet18_task(), device, steps=steps, batch=batch)
        figures[f"fine-tuning, ResNet-18 224 px, batch {batch} (images/s)"] = ft224
        print(f"| fine-tuning, ResNet-18 at 224 px (random weights), batch {batch} | {ft224:,.0f} images/s |")
    if args.throughput_only:
        print("JSON " + json.dumps(figures))
        return
    n = task.max_per_class
    race = probe_race(encoder, task, device, n)
    print(
        f"| linear probe at n={n}/class: cached features + logistic regression | "
        f"{race['cached_s']:.2f} s to {race['cached_acc']:.1%} |"
    )
    print(
        f"| linear probe at n={n}/class: frozen encoder, trained by the loop | "
        f"{race['loop_s']:.2f} s to {race['loop_acc']:.1%} ({race['loop_epochs']} epochs"
        f"{'' if race['reached'] else ', never reached the target'}) |"
    )
    ratio = figures["probe speed-up, one run to equal accuracy (x)"] = race["loop_s"] / race["cached_s"]
    print(f"| speed-up of the cached-feature probe, one run to equal accuracy | {ratio:.1f}x |")
    both = probe_sweep(encoder, task, device)
    print(
        f"| the sweep's {both['runs']} probe runs, cached features + logistic regression | "
        f"{both['cached_s']:.2f} s in all (extraction once), mean error {both['cached_err']:.2f}% |"
    )
    print(
        f"| the sweep's {both['runs']} probe runs, the loop's linear layer on the frozen encoder's features (extracted "
        f"once), 15 epochs each | "
        f"{both['loop_s']:.2f} s in all, mean error {both['loop_err']:.2f}% |"
    )
    ratio = figures["probe speed-up over the sweep's probe runs (x)"] = both["loop_s"] / both["cached_s"]
    print(f"| the loop's time over the logistic regression's, the sweep's probe runs | {ratio:.2f}x |")
    if not args.skip_sweep:
        seconds, n_runs = sweep_time(device)
        figures["shipped offline sweep (s)"] = seconds
        print(f"| shipped offline sweep ({n_runs} runs) | {seconds:.0f} s ({seconds / 60:.1f} min) |")
    if args.json:
        print("JSON " + json.dumps(figures))


if __name__ == "__main__":
    main()
