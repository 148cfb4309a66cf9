"""Benchmark of the BatchNorm experiment on the Training tricks page: seconds per step of a run (both
networks trained in lockstep, evaluations included) for each network, at the default batch of 60.

    python bench/bench_training.py [--steps 200] [--json]

The page's time estimate (`models.experiments.batchnorm.SECONDS_PER_STEP`) quotes these figures as measured
on the 2-core CI-sized machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.devices import device_name
from models.experiments.batchnorm import BNExperiment, bn_config


def seconds_per_step(arch: str, steps: int) -> float:
    """Seconds per step of a fresh run of `arch` over `steps` steps (the networks built beforehand)."""
    exp = BNExperiment(bn_config(arch, "sigmoid", 0.5, 60, steps, 0))
    t0 = time.perf_counter()
    exp.advance(steps)
    return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=200, help="steps timed per network")
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    args = ap.parse_args()
    import torch

    figures = {arch: seconds_per_step(arch, args.steps) for arch in ("mlp", "conv")}
    device = device_name(torch.device("cpu"))
    if args.json:
        print(json.dumps({"bench": "training", "device": device, "seconds_per_step": figures}))
        return
    for arch, s in figures.items():
        print(f"{arch}: {s * 1000:.1f} ms per step; 3,000 steps in about {s * 3000 / 60:.1f} min ({device})")


if __name__ == "__main__":
    main()
