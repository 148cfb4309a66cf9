"""The transfer sweep's runners side by side in one run, on this machine: today's loop (`plain`) against `fast` (the
default) and `stacked`.

    python bench/bench_sweep_runners.py                      # both sweeps below
    python bench/bench_sweep_runners.py --skip-shipped       # the page sweep only (a few minutes)
    python bench/bench_sweep_runners.py --schedule           # the two orders of runs side by side, replayed

1. The shipped sweep (digits, bundled glyphs encoder, 4 regimes x 7 sizes x 3 seeds = 84 runs, each (regime, n)
   choosing its rate among 3 on seed 0) as the README reproduces it: `python -m models.transfer --workers 2`
   (target: at most 300 s on 2 CPU cores).
2. A 48-run page sweep (4 regimes x sizes 1, 2, 5, 10 x 3 seeds, the page's 5 epochs) run as the page runs it: in
   one process, one run after another, the default torch threads (target: at most 2 minutes); beside it the
   estimate the page gives for it beforehand, from the shipped sweep's recorded runs.

3. `--schedule`, nothing trained: the shipped sweep's runs replayed with the seconds each took when it was made (the
   run files' `wall_seconds`), in 2 to 16 slots side by side, started in the sweep's order against longest path first
   (`models/transfer/schedule.py`, the default order for runs side by side), beside the least any order can take.

Each sweep runs from scratch in a fresh process (imports included) into a temporary folder. Printed per runner:
wall seconds, the peak memory of the largest process, and how its runs agree with the plain runner's: runs whose
test error is the same to the image, the largest test-error difference in images, the largest relative per-epoch
loss difference.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_ARGS = ["--workers", "2"]
PAGE_ARGS = ["--sizes", "1,2,5,10", "--seeds", "3", "--epochs", "5"]


def child(argv: list[str]) -> None:
    """In a fresh process: run the sweep, then print the peak memory of this process and of its workers (MB), the
    seconds its imports took and the seconds the sweep took (what is left of the wall time is the interpreter's
    start and exit)."""
    t0 = time.perf_counter()
    from models.transfer.__main__ import main

    t1 = time.perf_counter()
    code = main(argv)
    t2 = time.perf_counter()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"rc": code, "peak_mb": max(own, workers), "imports_s": t1 - t0, "sweep_s": t2 - t1}), flush=True)


def timed_sweep(args: list[str], runner: str, out: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", *args, "--runner", runner, "--out", str(out)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{runner} failed:\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {"runner": runner, "seconds": wall, "peak_mb": figures["peak_mb"]}


def agreement(folder: Path, reference: Path) -> dict:
    """How the runs in `folder` agree with those in `reference` (the plain runner's), run by run."""
    from models.transfer import load_runs, load_task

    images = load_task("digits").y_test.numel()
    mine = {r.key: r for r in load_runs(folder)[1]}
    theirs = {r.key: r for r in load_runs(reference)[1]}
    same, worst_images, worst_loss = 0, 0.0, 0.0
    for key, alone in theirs.items():
        run = mine[key]
        diff = abs(run.test_error - alone.test_error) * images / 100
        same += diff < 0.5
        worst_images = max(worst_images, diff)
        for a, b in zip(run.history, alone.history, strict=True):
            for field in ("train_loss", "test_loss"):
                x, y = getattr(a, field), getattr(b, field)
                worst_loss = max(worst_loss, abs(x - y) / max(abs(y), 1e-12))
    return {"runs": len(theirs), "same_error": same, "max_images": round(worst_images), "max_loss_rel": worst_loss}


def page_estimate() -> float | None:
    import torch

    from models.transfer import BUNDLED_ENCODER, DEFAULT_REGIMES, TrainConfig, page_sweep

    estimate = page_sweep(
        "digits", BUNDLED_ENCODER, DEFAULT_REGIMES, "1,2,5,10", 3, TrainConfig(epochs=5), torch.device("cpu")
    )[3]
    return None if estimate is None else estimate.seconds


def race(name: str, args: list[str], runners: list[str], target: float, root: Path) -> list[dict]:
    rows = []
    for runner in runners:
        row = timed_sweep(args, runner, root / f"{name}-{runner}")
        if runner != "plain" and "plain" in runners:
            row.update(agreement(root / f"{name}-{runner}", root / f"{name}-plain"))
        rows.append(row)
        print(f"  {name:8} {runner:8} {row['seconds']:7.1f} s  peak {row['peak_mb']:6.0f} MB", end="", flush=True)
        if "same_error" in row:
            print(
                f"  runs with the plain runner's test error: {row['same_error']}/{row['runs']} (largest difference "
                f"{row['max_images']} images; per-epoch losses within {row['max_loss_rel']:.1e})",
                end="",
            )
        print(
            f"  [target {target:.0f} s: {'met' if row['seconds'] <= target else 'NOT met'}]"
            if runner != "plain"
            else ""
        )
    return rows


def schedules(slots: tuple[int, ...] = (2, 4, 8, 16)) -> dict[int, dict[str, float]]:
    """The shipped sweep's makespan per number of slots, replayed from its runs' recorded seconds: in the sweep's
    order, longest path first as `run_sweep` orders them (by training steps), longest path first by the recorded
    seconds themselves (what a perfect cost model would give), and the lower bound (all the work spread evenly, or
    the longest chain of a seed-0 run and a seed that waits for it, whichever is longer)."""
    from models.transfer import SHIPPED, Sweep, load_runs, load_task, settings_hash
    from models.transfer.schedule import encoder_steps, makespan, priorities, waits_for

    meta, runs, _ = load_runs(SHIPPED)
    sweep = Sweep()  # the shipped sweep is the default one
    assert meta is not None and meta.settings_hash == settings_hash(sweep.settings()), "the shipped sweep changed"
    seconds = {(r.regime, r.n_per_class, r.seed): r.recorded("wall_seconds") for r in runs}
    order = [run for run in sweep.runs() if run in seconds]
    n_classes = len(load_task(sweep.task).classes)
    priority = priorities(order, lambda run: encoder_steps(sweep, n_classes, run))
    chain = max(seconds[run] + (seconds[first] if (first := waits_for(run)) else 0.0) for run in order)
    return {
        k: {
            "sweep": makespan(order, seconds, k, None),
            "longest": makespan(order, seconds, k, priority),
            "by_seconds": makespan(order, seconds, k, priorities(order, seconds.__getitem__)),
            "bound": max(sum(seconds.values()) / k, chain),
        }
        for k in slots
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-shipped", action="store_true", help="only the 48-run page sweep")
    ap.add_argument("--runners", default="plain,fast,stacked", help="which runners, plain first (the reference)")
    ap.add_argument("--shipped-runners", default="plain,fast", help="runners for the shipped sweep")
    ap.add_argument("--schedule", action="store_true", help="only replay the shipped sweep's runs in both orders")
    ap.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = ap.parse_args()
    if args.schedule:
        print("The shipped sweep's runs replayed with the seconds each took (2 CPU cores, 2 workers); nothing trained:")
        figures = schedules()
        for k, row in figures.items():
            gain = row["sweep"] / row["longest"]
            print(
                f"  {k:2} slots: sweep order {row['sweep']:6.1f} s, longest path first {row['longest']:6.1f} s "
                f"({gain:.2f}x; by the recorded seconds {row['by_seconds']:6.1f} s), "
                f"no order under {row['bound']:6.1f} s"
            )
        if args.json:
            print(json.dumps(figures))
        return
    import os

    import torch

    from models.devices import device_name

    print(f"{device_name(torch.device('cpu'))}, {os.cpu_count()} cores; each sweep from scratch in a fresh process")
    figures: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if not args.skip_shipped:
            print("The shipped sweep, 84 runs, `python -m models.transfer --workers 2`:")
            figures["shipped"] = race("shipped", SHIPPED_ARGS, args.shipped_runners.split(","), 300, root)
        estimate = page_estimate()
        shown = f"{estimate:.0f} s" if estimate is not None else "none"
        print(f"A 48-run page sweep, in one process (the page's estimate beforehand: {shown}):")
        figures["page"] = race("page", PAGE_ARGS, args.runners.split(","), 120, root)
        figures["page_estimate_s"] = estimate
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
