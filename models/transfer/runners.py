"""Where a sweep's runs execute. In this process, one after another (the default: progress per batch, and a
page can stop it between batches); side by side in worker processes (`workers` > 1), which share the
machine's cores (each worker gets its share of torch threads) or one GPU; or as Ray tasks on a local Ray
instance or a cluster (one GPU per task where the cluster has GPUs, else one CPU and one torch thread).
Small networks gain more from runs in parallel than from more threads per run, and every run gives the
result it gives alone with the same thread count: runs share nothing but the read-only data. How each run trains
(`TrainConfig.runner`: fast, stacked or plain, see `models.transfer.loop`) travels with the settings, so every runner
here, a Ray task included, trains a seed-0 run's rates as one stack when the sweep asks for it."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Protocol

import torch

from models.transfer.config import TrainConfig
from models.transfer.data import Encoder, Task, load_encoder, load_task
from models.transfer.loop import train_run
from models.transfer.pace import pace

BatchFn = Callable[[int, int, float], None]


class Runner(Protocol):
    """Runs one (regime, n, seed) at a time per slot; `capacity` runs may be in flight at once."""

    capacity: int
    retries: int  # how often a failed run is tried again before it is reported

    def submit(self, regime: str, n: int, seed: int, lr: float | None, on_batch: BatchFn | None) -> Future: ...

    def close(self, cancel: bool) -> None: ...


@dataclass(frozen=True)
class RunContext:
    """What a worker needs to run any run of a sweep: the task by name (and the stored image size it was
    loaded at), the encoder (by name when `load_encoder` gives it, else the object itself), settings, device."""

    task: str
    image_size: int
    encoder: Encoder | str
    train: TrainConfig
    device: str

    def resolve(self) -> tuple[Task, Encoder]:
        """The task and encoder, loaded once per process (both loaders are cached)."""
        encoder = load_encoder(self.encoder) if isinstance(self.encoder, str) else self.encoder
        return load_task(self.task, self.image_size), encoder

    def run(self, regime: str, n: int, seed: int, lr: float | None, on_batch: BatchFn | None = None) -> dict[str, Any]:
        task, encoder = self.resolve()
        return paced_run(task, encoder, regime, n, seed, self.train, torch.device(self.device), on_batch, lr)


def paced_run(
    task: Task,
    encoder: Encoder,
    regime: str,
    n: int,
    seed: int,
    train: TrainConfig,
    device: torch.device,
    on_batch: BatchFn | None,
    lr: float | None,
) -> dict[str, Any]:
    """`train_run`'s record with the pace of the process that ran it (`models.transfer.pace`): what an estimate
    made from this run on another machine, or under another load, scales its seconds by."""
    record = train_run(task, encoder, regime, n, seed, train, device, on_batch, lr)
    record["pace"] = pace(task, encoder, device, train.runner)
    return record


def context(task: Task, encoder: Encoder, train: TrainConfig, device: torch.device) -> RunContext:
    """The `RunContext` of a sweep on `task` with `encoder`: names where the loaders give the same objects."""
    by_name = encoder.name if _is_loaded(encoder) else encoder
    return RunContext(task.name, int(task.x_train.shape[-1]), by_name, train, str(device))


def _is_loaded(encoder: Encoder) -> bool:
    try:
        return load_encoder(encoder.name) is encoder
    except Exception:  # an encoder made by hand (a test's, a notebook's) has no loader
        return False


class InProcess:
    """Each run at once, in this process: the caller's progress callback sees every batch, and an
    exception it raises (a page's Stop) ends the sweep there."""

    capacity, retries = 1, 0

    def __init__(self, ctx: RunContext, task: Task, encoder: Encoder) -> None:
        self.ctx, self.task, self.encoder = ctx, task, encoder

    def submit(self, regime: str, n: int, seed: int, lr: float | None, on_batch: BatchFn | None) -> Future:
        device = torch.device(self.ctx.device)
        record = paced_run(self.task, self.encoder, regime, n, seed, self.ctx.train, device, on_batch, lr)
        done: Future = Future()
        done.set_result(record)
        return done

    def close(self, cancel: bool) -> None:
        pass


_WORKER: dict[str, RunContext] = {}


def _start_method(device: str) -> multiprocessing.context.BaseContext:
    """How worker processes start. On the CPU, forked from a server process that imported this module once
    (torch, torchvision, scikit-learn: 4-6 s a process here), so a pool's workers, and every later pool's, start
    in a fraction of a second; spawned afresh where there is no fork server (Windows) and on a GPU, whose
    driver a forked process must not inherit."""
    if device != "cpu" or "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    method = multiprocessing.get_context("forkserver")
    method.set_forkserver_preload([__name__])  # read once, when the first pool starts the server
    return method


def _start_worker(ctx: RunContext, threads: int, environ: dict[str, str]) -> None:
    os.environ.clear()  # the driver's environment now, as a spawned process gets it, not the fork server's
    os.environ.update(environ)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle: it ends the workers
    torch.set_num_threads(threads)
    _WORKER["ctx"] = ctx


def _worker_run(regime: str, n: int, seed: int, lr: float | None) -> dict[str, Any]:
    return _WORKER["ctx"].run(regime, n, seed, lr)


class Processes:
    """Runs in `workers` worker processes (forked from a fork server on the CPU: `_start_method`), each with
    `threads` torch threads (by default the cores shared out); on one GPU they share it. A run that fails is tried
    once more."""

    retries = 1

    def __init__(self, ctx: RunContext, workers: int, threads: int | None = None) -> None:
        self.capacity = workers
        threads = threads or max(1, (os.cpu_count() or 1) // workers)
        self.pool = ProcessPoolExecutor(
            workers, _start_method(ctx.device), initializer=_start_worker, initargs=(ctx, threads, dict(os.environ))
        )

    def submit(self, regime: str, n: int, seed: int, lr: float | None, on_batch: BatchFn | None) -> Future:
        return self.pool.submit(_worker_run, regime, n, seed, lr)

    def close(self, cancel: bool) -> None:
        if cancel:  # end the runs in flight now instead of waiting for them
            for process in list(getattr(self.pool, "_processes", {}).values()):
                process.terminate()
        self.pool.shutdown(wait=True, cancel_futures=cancel)


def _ray_run(ctx: RunContext, regime: str, n: int, seed: int, lr: float | None) -> dict[str, Any]:
    if ctx.device == "cpu":
        torch.set_num_threads(1)  # one CPU per task: Ray runs as many tasks as the cluster has CPUs
    return ctx.run(regime, n, seed, lr)


class RayTasks:
    """Each run a Ray task. `address`: "local" starts a Ray instance on this machine (`cpus` CPUs, default all),
    "auto" or "ray://host:port" joins a cluster, to which the project folder is shipped as the working
    directory. Tasks get one GPU each where the cluster has GPUs, else one CPU; a failed task is tried once
    more; cancelling ends the tasks in flight."""

    retries = 1

    def __init__(self, ctx: RunContext, address: str, cpus: int | None = None) -> None:
        import ray

        from models.files import PROJECT

        self.ray, self.started = ray, not ray.is_initialized()
        if self.started:
            if address == "local":
                env = {"env_vars": {"PYTHONPATH": str(PROJECT)}}
                ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, runtime_env=env)
            else:  # the project travels to the cluster's workers; results and docs stay here
                env = {"working_dir": str(PROJECT), "excludes": [".git", "results", "docs", ".gpu"]}
                ray.init(address=address, log_to_driver=False, runtime_env=env)
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        self.capacity = max(1, gpus or int(resources.get("CPU", 1)))
        self.context = ray.put(replace(ctx, device="cuda" if gpus else "cpu"))
        self.task = ray.remote(num_gpus=1 if gpus else 0, num_cpus=0 if gpus else 1, max_retries=0)(_ray_run)
        self.pending: list = []

    def submit(self, regime: str, n: int, seed: int, lr: float | None, on_batch: BatchFn | None) -> Future:
        ref = self.task.remote(self.context, regime, n, seed, lr)
        self.pending.append(ref)
        return ref.future()

    def close(self, cancel: bool) -> None:
        if cancel:
            for ref in self.pending:
                self.ray.cancel(ref, force=True)
        if self.started:
            self.ray.shutdown()
