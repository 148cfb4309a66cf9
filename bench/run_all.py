"""Every benchmark, repeated, in one table.

    python bench/run_all.py [--repeats 3] [--out bench/RESULTS.md]

Runs each bench script in SCRIPTS `--repeats` times in a fresh process, collects the figures each prints
(its `--json` line), and writes a Markdown table with the device, library versions, and each
figure's min / median / max over the repeats. The table replaces what comes before the file's first `## ` section;
the hand-written sections after it (the test command over time, the GPU checks, one-off measurements) are kept.
Left out, run on their own: bench_cold_start.py (needs Chromium), bench_sweep_runners.py (the old runner's
sweep alone takes about 20 minutes), bench_uploads.py and bench_ray_cluster.py (Ray). bench_transfer.py runs the
shipped 84-run sweep each time (about 5 minutes).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = [
    "bench_home.py",
    "bench_attributions.py",
    "bench_faithfulness.py",
    "bench_features.py",
    "bench_detection.py",
    "bench_transfer.py",
    "bench_training.py",
    "memory_tour.py",
    "bench_public_server.py",
]


def fmt(value: float) -> str:
    """Three significant figures, never in exponent form."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def with_table(old: str, table: str) -> str:
    """`old` (a RESULTS.md) with `table` in place of everything before its first `## ` section, which is kept."""
    at = old.find("\n## ")
    return table if at < 0 else table.rstrip("\n") + "\n" + old[at:]


def run(script: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--json"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("JSON "))
    return json.loads(line[5:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3, help="runs of each script; the table gives min, median and max")
    ap.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"), help="the Markdown file to write")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import captum
    import streamlit
    import torch
    import torchvision

    from models.devices import best_device, device_name

    rows = []
    for script in SCRIPTS:
        runs = []
        for i in range(args.repeats):
            print(f"{script} {i + 1}/{args.repeats}", flush=True)
            runs.append(run(script))
        for name in runs[0]:
            values = [r[name] for r in runs]
            rows.append(
                f"| {script} | {name} | {min(values):.3g} | {statistics.median(values):.3g} | {max(values):.3g} |"
            )
    header = [
        "# Benchmark results",
        "",
        f"Written by `python bench/run_all.py --repeats {args.repeats}` on {datetime.date.today()}.",
        f"Device: {device_name(best_device())}, {os.cpu_count()} CPU cores. torch {torch.__version__}, "
        f"torchvision {torchvision.__version__}, captum {captum.__version__}, streamlit {streamlit.__version__}.",
        "ImageNet weights are not cached on this machine: torchvision architectures run with random weights "
        "(the same cost).",
        "",
        "| script | figure | min | median | max |",
        "|---|---|---|---|---|",
    ]
    from models.files import atomic_write_bytes  # a run stopped while writing leaves the old file whole

    out = Path(args.out)
    table = "\n".join(header + rows) + "\n"
    atomic_write_bytes(out, with_table(out.read_text() if out.exists() else "", table).encode())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
