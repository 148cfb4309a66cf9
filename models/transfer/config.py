"""The transfer lab's vocabulary: the regimes, one run's training settings, a sweep's grid, where results live,
and the progress record a running sweep reports."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from itertools import product
from typing import Any

from models.files import PROJECT
from models.transfer.data import BUNDLED_ENCODER

REGIMES: dict[str, str] = {
    "scratch": "From scratch",
    "probe": "Linear probe (frozen encoder)",
    "finetune": "Fine-tuning",
    "probe-features": "Linear probe (cached features + logistic regression)",
    "random-probe": "Linear probe on a random encoder (no pretraining)",
}
DEFAULT_REGIMES = ("scratch", "probe", "finetune", "probe-features")
RESULTS = PROJECT / "results" / "transfer"
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
    lr_factors: tuple[float, ...] = (0.3, 1.0, 3.0)  # rates tried per (regime, n): lr times each, best on validation
    compile: bool = False  # torch.compile the network for training on CUDA (ignored on the CPU, where it does not pay)
    runner: str = "fast"  # how runs execute, one of RUNNERS: the same computation either way, to rounding

    def __post_init__(self) -> None:
        if self.runner not in RUNNERS:
            raise ValueError(f"unknown runner {self.runner!r}; choose from {', '.join(RUNNERS)}")


RUNNERS: dict[str, str] = {
    "fast": "fused AdamW; a frozen encoder run once per image (probes train their head on its cached output); "
    "test curves computed for the chosen rate only; max-pooling in channels-last memory (the same result) and "
    "evaluations through convolution shortcuts (models.nets.fast_layers)",
    "stacked": "the fast runner, with the rates a run chooses from trained as one stacked network (grouped "
    "convolutions): fewer, larger steps, for a GPU",
    "plain": "every run as the course's loop writes it: AdamW step by step, the encoder run on every batch, "
    "the test set after every epoch of every rate tried",
}
EXECUTION = ("compile", "runner")  # TrainConfig fields that say how runs execute, not what they compute


GPU_BATCH_SIZE = 256  # the photo tasks' default batch on a GPU, where 64 leaves most of it idle


def default_batch_size(task: str, device_type: str) -> int:
    """The batch size a sweep uses unless told: the course's 64, or GPU_BATCH_SIZE for 224-px photos on CUDA."""
    return GPU_BATCH_SIZE if task != "digits" and device_type == "cuda" else TrainConfig.batch_size


@dataclass(frozen=True)
class Progress:
    """Where a sweep is: run `run` of `runs` (its key), epoch and batch within it."""

    run: int
    runs: int
    run_key: str
    epoch: int
    epochs: int
    batch: int
    batches: int
    loss: float = float("nan")
    together: int = 1  # rates trained at once as one stack (the stacked runner's seed-0 runs)

    def epoch_text(self, per_rate: int) -> str:
        """Where the run is in its epochs, "epoch 4/5", or "rate 2 of 3, epoch 4/5" while a seed-0 run trains
        once per learning rate it chooses from (its `epochs` count them all), or "3 rates at once, epoch 4/5"."""
        if self.together > 1:
            return f"{self.together} rates at once, epoch {self.epoch}/{self.epochs}"
        if per_rate <= 0 or self.epochs <= per_rate:
            return f"epoch {self.epoch}/{self.epochs}"
        rate, epoch = divmod(self.epoch - 1, per_rate)
        return f"rate {rate + 1} of {-(-self.epochs // per_rate)}, epoch {epoch + 1}/{per_rate}"

    def loss_text(self) -> str:
        """The batch's training loss, "loss 0.412", or for rates trained at once the lowest of theirs (the loop
        reports that one), "lowest loss of 3 rates 0.412"."""
        lowest = f"lowest loss of {self.together} rates" if self.together > 1 else "loss"
        return f"{lowest} {self.loss:.3f}"

    @property
    def within(self) -> float:
        """How much of its run is done at this report, from 0 to 1 (its batches over every epoch it trains)."""
        return min(1.0, max(0.0, ((self.epoch - 1) * self.batches + self.batch) / max(1, self.epochs * self.batches)))

    @property
    def fraction(self) -> float:
        """How much of the sweep is done at this report, from 0 to 1 (runs, and within the run its batches)."""
        return min(1.0, (self.run - 1 + self.within) / max(1, self.runs))


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True)
class Sweep:
    """Regimes x sizes x seeds on one task and encoder with one training configuration."""

    task: str = "digits"
    encoder: str = BUNDLED_ENCODER
    regimes: tuple[str, ...] = DEFAULT_REGIMES
    sizes: tuple[int, ...] = (1, 2, 5, 10, 20, 50, 101)
    seeds: int = 3
    train: TrainConfig = TrainConfig(lr=3e-3)

    def settings(self) -> dict[str, Any]:
        """What every run of this sweep must share to be comparable (and to be resumed)."""
        # The rate is chosen per (regime, n) by the seed-0 run; other seeds reuse it (older sweeps chose per seed).
        # `compile` and `runner`, like the device, say how runs execute, not what they compute: sweeps differing in
        # them may mix (their results agree to rounding: tests/test_transfer_runners.py).
        # A probe's head sees its features centred on the run's training images (`models.transfer.loop.Centred`,
        # since 2026-12-05; before, as they came): results of either kind must not mix.
        train = {k: v for k, v in asdict(self.train).items() if k not in EXECUTION}
        return {
            "task": self.task,
            "encoder": self.encoder,
            "train": train,
            "rate_chosen_by_seed": 0,
            "probe_input": "centred",
        }

    def runs(self) -> Iterator[tuple[str, int, int]]:
        """(regime, n, seed) in the order they run: seed by seed, so early curves are complete."""
        for seed, n, regime in product(range(self.seeds), self.sizes, self.regimes):
            yield regime, n, seed


def settings_hash(settings: dict[str, Any]) -> str:
    """A sweep's identity: the first 12 hex digits of the SHA-256 of its settings as sorted JSON."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def run_key(regime: str, n: int, seed: int) -> str:
    """A run's name in its sweep and its file's: "probe-n5-s0"."""
    return f"{regime}-n{n}-s{seed}"
