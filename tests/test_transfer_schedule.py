"""Which runs of a sweep start next when several run side by side (models/transfer/schedule.py): nothing trained."""

from __future__ import annotations

import pytest

from models.transfer import Sweep, TrainConfig
from models.transfer.schedule import encoder_steps, makespan, next_runs, priorities, ready, waits_for

TRAIN = TrainConfig(epochs=2, min_batches=2, lr_factors=(0.3, 1.0, 3.0))
SWEEP = Sweep(regimes=("scratch", "probe", "probe-features"), sizes=(1, 20), seeds=2, train=TRAIN)


def test_later_seeds_wait_for_seed_0s_rate_and_the_feature_probe_waits_for_none() -> None:
    assert waits_for(("scratch", 20, 1)) == ("scratch", 20, 0)
    assert waits_for(("scratch", 20, 0)) is None and waits_for(("probe-features", 20, 1)) is None
    assert not ready(("scratch", 20, 1), {("scratch", 1)}) and ready(("scratch", 20, 1), {("scratch", 20)})


def test_work_counts_every_rate_seed_0_tries_and_a_probe_on_cached_features_as_almost_none() -> None:
    # 20 images per class of 10 classes: batches of 64, 4 a pass; 1 per class: 10 images, the 2-batch minimum
    assert encoder_steps(SWEEP, 10, ("scratch", 20, 0)) == 2 * 4 * 3
    assert encoder_steps(SWEEP, 10, ("scratch", 20, 1)) == 2 * 4
    assert encoder_steps(SWEEP, 10, ("scratch", 1, 1)) == 2 * 2
    assert encoder_steps(SWEEP, 10, ("probe", 20, 0)) == 1.0 == encoder_steps(SWEEP, 10, ("probe-features", 20, 0))
    # the stacked runner trains a seed-0 run's three rates in one step; the seeds that reuse its rate train alone
    assert encoder_steps(SWEEP, 10, ("scratch", 20, 0), together=3) == 2 * 4
    assert encoder_steps(SWEEP, 10, ("scratch", 20, 1), together=3) == 2 * 4
    plain = Sweep(train=TrainConfig(epochs=2, min_batches=2, lr_factors=(1.0,), runner="plain"))
    assert encoder_steps(plain, 10, ("probe", 20, 1)) == pytest.approx(2 * 4 / 3)  # the encoder forward, every batch


def test_a_rate_choosing_run_carries_the_work_that_waits_for_it_and_starts_first() -> None:
    runs = list(SWEEP.runs())
    priority = priorities(runs, lambda run: encoder_steps(SWEEP, 10, run))
    assert priority[("scratch", 20, 0)] == 24 + 8 and priority[("scratch", 1, 0)] == 12 + 4
    assert priority[("scratch", 20, 1)] == 8
    # in the sweep's order seed 0's smallest size comes first; longest path first starts the largest size's choice
    assert next_runs(runs, set(), 2, None) == [("scratch", 1, 0), ("probe", 1, 0)]
    assert next_runs(runs, set(), 2, priority) == [("scratch", 20, 0), ("scratch", 1, 0)]
    assert ("scratch", 20, 1) not in next_runs(runs, set(), len(runs), priority)  # not before its rate is chosen
    assert next_runs(runs, set(), 0, priority) == []


def test_a_replay_takes_the_longest_chain_or_the_work_spread_evenly_and_never_starts_a_run_early() -> None:
    # two (regime, n) pairs: a long choice with a long follower, and short independent runs
    runs = [("scratch", 1, 0), ("scratch", 2, 0), ("probe-features", 1, 1), ("scratch", 1, 1), ("scratch", 2, 1)]
    seconds = dict(zip(runs, (1.0, 4.0, 1.0, 1.0, 4.0), strict=True))
    assert makespan(runs, seconds, 1, None) == sum(seconds.values())
    # two slots in the sweep's order: (s1-0, s2-0) -> s1-0 ends at 1, pf at 1-2, s1-1 at 2-3, s2-1 at 4-8
    assert makespan(runs, seconds, 2, None) == 8.0
    assert makespan(runs, seconds, 2, priorities(runs, seconds.__getitem__)) == 8.0  # the chain 4 + 4 bounds both
    assert makespan(runs, seconds, 5, None) == 8.0
    with pytest.raises(ValueError, match="no run chooses"):
        makespan([("scratch", 1, 1)], {("scratch", 1, 1): 1.0}, 2, None)


def test_longest_path_first_beats_the_sweeps_order_where_a_big_choice_comes_last() -> None:
    # sweep order starts the short choices first and leaves the long one's follower alone at the end
    runs = [
        ("scratch", 1, 0),
        ("probe", 1, 0),
        ("scratch", 9, 0),
        ("scratch", 1, 1),
        ("probe", 1, 1),
        ("scratch", 9, 1),
    ]
    seconds = dict(zip(runs, (2.0, 2.0, 6.0, 2.0, 2.0, 6.0), strict=True))
    priority = priorities(runs, seconds.__getitem__)
    assert makespan(runs, seconds, 2, None) == 14.0  # 0-2 s1, p1; 2-8 s9; 2-4 s1-1; 4-6 p1-1; 8-14 s9-1
    assert makespan(runs, seconds, 2, priority) == 12.0  # 0-6 s9 beside s1, p1, s1-1; 6-12 s9-1 beside p1-1
