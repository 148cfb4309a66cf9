"""This process's training speed, measured: the seconds of two fine-tuning steps of the encoder's network, one on the
smallest batch a sweep trains and one on the course's batch, timed here and now. Every run records it, so a time
estimate from runs made elsewhere (another machine, other threads, another load) scales the seconds they took by the
ratio of the two paces: an estimate from a measurement on this server. Two batch sizes, because more threads speed a
large batch up more than a small one (on 2 cores, two threads took 0.58x the time one thread took beside another
run at 64 images, 0.74x at 10)."""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from models.lock import rngs_kept
from models.measured import KeptMeasurements
from models.nets.fast_layers import speed_up
from models.transfer.config import TrainConfig
from models.transfer.data import Encoder, Task
from models.transfer.loop import device_data, make_optimizer, weights_digest

WARMUP, STEPS = 2, 7  # steps discarded while caches fill, then the steps timed (the median is kept)
PACE_TTL = 600.0  # seconds a measured pace is kept before it is measured again (the load on a server changes)

PACES = KeptMeasurements(PACE_TTL)  # by `_key`


def step_seconds(
    task: Task, encoder: Encoder, device: torch.device, batch: int, runner: str = TrainConfig.runner
) -> float:
    """The median seconds of one training step (forward, backward, AdamW) of the encoder's pretrained network
    fine-tuned on `batch` of the task's images under `runner`, measured now. The global RNGs are left as they were,
    and no other thread draws from them meanwhile."""
    data = device_data(task, device)
    idx = torch.arange(min(batch, len(task.y_train)))
    y = task.y_train[idx].to(device)
    times = []
    with rngs_kept(device):  # under the RNG lock: a bare fork_rng's restore could rewind another session's draws
        model = encoder.build(len(task.classes), pretrained=True).to(device).train()
        if runner != "plain":
            speed_up(model)
        optimizer = make_optimizer([model], "finetune", data, [TrainConfig(runner=runner)])
        for _ in range(WARMUP + STEPS):
            start = time.perf_counter()
            loss = nn.functional.cross_entropy(model(data.batch(data.x_train, idx)).float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times.append(time.perf_counter() - start)
    return statistics.median(times[WARMUP:])


def _key(task: Task, encoder: Encoder, device: torch.device, runner: str) -> tuple:
    """What a pace is kept under: the task and its image size, the encoder's weights, device, runner, threads."""
    shape = tuple(task.x_train.shape[1:])
    return (task.name, shape, weights_digest(encoder), str(device), runner, torch.get_num_threads())


def kept_pace(task: Task, encoder: Encoder, device: torch.device, runner: str = TrainConfig.runner) -> float | None:
    """The pace this process measured within the last PACE_TTL seconds, or None: nothing is measured (a page that
    must draw at once, the home page's panel, uses this)."""
    return PACES.kept(_key(task, encoder, device, runner))


def pace(task: Task, encoder: Encoder, device: torch.device, runner: str = TrainConfig.runner) -> float:
    """Seconds of a step on one image per class plus a step on the course's batch (`step_seconds`), with this
    process's torch threads: measured at most once per PACE_TTL seconds (under a second of training on a 2-core
    CPU) and kept per task, encoder weights, device and runner."""
    batches = (len(task.classes), TrainConfig.batch_size)  # the smallest sweep's batch, the course's
    return PACES.get(
        _key(task, encoder, device, runner),
        lambda: sum(step_seconds(task, encoder, device, batch, runner) for batch in batches),
    )
