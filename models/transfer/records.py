"""The transfer lab's records, typed: one run (`TransferRun`, with its epochs) and one sweep folder's settings
(`SweepRecord`), each read from and written to the JSON files the sweeps have always written (old files load; a
field a reader does not know is kept, so nothing is lost when a record is written back)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from models.files import read_json, write_json_atomic
from models.text import counted
from models.transfer.config import REGIMES, TrainConfig, run_key

EPOCH_FIELDS = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class EpochRecord:
    """One epoch of a run: its number, train loss and accuracy over the epoch, test loss and accuracy after it."""

    epoch: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    seconds: float | None = None

    @classmethod
    def from_dict(cls, raw: Any) -> EpochRecord:
        if not isinstance(raw, dict) or any(not _number(raw.get(f)) for f in EPOCH_FIELDS):
            raise ValueError("a damaged epoch in its history")
        seconds = raw.get("seconds")
        return cls(*(raw[f] for f in EPOCH_FIELDS), seconds=seconds if _number(seconds) else None)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def value(self, split: str, metric: str) -> float:
        """`split` "train" or "test", `metric` "loss" or "accuracy"."""
        return getattr(self, f"{split}_{metric}")


@dataclass(frozen=True, kw_only=True)
class TransferRun:
    """One finished run of a sweep: (regime, images per class, seed), its test figures, cost and curves, and how
    its learning rate (or the feature probe's C) was chosen."""

    key: str
    regime: str
    n_per_class: int
    seed: int
    test_error: float  # percent
    test_loss: float
    seconds: float = 0.0
    images: int = 0
    device: str = ""
    history: tuple[EpochRecord, ...] = ()
    lr: float | None = None
    C: float | None = None  # the feature probe's inverse regularisation, chosen on validation
    lr_chosen_by_seed: int | None = None
    candidates: tuple[dict[str, float], ...] = ()  # the rates (or C values) tried, with their validation error
    val_error: float | None = None
    settings_hash: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # every other field of the file, kept as it was

    REQUIRED = ("key", "regime", "n_per_class", "seed", "test_error", "test_loss", "seconds", "images", "device")

    @classmethod
    def from_dict(cls, raw: Any) -> TransferRun:
        """The run a file (or a runner) holds; ValueError naming the first field that is missing or off."""
        if not isinstance(raw, dict):
            raise ValueError("not a run record")
        kinds = {"key": str, "regime": str, "device": str, "n_per_class": int, "seed": int, "images": int}
        for name in cls.REQUIRED:
            value, kind = raw.get(name), kinds.get(name)
            if (kind is not None and (not isinstance(value, kind) or isinstance(value, bool))) or (
                kind is None and not _number(value)
            ):
                raise ValueError(f"no valid {name!r}")
        if not isinstance(raw.get("history"), list):
            raise ValueError("no valid 'history'")
        if raw["regime"] not in REGIMES or raw["n_per_class"] < 1 or raw["seed"] < 0:
            raise ValueError("regime, size or seed out of range")
        if not math.isfinite(raw["test_error"]):
            raise ValueError("test error is not a number")
        known = {f.name for f in fields(cls)} - {"extra"}
        lr, c, by, val = raw.get("lr"), raw.get("C"), raw.get("lr_chosen_by_seed"), raw.get("val_error")
        return cls(
            **{k: raw[k] for k in cls.REQUIRED},
            history=tuple(EpochRecord.from_dict(e) for e in raw["history"]),
            lr=float(lr) if _number(lr) else None,
            C=float(c) if _number(c) else None,
            lr_chosen_by_seed=by if isinstance(by, int) and not isinstance(by, bool) else None,
            candidates=tuple(c for c in raw.get("candidates") or () if isinstance(c, dict)),
            val_error=float(val) if _number(val) else None,
            settings_hash=raw.get("settings_hash") if isinstance(raw.get("settings_hash"), str) else "",
            extra={k: v for k, v in raw.items() if k not in known},
        )

    def recorded(self, name: str) -> float | None:
        """A number the run's file holds beyond the typed fields (`wall_seconds`, `extract_seconds`), else None."""
        value = self.extra.get(name)
        return float(value) if _number(value) else None

    def to_dict(self) -> dict[str, Any]:
        """The record as its JSON file holds it (fields that are None or empty left out, as the runners write)."""
        out = {k: getattr(self, k) for k in self.REQUIRED}
        out["history"] = [e.to_dict() for e in self.history]
        for name in ("lr", "C", "lr_chosen_by_seed", "val_error"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.candidates:
            out["candidates"] = [dict(c) for c in self.candidates]
        if self.settings_hash:
            out["settings_hash"] = self.settings_hash
        return {**self.extra, **out}

    @classmethod
    def load(cls, path: str | Path) -> TransferRun:
        """The run in a file: ResultsFileError for a file that cannot be read, ValueError for a damaged record."""
        return cls.from_dict(read_json(path))

    def save(self, folder: str | Path) -> Path:
        """Written atomically as `<folder>/runs/<key>.json`."""
        path = Path(folder) / "runs" / f"{self.key}.json"
        write_json_atomic(path, self.to_dict())
        return path


def step_text(train: dict[str, Any]) -> str:
    """StepLR's schedule in words, and when the sweep's epochs end before its first step (a walk read "1 epoch,
    StepLR every 5")."""
    every, epochs = train["step_size"], train["epochs"]
    said = (
        f"the rate times {train.get('step_gamma', TrainConfig.step_gamma):g} every {counted(every, 'epoch')} (StepLR)"
    )
    return said + (f", not reached in {counted(epochs, 'epoch')}" if epochs <= every else "")


# The fine-tuning settings a sweep's title names when they are away from their defaults.
TITLED_SETTINGS = {"ft_ratio": "fine-tuning ratio", "warm_epochs": "warm start", "layer_decay": "layer decay"}


@dataclass(frozen=True, kw_only=True)
class SweepRecord:
    """A sweep folder's `sweep.json`: the settings and their hash, the grid it holds (regimes, sizes, seeds), what
    task and encoder it ran, and the commands that wrote it; published data says so and carries the paper's fits."""

    settings: dict[str, Any]
    settings_hash: str
    regimes: tuple[str, ...] = ()
    sizes: tuple[int, ...] = ()
    seeds: int = 0
    task_title: str = ""
    encoder_title: str = ""
    encoder_source: str = ""
    max_per_class: int | None = None
    commands: tuple[str, ...] = ()
    published: str = ""  # for published measurements: the citation
    published_fits: dict[str, dict[str, float]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def command(self) -> str:
        """The last command that wrote the sweep."""
        return self.commands[-1] if self.commands else "python -m models.transfer"

    @classmethod
    def from_dict(cls, raw: Any) -> SweepRecord:
        if not isinstance(raw, dict) or not isinstance(raw.get("settings"), dict):
            raise ValueError("does not hold a sweep's settings")
        if not isinstance(raw.get("settings_hash"), str):
            raise ValueError("does not hold a sweep's settings")
        if not isinstance(raw["settings"].get("train", {}), dict):  # a review: a damaged file's traceback on the page
            raise ValueError("holds damaged training settings")
        commands = raw.get("commands") or [raw.get("command")]
        known = {f.name for f in fields(cls)} | {"command"}
        try:
            return cls(
                settings=raw["settings"],
                settings_hash=raw["settings_hash"],
                regimes=tuple(str(r) for r in raw.get("regimes") or ()),
                sizes=tuple(int(n) for n in raw.get("sizes") or ()),
                seeds=int(raw.get("seeds") or 0),
                task_title=str(raw.get("task_title", "")),
                encoder_title=str(raw.get("encoder_title", "")),
                encoder_source=str(raw.get("encoder_source", "")),
                max_per_class=raw.get("max_per_class"),
                commands=tuple(c for c in commands if isinstance(c, str) and c),
                published=str(raw.get("published") or ""),
                published_fits=raw.get("published_fits"),
                extra={k: v for k, v in raw.items() if k not in known},
            )
        except (TypeError, ValueError, OverflowError) as exc:  # "seeds": Infinity is JSON to Python
            raise ValueError(f"holds a damaged grid ({exc})") from None

    def to_dict(self) -> dict[str, Any]:
        out = {
            **self.extra,
            "settings": self.settings,
            "settings_hash": self.settings_hash,
            "regimes": list(self.regimes),
            "sizes": list(self.sizes),
            "seeds": self.seeds,
            "task_title": self.task_title,
            "encoder_title": self.encoder_title,
            "encoder_source": self.encoder_source,
            "max_per_class": self.max_per_class,
            "command": self.command,
            "commands": list(self.commands),
        }
        if self.published:
            out["published"], out["published_fits"] = self.published, self.published_fits
        return out

    def save(self, folder: str | Path) -> None:
        write_json_atomic(Path(folder) / "sweep.json", self.to_dict())

    @property
    def min_batches(self) -> int:
        """The least batches an epoch of this sweep's runs had (TrainConfig's default where the record lacks it)."""
        return (self.settings.get("train") or {}).get("min_batches", TrainConfig.min_batches)

    @property
    def batch_size(self) -> int:
        """The batch size this sweep's runs trained with (TrainConfig's default where the record lacks it)."""
        return (self.settings.get("train") or {}).get("batch_size", TrainConfig.batch_size)

    def rates_text(self) -> str:
        """The base rate, or the rates each (regime, size) chose from on validation when it had a choice."""
        train = self.settings.get("train") or {}
        factors = train.get("lr_factors") or [1.0]
        if len(factors) == 1:
            return f"{train['lr'] * factors[0]:g}"
        # the command's --lr is the base rate the choices are made from (a walk read `--lr 0.003` beside three rates)
        tried = ", ".join(f"{train['lr'] * f:g}" for f in factors)
        times = ", ".join(f"{f:g}" for f in factors[:-1]) + f" and {factors[-1]:g}"
        return f"the best on validation of {tried} (the base rate {train['lr']:g} times {times})"

    def reproduce_text(self) -> str:
        """The command(s) that reproduce every run of the folder: one per sweep that wrote into it."""
        commands = self.commands or (self.command,)
        if len(commands) == 1:
            return f"Reproduce: `{commands[0]}`"
        return f"This folder holds {len(commands)} sweeps; reproduce them with " + " and ".join(
            f"`{c}`" for c in commands
        )

    def describe(self, n_runs: int) -> str:
        """The sweep in a caption: task, encoder, how every regime trained, and the command that reproduces it;
        for published data, whose measurements they are."""
        if self.published:
            return (
                f"Published measurements: {self.published} ({self.extra.get('source', '')}), "
                f"{counted(n_runs, 'trained model')}. Task: {self.task_title}. Encoder: {self.encoder_title}, "
                f"{self.encoder_source}. The fits "
                "below are computed here; the paper's own are in the table after them."
            )
        try:
            train = self.settings["train"]
            return (
                f"Task: {self.task_title or self.settings['task']}. Encoder: "
                f"{self.encoder_title or self.settings['encoder']} — {self.encoder_source}. "
                f"{counted(n_runs, 'run')}; every "
                f"regime trained with AdamW at {self.rates_text()} (fine-tuned encoder at {train['ft_ratio']:g}x), "
                f"{counted(train['epochs'], 'epoch')}, {step_text(train)}. " + self.reproduce_text()
            )
        except (KeyError, TypeError, ValueError, OverflowError):
            return f"{counted(n_runs, 'run')}; this sweep's settings are unknown."

    def title(self) -> str:
        """The sweep in a few words, for a list of sweeps: its task, regimes, sizes, seeds, epochs and any fine-tuning
        setting away from its default (a walk met sweeps listed by their folders' hashes). Where two sweeps share
        these, their settings' hash tells them apart."""
        train = self.settings.get("train") or {}
        sizes = sorted(self.sizes)
        span = ""
        if len(sizes) == 1:
            span = f"{counted(sizes[0], 'image')} per class"
        elif sizes:
            span = f"{sizes[0]:,} to {sizes[-1]:,} images per class"
        defaults = TrainConfig()
        away = [
            f"{label} {train[name]:g}"
            for name, label in TITLED_SETTINGS.items()
            if isinstance(train.get(name), int | float) and train[name] != getattr(defaults, name)
        ]
        parts = [
            str(self.settings.get("task", "unknown task")),
            counted(len(self.regimes), "regime"),
            span,
            counted(self.seeds, "seed") if self.seeds else "",
            counted(train["epochs"], "epoch") if isinstance(train.get("epochs"), int) else "",
            *away,
        ]
        return ", ".join(p for p in parts if p)

    def expected_keys(self) -> list[str]:
        """Every run key the folder should hold when finished: its regimes x sizes x seeds."""
        return [run_key(r, n, s) for s in range(self.seeds) for n in self.sizes for r in self.regimes]
