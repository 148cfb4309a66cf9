"""Which of a sweep's runs start next when several run side by side: the run with the most work ahead of it first.

A seed-0 run chooses its (regime, n)'s learning rate and that (regime, n)'s other seeds wait for it, so a sweep is a
small task graph. Taken in the sweep's own order (seed by seed, sizes ascending), the largest sizes' seed-0 runs
start last among the seed-0 runs and their waiting seeds finish with the other slots idle. Longest path first starts,
among the runs that are ready, the one whose own work plus the most work waiting on it is largest: the critical-path
list-scheduling heuristic (HLFET, Adam, Chandy & Dickson 1974, after Hu's 1961 level rule, which is optimal only for
unit-time trees; here runs differ in length, so it is a heuristic). Order changes when a run trains, never what it
computes (runs share nothing but the read-only data), so a sweep's results are the same in any order.

Work is counted in training steps through the encoder: a rank, not a time estimate (`sweep_seconds` prices runs in
seconds, but only from reference runs of the same task, which a sweep on a new task lacks). Steps are what a GPU's time
follows for these small networks; on a CPU a batch of 10 costs about half one of 64, and runs of equal steps keep the
sweep's order. `makespan` replays a finished sweep's measured run times under either order (what the bench compares,
beside ordering by the measured times themselves)."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Iterable, Mapping

from models.transfer.config import Sweep
from models.transfer.loop import PROBES, epoch_batches

Run = tuple[str, int, int]  # (regime, n per class, seed)
ORDERS: dict[str, str] = {
    "longest": "runs side by side start with the one with the most work ahead of it (a seed-0 run with the seeds "
    "that wait for its rate first)",
    "sweep": "runs start in the sweep's order, seed by seed, so the first seed's curves are complete first",
}


def chooses_rate(run: Run) -> bool:
    """Whether `run` chooses its (regime, n)'s learning rate (seed 0; the feature probe has no rate to choose)."""
    regime, _, seed = run
    return seed == 0 and regime != "probe-features"


def waits_for(run: Run) -> Run | None:
    """The run whose rate `run` reuses (its (regime, n)'s seed 0), or None when it chooses its own or has none."""
    regime, n, seed = run
    return None if seed == 0 or regime == "probe-features" else (regime, n, 0)


def ready(run: Run, chosen: Collection[tuple[str, int]]) -> bool:
    """Whether `run` can start: it waits for no run's rate, or its (regime, n)'s rate is in `chosen`."""
    return waits_for(run) is None or run[:2] in chosen


def epochs_trained(sweep: Sweep, run: Run) -> int:
    """Epochs one run trains: the schedule once per learning rate a run that chooses its rate tries, once for the
    seeds that reuse the choice (one step for the feature probe)."""
    if run[0] == "probe-features":
        return 1
    return sweep.train.epochs * (len(sweep.train.lr_factors) if chooses_rate(run) else 1)


def encoder_steps(sweep: Sweep, n_classes: int, run: Run, together: int = 1) -> float:
    """A run's training steps through the encoder, every rate a seed-0 run tries counted, `together` of them in one
    step where the stacked runner trains them at once (`loop.rates_at_once`): a probe's steps train its head alone (a
    third of a step where the plain runner runs the frozen encoder forward on every batch; none where the head trains
    on the encoder's cached output); the feature probe's one logistic regression counts one step."""
    regime, n, _ = run
    if regime == "probe-features":
        return 1.0
    steps = epochs_trained(sweep, run) * epoch_batches(n * n_classes, sweep.train)[1]
    if chooses_rate(run):
        steps /= max(1, together)
    if regime in PROBES:
        return steps / 3 if sweep.train.runner == "plain" else 1.0
    return float(steps)


def priorities(runs: Iterable[Run], work: Callable[[Run], float]) -> dict[Run, float]:
    """Each run's own `work` plus, for a run that chooses a rate, the most work among the runs waiting for it."""
    runs = list(runs)
    waiting: dict[tuple[str, int], float] = {}
    for run in runs:
        if waits_for(run) is not None:
            waiting[run[:2]] = max(waiting.get(run[:2], 0.0), work(run))
    return {run: work(run) + (waiting.get(run[:2], 0.0) if chooses_rate(run) else 0.0) for run in runs}


def next_runs(
    waiting: list[Run], chosen: Collection[tuple[str, int]], free: int, priority: Mapping[Run, float] | None
) -> list[Run]:
    """The runs to start in `free` slots: those ready, highest `priority` first (ties, and all runs where `priority`
    is None, in `waiting`'s order)."""
    candidates = [run for run in waiting if ready(run, chosen)]
    if priority is not None:
        candidates.sort(key=lambda run: -priority[run])
    return candidates[: max(0, free)]


def makespan(runs: list[Run], seconds: Mapping[Run, float], slots: int, priority: Mapping[Run, float] | None) -> float:
    """Seconds from the first start to the last end when `runs` (in the sweep's order), each taking `seconds`, run in
    `slots` side by side and start as `next_runs` picks them: a replay of a sweep's schedule, nothing trained."""
    waiting, chosen, now = list(runs), set(), 0.0
    running: list[tuple[float, Run]] = []
    while waiting or running:
        for run in next_runs(waiting, chosen, slots - len(running), priority):
            waiting.remove(run)
            heapq.heappush(running, (now + seconds[run], run))
        if not running:
            raise ValueError("a run waits for a rate that no run chooses")
        now, run = heapq.heappop(running)
        if chooses_rate(run):
            chosen.add(run[:2])
    return now
