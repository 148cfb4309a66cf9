"""A resumable sweep of transfer runs: every finished run is written at once, atomically, as its own JSON
file; rerunning the same sweep skips them. Also the checks on run files read back, the page's limits on a
sweep a visitor starts, and the command line that reproduces a sweep."""

from __future__ import annotations

import json
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import torch

from models.devices import best_device
from models.files import ResultsFileError, public_path, read_json, shown_whole, write_json_atomic
from models.text import about, code_spans, counted, duration
from models.transfer.config import (
    REGIMES,
    RESULTS,
    SHIPPED,
    Progress,
    ProgressFn,
    Sweep,
    TrainConfig,
    run_key,
    settings_hash,
)
from models.transfer.data import BUNDLED_ENCODER, Encoder, Task, load_encoder, load_task
from models.transfer.loop import epoch_batches, features_kept, rates_at_once
from models.transfer.pace import kept_pace, pace
from models.transfer.records import SweepRecord, TransferRun
from models.transfer.runners import InProcess, Processes, RayTasks, Runner, context
from models.transfer.schedule import ORDERS, chooses_rate, encoder_steps, epochs_trained, next_runs, priorities
from models.transfer.tensorboard_log import log_run


class SweepMismatch(ValueError):
    """The output folder holds a sweep with other settings: resuming into it would mix results."""


class RunsFailed(RuntimeError):
    """Runs that failed twice in a worker; every other run was written. `failed`: (run key, error) pairs."""

    def __init__(self, failed: list[tuple[str, str]], written: list[TransferRun]) -> None:
        self.failed, self.written = failed, written
        super().__init__(f"{len(failed)} run(s) failed: " + "; ".join(f"{k}: {e}" for k, e in failed))


def load_runs(folder: str | Path) -> tuple[SweepRecord | None, list[TransferRun], list[str]]:
    """(the sweep's settings or None, its finished runs, one line per damaged file) from a sweep folder. A damaged
    `sweep.json` counts as missing, so running the sweep again rewrites it."""
    folder = Path(folder)
    meta, problems = None, []
    if (folder / "sweep.json").is_file():
        try:
            meta = SweepRecord.from_dict(read_json(folder / "sweep.json"))
        except ResultsFileError as exc:
            problems.append(f"{exc} Run the sweep again with the same settings to repair it.")
        except ValueError as exc:
            problems.append(
                f"{public_path(folder / 'sweep.json')} {exc}. Run the sweep again with the same settings to repair it."
            )
    runs = []
    for path in sorted((folder / "runs").glob("*.json")):
        try:
            runs.append(TransferRun.load(path))
        except ResultsFileError as exc:
            problems.append(str(exc))
        except ValueError as exc:
            problems.append(f"{public_path(path)} was skipped: {exc}.")
    return meta, runs, problems


COSTS_LIKE = {"random-probe": "probe"}  # a regime the reference may lack, and the one that costs the same


def _here(run: TransferRun, seconds: float, pace: float | None) -> float:
    """`seconds` the run spent on something, at this process's `pace`: scaled by it over the pace the run recorded
    (as they are without a pace on either side)."""
    then = run.recorded("pace")
    return seconds * pace / then if pace and then else seconds


def _cost(run: TransferRun, pace: float | None = None) -> float:
    """Seconds a finished run took, at this process's `pace` where given: from start to end where it says
    (`wall_seconds`), else its training alone; less the encoder's features where the run computed them for every
    later probe run of its process (`features_seconds`: counted once per sweep by `run_seconds`, not per run)."""
    wall = run.recorded("wall_seconds")
    once = run.recorded("features_seconds") or 0.0
    return _here(run, run.seconds if wall is None else max(wall - once, 0.0), pace)


def _training_and_rest(run: TransferRun, pace: float | None) -> tuple[float, float]:
    """(seconds spent training every rate the run tried, seconds spent on the rest: building, evaluations, keeping
    states), at `pace`. A run that did not record its training of every rate (`selection_seconds`) counts its whole
    cost as training."""
    cost, trained = _cost(run, pace), run.recorded("selection_seconds")
    if trained is None or run.recorded("wall_seconds") is None:
        return cost, 0.0
    trained = min(_here(run, trained, pace), cost)
    return trained, cost - trained


def _nearest(costs: dict[int, float], size: int) -> float:
    """The cost measured at the batch size nearest `size` (the larger of two as near)."""
    return costs[min(costs, key=lambda measured: (abs(measured - size), -measured))]


def sweep_seconds(
    sweep: Sweep, n_classes: int, reference: list[TransferRun], pace: float | None = None
) -> float | None:
    """Seconds `sweep` should take where the `reference` runs ran, one run after another: the sum of `run_seconds`,
    None where that is."""
    each = run_seconds(sweep, n_classes, reference, pace)
    return None if each is None else sum(each)


def run_seconds(
    sweep: Sweep, n_classes: int, reference: list[TransferRun], pace: float | None = None, features: bool = False
) -> list[float] | None:
    """Seconds each run of `sweep` should take (in `sweep.runs()`'s order) where the `reference` runs (finished runs of
    the same task) ran. Per regime, from the reference runs' records: the seconds of one training batch at each batch
    size they trained (every rate a run tried counted; a batch of 10 images costs about half one of 64 on a 2-core
    CPU, so a sweep of small sizes is priced at its own batch sizes, the nearest measured), times the batches the
    sweep trains; plus the rest of a run (evaluations, mostly one pass over the test set per epoch) per epoch,
    measured apart for runs that tried several rates and runs that trained one. Given `pace` (this process's,
    `models.transfer.pace`), each run's seconds are first scaled to it. `features`: this process has not computed
    the pretrained encoder's features yet, so the sweep's first pretrained probe run also pays for them, once, at what
    the reference's runs recorded for one such pass. None when the reference lacks one of the sweep's regimes."""
    per_batch: dict[str, dict[int, float]] = {}
    rest: dict[str, dict[bool, float]] = {}
    per_run, borrowed = {}, set()
    for regime in sweep.regimes:
        like = COSTS_LIKE.get(regime, regime) if not any(r.regime == regime for r in reference) else regime
        if like != regime:
            borrowed.add(regime)
        done = [r for r in reference if r.regime == like]
        if not done:
            return None
        trained: dict[int, list[float]] = {}  # batch size -> [seconds, batches]
        others: dict[bool, list[float]] = {}  # several rates tried -> [seconds, epochs]
        for r in done:
            size, batches = epoch_batches(r.n_per_class * n_classes, sweep.train)
            rates = max(1, len(r.candidates))
            train_s, rest_s = _training_and_rest(r, pace)
            trained.setdefault(size, [0.0, 0])
            trained[size][0] += train_s
            trained[size][1] += rates * len(r.history) * batches
            others.setdefault(rates > 1, [0.0, 0])
            others[rates > 1][0] += rest_s
            others[rates > 1][1] += len(r.history)
        per_batch[regime] = {size: s / max(b, 1) for size, (s, b) in trained.items()}
        rest[regime] = {several: s / max(e, 1) for several, (s, e) in others.items()}
        per_run[regime] = sum(_cost(r, pace) for r in done) / len(done)
    # A probe on a random encoder priced like the pretrained probe also encodes every image once per run (its encoder
    # is its own); the cached-feature probe's runs recorded what one such pass costs.
    extract = [
        _here(r, seconds, pace)
        for r in reference
        if r.regime == "probe-features" and (seconds := r.recorded("extract_seconds")) is not None
    ]
    once = [_here(r, seconds, pace) for r in reference if (seconds := r.recorded("features_seconds")) is not None]
    once = once or extract  # one pass of the encoder over the task's images, either way
    each = []
    for regime, n, seed in sweep.runs():
        if regime == "probe-features":  # no epochs: a feature extraction and a logistic regression
            seconds = per_run[regime]
        else:
            size, batches = epoch_batches(n * n_classes, sweep.train)
            several = seed == 0 and len(sweep.train.lr_factors) > 1
            rest_per_epoch = rest[regime].get(several, next(iter(rest[regime].values())))
            seconds = _nearest(per_batch[regime], size) * epochs_trained(sweep, (regime, n, seed)) * batches
            seconds += rest_per_epoch * sweep.train.epochs
        if regime == "random-probe" and regime in borrowed and extract:
            seconds += sum(extract) / len(extract)
        if regime == "probe" and features and once and sweep.train.runner != "plain":
            seconds += sum(once) / len(once)
            features = False  # kept for the sweep's later probe runs
        each.append(seconds)
    return each


def page_reference(
    task: str, encoder: str, regimes: Sequence[str], runner: str = TrainConfig.runner
) -> tuple[list[TransferRun], str]:
    """The runs a page sweep's time is estimated from, and where they come from: this server's own page sweeps of
    the task and encoder, their runs that recorded their whole time under `runner` with this process's torch thread
    count (newest first; those covering every regime asked), else the shipped sweep's runs."""
    threads = torch.get_num_threads()
    for name, folder in user_sweeps().items():
        if not name.startswith(f"{task}-{encoder}-"):  # `user_folder`'s naming: skip reading other sweeps' runs
            continue
        meta, runs, _ = load_runs(folder)
        if meta is None or meta.settings.get("task") != task or meta.settings.get("encoder") != encoder:
            continue
        timed = [
            r
            for r in runs
            if r.recorded("wall_seconds") is not None
            and r.extra.get("runner") == runner
            and r.recorded("threads") == threads
        ]
        have = {r.regime for r in timed}
        if all(r in have or COSTS_LIKE.get(r) in have for r in regimes):
            return timed, "this server"
    return load_runs(SHIPPED)[1], "shipped"


def user_results() -> Path:
    """Where sweeps launched from the page are saved: `EXPLAINER_RESULTS`, else results/transfer/user."""
    return Path(os.environ.get("EXPLAINER_RESULTS", RESULTS / "user"))


def user_folder(sweep: Sweep, owner: str) -> Path:
    """The folder of a sweep launched from the page by visitor `owner`: one per visitor, task, encoder, settings and
    grid (regimes, sizes, seeds), so a sweep run again resumes there, sweeps of different sizes never share a folder,
    and two visitors asking for the same settings never share one (a loopback review found another browser's sweep
    listed as its own, to cancel or go on with). The owner is hashed into the name, never written out."""
    grid = {**sweep.settings(), "regimes": list(sweep.regimes), "sizes": list(sweep.sizes), "seeds": sweep.seeds}
    return user_results() / f"{sweep.task}-{sweep.encoder}-{settings_hash({**grid, 'owner': owner})}"


def saved_keys(sweep: Sweep, folder: Path) -> set[str]:
    """The keys of `sweep`'s runs that `folder` holds, saved with its settings: what a run of it there skips."""
    digest = settings_hash(sweep.settings())
    done = {r.key for r in load_runs(folder)[1] if r.settings_hash == digest}
    return {run_key(*r) for r in sweep.runs()} & done


def running_among(folders: Sequence[Path]) -> Path | None:
    """The first of `folders` a live process is writing now (`sweep_running`), or None: a visitor runs one page sweep
    at a time, whichever tab it was started from (a review ran two at once from two tabs)."""
    return next((f for f in folders if sweep_running(f)), None)


def user_sweeps() -> dict[str, Path]:
    """Sweeps launched from the page that finished at least one run, newest first, by folder name."""
    root = user_results()
    if not root.is_dir():
        return {}
    folders = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    return {f.name: f for f in folders if any((f / "runs").glob("*.json"))}


def terminal_sweeps() -> dict[str, Path]:
    """Sweeps that a terminal (or Ray) writes under results/transfer, finished or still running, by folder name:
    every folder with a sweep.json other than the shipped and published ones and the page's own folder."""
    if not RESULTS.is_dir():
        return {}
    own = {SHIPPED.resolve(), (RESULTS / "hoiem2021").resolve(), user_results().resolve()}
    return {p.name: p for p in sorted(RESULTS.iterdir()) if (p / "sweep.json").is_file() and p.resolve() not in own}


def sweep_titles(folders: dict[str, Path]) -> dict[str, str]:
    """Each sweep's title (`SweepRecord.title`) by its key in `folders`; a folder whose settings cannot be read keeps
    its name, and titles two sweeps share end with the settings' hash, so every title names one sweep."""
    titles = {}
    for key, folder in folders.items():
        try:
            meta = SweepRecord.from_dict(read_json(Path(folder) / "sweep.json"))
            titles[key] = (meta.title(), meta.settings_hash)
        except (ResultsFileError, ValueError, TypeError, OverflowError):
            titles[key] = (Path(folder).name, "")
    seen = Counter(title for title, _ in titles.values())
    return {key: f"{t} ({h})" if seen[t] > 1 and h else t for key, (t, h) in titles.items()}


RUNNING = ".running"  # in a sweep folder while a process writes it: who, and when it last wrote a run
STALE_SECONDS = 900  # a heartbeat older than this is from a writer that died without cleaning up


def heartbeat(folder: str | Path) -> None:
    """Say, in the sweep folder, that this process is writing it now (refreshed after every run it writes)."""
    write_json_atomic(Path(folder) / RUNNING, {"pid": os.getpid(), "host": socket.gethostname(), "time": time.time()})


def sweep_running(folder: str | Path) -> bool:
    """Whether a live process is writing the sweep in `folder`: a fresh heartbeat whose process, when it is on
    this machine, still exists. A stopped or killed sweep is not waited for."""
    try:
        beat = json.loads((Path(folder) / RUNNING).read_text())
        if time.time() - float(beat["time"]) > STALE_SECONDS:
            return False
        if beat.get("host") == socket.gethostname():
            os.kill(int(beat["pid"]), 0)
        return True
    except (OSError, ValueError, KeyError, TypeError, OverflowError):
        return False


def missing_runs(meta: SweepRecord | None, runs: list[TransferRun]) -> list[str]:
    """The keys of the runs a sweep still lacks (none known without a sweep.json), in the order they run."""
    done = {r.key for r in runs}
    return [k for k in (meta.expected_keys() if meta else []) if k not in done]


def sweep_progress(folder: Path, meta: SweepRecord | None, runs: list[TransferRun]) -> tuple[str, list[str], bool]:
    """("k of N runs done", the missing run keys, whether a live process is still writing it) of a sweep folder;
    nothing is missing from published data."""
    if meta is None or meta.published:
        return "", [], False
    missing = missing_runs(meta, runs)
    return f"{len(runs)} of {len(runs) + len(missing)} runs done", missing, bool(missing) and sweep_running(folder)


@dataclass(frozen=True)
class Estimate:
    """How long a page sweep should take: its seconds, the runs they come from ("this server": its own page sweeps;
    "shipped": the shipped sweep) and whether those runs' seconds were scaled to this process's measured pace."""

    seconds: float
    source: str
    paced: bool
    runs: tuple[float, ...] = ()  # each run's share of `seconds`, in `sweep.runs()`'s order

    def by_run(self, sweep: Sweep) -> dict[str, float]:
        """Each run's estimated seconds by its key (what the live sweep weighs the runs left by); empty where the
        estimate does not hold one per run of `sweep`."""
        runs = list(sweep.runs())
        return {run_key(*r): s for r, s in zip(runs, self.runs, strict=True)} if len(runs) == len(self.runs) else {}

    def where(self) -> str:
        """Where the figure comes from, in words: "(from the shipped sweep's runs, scaled to the training speed
        measured on this server now)"."""
        runs = "this server's own page sweeps" if self.source == "this server" else "the shipped sweep's runs"
        if not self.paced:  # their seconds as they were: the runs recorded no pace, or this one is not measured yet
            return f"(at the speed of {runs}, not yet scaled to this server's own speed: a sweep run here measures it)"
        return f"(from {runs}, scaled to the training speed measured on this server now)"


MAX_PAGE_RUNS = 48  # a sweep launched from the page; larger ones belong in the terminal
# Estimated on a CPU server (`page_reference`): 5 minutes, what a class waits through. Measured with the fast runner
# (bench/bench_sweep_runners.py, 2 cores): a 48-run sweep of the page's 5 epochs takes about 75 s, so the cap
# binds only on long schedules or large sizes; it was 10 minutes when the same sweep took 2 minutes.
MAX_PAGE_SECONDS = 300


def page_sweep(
    task_name: str,
    encoder_name: str,
    regimes: Sequence[str],
    sizes_text: str,
    seeds: int,
    train: TrainConfig,
    device: torch.device,
    measure_pace: bool = True,
) -> tuple[Sweep, Task, Encoder, Estimate | None]:
    """The sweep a visitor asks for on the page, with its task, encoder and estimated time (None where
    no estimate exists: a photo task). `train.lr` is replaced by the task's default rate. ValueError, in one line, for
    anything a visitor can set wrong: no regime, a photo task on a CPU server, bad sizes, more than
    MAX_PAGE_RUNS runs or, on a CPU server, an estimate over MAX_PAGE_SECONDS (with the terminal command
    for bigger sweeps); TaskUnavailable, WeightsUnavailable or CheckpointError when the data or the
    encoder cannot be had. Without `measure_pace`, the estimate is scaled only by a pace this process already
    measured (none is measured for it: under a second of training)."""
    command = "run bigger sweeps from the terminal: `python -m models.transfer --help`"
    if not regimes:
        raise ValueError("choose at least one regime")
    if task_name != "digits" and device.type == "cpu":
        raise ValueError(
            "the photo datasets train at 224 px and need a GPU; on this CPU-only server use the digits, or run "
            "`python -m models.transfer` on a GPU machine"
        )
    task, encoder = load_task(task_name), load_encoder(encoder_name)
    sizes = parse_sizes(sizes_text, task.max_per_class)
    ordered = tuple(r for r in REGIMES if r in regimes)
    sweep = Sweep(task_name, encoder_name, ordered, sizes, seeds, replace(train, lr=task.default_lr))
    n_runs = len(list(sweep.runs()))
    if n_runs > MAX_PAGE_RUNS:
        raise ValueError(f"that is {n_runs} runs; the page runs at most {MAX_PAGE_RUNS} ({command})")
    estimate = None
    if task_name == "digits":
        reference, source = page_reference(task_name, encoder_name, ordered, train.runner)
        now = None
        if any(r.recorded("pace") for r in reference):  # else there is nothing to scale: no need to measure
            measure = pace if measure_pace else kept_pace
            now = measure(task, encoder, device, train.runner)
        each = run_seconds(sweep, len(task.classes), reference, now, not features_kept(task, encoder, device))
        estimate = None if each is None else Estimate(sum(each), source, now is not None, tuple(each))
    if device.type == "cpu" and estimate is not None and estimate.seconds > MAX_PAGE_SECONDS:
        raise ValueError(
            f"that sweep ({counted(n_runs, 'run')}) would take about {estimate.seconds / 60:.0f} minutes "
            f"{estimate.where()}; the page runs sweeps of at most {MAX_PAGE_SECONDS // 60} minutes ({command})"
        )
    return sweep, task, encoder, estimate


# What the page's form can ask for (ui.views.transfer_sweep draws its widgets from these): a sweep found on disk is
# resumed from the page only within them (a review planted settings the form cannot set: a million batches an epoch
# passed).
FORM_SEEDS = (1, 5)
FORM_EPOCHS = (1, 30)
FORM_FT_RATIOS = (0.01, 0.03, 0.1, 0.3, 1.0)
FORM_WARM_EPOCHS = (0, 10)
FORM_LAYER_DECAYS = (0.25, 0.5, 0.75, 1.0)
FORM_SIZES_CHARS = 200  # the sizes as typed, at most
_NOT_ON_THE_FORM = (
    "batch_size",
    "min_batches",
    "step_size",
    "step_gamma",
    "weight_decay",
    "lr_factors",
    "compile",
    "runner",
)


def form_can_ask(seeds: int, train: TrainConfig) -> bool:
    """Whether the page's form can ask for `seeds` and `train` (the rate aside, which the task sets)."""
    default = TrainConfig()
    return (
        all(getattr(train, f) == getattr(default, f) for f in _NOT_ON_THE_FORM)
        and FORM_SEEDS[0] <= seeds <= FORM_SEEDS[1]
        and FORM_EPOCHS[0] <= train.epochs <= FORM_EPOCHS[1]
        and train.ft_ratio in FORM_FT_RATIOS
        and FORM_WARM_EPOCHS[0] <= train.warm_epochs <= FORM_WARM_EPOCHS[1]
        and train.layer_decay in FORM_LAYER_DECAYS
    )


@dataclass(frozen=True)
class SweepRequest:
    """What a visitor asks for in the page's form, before it is checked: task and encoder names, regimes, the sizes
    as typed ("1,5,max"), seeds and the training settings."""

    task: str
    encoder: str
    regimes: tuple[str, ...]
    sizes_text: str
    seeds: int
    train: TrainConfig

    @classmethod
    def resuming(cls, meta: SweepRecord, folder: Path, owner: str) -> SweepRequest | None:
        """The request that goes on with the sweep `meta` records in `folder` (a page sweep found again after a
        reload, whose form is back at its defaults), or None where today's code would not write that sweep, there,
        for `owner`: other settings (an older sweep's), another visitor's folder, a grid or training settings the
        form cannot ask for."""
        train = meta.settings.get("train")
        if not isinstance(train, dict) or not meta.regimes or not meta.sizes or meta.seeds < 1:
            return None
        try:
            config = TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in train.items()})
            request = cls(
                str(meta.settings.get("task")),
                str(meta.settings.get("encoder")),
                meta.regimes,
                ",".join(map(str, meta.sizes)),
                meta.seeds,
                config,
            )
            sweep = Sweep(request.task, request.encoder, meta.regimes, meta.sizes, meta.seeds, config)
            asked = form_can_ask(meta.seeds, config) and len(request.sizes_text) <= FORM_SIZES_CHARS
        except (TypeError, ValueError, OverflowError):
            return None
        same = settings_hash(sweep.settings()) == settings_hash(meta.settings)  # JSON's lists are tuples here
        return request if same and asked and user_folder(sweep, owner) == folder else None

    def check(self, device: torch.device, measure_pace: bool = True) -> tuple[Sweep, Task, Encoder, Estimate | None]:
        """The sweep, its task and encoder and its estimated time, or the one-line refusal of `page_sweep`."""
        return page_sweep(
            task_name=self.task,
            encoder_name=self.encoder,
            regimes=self.regimes,
            sizes_text=self.sizes_text,
            seeds=self.seeds,
            train=self.train,
            device=device,
            measure_pace=measure_pace,
        )

    def estimate_text(self, device: torch.device, owner: str) -> str:
        """What Run would do with these settings for visitor `owner`, in a sentence: its runs, those of them already
        saved in their folder (Run goes on from them), and how long the rest should take (the pace timed as Run
        times it). Raises as `check` does for settings Run would refuse, the over-long ones included: a visitor can
        price settings before pressing Run. A photo dataset on a GPU server is not loaded for it (a review: a
        gigabyte, outside the heavy-job queue): the page estimates only the digits."""
        if self.task != "digits" and device.type != "cpu":  # on a CPU server `check` refuses it without loading it
            return "The page estimates only the digits sweeps: Run loads this dataset and checks the settings then."
        sweep, _, _, estimate = self.check(device)
        keys = [run_key(*r) for r in sweep.runs()]
        saved = saved_keys(sweep, user_folder(sweep, owner))  # a review: Run skips these, and the price counted them
        runs = counted(len(keys), "run") + (f", {len(saved)} of them already saved" if saved else "")
        if len(saved) == len(keys):
            return f"These settings: {runs}: Run has none left to train."
        if estimate is None:
            return f"These settings: {runs}; no finished runs like them are recorded to estimate their time from."
        costs = estimate.by_run(sweep)  # one per run: `page_sweep` prices this sweep run by run
        left = sum(costs[k] for k in keys if k not in saved)
        rest = " for the rest" if saved else ""
        return f"These settings: {runs}, {about(left)}{rest} {estimate.where()}."


# The page form's defaults: the form shows them, and the home page and the form estimate them (one place for both).
FORM_DEFAULT = SweepRequest(
    "digits", BUNDLED_ENCODER, ("scratch", "probe", "finetune"), "1,5,20", 1, TrainConfig(epochs=5)
)


def run_sweep(
    sweep: Sweep,
    out: str | Path,
    device: torch.device | None = None,
    on_progress: ProgressFn | None = None,
    task: Task | None = None,
    encoder: Encoder | None = None,
    workers: int = 1,
    threads: int | None = None,
    ray: str | None = None,
    tensorboard: str | Path | None = None,
    limit: int | None = None,
    order: str = "longest",
) -> list[TransferRun]:
    """Run every (regime, n, seed) of `sweep` that `out` does not hold yet, writing each run's JSON
    as soon as it finishes; returns the new runs. Each (regime, n)'s learning rate is chosen on validation
    by its seed-0 run, and the other seeds train at that rate. In this process by default, where it stops
    cleanly between batches when `on_progress` raises; with `workers` > 1, runs go side by side in worker
    processes (`threads` torch threads each; by default the cores shared out); with `ray` ("local", "auto" or
    "ray://host:port") as Ray tasks (a local instance gets `workers` CPUs when > 1). Outside this process a
    failed run is tried once more, and RunsFailed names what still failed after the others are written.
    `tensorboard`: a folder where each finished run's curves are also written as TensorBoard scalars. `limit`: run
    at most that many of the runs still to do (in their order, so a seed's rate is chosen before it is reused), and
    return: a caller that advances a sweep in steps (the page's live run) calls it again to go on. `order`: how runs
    side by side take their turns, one of `models.transfer.schedule.ORDERS` (in this process they go in the sweep's
    order, seed by seed: one at a time, the order changes nothing but which curves complete first)."""
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}; choose from {', '.join(ORDERS)}")
    out = Path(out)
    settings = sweep.settings()
    digest = settings_hash(settings)
    meta, finished, _ = load_runs(out)
    if meta is not None and meta.settings_hash != digest:
        raise SweepMismatch(f"{public_path(out)} holds a sweep with other settings; choose another output folder")
    task = task or load_task(sweep.task)
    encoder = encoder or load_encoder(sweep.encoder)
    too_big = [n for n in sweep.sizes if n > task.max_per_class]
    if too_big:
        raise ValueError(f"{task.name} has at most {task.max_per_class} training images per class (asked {too_big})")
    done_before = {r.key for r in finished if r.settings_hash == digest}
    old = meta or SweepRecord(settings=settings, settings_hash=digest)
    command = "python -m models.transfer " + " ".join(cli_args(sweep, out))
    SweepRecord(
        settings=settings,
        settings_hash=digest,
        regimes=tuple(r for r in REGIMES if r in set(old.regimes) | set(sweep.regimes)),
        sizes=tuple(sorted(set(old.sizes) | set(sweep.sizes))),
        seeds=max(old.seeds, sweep.seeds),
        task_title=task.title,
        encoder_title=encoder.title,
        encoder_source=encoder.source,
        max_per_class=task.max_per_class,
        commands=(*(c for c in old.commands if c != command), command),
    ).save(out)
    todo = [r for r in sweep.runs() if run_key(*r) not in done_before][:limit]
    chosen = {  # each (regime, n)'s rate, chosen by its first seed's run and reused by the others
        (r.regime, r.n_per_class): r.lr
        for r in finished
        if r.settings_hash == digest and r.seed == 0 and r.lr is not None
    }
    device = device or best_device()
    ctx = context(task, encoder, sweep.train, device)
    if ray:
        runner: Runner = RayTasks(ctx, ray, workers if workers > 1 else None)
    else:
        runner = InProcess(ctx, task, encoder) if workers <= 1 else Processes(ctx, workers, threads)
    written, failed, waiting = [], [], list(todo)
    stack = rates_at_once(sweep.train, len(sweep.train.lr_factors), encoder)  # a seed-0 run's rates at once
    side_by_side = order == "longest" and runner.capacity > 1
    priority = (
        priorities(todo, partial(encoder_steps, sweep, len(task.classes), together=stack)) if side_by_side else None
    )
    in_flight: dict[Future, tuple[tuple[str, int, int], int]] = {}

    def progress(run: tuple[str, int, int], epoch: int | None, batch: int, loss: float = float("nan")) -> None:
        if on_progress is not None:
            per_epoch = epoch_batches(run[1] * len(task.classes), sweep.train)[1]
            epochs = epochs_trained(sweep, run)
            together = stack if chooses_rate(run) else 1  # a seed-0 run tries every rate
            epochs //= together
            shown = len(written) + len(failed) + (epoch is not None or batch == 0)
            on_progress(
                Progress(shown, len(todo), run_key(*run), epoch or epochs, epochs, batch, per_epoch, loss, together)
            )

    def start(run: tuple[str, int, int], attempt: int) -> None:
        regime, n, seed = run
        lr = chosen.get((regime, n)) if seed > 0 else None
        progress(run, 1, 0)

        def on_batch(epoch: int, b: int, loss: float) -> None:
            progress(run, epoch, b, loss)

        in_flight[runner.submit(regime, n, seed, lr, on_batch)] = (run, attempt)

    cancel = True
    heartbeat(out)
    try:
        while waiting or in_flight:
            for run in next_runs(waiting, chosen.keys(), runner.capacity - len(in_flight), priority):
                waiting.remove(run)
                start(run, 0)
            if not in_flight:  # what waits needs a rate that a failed run should have chosen
                failed += [(run_key(*r), "the run that chooses its learning rate (seed 0) failed") for r in waiting]
                break
            for future in wait(in_flight, return_when=FIRST_COMPLETED).done:
                run, attempt = in_flight.pop(future)
                try:
                    record = future.result()
                except Exception as exc:  # only a runner with retries gets here: in process, errors propagate
                    if attempt < runner.retries:
                        start(run, attempt + 1)
                    else:
                        failed.append((run_key(*run), f"{type(exc).__name__}: {exc}"))
                    continue
                regime, n, seed = run
                if seed == 0 and "lr" in record:
                    chosen[(regime, n)] = record["lr"]
                elif "lr" in record:
                    record["lr_chosen_by_seed"] = 0
                done = TransferRun.from_dict({**record, "key": run_key(*run), "settings_hash": digest})
                done.save(out)
                if tensorboard is not None:
                    log_run(tensorboard, done)
                written.append(done)
                heartbeat(out)
                progress(run, None, epoch_batches(n * len(task.classes), sweep.train)[1], done.test_loss)
        cancel = False
    finally:
        runner.close(cancel)
        (out / RUNNING).unlink(missing_ok=True)
    if failed:
        raise RunsFailed(failed, written)
    return written


def cli_args(sweep: Sweep, out: str | Path) -> list[str]:
    """The command-line arguments that reproduce `sweep` into `out`: its path as a visitor may see it, or, where that
    would hide the server's layout behind "…" (a folder outside the project and the home folder), the same folder
    name under results/transfer, so that the command can be pasted into a checkout."""
    where = public_path(out if shown_whole(out) else RESULTS / Path(out).name)
    t, d = sweep.train, TrainConfig()
    args = ["--task", sweep.task, "--encoder", sweep.encoder, "--regimes", ",".join(sweep.regimes)]
    args += ["--sizes", ",".join(map(str, sweep.sizes)), "--seeds", str(sweep.seeds)]
    for name, value in asdict(t).items():
        if value != getattr(d, name):
            flag = f"--{name.replace('_', '-')}"
            if isinstance(value, bool):  # a switch: named when on
                args += [flag] if value else []
                continue
            args += [flag, ",".join(map(str, value)) if isinstance(value, tuple | list) else str(value)]
    return [*args, "--out", where]


def parse_sizes(text: str, max_per_class: int | None = None) -> tuple[int, ...]:
    """ "1,2,5,max" -> (1, 2, 5, max_per_class): sorted, unique, positive, within the task's size."""
    sizes, bad = set(), []
    for part in (p.strip() for p in text.split(",")):
        if part == "max":
            if max_per_class is None:
                raise ValueError("'max' needs the task's size")
            sizes.add(max_per_class)
        elif part:
            if not (part.isascii() and part.isdigit()) or int(part) < 1:  # "²".isdigit(), but int("²") fails
                bad.append(part)
            else:
                sizes.add(int(part))
    if bad:  # every one named (a walk read "'0' is not a whole number" for "0, abc", and nothing of 'abc')
        named = code_spans(bad, shown=3, max_chars=20)
        raise ValueError(f"each number of images per class is a count of 1 or more, or max; not {named}")
    if not sizes:
        raise ValueError("give at least one number of images per class")
    if max_per_class is not None and max(sizes) > max_per_class:
        raise ValueError(f"the task has at most {max_per_class} training images per class")
    return tuple(sorted(sizes))


class SweepWork:
    """A sweep advanced a few runs at a time (the page's live run): each step is one run, written as it finishes,
    so a stopped sweep goes on from the runs on disk. `detail` says where the run in progress is."""

    def __init__(
        self, sweep: Sweep, folder: Path, task: Task, encoder: Encoder, costs: dict[str, float] | None = None
    ) -> None:
        self.sweep, self.folder, self.task, self.encoder = sweep, folder, task, encoder
        self.keys = [run_key(*r) for r in sweep.runs()]
        self.costs = costs or {}  # each run's estimated seconds (`Estimate.by_run`): what the time left weighs
        self.finished: set[str] = set()
        self.written: list[TransferRun] = []
        self.latest: Progress | None = None
        self.step = self._on_disk()
        self.before = self.step  # this sweep's runs already in the folder when it started
        self.before_stop = 0  # of `written`, those saved before the visitor last stopped it (then resumed it)
        self.stops = 0  # how many times the visitor stopped it
        self.seconds = 0.0  # spent in `advance`: training and writing this visit's runs

    def saved_text(self) -> str:
        """What the sweep saved and how long that took, in a sentence, and whether runs of it were there before (a
        walk read "runs already there were kept" after a sweep into a new folder; another could not set the estimate
        against the time taken)."""
        # named as the Results list names it, not by its folder's hash (a walk: "saved in digits-glyphs-resnet18-35c1…")
        said = f"{counted(len(self.written), 'new run')} saved in “{sweep_titles({'': self.folder})['']}”"
        if self.written:
            # the runs' own time: a walk set it against the wall clock, which adds the queue, the page and a
            # cancelled run's part done
            said += f" in {duration(self.seconds)} of training"
        if 0 < self.before_stop < len(self.written):  # a walk read a resumed sweep's count as all since Resume
            last = " last" if self.stops > 1 else ""  # stopped twice, the count is up to the second stop
            said += f" ({self.before_stop} of them before it was{last} stopped and resumed)"
        if self.before:
            said += f"; the {counted(self.before, 'run')} of this sweep already there were kept"
        return said + "."

    def stopped(self) -> None:
        """The visitor stopped the sweep: what it saved so far is told apart once it is resumed and finishes."""
        self.before_stop, self.stops = len(self.written), self.stops + 1

    def _on_disk(self) -> int:
        self.finished = saved_keys(self.sweep, self.folder)
        return len(self.finished)

    def units(self) -> tuple[float, float]:
        """(work done, work in all) in estimated seconds, for the bar and the time left: a fine-tuning run costs
        several probes (in runs, the time left after a probe read half what was left). The run in progress counts by
        its batches done (a walk saw the time left climb through each run, counting its seconds but none of its
        work, then drop as it ended). In runs where there is no estimate per run."""
        p = self.latest
        current = self.keys[self.step] if not self.done else None
        part = p.within if p is not None and current is not None and p.run_key == current else 0.0
        if set(self.costs) != set(self.keys):
            return self.step + part, float(self.total_steps)
        now = self.costs[current] * part if current is not None else 0.0
        return sum(self.costs[k] for k in self.finished) + now, sum(self.costs.values())

    @property
    def total_steps(self) -> int:
        return len(self.keys)

    @property
    def done(self) -> bool:
        return self.step >= self.total_steps

    @property
    def detail(self) -> str:
        p = self.latest
        if self.done:
            return f"all {self.total_steps} runs written"
        where = f"run {self.step + 1} of {self.total_steps} ({self.keys[self.step]})"
        if p is None or p.run_key != self.keys[self.step]:  # the last progress was the run that just ended
            return f"{where}: starting"
        return f"{where}: {p.epoch_text(self.sweep.train.epochs)}, batch {p.batch}/{p.batches}"

    def advance(self, n: int, tick: Callable[[], None] | None = None) -> None:
        """Train and write the next `n` runs; `tick()` after every batch."""

        def report(p: Progress) -> None:
            self.latest = p
            if tick:
                tick()

        start = time.monotonic()
        try:
            self.written += run_sweep(
                self.sweep, self.folder, on_progress=report, task=self.task, encoder=self.encoder, limit=n
            )
        except BaseException:  # stopped mid-run (Cancel, another page): that run starts again from its first batch,
            self.latest = None  # so its part done no longer counts (a review: a resumed sweep said 20x the time left)
            raise
        self.seconds += time.monotonic() - start
        self.step = self._on_disk()
