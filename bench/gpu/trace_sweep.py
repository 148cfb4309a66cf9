"""Where a transfer sweep's time goes on a GPU, from the GPU's side: torch.profiler over a small sweep in one
process (after a warm-up sweep), then the operators by their own GPU time and by their own host time, and how much
of the wall time the GPU's kernels fill. cProfile (GPU check 3) saw host time only: 2,178 backward passes at 3.4 ms
each; this says whether the GPU was busy meanwhile (#30: the shipped sweep in 30 s).

    python bench/gpu/trace_sweep.py [--sizes 1,20] [--regimes scratch,finetune]

Runs on the CPU too (no GPU columns then), so that it is checked before a GPU session.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch
from torch.profiler import ProfilerActivity, profile


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,20", help="images per class, as models.transfer takes them")
    ap.add_argument("--regimes", default="scratch,finetune", help="regimes, as models.transfer takes them")
    ap.add_argument("--rows", type=int, default=20, help="operators listed in each table")
    args = ap.parse_args()
    from models.transfer.__main__ import main as sweep

    gpu = torch.cuda.is_available()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if gpu else [])
    common = ["--regimes", args.regimes, "--seeds", "1"]
    with tempfile.TemporaryDirectory() as tmp:
        sweep([*common, "--sizes", "1", "--epochs", "1", "--out", f"{tmp}/warm"])  # CUDA context, cuDNN choices
        with profile(activities=activities) as prof:
            t0 = time.perf_counter()
            sweep([*common, "--sizes", args.sizes, "--out", f"{tmp}/traced"])
            if gpu:
                torch.cuda.synchronize()
            wall = time.perf_counter() - t0
    events = prof.key_averages()
    if gpu:
        print(events.table(sort_by="self_device_time_total", row_limit=args.rows))
    print(events.table(sort_by="self_cpu_time_total", row_limit=args.rows))
    kernels = sum(e.self_device_time_total for e in events) / 1e6 if gpu else 0.0
    launches = sum(e.count for e in events if e.key.startswith(("cudaLaunchKernel", "cuLaunchKernel")))
    print(
        f"wall {wall:.1f} s under the profiler; GPU kernels {kernels:.1f} s ({kernels / wall:.0%} of it); "
        f"kernel launches {launches:,}"
    )


if __name__ == "__main__":
    main()
