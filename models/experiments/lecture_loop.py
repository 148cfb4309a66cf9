"""The lecture's training loop, live: AdamW at 3e-4, StepLR (step 5, gamma 0.5), cross-entropy, batch 64, an
evaluation on the test set after every epoch. It runs in steps (`advance`), so a page can draw its curves as it
goes, stop it and resume it; every step records the loss, the batch accuracy, the learning rate and each layer's
gradient norm. `scheduler_step=False` is the lecture's "TO DO: uncomment lr_scheduler.step()": the rate never
decays, and the curves show what that costs.

Three set-ups, all on data this machine has: the course's digits network, or the project's ResNet-18 (a quarter of
the width), on scikit-learn's digits (64 x 64, 1,300 training and 497 test scans); and that ResNet-18 on 1,200
generated shapes, which it memorises (train accuracy 100%, test about 25%): overfitting, live."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache

import numpy as np
import torch
from torch import nn

from models.data.batches import batch_indices
from models.data.digits import digits
from models.data.shapes import ONE_SHAPE_IMAGES, SHAPE_CLASSES, classification_set
from models.lock import PrivateRng, rngs_kept
from models.nets.digits_nets import CONV_INPUT, DigitsConvNet
from models.nets.resnet import ResNet18
from models.speed_probe import Probe
from models.text import counted, difference_as_shown

SETUPS = {
    "digits": "the digits network on scikit-learn's digits (1,300 training, 497 test)",
    "resnet-digits": "ResNet-18 (width 1/4) on scikit-learn's digits (1,300 training, 497 test)",
    "resnet-shapes": "ResNet-18 (width 1/4) on 1,200 generated shapes: too few, it memorises them (600 test)",
}
# What each set-up's network sees in training, and whether the project's generated sample images are of that data
# (the shapes are drawn by the same generator; the digits are scans).
TRAINED_ON: dict[str, tuple[str, bool]] = {
    "digits": ("scikit-learn's 8x8 handwritten digit scans", False),
    "resnet-digits": ("scikit-learn's 8x8 handwritten digit scans", False),
    "resnet-shapes": (ONE_SHAPE_IMAGES, True),
}
SHAPES_TRAIN, SHAPES_TEST, SHAPES_SEED = 1200, 600, 7
MAX_EPOCHS = 30
# Seconds per step at batch 64, evaluations and charts included, and of a bare step (the run's speed probe), measured
# in one run of `python bench/bench_training.py` on the 2-core CI-sized machine (2026-12-05); the runs train on the CPU.
SECONDS_PER_STEP = {"digits": 0.085, "resnet-digits": 0.047, "resnet-shapes": 0.043}
PROBE_SECONDS = {"digits": 0.079, "resnet-digits": 0.041, "resnet-shapes": 0.035}


@dataclass(frozen=True)
class LoopConfig:
    """One run of the loop; the defaults are the lecture's."""

    setup: str = "digits"
    epochs: int = 20
    lr: float = 3e-4
    batch_size: int = 64
    step_size: int = 5
    gamma: float = 0.5
    scheduler_step: bool = True  # False: the forgotten `lr_scheduler.step()`
    seed: int = 0

    def __post_init__(self) -> None:
        if self.setup not in SETUPS:
            raise ValueError(f"unknown set-up {self.setup!r}; choose {' or '.join(SETUPS)}")
        if not 1 <= self.epochs <= MAX_EPOCHS:
            raise ValueError(f"epochs must be 1 to {MAX_EPOCHS}, not {self.epochs}")
        if not (1e-6 <= self.lr <= 1.0 and 8 <= self.batch_size <= 256 and 1 <= self.step_size <= MAX_EPOCHS):
            raise ValueError("the rate must be 1e-6 to 1, the batch 8 to 256 and the step size 1 to 30 epochs")
        if not 0.01 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be 0.01 to 1, not {self.gamma}")


@lru_cache(maxsize=len(SETUPS))
def raw_data(setup: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """(x_train, y_train, x_test, y_test, class names) of a set-up in [0, 1], before standardisation (the digits
    upsampled to the network's input and repeated to three channels for ResNet-18)."""
    if setup != "resnet-shapes":
        x_tr, y_tr, x_te, y_te = digits(CONV_INPUT, standardise=False)
        if setup == "resnet-digits":
            x_tr, x_te = x_tr.repeat(1, 3, 1, 1), x_te.repeat(1, 3, 1, 1)
        return x_tr, y_tr, x_te, y_te, tuple(map(str, range(10)))
    images, labels = classification_set(SHAPES_TRAIN + SHAPES_TEST, SHAPES_SEED)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    y = torch.from_numpy(labels)
    return x[:SHAPES_TRAIN], y[:SHAPES_TRAIN], x[SHAPES_TRAIN:], y[SHAPES_TRAIN:], SHAPE_CLASSES


def statistics(setup: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The mean and standard deviation, per input channel, the set-up's images are standardised with: the training
    set's (one value over all pixels for the digits, as `digits` computes it; per colour for the shapes)."""
    x_tr = raw_data(setup)[0]
    if setup == "resnet-shapes":
        return tuple(x_tr.mean((0, 2, 3)).tolist()), tuple(x_tr.std((0, 2, 3)).tolist())
    mean, std = float(x_tr[:, :1].mean()), float(x_tr[:, :1].std())
    return (mean,) * x_tr.shape[1], (std,) * x_tr.shape[1]


@lru_cache(maxsize=len(SETUPS))
def data(setup: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """(x_train, y_train, x_test, y_test, class names) of a set-up, standardised with the training set's statistics
    (the digits repeated to three channels for ResNet-18). Made once per process and only read: runs share them."""
    x_tr, y_tr, x_te, y_te, classes = raw_data(setup)
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in statistics(setup))
    return (x_tr - mean) / std, y_tr, (x_te - mean) / std, y_te, classes


def test_images(setup: str, n: int = 12) -> dict[str, tuple[np.ndarray, str]]:
    """The first `n` test images of a set-up as (H x W x 3 uint8 picture, true class), named by their class and
    place: the samples a network trained on it is explained on."""
    _, _, x_te, y_te, classes = raw_data(setup)
    pictures = (x_te[:n].clamp(0, 1) * 255).round().byte()
    pictures = pictures.repeat(1, 3 // pictures.shape[1], 1, 1).permute(0, 2, 3, 1).numpy()
    what = "digit" if setup != "resnet-shapes" else "shape"
    labels = y_te[:n].tolist()
    return {
        f"{what} {classes[y]} (test image {i + 1})": (p, classes[y])
        for i, (p, y) in enumerate(zip(pictures, labels, strict=True))
    }


def network(setup: str) -> nn.Module:
    """The set-up's network, freshly initialised (seed it first)."""
    if setup == "digits":
        return DigitsConvNet(batchnorm=False, activation="relu")
    return ResNet18(10 if setup == "resnet-digits" else len(SHAPE_CLASSES), width=0.25)


@cache
def network_size(setup: str) -> str:
    """The set-up's network in numbers, "6.0 M parameters", built on the meta device (no weights, no random draws):
    what makes the full-size digits net slower per step than ResNet-18 at a quarter of its width (a walk found the
    home page's timings odd without it)."""
    with rngs_kept(), torch.device("meta"):
        count = sum(p.numel() for p in network(setup).parameters())
    return f"{count / 1e6:.1f} M parameters"


def layer_groups(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """The layers whose gradient norms are drawn: each top-level block, or each conv/linear layer of a
    `features`/`classifier` stack."""
    groups: dict[str, list[nn.Parameter]] = {}
    for name, child in model.named_children():
        if isinstance(child, nn.Sequential) and name in ("features", "classifier"):
            for sub, m in child.named_children():
                if isinstance(m, nn.Conv2d | nn.Linear):
                    groups[f"{name}.{sub}"] = list(m.parameters())
        elif any(True for _ in child.parameters()):
            groups[name] = list(child.parameters())
    return groups


@dataclass
class LoopHistory:
    """Per step: loss, batch accuracy, learning rate, gradient norm per layer. Per epoch: train and test."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    grad_norms: dict[str, list[float]] = field(default_factory=dict)
    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)


class LectureLoop:
    """The loop's state between steps: the network, AdamW, StepLR, the batch stream and what was recorded."""

    def __init__(self, config: LoopConfig) -> None:
        self.config = config
        self.x_train, self.y_train, self.x_test, self.y_test, self.classes = data(config.setup)
        self.rng = PrivateRng(config.seed)  # the initialisation and dropout draw from the run's own stream
        with self.rng.active():
            self.model = network(config.setup)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, config.step_size, config.gamma)
        self.batches = batch_indices(len(self.y_train), config.batch_size, config.seed)
        self.steps_per_epoch = len(self.y_train) // config.batch_size
        self.groups = layer_groups(self.model)
        self.step = 0
        self.history = LoopHistory(grad_norms={name: [] for name in self.groups})
        self._epoch_loss = self._epoch_correct = 0.0

    @property
    def total_steps(self) -> int:
        return self.config.epochs * self.steps_per_epoch

    @property
    def done(self) -> bool:
        return self.step >= self.total_steps

    def advance(self, n: int, tick: Callable[[], None] | None = None) -> None:
        """Train up to `n` more steps; at each epoch's end evaluate on the test set and step the scheduler
        (unless the run forgets to); `tick()` after each step (where a live page redraws its progress)."""
        loss_fn, h = nn.CrossEntropyLoss(), self.history
        for _ in range(min(n, self.total_steps - self.step)):
            idx = next(self.batches)
            xb, yb = self.x_train[idx], self.y_train[idx]
            self.model.train()
            with self.rng.active():
                logits = self.model(xb)
            loss = loss_fn(logits, yb)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for name, params in self.groups.items():
                grads = [p.grad.flatten() for p in params if p.grad is not None]
                h.grad_norms[name].append(float(torch.linalg.vector_norm(torch.cat(grads))) if grads else 0.0)
            h.lr.append(self.optimizer.param_groups[0]["lr"])  # the rate this step trains at
            self.optimizer.step()
            self.step += 1
            correct = float((logits.argmax(1) == yb).float().sum())
            h.step.append(self.step)
            loss_value = float(loss.detach())
            h.loss.append(loss_value)
            h.accuracy.append(correct / len(yb))
            self._epoch_loss += loss_value * len(yb)
            self._epoch_correct += correct
            if self.step % self.steps_per_epoch == 0:
                self._end_epoch()
            if tick:
                tick()

    def _end_epoch(self) -> None:
        h, seen = self.history, self.steps_per_epoch * self.config.batch_size
        h.epoch.append(self.step // self.steps_per_epoch)
        h.train_loss.append(self._epoch_loss / seen)
        h.train_accuracy.append(self._epoch_correct / seen)
        test_loss, test_acc = evaluate(self.model, self.x_test, self.y_test)
        h.test_loss.append(test_loss)
        h.test_accuracy.append(test_acc)
        self._epoch_loss = self._epoch_correct = 0.0
        if self.config.scheduler_step:
            self.scheduler.step()


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) on (x, y), in eval mode."""
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(y), batch_size):
        logits = model(x[i : i + batch_size])
        loss += float(nn.functional.cross_entropy(logits, y[i : i + batch_size], reduction="sum"))
        correct += int((logits.argmax(1) == y[i : i + batch_size]).sum())
    return loss / len(y), correct / len(y)


def run(config: LoopConfig) -> LectureLoop:
    """The whole run at once (what the page's live run must equal)."""
    loop = LectureLoop(config)
    loop.advance(loop.total_steps)
    return loop


def loop_steps(config: LoopConfig) -> int:
    """How many steps a run trains: whole batches per epoch (the last partial batch is dropped) times epochs."""
    return config.epochs * ((SHAPES_TRAIN if config.setup == "resnet-shapes" else 1300) // config.batch_size)


def estimate_seconds(config: LoopConfig) -> float:
    """About how long a run takes on the bench's idle 2-core CPU (measured per step; evaluations included)."""
    return loop_steps(config) * SECONDS_PER_STEP[config.setup] * config.batch_size / 64


def loop_probe(config: LoopConfig) -> Probe:
    """How to time a step of this run on the server now (`models.speed_probe`), with what its evaluations and
    charts add at batch 64."""
    overhead = SECONDS_PER_STEP[config.setup] / PROBE_SECONDS[config.setup]
    return Probe(lambda: LectureLoop(config), loop_steps(config) // config.epochs - 1, overhead)


def describe(config: LoopConfig) -> str:
    """A run's settings in a line: "ResNet-18 (width 1/4) on the digits, 10 epochs, AdamW 0.0003, batch 64, …"."""
    data = "generated shapes" if config.setup == "resnet-shapes" else "the digits"
    net = "the digits network" if config.setup == "digits" else "ResNet-18 (width 1/4)"
    steps = f"StepLR step {config.step_size} gamma {config.gamma:g}" + (
        "" if config.scheduler_step else " (never stepped)"
    )
    training = f"{counted(config.epochs, 'epoch')}, AdamW {config.lr:g}, batch {config.batch_size}"
    return f"{net} on {data}, {training}, {steps}, seed {config.seed}"


SETUP_NAMES = {
    "digits": "digits net",
    "resnet-digits": "ResNet-18 at 1/4 width on digits",
    "resnet-shapes": "ResNet-18 at 1/4 width on shapes",
}
# What a set-up's run will show, said with its estimate, for the settings applied (a walk read 24% test accuracy as a
# broken app; the warning was only in the menu's help). Not in the menu's words: a link holds the option's label, and
# links already made would no longer be taken. Measured in four runs (2026-12-07, this 2-core machine) at the
# defaults with seeds 0 and 1 (25% and 19% test), 30 epochs (24%) and a rate of 0.001 (27%), train accuracy 100% in each
EXPECTED = {
    "resnet-shapes": "Expect overfitting: 1,200 images are too few for this network to learn six shapes on varied "
    "backgrounds, so it memorises them. Train accuracy climbs to 100% while test accuracy stays near chance (17%): "
    "19% to 27% in four runs on this project's machine (seeds 0 and 1, 30 epochs, a rate of 0.001)."
}


def short_label(config: LoopConfig) -> str:
    """A run's settings in a legend entry: "digits net, 20 epochs, lr 0.0003, batch 64, StepLR 5 x 0.5, seed 0"."""
    scheduler = f"StepLR {config.step_size} x {config.gamma:g}" + ("" if config.scheduler_step else " forgotten")
    return (
        f"{SETUP_NAMES[config.setup]}, {counted(config.epochs, 'epoch')}, lr {config.lr:g}, "
        f"batch {config.batch_size}, {scheduler}, seed {config.seed}"
    )


def loop_code(config: LoopConfig) -> str:
    """The loop as the lecture writes it, with this run's settings (and the scheduler line commented out when
    the run forgets it)."""
    classes = 6 if config.setup == "resnet-shapes" else 10
    net = "DigitsConvNet(batchnorm=False)" if config.setup == "digits" else f"ResNet18({classes}, width=0.25)"
    sched = "    lr_scheduler.step()" if config.scheduler_step else "    # TO DO: uncomment\n    # lr_scheduler.step()"
    return f"""import torch
from torch import nn
from tqdm import tqdm

torch.manual_seed({config.seed})
model = {net}
optimizer = torch.optim.AdamW(model.parameters(), lr={config.lr:g})
lr_scheduler = torch.optim.lr_scheduler.StepLR(
    optimizer, step_size={config.step_size}, gamma={config.gamma:g}
)
loss_fn = nn.CrossEntropyLoss()

for epoch in range({config.epochs}):
    model.train()
    for x, y in tqdm(train_loader):  # batches of {config.batch_size}
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
{sched}
    model.eval()
    test_loss, test_accuracy = evaluate(model, test_loader)
"""


class SchedulerComparison:
    """The same run twice from the same seed (the same initial weights and batches): with `lr_scheduler.step()`
    and with it forgotten, advanced together so their curves can be drawn on one chart."""

    def __init__(self, config: LoopConfig) -> None:
        self.config = replace(config, scheduler_step=True)
        self.stepped, self.forgotten = LectureLoop(self.config), LectureLoop(replace(config, scheduler_step=False))
        self.steps_per_epoch = self.stepped.steps_per_epoch

    @property
    def step(self) -> int:
        return self.stepped.step + self.forgotten.step

    @property
    def total_steps(self) -> int:
        return 2 * self.stepped.total_steps

    @property
    def done(self) -> bool:
        return self.stepped.done and self.forgotten.done

    def advance(self, n: int, tick: Callable[[], None] | None = None) -> None:
        """`n` more steps of each run."""
        self.stepped.advance(n, tick)
        self.forgotten.advance(n, tick)


def scheduler_idle_note(config: LoopConfig) -> str:
    """Why forgetting `lr_scheduler.step()` cannot change a run with these settings, or "": StepLR lowers the rate
    first after `step_size` epochs, so a run of that many epochs or fewer never sees it, and a gamma of 1 never
    lowers it (a walk forgot the step at 4 epochs with a step size of 5 and saw nothing change)."""
    if config.gamma == 1.0:
        return (
            "With a StepLR gamma of 1 the rate never changes, so forgetting `lr_scheduler.step()` changes nothing: "
            "choose a smaller gamma to see what the missing line does."
        )
    if config.epochs <= config.step_size:
        return (
            f"StepLR first lowers the rate after epoch {config.step_size}, and this run trains {config.epochs}: "
            "forgetting `lr_scheduler.step()` changes nothing in it. Lower the step size or raise the epochs to see "
            "what the missing line does."
        )
    return ""


def scheduler_effect(stepped: LoopHistory, forgotten: LoopHistory) -> str:
    """What forgetting `lr_scheduler.step()` did in these two runs, in numbers, whichever way it fell: the last
    common epoch's test accuracy (and how many test images that is) and test loss, and the final rates."""
    epochs = min(len(stepped.epoch), len(forgotten.epoch))
    if not epochs:
        return ""
    e = epochs - 1
    acc, loss = stepped.test_accuracy[e], stepped.test_loss[e]
    f_acc, f_loss = forgotten.test_accuracy[e], forgotten.test_loss[e]
    if stepped.lr[-1] == forgotten.lr[-1]:
        rates = f"the rate never decayed in either run by epoch {epochs} (both at {stepped.lr[-1]:g})"
    else:
        rates = f"the stepped run's rate had decayed to {stepped.lr[-1]:g}, the other stayed at {forgotten.lr[-1]:g}"
    # the differences of the figures as shown, so they add up on the page (a walk: 0.058 - 0.073 read as -0.016)
    points, change = difference_as_shown(100 * f_acc, 100 * acc, 2), difference_as_shown(f_loss, loss, 3)
    return (
        f"After epoch {epochs}: with the step, test accuracy {acc:.2%} and test loss {loss:.3f}; with it forgotten, "
        f"{f_acc:.2%} and {f_loss:.3f} (accuracy {points:+.2f} points, loss {change:+.3f}); {rates}."
    )


# Where this page's loop departs from the lecture's code, per set-up (the lecture trains 20 epochs, as here).
DEPARTURES = {
    "digits": (
        "the network takes 1 input channel (the lecture's code takes 3)",
        "the first convolution pads by 5 (the lecture's by 2)",
        "the last max-pool rounds its size up (ceil_mode=True; the lecture's rounds down)",
        "each epoch drops its last partial batch (the lecture's trains on it)",
    ),
    "resnet-digits": ("ResNet-18 is a quarter as wide", "each epoch drops its last partial batch"),
    "resnet-shapes": ("ResNet-18 is a quarter as wide", "each epoch drops its last partial batch"),
}


MEMORISED_GAP = 0.3  # train accuracy this far above test accuracy: the network learned its images, not the classes


def memorised_note(loop: LectureLoop) -> str:
    """One sentence when the last epoch's train accuracy is MEMORISED_GAP or more above its test accuracy, naming
    chance for the task's classes, else "" (a walk saw 'test accuracy 23.5%' on 6 classes with no word on why)."""
    h = loop.history
    if not h.epoch or h.train_accuracy[-1] - h.test_accuracy[-1] < MEMORISED_GAP:
        return ""
    chance = 1 / len(loop.classes)
    return (
        f"Train accuracy {h.train_accuracy[-1]:.0%} against test {h.test_accuracy[-1]:.0%} (chance: {chance:.0%} for "
        f"{len(loop.classes)} classes): the network memorised its {len(loop.y_train)} training images instead of "
        "learning the classes; more images, or augmentation, is what helps."
    )


def final_numbers(loop: LectureLoop) -> dict[str, float]:
    """The last epoch's test accuracy and loss, and the rate the last step trained at."""
    h = loop.history
    if not h.epoch:
        return {}
    return {
        "test_accuracy": h.test_accuracy[-1],
        "test_loss": h.test_loss[-1],
        "lr": h.lr[-1],
        "best_test_accuracy": float(np.max(h.test_accuracy)),
    }
