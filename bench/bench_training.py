"""Benchmark of the live training runs' time estimates, in one run: seconds per step of the BatchNorm experiment
(both networks in lockstep, evaluations included) at the default batch of 60, of Build's training loop for each
set-up at batch 64 (its per-epoch evaluations included), seconds per pair of steps of the augmentation tab's "Train
with and without" at its defaults (the MNIST-style preset, 30 epochs; the whole press, digits loaded and both networks
evaluated), and each run's speed probe (`models.speed_probe`: a bare training step of the same run, the median of
three probes). The augmentation pair is also timed with the pipeline's draws left out (an identity in its place): the
figure a server that cannot probe adds a visitor's pipeline to. As on the page, the runs advance in the page's chunks
and their charts are built and serialised after a chunk at most every `models.measured.REDRAW_SECONDS` and after
the last (what Streamlit sends; the browser's drawing is not counted).

    python bench/bench_training.py [--steps 200] [--loop-epochs 2] [--beside N] [--json]

The pages' estimates time the probe on their server and multiply it by the run's overhead, its seconds per step
over its probe's here; before the server can probe (another run is training) they quote the step figures as
measured on the 2-core CI-sized machine. Both figures of a run come from one run of this script, and go into
`models.experiments.batchnorm` and `models.experiments.lecture_loop` (SECONDS_PER_STEP, PROBE_SECONDS) and
`models.experiments.augmentation` (PAIR_SECONDS, PAIR_PROBE_SECONDS, PAIR_TRAIN_SECONDS). Everything
runs on the CPU, as the pages' runs do. `--beside N` runs it all beside N busy processes, a loaded server, and
sets each run's time against the page's two estimates: its probe times the shipped overhead, and the shipped idle
figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explain.figures.charts import bn_accuracy_chart, bn_distribution_chart
from explain.figures.training_loop import loop_figure
from models.devices import device_name
from models.experiments import augmentation, batchnorm, lecture_loop
from models.experiments.augmentation import PRESETS, DigitsComparison, compare_on_digits, comparison_probe
from models.experiments.batchnorm import BNExperiment, batchnorm_behaviour, bn_config, bn_probe, summary
from models.experiments.lecture_loop import SETUPS, LectureLoop, LoopConfig, final_numbers, loop_probe
from models.measured import Pacer
from models.speed_probe import Probe, step_seconds


def bn_seconds_per_step(arch: str, steps: int) -> float:
    """Seconds per step of a fresh BatchNorm run of `arch` over `steps` steps (the networks built beforehand), in the
    page's chunks with its charts and panel redrawn as the page paces them."""
    exp = BNExperiment(bn_config(arch, "sigmoid", 0.5, 60, steps, 0))
    redraw = Pacer()
    t0 = time.perf_counter()
    while not exp.done:
        exp.advance(exp.config.eval_every)
        if not redraw.due(now=exp.done):
            continue
        bn_accuracy_chart(exp.history).to_json()
        bn_distribution_chart(exp.history, exp.config.unit).to_json()
        summary(exp.history, batchnorm_behaviour(exp.bn, exp.x_test, exp.last_batch), steps)
    return (time.perf_counter() - t0) / steps


def loop_seconds_per_step(setup: str, epochs: int) -> float:
    """Seconds per step of a fresh run of Build's loop over `epochs` epochs at the lecture's defaults (batch 64), in
    the page's half-epoch chunks with its chart and numbers redrawn as the page paces them."""
    loop = LectureLoop(LoopConfig(setup=setup, epochs=epochs))
    redraw = Pacer()
    t0 = time.perf_counter()
    while not loop.done:
        loop.advance(max(1, loop.steps_per_epoch // 2))
        if not redraw.due(now=loop.done):
            continue
        loop_figure(loop.history, loop.steps_per_epoch).to_json()
        final_numbers(loop)
    return (time.perf_counter() - t0) / loop.total_steps


AUG_PRESET, AUG_EPOCHS = "MNIST-style (rotation, shift, scale)", 30  # the augmentation tab's defaults


def aug_seconds_per_pair() -> float:
    """Seconds per pair of steps of a whole "Train with and without" at the tab's defaults, as a press runs it."""
    start = time.perf_counter()
    compare_on_digits([dict(s) for s in PRESETS[AUG_PRESET]], epochs=AUG_EPOCHS, progress=lambda done, total: None)
    return (time.perf_counter() - start) / augmentation.comparison_steps(AUG_EPOCHS)


def aug_train_seconds_per_pair(pairs: int = 60) -> float:
    """Seconds per pair of the comparison's steps with an identity in the pipeline's place: the training alone."""
    from torchvision.transforms import v2

    run = DigitsComparison([dict(s) for s in PRESETS[AUG_PRESET]], epochs=AUG_EPOCHS)
    run.pipeline = v2.Identity()
    run.advance(1)  # warm-up, as a probe
    start = time.perf_counter()
    run.advance(pairs)
    return (time.perf_counter() - start) / pairs


def probe_seconds(probe: Probe) -> float:
    """The median of three probes of a run, as the page takes them."""
    return statistics.median(step_seconds(probe.build, probe.steps) for _ in range(3))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=200, help="BatchNorm steps timed per network")
    ap.add_argument("--loop-epochs", type=int, default=2, help="epochs of Build's loop timed per set-up")
    ap.add_argument("--beside", type=int, default=0, metavar="N", help="run beside N busy processes (a loaded server)")
    ap.add_argument("--json", action="store_true", help="also print the figures as one JSON line (for run_all.py)")
    args = ap.parse_args()
    import torch

    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.beside)]
    try:
        runs = {
            f"bn {arch}": (
                bn_seconds_per_step(arch, args.steps),
                probe_seconds(bn_probe(bn_config(arch, "sigmoid", 0.5, 60, 3000, 0))),
            )
            for arch in ("mlp", "conv")
        }
        runs |= {
            f"loop {setup}": (
                loop_seconds_per_step(setup, args.loop_epochs),
                probe_seconds(loop_probe(LoopConfig(setup=setup))),
            )
            for setup in SETUPS
        }
        runs["aug pair"] = (
            aug_seconds_per_pair(),
            probe_seconds(comparison_probe([dict(s) for s in PRESETS[AUG_PRESET]], AUG_EPOCHS)),
        )
        aug_train = aug_train_seconds_per_pair()
    finally:
        for process in busy:
            process.kill()
    print(f"{device_name(torch.device('cpu'))}, beside {args.beside} busy processes")
    print("a run's seconds per step (charts included) and its probe's")
    for name, (run, probe) in runs.items():
        print(f"{name}: {run * 1000:.1f} ms per step, probe {probe * 1000:.1f} ms: overhead x{run / probe:.2f}")
    print("the page's estimates of a step, against the run: its probe x the shipped overhead; the shipped idle figure")
    print(f"aug pair without the pipeline's draws: {aug_train * 1000:.1f} ms")
    for name, (run, probe) in runs.items():
        family, key = name.split(" ")
        if family == "aug":
            probed = probe * augmentation.PAIR_SECONDS / augmentation.PAIR_PROBE_SECONDS
            idle = augmentation.PAIR_SECONDS
        else:
            module = batchnorm if family == "bn" else lecture_loop
            probed = probe * module.SECONDS_PER_STEP[key] / module.PROBE_SECONDS[key]
            idle = module.SECONDS_PER_STEP[key]
        print(
            f"{name}: probed {probed * 1000:.1f} ms ({probed / run:.2f}x the run), "
            f"idle {idle * 1000:.1f} ms ({idle / run:.2f}x)"
        )
    if args.json:
        figures = {f"{name} (s/step)": run for name, (run, _) in runs.items()}
        figures |= {f"{name} probe (s/step)": probe for name, (_, probe) in runs.items()}
        figures["aug pair without draws (s/step)"] = aug_train
        print("JSON " + json.dumps(figures))


if __name__ == "__main__":
    main()
