"""The speed probe (a live run's first steps timed on this server, kept a minute) and the time estimates built on it:
before this server has run a kind of run, Build and BatchNorm time its steps here rather than quote the bench's
idle figure (a walk saw that figure 7x low on a loaded server)."""

from __future__ import annotations

import threading

import pytest
import torch

from models import measured, speed_probe
from models.experiments.batchnorm import bn_config, bn_probe
from models.experiments.lecture_loop import LoopConfig, loop_probe
from models.measured import KeptMeasurements
from models.speed_probe import SPANS, WARMUP, Probe, kept_step_seconds, step_seconds
from models.text import about
from ui.admission import server_queue
from ui.live_run import estimate_text, server_speeds

BENCH = "bench/bench_training.py"


@pytest.fixture
def fresh(monkeypatch) -> None:
    """No speed measured by a run, no probe kept: this process has timed nothing yet."""
    monkeypatch.setattr(speed_probe, "_PROBES", KeptMeasurements(speed_probe.PROBE_TTL))
    server_speeds().by_kind.clear()


def test_a_measurement_is_kept_for_its_ttl_then_taken_again(monkeypatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(measured.time, "monotonic", lambda: clock[0])
    kept = KeptMeasurements(ttl=60.0)
    assert kept.kept("a") is None
    assert kept.get("a", lambda: 2.0) == 2.0
    clock[0] += 59.0
    assert kept.get("a", lambda: 9.0) == 2.0 == kept.kept("a")  # kept: not measured again
    clock[0] += 2.0
    assert kept.kept("a") is None and kept.get("a", lambda: 3.0) == 3.0  # expired: measured again
    assert kept.measured() == ["a"]
    # expired figures are dropped at the next measurement: a key per visitor's link must not pile up (a review)
    clock[0] += 61.0
    assert kept.get("b", lambda: 4.0) == 4.0 and kept.measured() == ["b"]


def test_a_probe_times_the_runs_own_steps_before_its_first_evaluation_and_leaves_the_rngs() -> None:
    class Counting:
        steps = 0

        def advance(self, n: int) -> None:
            Counting.steps += n
            torch.rand(3)  # draws from the global RNG, as a run's dropout may

    state = torch.get_rng_state()
    assert step_seconds(Counting, steps=49) >= 0
    assert WARMUP + SPANS <= Counting.steps <= 49 and torch.equal(torch.get_rng_state(), state)
    Counting.steps = 0
    step_seconds(Counting, steps=WARMUP + SPANS)  # the smallest run: one step per span
    assert Counting.steps == WARMUP + SPANS
    for config in (bn_config("mlp", "sigmoid", 0.5, 60, 3000, 0), bn_config("conv", "sigmoid", 0.5, 8, 100, 0)):
        probe, built = bn_probe(config), []

        def build(probe=probe, built=built):  # the probe's run, kept to look at afterwards
            built.append(probe.build())
            return built[-1]

        assert probe.steps == config.eval_every - 1 and probe.overhead > 1  # evaluations and charts add to a step
        assert 0 < step_seconds(build, probe.steps) < 10
        assert 0 < built[0].step <= probe.steps and len(built[0].history.steps) == 1  # no evaluation was timed
    smallest = loop_probe(LoopConfig(setup="resnet-shapes", batch_size=256))  # 4 batches an epoch
    assert smallest.steps == 3 == WARMUP + SPANS  # every probe fits before its run's first evaluation


def test_a_probe_holds_the_rng_lock_so_no_other_session_draws_meanwhile() -> None:
    """A probe restores the global RNGs when it ends; without the lock that restore could rewind another session's
    draws in the middle of its seeded block (a review found it in the probe and in Transfer's pace)."""
    from models import lock

    free = []

    def try_lock() -> None:
        got = lock._rng_lock.acquire(blocking=False)
        free.append(got)
        if got:
            lock._rng_lock.release()

    class Checking:
        def advance(self, n: int) -> None:
            other = threading.Thread(target=try_lock)
            other.start()
            other.join()

    step_seconds(Checking, WARMUP + SPANS)
    assert free == [False] * (WARMUP + SPANS)  # another thread could take the RNGs at no step of the probe
    try_lock()
    assert free[-1]  # and can once it has ended


def test_an_estimate_times_the_run_here_before_this_server_has_run_one(fresh) -> None:
    config = bn_config("mlp", "sigmoid", 0.5, 60, 3000, 0)
    kind, probe = ("bn", "mlp", 60), bn_probe(config)
    home = estimate_text(kind, 3000, 0.0019, BENCH, probe=probe, measure=False)
    assert (
        "measured by `bench/bench_training.py` on an idle 2-core CPU" in home
        and "no run like it has finished or been timed here yet" in home
    )
    assert kept_step_seconds(kind) is None  # the home page's panel probes nothing: it draws at once
    text = estimate_text(kind, 3000, 0.0019, BENCH, probe=probe)
    probed = kept_step_seconds(kind)
    assert probed is not None and probed > 0
    assert text.startswith(about(probed * probe.overhead * 3000).capitalize() + " for 3,000 steps (")
    assert (
        "a few of its steps timed on this server in the last minute" in text
        and "no run like it has finished here yet" in text
    )
    assert estimate_text(kind, 3000, 0.0019, BENCH, probe=probe, measure=False) == text  # the kept probe serves all
    server_speeds().record(kind, 6.0, 1000)  # once a run has measured the speed, that is what is quoted
    measured = estimate_text(kind, 3000, 0.0019, BENCH, probe=probe)
    assert measured.startswith("About 18 s for 3,000 steps (this server's")
    # a probe and a bench figure leave out a browser's drawing, which a run on the same machine pays (measured: 41 s
    # estimated, 55 s taken, Build's loop with Chromium on the 2-core VM); a run's measured speed holds it
    browser = "a browser on this same machine, drawing the page, adds to it"
    assert browser in home and browser in text and browser not in measured


def test_a_probe_that_fails_leaves_the_bench_figure_and_no_error(fresh) -> None:
    """The probe is a courtesy: one that cannot build its run (out of memory, say) must not cost the page."""

    def broken():
        raise MemoryError("no room for the probe")

    text = estimate_text(("bn", "mlp", 60), 3000, 0.0019, BENCH, probe=Probe(broken, 9, 1.5))
    assert text.startswith(about(0.0019 * 3000).capitalize()) and "no run like it has finished or been timed" in text


def test_no_probe_runs_beside_a_heavy_job(fresh) -> None:
    """A probe beside a training run would slow it, and time that run's load rather than the server's."""
    config = bn_config("mlp", "sigmoid", 0.5, 60, 3000, 0)
    queue = server_queue()
    ticket = queue.join()
    try:
        assert queue.admit(ticket, timeout=10.0)
        text = estimate_text(("bn", "mlp", 60), 3000, 0.0019, BENCH, probe=bn_probe(config))
    finally:
        queue.leave(ticket)
    assert "no run like it has finished or been timed here yet" in text and kept_step_seconds(("bn", "mlp", 60)) is None
    assert text.startswith(about(0.0019 * 3000).capitalize())


def test_a_bench_figure_says_when_this_server_trains_on_other_threads_than_the_bench(monkeypatch):
    """A walk on a server at 1 thread read the bench's 34 s (2 threads) for a loop that took 67 s."""
    from models.speed_probe import BENCH_THREADS, estimate_parts, threads_note

    assert threads_note(BENCH_THREADS) == ""
    assert threads_note(1).endswith("this server trains on 1, so expect it to take longer here")
    assert threads_note(8).endswith("this server trains on 8, so its time here may differ")
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    figure, basis = estimate_parts(("bn", "never-timed"), 3000, 0.0019, BENCH, measured=None)
    assert threads_note(1) in basis and basis.startswith("measured by") and figure.endswith("for 3,000 steps")
