"""The transfer lab's engine: scratch vs linear probe vs fine-tuning, one training loop, and a resumable sweep.

    python -m models.transfer                          # the shipped offline sweep (digits, glyphs encoder)
    python -m models.transfer --task cifar10 --encoder resnet18 --sizes 1,5,25,100,500 --seeds 3 \\
        --out results/transfer/cifar10                 # on a GPU machine with the datasets at hand

Regimes (Hoiem et al. 2021, and the course):
- scratch: the whole network from random initialisation, at the base rate;
- probe: the pretrained encoder frozen in eval mode (its BatchNorm statistics do not move), a new
  linear head trained by the same loop;
- finetune: the pretrained encoder trained at `ft_ratio` times the base rate (optionally frozen for
  the first `warm_epochs`, optionally with `layer_decay` per stage towards the input), the new head
  at the base rate;
- probe-features: the course's other linear probe: features extracted once, then scikit-learn's
  logistic regression (no epochs, so no training curve).

Training subsets are class-stratified; seeds take disjoint windows of a fixed per-class shuffle
while n x seeds fits in the class. The test set is the task's fixed held-out split. Every finished
run is written at once, atomically, as its own JSON file; rerunning the same sweep skips them.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.data.batches import batch_indices
from models.devices import best_device
from models.files import ResultsFileError, public_path, read_json, write_json_atomic
from models.transfer.data import BUNDLED_ENCODER, Encoder, Task, load_encoder, load_task

REGIMES: dict[str, str] = {
    "scratch": "From scratch",
    "probe": "Linear probe (frozen encoder)",
    "finetune": "Fine-tuning",
    "probe-features": "Linear probe (cached features + logistic regression)",
}
RESULTS = Path(__file__).resolve().parents[2] / "results" / "transfer"
SHIPPED = RESULTS / "digits"
SUBSET_SEED = 1234  # the per-class shuffle every (n, seed) window is cut from


@dataclass(frozen=True)
class TrainConfig:
    """Training settings shared by every run of a sweep (the course's defaults, `lr` per task)."""

    epochs: int = 15
    lr: float = 3e-4
    batch_size: int = 64
    min_batches: int = 8  # an epoch is at least this many batches: tiny sets are cycled, not trained 1 step
    step_size: int = 5
    step_gamma: float = 0.5
    weight_decay: float = 0.01
    ft_ratio: float = 0.1  # fine-tuning rate of the pretrained encoder, relative to `lr`
    warm_epochs: int = 0  # fine-tuning: epochs with the encoder frozen before it is trained
    layer_decay: float = 1.0  # fine-tuning: each stage nearer the input learns at this times the next one's rate


@dataclass(frozen=True)
class Progress:
    """Where a sweep is: run `run` of `runs` (its key), epoch and batch within it."""

    run: int
    runs: int
    key: str
    epoch: int
    epochs: int
    batch: int
    batches: int
    loss: float = float("nan")

    @property
    def fraction(self) -> float:
        within = ((self.epoch - 1) * self.batches + self.batch) / max(1, self.epochs * self.batches)
        return min(1.0, (self.run - 1 + within) / max(1, self.runs))


ProgressFn = Callable[[Progress], None]


def subset(labels: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """Indices of n training images per class for this seed: window `seed` of a fixed per-class
    shuffle, so seeds are disjoint while n x seeds <= the class size (then windows wrap around)."""
    gen = torch.Generator().manual_seed(SUBSET_SEED)
    out = []
    for c in range(int(labels.max()) + 1):
        members = torch.nonzero(labels == c).flatten()
        members = members[torch.randperm(len(members), generator=gen)]
        if n > len(members):
            raise ValueError(f"class {c} has only {len(members)} training images, fewer than n = {n}")
        start = (seed * n) % len(members)
        out.append(members.roll(-start)[:n])
    return torch.cat(out)


def stages(model: nn.Module) -> list[list[nn.Parameter]]:
    """The encoder's parameters by stage, input first: the stem (everything before layer1, or the
    course network's layer0), then each `layer*`. The head `fc` is not included."""
    groups: list[list[nn.Parameter]] = [[]]
    for name, child in model.named_children():
        if name == "fc":
            continue
        params = list(child.parameters())
        if name.startswith("layer") and name != "layer0":
            groups.append(params)
        else:
            groups[0].extend(params)
    return [g for g in groups if g]


def param_groups(model: nn.Module, regime: str, cfg: TrainConfig) -> list[dict[str, Any]]:
    """The optimiser's parameter groups: everything at `lr` from scratch; the head only for a probe;
    for fine-tuning the head at `lr` and the encoder at `lr * ft_ratio`, times `layer_decay` per stage."""
    head = {"params": list(model.fc.parameters()), "lr": cfg.lr, "name": "head"}
    if regime == "scratch":
        return [{"params": list(model.parameters()), "lr": cfg.lr, "name": "all"}]
    if regime == "probe":
        return [head]
    encoder = stages(model)
    last = len(encoder) - 1
    return [
        *(
            {"params": params, "lr": cfg.lr * cfg.ft_ratio * cfg.layer_decay ** (last - i), "name": f"stage{i}"}
            for i, params in enumerate(encoder)
        ),
        head,
    ]


def freeze_encoder(model: nn.Module, frozen: bool) -> None:
    """Freeze (or release) everything but the head; a frozen encoder is put in eval mode so its
    BatchNorm layers use, and keep, their stored statistics."""
    for name, child in model.named_children():
        if name == "fc":
            continue
        child.train(not frozen and model.training)
        for p in child.parameters():
            p.requires_grad_(not frozen)


@dataclass
class Data:
    """A task's images on the training device when they fit, else on the CPU, moved batch by batch."""

    task: Task
    device: torch.device
    x_train: torch.Tensor = field(init=False)
    x_test: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.x_train, self.x_test = self.task.x_train, self.task.x_test
        if self.device.type == "cuda":
            size = self.x_train.nbytes + self.x_test.nbytes
            if size < 0.3 * torch.cuda.mem_get_info(self.device)[0]:
                self.x_train, self.x_test = self.x_train.to(self.device), self.x_test.to(self.device)

    def batch(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        xb = self.task.to_input(x[idx.to(x.device)].to(self.device, non_blocking=True))
        return xb.contiguous(memory_format=torch.channels_last) if self.device.type == "cuda" else xb


@lru_cache(maxsize=2)
def device_data(task: Task, device: torch.device) -> Data:
    """The task's `Data` on `device`, made once: runs of a sweep share it instead of copying the
    images to the GPU again for every run."""
    return Data(task, device)


def _autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bfloat16 mixed precision on CUDA (no loss scaling needed), nothing on the CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate(model: nn.Module, data: Data, batch_size: int = 512) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) on the task's held-out set, model in eval mode."""
    model.eval()
    y = data.task.y_test
    loss, correct = 0.0, 0
    for i in range(0, len(y), batch_size):
        idx = torch.arange(i, min(i + batch_size, len(y)))
        with _autocast(data.device):
            logits = model(data.batch(data.x_test, idx)).float()
        yb = y[idx].to(data.device)
        loss += float(nn.functional.cross_entropy(logits, yb, reduction="sum"))
        correct += int((logits.argmax(1) == yb).sum())
    return loss / len(y), correct / len(y)


def epoch_batches(n_train: int, cfg: TrainConfig) -> tuple[int, int]:
    """(batch size, batches per epoch): a pass over the set, at least `min_batches` batches."""
    bs = min(cfg.batch_size, n_train)
    return bs, max(cfg.min_batches, math.ceil(n_train / bs))


def fit(
    model: nn.Module,
    regime: str,
    data: Data,
    indices: torch.Tensor,
    cfg: TrainConfig,
    seed: int,
    on_batch: Callable[[int, int, float], None] | None = None,
) -> tuple[list[dict[str, float]], float, int]:
    """Train `model` in place on the training images `indices`: AdamW, StepLR, cross-entropy, an
    evaluation after every epoch. Returns (history, training seconds, images seen)."""
    device = data.device
    model.to(device)
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(param_groups(model, regime, cfg), weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, cfg.step_size, cfg.step_gamma)
    bs, n_batches = epoch_batches(len(indices), cfg)
    stream = batch_indices(len(indices), bs, seed)
    labels = data.task.y_train[indices]
    history, seconds, seen = [], 0.0, 0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        freeze_encoder(model, regime == "probe" or (regime == "finetune" and epoch <= cfg.warm_epochs))
        t0 = time.perf_counter()
        total_loss, correct = 0.0, 0
        for b in range(1, n_batches + 1):
            pick = next(stream)
            xb, yb = data.batch(data.x_train, indices[pick]), labels[pick].to(device)
            with _autocast(device):
                logits = model(xb).float()
            loss = nn.functional.cross_entropy(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(pick)
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(pick)
            if on_batch is not None:
                on_batch(epoch, b, loss.item())
        scheduler.step()
        seconds += time.perf_counter() - t0
        test_loss, test_acc = evaluate(model, data)
        history.append(
            {
                "epoch": epoch,
                "train_loss": total_loss / (n_batches * bs),
                "train_accuracy": correct / (n_batches * bs),
                "test_loss": test_loss,
                "test_accuracy": test_acc,
                "seconds": seconds,  # training time so far, evaluations excluded
            }
        )
    return history, seconds, seen


_FEATURES: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, float]] = {}


@torch.no_grad()
def features(task: Task, encoder: Encoder, device: torch.device) -> tuple[np.ndarray, np.ndarray, float]:
    """(train features, test features, seconds it took): the frozen encoder's pooled output for
    every image, computed once per task and encoder and kept for the process."""
    key = (task.name, encoder.name)
    if key not in _FEATURES:
        t0 = time.perf_counter()
        model = encoder.build(len(task.classes), pretrained=True)
        model.fc = nn.Identity()
        model.to(device).eval()
        data = device_data(task, device)
        out = []
        for x in (data.x_train, data.x_test):
            chunks = []
            for i in range(0, len(x), 512):
                with _autocast(device):
                    chunks.append(model(data.batch(x, torch.arange(i, min(i + 512, len(x))))).float().cpu())
            out.append(torch.cat(chunks).numpy())
        _FEATURES[key] = (out[0], out[1], time.perf_counter() - t0)
    return _FEATURES[key]


def feature_probe(task: Task, encoder: Encoder, indices: torch.Tensor, device: torch.device) -> dict[str, Any]:
    """The cached-feature linear probe: standardised features, scikit-learn's multinomial logistic
    regression (L-BFGS). Returns test accuracy, loss and seconds (fit only; extraction is separate)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    f_train, f_test, extract_s = features(task, encoder, device)
    y = task.y_train[indices].numpy()
    t0 = time.perf_counter()
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    clf.fit(f_train[indices.numpy()], y)
    seconds = time.perf_counter() - t0
    proba = clf.predict_proba(f_test)
    y_test = task.y_test.numpy()
    full = np.zeros((len(y_test), len(task.classes)))
    full[:, clf.classes_] = proba
    return {
        "test_accuracy": float((full.argmax(1) == y_test).mean()),
        "test_loss": float(-np.log(np.clip(full[np.arange(len(y_test)), y_test], 1e-12, 1.0)).mean()),
        "seconds": seconds,
        "extract_seconds": extract_s,
    }


def train_run(
    task: Task,
    encoder: Encoder,
    regime: str,
    n: int,
    seed: int,
    cfg: TrainConfig,
    device: torch.device | None = None,
    on_batch: Callable[[int, int, float], None] | None = None,
) -> dict[str, Any]:
    """One run of the sweep: `regime` with n images per class, seed `seed`; a JSON-ready record."""
    if regime not in REGIMES:
        raise ValueError(f"unknown regime {regime!r}; choose from {', '.join(REGIMES)}")
    device = device or best_device()
    indices = subset(task.y_train, n, seed)
    record: dict[str, Any] = {"regime": regime, "n_per_class": n, "seed": seed, "device": str(device)}
    if regime == "probe-features":
        out = feature_probe(task, encoder, indices, device)
        record.update(history=[], seconds=out["seconds"], extract_seconds=out["extract_seconds"], images=0)
        acc, loss = out["test_accuracy"], out["test_loss"]
    else:
        torch.manual_seed(seed)
        model = encoder.build(len(task.classes), pretrained=regime != "scratch")
        history, seconds, seen = fit(model, regime, device_data(task, device), indices, cfg, seed, on_batch)
        acc, loss = history[-1]["test_accuracy"], history[-1]["test_loss"]
        record.update(history=history, seconds=seconds, images=seen, images_per_second=seen / max(seconds, 1e-9))
    record.update(test_accuracy=acc, test_loss=loss, test_error=100.0 * (1.0 - acc))
    return record


@dataclass(frozen=True)
class Sweep:
    """Regimes x sizes x seeds on one task and encoder with one training configuration."""

    task: str = "digits"
    encoder: str = BUNDLED_ENCODER
    regimes: tuple[str, ...] = tuple(REGIMES)
    sizes: tuple[int, ...] = (1, 2, 5, 10, 20, 50, 126)
    seeds: int = 3
    train: TrainConfig = TrainConfig(lr=3e-3)

    def settings(self) -> dict[str, Any]:
        """What every run of this sweep must share to be comparable (and to be resumed)."""
        return {"task": self.task, "encoder": self.encoder, "train": asdict(self.train)}

    def runs(self) -> Iterator[tuple[str, int, int]]:
        """(regime, n, seed) in the order they run: seed by seed, so early curves are complete."""
        for seed, n, regime in product(range(self.seeds), self.sizes, self.regimes):
            yield regime, n, seed


def settings_hash(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def run_key(regime: str, n: int, seed: int) -> str:
    return f"{regime}-n{n}-s{seed}"


class SweepMismatch(ValueError):
    """The output folder holds a sweep with other settings: resuming into it would mix results."""


# What the pages read from a run file, by field: a file without one of them is reported and skipped.
RUN_FIELDS: dict[str, type | tuple[type, ...]] = {
    "key": str, "regime": str, "n_per_class": int, "seed": int, "test_error": (int, float), "test_loss": (int, float),
    "seconds": (int, float), "images": int, "device": str, "history": list,
}  # fmt: skip
EPOCH_FIELDS = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy")


def check_run(record: dict[str, Any]) -> dict[str, Any]:
    """`record` if it has every field the pages read, with sane values; ValueError naming what is off."""
    for name, kind in RUN_FIELDS.items():
        if not isinstance(record.get(name), kind) or isinstance(record.get(name), bool):
            raise ValueError(f"no valid {name!r}")
    if record["regime"] not in REGIMES or record["n_per_class"] < 1 or record["seed"] < 0:
        raise ValueError("regime, size or seed out of range")
    if not math.isfinite(record["test_error"]):
        raise ValueError("test error is not a number")
    for epoch in record["history"]:
        if not isinstance(epoch, dict) or any(not isinstance(epoch.get(f), int | float) for f in EPOCH_FIELDS):
            raise ValueError("a damaged epoch in its history")
    return record


def load_runs(folder: str | Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]], list[str]]:
    """(the sweep's settings file or None, its finished runs, one line per damaged file) from a sweep
    folder. A damaged `sweep.json` counts as missing, so running the sweep again rewrites it."""
    folder = Path(folder)
    meta, problems = None, []
    if (folder / "sweep.json").is_file():
        try:
            meta = read_json(folder / "sweep.json")
            if not isinstance(meta.get("settings"), dict) or not isinstance(meta.get("settings_hash"), str):
                raise ResultsFileError(f"{public_path(folder / 'sweep.json')} does not hold a sweep's settings.")
        except ResultsFileError as exc:
            meta = None
            problems.append(f"{exc} Run the sweep again with the same settings to repair it.")
    runs = []
    for path in sorted((folder / "runs").glob("*.json")):
        try:
            runs.append(check_run(read_json(path)))
        except ResultsFileError as exc:
            problems.append(str(exc))
        except ValueError as exc:
            problems.append(f"{public_path(path)} was skipped: {exc}.")
    return meta, runs, problems


def estimate_seconds(sweep: Sweep, n_classes: int, reference: list[dict[str, Any]]) -> float | None:
    """Seconds `sweep` should take on the device that ran the `reference` runs (a finished sweep of the
    same task): each regime's measured seconds per batch times the batches the sweep trains. None
    when the reference lacks one of the sweep's regimes."""
    per_batch, per_run = {}, {}
    for regime in sweep.regimes:
        done = [r for r in reference if r["regime"] == regime]
        if not done:
            return None
        batches = [len(r["history"]) * epoch_batches(r["n_per_class"] * n_classes, sweep.train)[1] for r in done]
        per_batch[regime] = sum(r["seconds"] for r in done) / max(sum(batches), 1)
        per_run[regime] = sum(r["seconds"] for r in done) / len(done)
    total = 0.0
    for regime, n, _ in sweep.runs():
        if regime == "probe-features":  # no epochs: a feature extraction and a logistic regression
            total += per_run[regime]
        else:
            total += per_batch[regime] * sweep.train.epochs * epoch_batches(n * n_classes, sweep.train)[1]
    return total


MAX_PAGE_RUNS = 48  # a sweep launched from the page; larger ones belong in the terminal
MAX_PAGE_SECONDS = 600  # estimated on a CPU server from the shipped sweep's measured speed


def page_sweep(
    task_name: str,
    encoder_name: str,
    regimes: Sequence[str],
    sizes_text: str,
    seeds: int,
    train: TrainConfig,
    device: torch.device,
) -> tuple[Sweep, Task, Encoder, float | None]:
    """The sweep a visitor asks for on the page, with its task, encoder and estimated seconds (None where
    no estimate exists). `train.lr` is replaced by the task's default rate. ValueError, in one line, for
    anything a visitor can set wrong: no regime, a photo task on a CPU server, bad sizes, more than
    MAX_PAGE_RUNS runs or, on a CPU server, an estimate over MAX_PAGE_SECONDS (with the terminal command
    for bigger sweeps); TaskUnavailable, WeightsUnavailable or CheckpointError when the data or the
    encoder cannot be had."""
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
    estimate = estimate_seconds(sweep, len(task.classes), load_runs(SHIPPED)[1]) if task_name == "digits" else None
    if device.type == "cpu" and estimate is not None and estimate > MAX_PAGE_SECONDS:
        raise ValueError(
            f"that sweep would take about {estimate / 60:.0f} minutes on this server; the page runs at most "
            f"{MAX_PAGE_SECONDS // 60} ({command})"
        )
    return sweep, task, encoder, estimate


def run_sweep(
    sweep: Sweep,
    out: str | Path,
    device: torch.device | None = None,
    on_progress: ProgressFn | None = None,
    task: Task | None = None,
    encoder: Encoder | None = None,
) -> list[dict[str, Any]]:
    """Run every (regime, n, seed) of `sweep` that `out` does not hold yet, writing each run's JSON
    as soon as it finishes. Stops cleanly between batches when `on_progress` raises."""
    out = Path(out)
    settings = sweep.settings()
    digest = settings_hash(settings)
    meta, finished, _ = load_runs(out)
    if meta is not None and meta.get("settings_hash") != digest:
        raise SweepMismatch(f"{out} holds a sweep with other settings; choose another output folder")
    task = task or load_task(sweep.task)
    encoder = encoder or load_encoder(sweep.encoder)
    too_big = [n for n in sweep.sizes if n > task.max_per_class]
    if too_big:
        raise ValueError(f"{task.name} has at most {task.max_per_class} training images per class (asked {too_big})")
    done_before = {r["key"] for r in finished if r.get("settings_hash") == digest}
    old = meta or {"regimes": [], "sizes": [], "seeds": 0}
    write_json_atomic(
        out / "sweep.json",
        {
            "settings": settings,
            "settings_hash": digest,
            "regimes": [r for r in REGIMES if r in set(old["regimes"]) | set(sweep.regimes)],
            "sizes": sorted(set(old["sizes"]) | set(sweep.sizes)),
            "seeds": max(old["seeds"], sweep.seeds),
            "task_title": task.title,
            "encoder_title": encoder.title,
            "encoder_source": encoder.source,
            "max_per_class": task.max_per_class,
            "command": "python -m models.transfer " + " ".join(cli_args(sweep, out)),
        },
    )
    todo = [r for r in sweep.runs() if run_key(*r) not in done_before]
    device = device or best_device()
    written = []
    for i, (regime, n, seed) in enumerate(todo, start=1):
        key = run_key(regime, n, seed)
        _, per_epoch = epoch_batches(n * len(task.classes), sweep.train)

        def on_batch(epoch: int, b: int, loss: float, i=i, key=key, per_epoch=per_epoch) -> None:
            if on_progress is not None:
                on_progress(Progress(i, len(todo), key, epoch, sweep.train.epochs, b, per_epoch, loss))

        if on_progress is not None:
            on_progress(Progress(i, len(todo), key, 1, sweep.train.epochs, 0, per_epoch))
        record = train_run(task, encoder, regime, n, seed, sweep.train, device, on_batch)
        record.update(key=key, settings_hash=digest)
        write_json_atomic(out / "runs" / f"{key}.json", record)
        written.append(record)
        if on_progress is not None:
            e = sweep.train.epochs
            on_progress(Progress(i, len(todo), key, e, e, per_epoch, per_epoch, record["test_loss"]))
    return written


def cli_args(sweep: Sweep, out: str | Path) -> list[str]:
    """The command-line arguments that reproduce `sweep` into `out`."""
    t, d = sweep.train, TrainConfig()
    args = ["--task", sweep.task, "--encoder", sweep.encoder, "--regimes", ",".join(sweep.regimes)]
    args += ["--sizes", ",".join(map(str, sweep.sizes)), "--seeds", str(sweep.seeds)]
    for name, value in asdict(t).items():
        if value != getattr(d, name):
            args += [f"--{name.replace('_', '-')}", str(value)]
    return [*args, "--out", public_path(out)]


def parse_sizes(text: str, max_per_class: int | None = None) -> tuple[int, ...]:
    """ "1,2,5,max" -> (1, 2, 5, max_per_class): sorted, unique, positive, within the task's size."""
    sizes = set()
    for part in (p.strip() for p in text.split(",")):
        if part == "max":
            if max_per_class is None:
                raise ValueError("'max' needs the task's size")
            sizes.add(max_per_class)
        elif part:
            if not part.isdigit() or int(part) < 1:
                raise ValueError(f"{part!r} is not a whole number of images per class (1 or more)")
            sizes.add(int(part))
    if not sizes:
        raise ValueError("give at least one number of images per class")
    if max_per_class is not None and max(sizes) > max_per_class:
        raise ValueError(f"the task has at most {max_per_class} training images per class")
    return tuple(sorted(sizes))


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="digits", help="digits, cifar10, cifar100, pets, flowers102 or folder:<path>")
    ap.add_argument("--encoder", default=BUNDLED_ENCODER, help=f"{BUNDLED_ENCODER}, resnet18 or resnet50")
    ap.add_argument(
        "--regimes", default=",".join(REGIMES), help="comma-separated: scratch, probe, finetune, probe-features"
    )
    ap.add_argument("--sizes", default="1,2,5,10,20,50,max", help="images per class; 'max' is the task's largest")
    ap.add_argument("--seeds", type=int, default=3, help="runs per (regime, size), each on its own training subset")
    ap.add_argument("--image-size", type=int, default=224, help="network input size for photo datasets")
    for name, value in asdict(TrainConfig()).items():
        note = "; the digits use 3e-3" if name == "lr" else ""
        ap.add_argument(
            f"--{name.replace('_', '-')}",
            type=type(value),
            default=None,
            help=f"TrainConfig.{name} (default {value}{note})",
        )
    ap.add_argument("--out", default=None, help=f"sweep folder (default: {public_path(SHIPPED)} for digits)")
    args = ap.parse_args(argv)

    task = load_task(args.task, args.image_size)
    regimes = tuple(r.strip() for r in args.regimes.split(",") if r.strip())
    unknown = [r for r in regimes if r not in REGIMES]
    if unknown:
        ap.error(f"unknown regime(s) {unknown}; choose from {', '.join(REGIMES)}")
    overrides = {k: getattr(args, k) for k in asdict(TrainConfig()) if getattr(args, k) is not None}
    train = TrainConfig(**{"lr": task.default_lr, **overrides})
    sweep = Sweep(args.task, args.encoder, regimes, parse_sizes(args.sizes, task.max_per_class), args.seeds, train)
    out = Path(args.out) if args.out else (SHIPPED if args.task == "digits" else RESULTS / args.task.replace(":", "-"))
    bar = tqdm(total=1, unit="run")
    state = {"key": None}

    def on_progress(p: Progress) -> None:
        if p.key != state["key"]:
            state["key"] = p.key
            bar.total = p.runs
            bar.n = p.run - 1
            bar.set_description(p.key)
        bar.set_postfix(epoch=f"{p.epoch}/{p.epochs}", batch=f"{p.batch}/{p.batches}", loss=f"{p.loss:.3f}")

    t0 = time.time()
    written = run_sweep(sweep, out, on_progress=on_progress, task=task)
    bar.n = bar.total
    bar.close()
    print(f"{len(written)} new runs in {time.time() - t0:.0f}s; results in {out}", file=sys.stderr)
    for record in written:
        print(f"{record['key']:>24}: test error {record['test_error']:.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
