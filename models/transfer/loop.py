"""One transfer run: a class-stratified training subset, the regime's parameter groups and freezing, the one
training loop (AdamW, StepLR, an evaluation per epoch) and the cached-features probe with scikit-learn."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import nn

from models.data.batches import batch_indices
from models.devices import best_device
from models.lock import seeded_rngs
from models.transfer.config import REGIMES, SUBSET_SEED, TrainConfig
from models.transfer.data import Encoder, Task, validation_per_class


def _split(labels: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """A fixed per-class shuffle of the training pool: (each class's images that training windows are cut
    from, the validation split: the first `validation_per_class` of every class, never trained on)."""
    gen = torch.Generator().manual_seed(SUBSET_SEED)
    n_classes = int(labels.max()) + 1
    v = validation_per_class(int(torch.bincount(labels, minlength=n_classes).min()))
    pools, val = [], []
    for c in range(n_classes):
        members = torch.nonzero(labels == c).flatten()
        members = members[torch.randperm(len(members), generator=gen)]
        val.append(members[:v])
        pools.append(members[v:])
    return pools, torch.cat(val)


def validation(labels: torch.Tensor) -> torch.Tensor:
    """Indices of the validation split: class-stratified, disjoint from every training window and from the test set."""
    return _split(labels)[1]


def subset(labels: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """Indices of n training images per class for this seed: window `seed` of a fixed per-class shuffle of the
    pool outside the validation split, so seeds are disjoint while n x seeds <= the pool (then windows wrap)."""
    out = []
    for c, members in enumerate(_split(labels)[0]):
        if n > len(members):
            raise ValueError(
                f"class {c} has only {len(members)} training images outside validation, fewer than n = {n}"
            )
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
    if regime in PROBES:
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


PROBES = ("probe", "random-probe")  # a frozen encoder and a trained linear head
UNPRETRAINED = ("scratch", "random-probe")  # regimes whose encoder starts from random weights
REPORT_EVERY = 10  # batches between the loss values a progress callback is given (each one is a host sync)


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
def test_loss_accuracy(model: nn.Module, data: Data, batch_size: int = 512) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) on the task's held-out test set, model in eval mode."""
    return loss_accuracy(model, data, data.x_test, data.task.y_test, torch.arange(len(data.task.y_test)), batch_size)


@torch.no_grad()
def loss_accuracy(
    model: nn.Module, data: Data, x: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor, batch_size: int = 512
) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) on the images `indices` of `x` (labels `labels[indices]`), in eval mode."""
    model.eval()
    loss = torch.zeros((), device=data.device)
    correct = torch.zeros((), dtype=torch.long, device=data.device)
    y = labels[indices]
    for i in range(0, len(indices), batch_size):  # sums stay on the device: one host sync at the end
        idx = indices[i : i + batch_size]
        with _autocast(data.device):
            logits = model(data.batch(x, idx)).float()
        yb = y[i : i + batch_size].to(data.device)
        loss += nn.functional.cross_entropy(logits, yb, reduction="sum")
        correct += (logits.argmax(1) == yb).sum()
    return float(loss) / len(y), int(correct) / len(y)


def epoch_batches(n_train: int, cfg: TrainConfig) -> tuple[int, int]:
    """(batch size, batches per epoch): a pass over the set, at least `min_batches` batches."""
    bs = min(cfg.batch_size, n_train)
    return bs, max(cfg.min_batches, math.ceil(n_train / bs))


def train_epochs(
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
    step = torch.compile(model) if cfg.compile and device.type == "cuda" else model  # shares the parameters
    optimizer = torch.optim.AdamW(param_groups(model, regime, cfg), weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, cfg.step_size, cfg.step_gamma)
    bs, n_batches = epoch_batches(len(indices), cfg)
    stream = batch_indices(len(indices), bs, seed)
    labels = data.task.y_train[indices]
    history, seconds, seen = [], 0.0, 0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        freeze_encoder(model, regime in PROBES or (regime == "finetune" and epoch <= cfg.warm_epochs))
        t0 = time.perf_counter()
        # Sums stay on the device: one host sync per epoch (and one per REPORT_EVERY batches for progress).
        total_loss = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.long, device=device)
        shown = float("nan")
        for b in range(1, n_batches + 1):
            pick = next(stream)
            xb, yb = data.batch(data.x_train, indices[pick]), labels[pick].to(device)
            with _autocast(device):
                logits = step(xb).float()
            loss = nn.functional.cross_entropy(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += loss.detach() * len(pick)
            correct += (logits.argmax(1) == yb).sum()
            seen += len(pick)
            if on_batch is not None:
                if b == 1 or b % REPORT_EVERY == 0 or b == n_batches:
                    shown = loss.item()
                on_batch(epoch, b, shown)
        scheduler.step()
        seconds += time.perf_counter() - t0
        test_loss, test_acc = test_loss_accuracy(model, data)
        history.append(
            {
                "epoch": epoch,
                "train_loss": float(total_loss) / (n_batches * bs),
                "train_accuracy": int(correct) / (n_batches * bs),
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


C_GRID = (0.1, 1.0, 10.0)  # the feature probe's inverse regularisation strengths, chosen on validation


def _probabilities(clf, f: np.ndarray, n_classes: int) -> np.ndarray:
    proba = np.zeros((len(f), n_classes))
    proba[:, clf.classes_] = clf.predict_proba(f)
    return proba


def feature_probe(task: Task, encoder: Encoder, indices: torch.Tensor, device: torch.device) -> dict[str, Any]:
    """The cached-feature linear probe: standardised features, scikit-learn's multinomial logistic
    regression (L-BFGS), its C chosen from C_GRID on the validation split. Returns test accuracy and loss,
    the chosen C with every candidate's validation error, and seconds (fits only; extraction is separate)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    f_train, f_test, extract_s = features(task, encoder, device)
    y = task.y_train[indices].numpy()
    val = validation(task.y_train).numpy()
    t0 = time.perf_counter()
    fitted = []
    for c in C_GRID:
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        clf.fit(f_train[indices.numpy()], y)
        val_acc = float(
            (_probabilities(clf, f_train[val], len(task.classes)).argmax(1) == task.y_train[val].numpy()).mean()
        )
        fitted.append((val_acc, c, clf))
    seconds = time.perf_counter() - t0
    _, best_c, clf = max(fitted, key=lambda f: f[0])  # ties: the first, the strongest regularisation
    full = _probabilities(clf, f_test, len(task.classes))
    y_test = task.y_test.numpy()
    return {
        "test_accuracy": float((full.argmax(1) == y_test).mean()),
        "test_loss": float(-np.log(np.clip(full[np.arange(len(y_test)), y_test], 1e-12, 1.0)).mean()),
        "C": best_c,
        "candidates": [{"C": c, "val_error": 100.0 * (1.0 - a)} for a, c, _ in fitted],
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
    lr: float | None = None,
) -> dict[str, Any]:
    """One run of the sweep: `regime` with n images per class, seed `seed`; a JSON-ready record. The rate is
    chosen on validation from `cfg.lr` times each of `cfg.lr_factors`, unless `lr` gives the one to train at
    (a sweep's later seeds reuse the rate its first seed chose)."""
    if regime not in REGIMES:
        raise ValueError(f"unknown regime {regime!r}; choose from {', '.join(REGIMES)}")
    device = device or best_device()
    indices = subset(task.y_train, n, seed)
    record: dict[str, Any] = {"regime": regime, "n_per_class": n, "seed": seed, "device": str(device)}
    if regime == "probe-features":
        out = feature_probe(task, encoder, indices, device)
        record.update(
            history=[],
            seconds=out["seconds"],
            extract_seconds=out["extract_seconds"],
            images=0,
            C=out["C"],
            candidates=out["candidates"],
        )
        acc, loss = out["test_accuracy"], out["test_loss"]
    else:
        data, val = device_data(task, device), validation(task.y_train)
        tried = []
        rates = [cfg.lr * factor for factor in cfg.lr_factors] if lr is None else [lr]
        for k, rate in enumerate(rates):  # each rate from the same initialisation and batches
            with seeded_rngs(seed):
                model = encoder.build(len(task.classes), pretrained=regime not in UNPRETRAINED)

            def report(epoch: int, b: int, loss: float, k: int = k) -> None:
                if on_batch is not None:
                    on_batch(k * cfg.epochs + epoch, b, loss)

            history, seconds, seen = train_epochs(model, regime, data, indices, replace(cfg, lr=rate), seed, report)
            val_loss, val_acc = loss_accuracy(model, data, data.x_train, task.y_train, val)
            tried.append(
                {
                    "lr": rate,
                    "val_error": 100.0 * (1.0 - val_acc),
                    "val_loss": val_loss,
                    "history": history,
                    "seconds": seconds,
                    "images": seen,
                }
            )
        best = min(tried, key=lambda t: t["val_error"])  # ties: the first, the smallest rate
        history, seconds, seen = best["history"], best["seconds"], best["images"]
        acc, loss = history[-1]["test_accuracy"], history[-1]["test_loss"]
        record.update(
            history=history,
            seconds=seconds,
            images=seen,
            images_per_second=seen / max(seconds, 1e-9),
            lr=best["lr"],
            selection_seconds=sum(t["seconds"] for t in tried),
        )
        if lr is None:
            record["candidates"] = [{k: t[k] for k in ("lr", "val_error")} for t in tried]
        else:
            record["val_error"] = best["val_error"]
    record.update(test_accuracy=acc, test_loss=loss, test_error=100.0 * (1.0 - acc))
    return record
