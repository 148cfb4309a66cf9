"""Sweeps beyond one process: Ray tasks on a local Ray instance give the in-process results, resume after a
stop, retry a task that fails once; TensorBoard scalars per run; the sweep as one CSV."""

from __future__ import annotations

import os
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest
import ray
import torch

from models.files import PROJECT
from models.transfer import Sweep, TrainConfig, load_runs, run_sweep
from tests.transfer_helpers import flaky_resnet, tiny_encoder

pytestmark = pytest.mark.ray  # a local Ray instance

SMALL = Sweep(
    regimes=("probe", "finetune", "probe-features"),
    sizes=(1, 2),
    seeds=2,
    train=TrainConfig(epochs=1, lr=3e-3, min_batches=2, lr_factors=(0.3, 1.0)),
)


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance with two CPUs for the module (starting one costs seconds). Its workers run at the
    tests' own priority: Ray nices them to 15 by default, and beside two busy processes they got 1-3% of a core."""
    os.environ["RAY_worker_niceness"] = "0"  # noqa: SIM112 (Ray reads this exact name, in the raylet it starts)
    ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": str(PROJECT)}}
    )
    yield
    ray.shutdown()


def test_ray_tasks_give_the_in_process_results(tmp_path: Path, local_ray) -> None:
    encoder = tiny_encoder()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a Ray task on the CPU runs one torch thread
    try:
        alone = {r.key: r for r in run_sweep(SMALL, tmp_path / "alone", encoder=encoder)}
    finally:
        torch.set_num_threads(threads)
    on_ray = {r.key: r for r in run_sweep(SMALL, tmp_path / "ray", encoder=encoder, ray="local")}
    assert on_ray.keys() == alone.keys() and len(on_ray) == 12
    for key, run in alone.items():
        assert on_ray[key].test_error == run.test_error and on_ray[key].lr == run.lr, key


def test_a_ray_sweep_stopped_part_way_resumes(tmp_path: Path, local_ray) -> None:
    encoder = tiny_encoder()

    class Stop(Exception):
        pass

    def stop_after_three(p) -> None:
        if p.batch == p.batches and p.epoch == p.epochs and p.run >= 3:
            raise Stop

    with pytest.raises(Stop):
        run_sweep(SMALL, tmp_path, encoder=encoder, ray="local", on_progress=stop_after_three)
    kept = {r.key for r in load_runs(tmp_path)[1]}
    assert 3 <= len(kept) < 12
    resumed = run_sweep(SMALL, tmp_path, encoder=encoder, ray="local")
    assert not kept & {r.key for r in resumed} and len(kept) + len(resumed) == 12


def test_a_ray_task_that_fails_once_is_retried(tmp_path: Path, local_ray) -> None:
    flaky = replace(tiny_encoder(), architecture=partial(flaky_resnet, tmp_path / "failed-once"))
    sweep = Sweep(regimes=("probe",), sizes=(1,), seeds=2, train=TrainConfig(epochs=1, lr=3e-3, min_batches=2))
    runs = run_sweep(sweep, tmp_path / "out", encoder=flaky, ray="local")
    assert sorted(r.key for r in runs) == ["probe-n1-s0", "probe-n1-s1"] and (tmp_path / "failed-once").exists()


def test_tensorboard_gets_every_run_and_epoch(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sweep = Sweep(
        regimes=("probe", "probe-features"),
        sizes=(1,),
        seeds=1,
        train=TrainConfig(epochs=2, lr=3e-3, min_batches=2, lr_factors=(1.0,)),
    )
    run_sweep(sweep, tmp_path / "sweep", encoder=tiny_encoder(), tensorboard=tmp_path / "tb")
    assert sorted(p.name for p in (tmp_path / "tb").iterdir()) == ["probe-features-n1-s0", "probe-n1-s0"]
    events = EventAccumulator(str(tmp_path / "tb" / "probe-n1-s0")).Reload()
    assert set(events.Tags()["scalars"]) == {"loss/train", "loss/test", "accuracy/train", "accuracy/test"}
    assert [e.step for e in events.Scalars("accuracy/test")] == [1, 2]
