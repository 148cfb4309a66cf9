"""A live run's steps, timed on this server now: what Build's and BatchNorm's time estimates start from before this
server has finished a run of that kind. A probe builds the run the visitor asked for, trains it WARMUP step(s), then
times SPANS spans of steps, each until SPAN_SECONDS have passed (or it would reach the run's first evaluation), and
keeps the faster span's seconds per step: a steady load slows every span, while the browser drawing the page beside
a probe slowed one step 6x in a walk (the median of two single steps then put Build's estimate 3x high). The
estimate adds what the run's evaluations and charts cost, as a factor `bench/bench_training.py` measured.

What it is worth (bench/RESULTS.md): idle, within 0.96-1.06x of the runs. Beside two busy processes on 2 cores the
runs themselves varied up to 20x from one try to the next; the probed estimates of the conv and ResNet runs read
0.88-1.09x of the run in the steadiest try, the fully connected pair's 0.06-0.32x (its tiny steps and Python-heavy
evaluations slow down far more than a probe's steps), and the idle figures 0.02-0.42x in every try. A browser on
the same machine drawing the page while it is probed makes the probe read slow: on 2 cores beside Chromium, the
fully connected pair's default run was estimated at 52 s and took 18 s (under AppTest, no browser: 7 s estimated,
6 s taken). A hosted copy's visitors draw their pages on their own machines; pages probe before drawing their charts."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Protocol

import torch

from models.lock import rngs_kept
from models.measured import KeptMeasurements

WARMUP, SPANS, SPAN_SECONDS = 1, 2, 0.05
PROBE_TTL = 60.0  # seconds a probe is kept: the load on a server changes; a class opening a page probes once
_PROBES = KeptMeasurements(PROBE_TTL)
_LOG = logging.getLogger("explainer.speed_probe")


class Steps(Protocol):
    """A run that trains `n` more steps when asked (BNExperiment, LectureLoop)."""

    def advance(self, n: int) -> None: ...


@dataclass(frozen=True)
class Probe:
    """How to time a run here: `build()` makes a fresh one (its first steps are timed), which trains `steps` steps
    before its first evaluation (at least WARMUP + SPANS); `overhead` is how many times longer a step takes with the
    run's evaluations and charts than alone, as the bench measured."""

    build: Callable[[], Steps]
    steps: int
    overhead: float


def step_seconds(build: Callable[[], Steps], steps: int) -> float:
    """Seconds per step of a fresh `build()` on this server now: after WARMUP steps, the faster of SPANS spans, each
    of at least one step and at most its share of the `steps` before the run's first evaluation, ending once
    SPAN_SECONDS have passed. The global RNGs are left as they were, and no other thread draws from them meanwhile."""
    share = max(1, (steps - WARMUP) // SPANS)
    spans = []
    with rngs_kept():  # under the RNG lock: a bare fork_rng's restore could rewind another session's seeded draws
        work = build()
        work.advance(WARMUP)
        for _ in range(SPANS):
            start, n = time.perf_counter(), 0
            while n < share and (n == 0 or time.perf_counter() - start < SPAN_SECONDS):
                work.advance(1)
                n += 1
            spans.append((time.perf_counter() - start) / n)
    _LOG.info("probe: %s s per step over its spans", ", ".join(f"{t:.4f}" for t in spans))
    return min(spans)


def kept_step_seconds(key: Hashable) -> float | None:
    """The probe of `key`'s run timed within the last PROBE_TTL seconds at this thread count, or None; nothing is
    measured (for a page that must draw at once)."""
    return _PROBES.kept((key, torch.get_num_threads()))


def probed_step_seconds(key: Hashable, probe: Probe) -> float:
    """`step_seconds` of `probe`'s run, measured at most once per PROBE_TTL seconds per `key` and thread count."""
    return _PROBES.get((key, torch.get_num_threads()), lambda: step_seconds(probe.build, probe.steps))


# The browser's drawing of the live charts is not in a probe or a bench figure; where the browser runs on the server's
# own 2 cores (`streamlit run app.py` on a laptop) it adds to the run: measured, Build's default loop, estimated at
# 41 s, took 55 s with Chromium on the same VM (2026-12-05); a run's measured speed, said after it, includes it.
BROWSER = "; a browser on this same machine, drawing the page, adds to it"
BENCH_THREADS = 2  # the bench's machine: 2 cores, one torch thread each (CI's size)


def threads_note(threads: int) -> str:
    """What a bench figure leaves out on a server whose torch uses another number of threads than the bench's (a walk
    on a 1-thread server read 34 s for a run that took 67 s), or ""."""
    if threads == BENCH_THREADS:
        return ""
    said = f"; the bench trained on {BENCH_THREADS} threads and this server trains on {threads}, so "
    # fewer threads: slower; more are faster only where there are free cores for them (a review)
    return said + ("expect it to take longer here" if threads < BENCH_THREADS else "its time here may differ")


def estimate_parts(
    kind: Hashable,
    steps: int,
    bench_per_step: float,
    bench: str,
    measured: float | None,
    probe: Probe | None = None,
    may_probe: bool = True,
    settings: str = "",
    bench_adds: str = "",
) -> tuple[str, str]:
    """('About 3.2 minutes for 400 steps', what it comes from) for `steps` steps of `kind`: `measured`, this server's
    speed for this kind of step once it has run one; else `probe` (the run's first steps, timed here within the last
    PROBE_TTL seconds, plus what its evaluations and drawing add), timed now where `may_probe` (the page allows it
    and no heavy job runs: a probe beside one would slow it and read its load); else the figure `bench` measured on
    the CI-sized machine (`bench_adds`: what was added to it here, said after it). `settings` says which settings the
    figure is for, where that is not plain. Apart, so that a list of jobs timed alike says the basis once (a walk
    read the same 40 words under each of four figures)."""
    from models.text import about

    if measured:
        per_step, basis = measured, "this server's measured speed, what the page draws included"
    else:  # a walk saw the bench figure 7x low on a loaded server: time the run here where possible
        probed = None if probe is None else kept_step_seconds(kind)
        if probe is not None and probed is None and may_probe:
            try:
                probed = probed_step_seconds(kind, probe)
            except Exception:  # a courtesy that failed (memory, say) costs the page nothing: the bench figure is said
                _LOG.exception("speed probe of %s failed", kind)
        # plain words: a walk found "x1.1 as the bench measured; has not run one yet" written for developers
        if probe is not None and probed is not None:
            per_step = probed * probe.overhead
            added = round(100 * (probe.overhead - 1))  # a walk could not read "(x1)"
            basis = (
                "a few of its steps timed on this server in the last minute"
                + (f", plus {added}% for its evaluations and drawing" if added >= 5 else "")
                + f"; no run like it has finished here yet{BROWSER}"
            )
        else:
            per_step = bench_per_step
            basis = (
                f"measured by `{bench}` on an idle 2-core CPU{bench_adds}; no run like it has finished or been timed "
                "here yet"
                f"{threads_note(torch.get_num_threads())}{BROWSER}"
            )
    return f"{about(per_step * steps).capitalize()} for {steps:,} steps{settings}", basis
