"""A live run's steps, timed on this server now: what Build's and BatchNorm's time estimates start from before this
server has finished a run of that kind. A probe builds the run the visitor asked for, trains it WARMUP + TIMED
steps and keeps the median of the timed ones; the estimate adds what the run's evaluations and charts cost, as a
factor `bench/bench_training.py` measured. Beside two busy processes on the 2-core CI-sized machine
(`python bench/bench_training.py --beside 2`) the runs' steps took 2.5-4.9x as long as idle; estimates from a probe
then read 0.53-1.04x of the run's time, the idle figures 0.20-0.40x. A probe times training steps only: a run whose
evaluations slow down more under load (BatchNorm's conv pair) is still underestimated, and its live line says how
long is left once it runs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Protocol

import torch

from models.measured import KeptMeasurements

WARMUP, TIMED = 1, 2  # three steps: under an epoch of the smallest run (4 batches), so no evaluation is timed
PROBE_TTL = 60.0  # seconds a probe is kept: the load on a server changes; a class opening a page probes once
_PROBES = KeptMeasurements(PROBE_TTL)


class Steps(Protocol):
    """A run that trains `n` more steps when asked (BNExperiment, LectureLoop)."""

    def advance(self, n: int) -> None: ...


@dataclass(frozen=True)
class Probe:
    """How to time a run here: `build()` makes a fresh one (its first steps are timed); `overhead` is how many times
    longer a step takes with the run's evaluations and charts than alone, as the bench measured."""

    build: Callable[[], Steps]
    overhead: float


def step_seconds(build: Callable[[], Steps]) -> float:
    """The median seconds of one of TIMED steps of a fresh `build()`, after WARMUP, on this server now. The global
    RNGs are left as they were."""
    times = []
    with torch.random.fork_rng(devices=[]):
        work = build()
        for _ in range(WARMUP + TIMED):
            start = time.perf_counter()
            work.advance(1)
            times.append(time.perf_counter() - start)
    return statistics.median(times[WARMUP:])


def kept_step_seconds(key: Hashable) -> float | None:
    """The probe of `key`'s run timed within the last PROBE_TTL seconds at this thread count, or None; nothing is
    measured (for a page that must draw at once)."""
    return _PROBES.kept((key, torch.get_num_threads()))


def probed_step_seconds(key: Hashable, build: Callable[[], Steps]) -> float:
    """`step_seconds(build)`, measured at most once per PROBE_TTL seconds per `key` and thread count."""
    return _PROBES.get((key, torch.get_num_threads()), lambda: step_seconds(build))
