"""One transfer run: a class-stratified training subset, the regime's parameter groups and freezing, the one
training loop (AdamW, StepLR, an evaluation per epoch) and the cached-features probe with scikit-learn."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import math
import time
import weakref
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
from models.nets.fast_layers import speed_up
from models.transfer.config import REGIMES, SUBSET_SEED, TrainConfig
from models.transfer.data import Encoder, Task, validation_per_class
from models.transfer.stacked import NotStackable, Stack, stackable


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


@dataclass
class Features:
    """A frozen encoder's pooled output for every training and test image of a task, on the training device: what
    a linear probe's head sees, so the probe trains and is evaluated on these rows instead of running the encoder
    on every batch (the encoder is in eval mode, so each image's features never change)."""

    task: Task
    device: torch.device
    x_train: torch.Tensor
    x_test: torch.Tensor
    head_only = True  # the network trained on these is the head alone

    def batch(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return x[idx.to(x.device)].to(self.device, non_blocking=True)


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


def make_optimizer(
    models: list[nn.Module], regime: str, data: Data | Features, cfgs: list[TrainConfig]
) -> torch.optim.Optimizer:
    """One AdamW over each model's parameter groups at its own settings (the whole model when it is a probe's head on
    features): a group per member of a stack, so each member is stepped as it would be alone. The fast runners use
    PyTorch's fused implementation (one kernel per step instead of a dozen per tensor; the same update to rounding)
    where the device has it."""
    groups = []
    for model, cfg in zip(models, cfgs, strict=True):
        if getattr(data, "head_only", False):
            groups.append({"params": list(model.parameters()), "lr": cfg.lr, "name": "head"})
        else:
            groups += param_groups(model, regime, cfg)
    cfg = cfgs[0]
    fused = cfg.runner != "plain" and data.device.type in ("cpu", "cuda")
    return torch.optim.AdamW(groups, weight_decay=cfg.weight_decay, fused=fused or None)


def train_epochs(
    model: nn.Module,
    regime: str,
    data: Data | Features,
    indices: torch.Tensor,
    cfg: TrainConfig,
    seed: int,
    on_batch: Callable[[int, int, float], None] | None = None,
    states: list[dict[str, torch.Tensor]] | None = None,
) -> tuple[list[dict[str, float]], float, int]:
    """Train `model` in place on the training images `indices`: AdamW, StepLR, cross-entropy, an
    evaluation after every epoch. Returns (history, training seconds, images seen). Given a list `states`, the
    test set is not evaluated: a copy of the model's state after each epoch is appended to it instead, for
    `test_curve` to evaluate if the run is kept (a rate that loses the choice never needs its test curve)."""
    return train_together([model], regime, data, indices, [cfg], seed, on_batch, [states])[0]


def train_together(
    models: list[nn.Module],
    regime: str,
    data: Data | Features,
    indices: torch.Tensor,
    cfgs: list[TrainConfig],
    seed: int,
    on_batch: Callable[[int, int, float], None] | None = None,
    states: list[list[dict[str, torch.Tensor]] | None] | None = None,
) -> list[tuple[list[dict[str, float]], float, int]]:
    """`train_epochs` for several models of one architecture on the same batches, each at its own settings (the
    rates a run chooses from): one model trains as written; several train as one `Stack`, one step for all, each
    with its own parameters, optimiser groups and BatchNorm statistics. Training seconds are shared out equally."""
    device, k = data.device, len(models)
    states = states or [None] * k
    for model in models:
        model.to(device)
        if device.type == "cuda":
            model.to(memory_format=torch.channels_last)
    try:
        net = models[0] if k == 1 else Stack(models)
    except NotStackable:  # a network the stack cannot group trains its members one after another, as alone
        return [
            train_together([m], regime, data, indices, [c], seed, on_batch, [kept])[0]
            for m, c, kept in zip(models, cfgs, states, strict=True)
        ]
    cfg = cfgs[0]
    if cfg.runner != "plain":  # faster layers: pooling bit for bit; convolution shortcuts in evaluations only
        for module in (*models, net):
            speed_up(module)
    step = torch.compile(net) if cfg.compile and device.type == "cuda" else net  # shares the parameters
    optimizer = make_optimizer(models, regime, data, cfgs)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, cfg.step_size, cfg.step_gamma)
    bs, n_batches = epoch_batches(len(indices), cfg)
    stream = batch_indices(len(indices), bs, seed)
    labels = data.task.y_train[indices]
    histories: list[list[dict[str, float]]] = [[] for _ in models]
    seconds, seen = 0.0, 0
    for epoch in range(1, cfg.epochs + 1):
        for model in models:
            model.train()
            freeze_encoder(model, regime in PROBES or (regime == "finetune" and epoch <= cfg.warm_epochs))
        if k > 1:
            net.match_modes()
        t0 = time.perf_counter()
        # Sums stay on the device: one host sync per epoch (and one per REPORT_EVERY batches for progress).
        total_loss = torch.zeros(k, device=device)
        correct = torch.zeros(k, dtype=torch.long, device=device)
        shown = float("nan")
        for b in range(1, n_batches + 1):
            pick = next(stream)
            xb, yb = data.batch(data.x_train, indices[pick]), labels[pick].to(device)
            if k > 1:  # every member sees the same batch: (N, K, ...)
                xb = xb.unsqueeze(1).expand(-1, k, *xb.shape[1:])
            with _autocast(device):
                logits = step(xb).float()
            outputs = [logits] if k == 1 else logits.unbind(1)
            losses = torch.stack([nn.functional.cross_entropy(out, yb) for out in outputs])  # one per member
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()  # each member's gradient is its own loss's
            optimizer.step()
            total_loss += losses.detach() * len(pick)
            correct += torch.stack([(out.argmax(1) == yb).sum() for out in outputs])
            seen += len(pick)
            if on_batch is not None:
                if b == 1 or b % REPORT_EVERY == 0 or b == n_batches:
                    # a stack's lowest loss (Progress.loss_text says so); a diverging rate's NaN is not the lowest
                    shown = losses[0].item() if k == 1 else losses.detach().nan_to_num(math.inf).min().item()
                on_batch(epoch, b, shown)
        scheduler.step()
        seconds += time.perf_counter() - t0
        if k > 1:
            net.write_back()
        for model, history, kept, member_loss, member_correct in zip(
            models, histories, states, total_loss.tolist(), correct.tolist(), strict=True
        ):
            history.append(
                {
                    "epoch": epoch,
                    "train_loss": member_loss / (n_batches * bs),
                    "train_accuracy": member_correct / (n_batches * bs),
                    "seconds": seconds / k,  # training time so far (a stack's shared out), evaluations excluded
                }
            )
            if kept is None:
                history[-1]["test_loss"], history[-1]["test_accuracy"] = test_loss_accuracy(model, data)
            else:
                kept.append({name: v.detach().clone() for name, v in model.state_dict().items()})
    return [(history, seconds / k, seen) for history in histories]


def test_curve(
    model: nn.Module, data: Data | Features, history: list[dict[str, float]], states: list[dict[str, torch.Tensor]]
) -> None:
    """Fill in each epoch's test loss and accuracy from the states `train_epochs` kept: the curve it would have
    drawn after every epoch. Leaves `model` in its last state."""
    for epoch, state in zip(history, states, strict=True):
        model.load_state_dict(state)
        epoch["test_loss"], epoch["test_accuracy"] = test_loss_accuracy(model, data)


STATES_BUDGET = 512 * 2**20  # bytes of per-epoch states a run may keep to evaluate its test curve later


def rates_at_once(cfg: TrainConfig, rates: int, encoder: Encoder) -> int:
    """How many of a run's `rates` train at once as one stack: all of them under the stacked runner, else one; one
    at a time too when the stack cannot group the encoder's network (they then train one after another, as alone).
    The loop and a sweep's progress ask here."""
    if cfg.runner != "stacked" or rates == 1:
        return 1
    with torch.device("meta"):  # the architecture alone: no memory, no weights
        network = encoder.architecture()
    return rates if stackable(network) else 1


def keeps_states(model: nn.Module, cfg: TrainConfig, rates: int, together: int = 1) -> bool:
    """Whether a run choosing among `rates` keeps per-epoch states instead of evaluating every rate's test curve:
    a fast runner, more than one rate, and the states it holds at once (the best so far and the one training, or
    the `together` members of a stack) within STATES_BUDGET."""
    size = sum(v.numel() * v.element_size() for v in model.state_dict().values())
    return cfg.runner != "plain" and rates > 1 and max(2, together) * cfg.epochs * size <= STATES_BUDGET


@torch.no_grad()
def encoded(task: Task, model: nn.Module, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(train features, test features) on the CPU: `model`'s pooled output (its `fc` bypassed) for every image
    of the task, in eval mode, batches of 512."""
    data = device_data(task, device)
    return tuple(pooled(model, data, x, torch.arange(len(x))) for x in (data.x_train, data.x_test))


@torch.no_grad()
def pooled(model: nn.Module, data: Data, x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """`model`'s pooled output (its `fc` bypassed) for the images `indices` of `x`, on the CPU, in eval mode,
    batches of 512."""
    head, model.fc = model.fc, nn.Identity()
    try:
        model.to(data.device).eval()
        chunks = []
        for i in range(0, len(indices), 512):
            with _autocast(data.device):
                chunks.append(model(data.batch(x, indices[i : i + 512])).float().cpu())
    finally:
        model.fc = head
    return torch.cat(chunks)


class Centred(nn.Module):
    """A linear probe's fixed first step: each feature minus its mean over the run's training images, all divided
    by one scale (their RMS deviation from those means). Buffers, not parameters: the probe stays linear in the
    encoder's features, which only reach the optimiser at a usable size. A random encoder's pooled features sit on a
    common offset about five times their spread and about 60 times smaller than a trained encoder's; the head
    trained on them as they were missed by far (a review: 40.6% test error at 10 digits per class, 31.6% at 50,
    against 21.9% and 10.7% for scikit-learn's logistic regression on the same features standardised; centred,
    22.3% and 10.7%). Per-feature scales instead of one were worse with one image per class (72.6%, noisy). MAE's
    linear probe (He et al. 2022, A.2) normalises its features before the head for the same reason."""

    def __init__(self, train: torch.Tensor) -> None:
        super().__init__()
        mean = train.mean(0)
        self.register_buffer("mean", mean)
        self.register_buffer("scale", (train - mean).pow(2).mean().sqrt().clamp_min(1e-12))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.scale


_DIGESTS: weakref.WeakKeyDictionary[Encoder, str] = weakref.WeakKeyDictionary()
_FEATURES: weakref.WeakKeyDictionary[Task, dict[tuple, tuple[torch.Tensor, torch.Tensor, float]]] = (
    weakref.WeakKeyDictionary()
)


def weights_digest(encoder: Encoder) -> str:
    """The SHA-256 of the encoder's pretrained weights (names, shapes, dtypes and values), computed once per object:
    what its cached features are keyed on, so two encoders that share a name never share features."""
    if encoder not in _DIGESTS:
        digest = hashlib.sha256()
        for name, tensor in sorted(encoder.state.items()):
            digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
            digest.update(tensor.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
        _DIGESTS[encoder] = digest.hexdigest()
    return _DIGESTS[encoder]


def _features_key(encoder: Encoder, device: torch.device) -> tuple:
    return (weights_digest(encoder), str(device), torch.get_num_threads())


def features_kept(task: Task, encoder: Encoder, device: torch.device) -> bool:
    """Whether this process holds `pretrained_features` of `task` and `encoder` on `device` already: a run needing
    them then does not pay for computing them (a first probe run here did: 0.41 s of its 0.49 s on 2 cores)."""
    return _features_key(encoder, device) in _FEATURES.get(task, {})


def pretrained_features(task: Task, encoder: Encoder, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(train features, test features, seconds it took) of the pretrained encoder, computed once per task object,
    encoder weights, device and thread count (the CPU's sums depend on it, so a run gives the same result whatever
    ran before it in the process) and kept while the task is (both linear probes use them)."""
    key = _features_key(encoder, device)
    kept = _FEATURES.setdefault(task, {})
    if key not in kept:
        t0 = time.perf_counter()
        train, test = encoded(task, encoder.build(len(task.classes), pretrained=True), device)
        kept[key] = (train, test, time.perf_counter() - t0)
    return kept[key]


def features(task: Task, encoder: Encoder, device: torch.device) -> tuple[np.ndarray, np.ndarray, float]:
    """(train features, test features, seconds it took) as NumPy arrays, for scikit-learn's probe."""
    train, test, seconds = pretrained_features(task, encoder, device)
    return train.numpy(), test.numpy(), seconds


def probe_features(
    task: Task, encoder: Encoder, model: nn.Module, regime: str, device: torch.device, indices: torch.Tensor
) -> Features:
    """What a linear probe's head trains on: the pretrained encoder's cached features (`probe`), or those of
    `model`'s own random encoder (`random-probe`: computed for the run), each `Centred` on the run's training images
    `indices` (as the plain runner's head centres them in `_fresh`)."""
    if regime == "probe":
        train, test, _ = pretrained_features(task, encoder, device)
    else:
        train, test = encoded(task, model, device)
    centre = Centred(train[indices])
    return Features(task, device, centre(train).to(device), centre(test).to(device))


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


def _fresh(
    task: Task,
    encoder: Encoder,
    regime: str,
    seed: int,
    cfg: TrainConfig,
    device: torch.device,
    copies: int,
    indices: torch.Tensor,
    features: Features | None = None,
) -> tuple[list[nn.Module], Data | Features]:
    """`copies` identical fresh networks for a run (each built from the run's seed) and what they train on: the
    images, or for a probe under the fast runners the frozen encoder's features (the networks are then the heads;
    `features` already computed for this run are reused: every rate starts from the same encoder). A probe's
    features are `Centred` on the run's training images `indices`: in the features themselves under the fast
    runners, by a first step of each head under the plain one."""
    models = []
    for _ in range(copies):
        with seeded_rngs(seed):
            models.append(encoder.build(len(task.classes), pretrained=regime not in UNPRETRAINED))
    if regime in PROBES and cfg.runner != "plain":
        return [m.fc for m in models], features or probe_features(task, encoder, models[0], regime, device, indices)
    data = device_data(task, device)
    if regime in PROBES:
        centre = Centred(pooled(models[0], data, data.x_train, indices))
        for m in models:
            m.fc = nn.Sequential(copy.deepcopy(centre), m.fc).to(device)
    return models, data


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
    started = time.perf_counter()
    # a pretrained probe under the fast runners computes the encoder's features once per process: the run that does
    # says what that cost, so a time estimate counts it once, not in every probe run (a review of a 16x estimate)
    pays_features = regime == "probe" and cfg.runner != "plain" and not features_kept(task, encoder, device)
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
        val, tried = validation(task.y_train), []
        rates = [cfg.lr * factor for factor in cfg.lr_factors] if lr is None else [lr]
        together = rates_at_once(cfg, len(rates), encoder)
        reused: Features | None = None
        for first in range(0, len(rates), together):  # each rate from the same initialisation and batches
            chunk = rates[first : first + together]
            models, data = _fresh(task, encoder, regime, seed, cfg, device, len(chunk), indices, reused)
            reused = data if isinstance(data, Features) else None

            def report(epoch: int, b: int, loss: float, first: int = first) -> None:
                if on_batch is not None:
                    on_batch(first * cfg.epochs + epoch, b, loss)

            keep = keeps_states(models[0], cfg, len(rates), together)
            states = [[] if keep else None for _ in chunk]
            cfgs = [replace(cfg, lr=rate) for rate in chunk]
            trained = train_together(models, regime, data, indices, cfgs, seed, report, states)
            for rate, model, kept, (history, seconds, seen) in zip(chunk, models, states, trained, strict=True):
                val_loss, val_acc = loss_accuracy(model, data, data.x_train, task.y_train, val)
                tried.append(
                    {
                        "lr": rate,
                        "val_error": 100.0 * (1.0 - val_acc),
                        "val_loss": val_loss,
                        "history": history,
                        "seconds": seconds,
                        "images": seen,
                        "model": model,
                        "data": data,
                        "states": kept,
                    }
                )
            best = min(tried, key=lambda t: t["val_error"])  # ties: the first, the smallest rate
            for t in tried:
                if t is not best:  # a rate that lost keeps nothing but its figures
                    t["model"] = t["data"] = t["states"] = None
        if best["states"] is not None:
            test_curve(best["model"], best["data"], best["history"], best["states"])
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
    # What the run cost from start to end, evaluations and every rate tried included, and with how many threads:
    # what a time estimate needs (`seconds` is the kept rate's training alone).
    record.update(wall_seconds=time.perf_counter() - started, threads=torch.get_num_threads(), runner=cfg.runner)
    if pays_features:
        record["features_seconds"] = pretrained_features(task, encoder, device)[2]
    return record
