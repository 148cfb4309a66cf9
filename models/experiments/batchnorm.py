"""Ioffe & Szegedy's Figure 1 on real digits: the same network trained with and without BatchNorm.

    python -m models.experiments.batchnorm                 # the default run, printed
    python -m models.experiments.batchnorm --write-default # refresh results/bn_default.json (the page's cached run)

Both networks start from the same seed and see the same batches. Every `eval_every` steps the
run records test accuracy of the plain network, of the BatchNorm network with batch statistics
(BatchNorm in train mode, as during training; dropout off) and with its running statistics (eval mode, as deployed), and
the 15th/50th/85th percentiles of one hidden unit's input to its nonlinearity over the test set.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.data.batches import batch_indices
from models.data.digits import digits
from models.files import ResultsFileError, public_path, read_json, write_json_atomic
from models.lock import PrivateRng, seeded_rngs
from models.nets.digits_nets import CONV_INPUT, build, probe_module
from models.speed_probe import Probe
from models.text import counted

DEFAULT_RESULT = Path(__file__).resolve().parents[2] / "results" / "bn_default.json"


EVAL_EVERY = {"mlp": 50, "conv": 10}  # steps between evaluations: the conv net is slower, so it reports more often


@dataclass(frozen=True)
class BNConfig:
    """Everything that decides a run; a run is reproducible from it. `eval_every` left at 0 is the architecture's
    (`EVAL_EVERY`), as the page evaluates it, so `BNConfig(arch="conv")` in a notebook is the page's run."""

    arch: str = "mlp"
    activation: str = "sigmoid"
    lr: float = 0.5
    batch_size: int = 60
    steps: int = 3000
    seed: int = 0
    eval_every: int = 0  # steps between evaluations; 0: the architecture's (EVAL_EVERY)
    unit: int = 0  # which hidden unit's input distribution to follow

    def __post_init__(self) -> None:
        if not self.eval_every:
            object.__setattr__(self, "eval_every", EVAL_EVERY.get(self.arch, EVAL_EVERY["mlp"]))


# Seconds per step of a run (both networks, evaluations and charts included) at the default batch of 60, and of its
# bare training step (its speed probe), measured in one run of `python bench/bench_training.py` on the 2-core
# CI-sized machine (conv 2026-12-05; the fully connected pair again on 2026-12-06, once its charts were redrawn at most
# every REDRAW_SECONDS rather than after each 50-step chunk: overhead x1.58 -> x1.43 over two runs' 1.37-1.43, on a
# VM that day about 1.2x slower than the day before); the runs train on the CPU. The conv pair's step figure is its
# probe of 2026-12-05 times the overhead measured in two runs on 2026-12-06 once an evaluation read each network's
# accuracy and unit percentiles from one pass (x1.46 and x1.52, from x1.69-1.89; that hour's VM was about 1.5x slower
# in every figure, so its own seconds would have overstated an idle step).
SECONDS_PER_STEP = {"mlp": 0.0025, "conv": 0.177}
PROBE_SECONDS = {"mlp": 0.0017, "conv": 0.119}


def estimate_seconds(arch: str, steps: int, batch_size: int = 60) -> float:
    """About how long a run takes on the bench's idle 2-core CPU: the measured time per step, scaled by the batch
    size for the conv net (whose steps cost in proportion to their images)."""
    scale = batch_size / 60 if arch == "conv" else 1.0
    return SECONDS_PER_STEP[arch] * steps * scale


def bn_probe(config: BNConfig) -> Probe:
    """How to time a step of this run on the server now (`models.speed_probe`), with what its evaluations and
    charts add at the default batch."""
    overhead = SECONDS_PER_STEP[config.arch] / PROBE_SECONDS[config.arch]
    return Probe(lambda: BNExperiment(config), min(config.eval_every, config.steps) - 1, overhead)


def summary(history: BNHistory, behaviour: dict[str, float], steps: int) -> str:
    """The train-vs-eval panel of a run, from its numbers so far: it says "so far" until the run's last step."""
    done = bool(history.steps) and history.steps[-1] >= steps
    gap = history.acc_bn_batch[-1] - history.acc_bn_running[-1]
    when = (
        "Final test accuracy"
        if done
        else f"Test accuracy so far (step {history.steps[-1]:,} of {steps:,}), at the last evaluation,"
    )
    return f"""**Train vs eval, from this run.** In train mode a BatchNorm layer normalises each unit with the mean
and variance *of the current batch*; it also keeps running averages of them. In eval mode it uses those running
averages instead, so an image's output no longer depends on the other images in its batch.

- First BatchNorm layer, unit 0: running mean **{behaviour["running_mean"]:.3f}**, running variance
  **{behaviour["running_var"]:.3f}**; the last training batch had mean **{behaviour["batch_mean"]:.3f}** and
  variance **{behaviour["batch_var"]:.3f}** (unbiased, as the running average takes it).
- The same test image in two different batches: the network's outputs for it (its class scores) differ by up to
  **{behaviour["train_shift"]:.3g}** in train mode and by **{behaviour["eval_shift"]:.3g}** in eval mode.
- {when} with batch statistics **{history.acc_bn_batch[-1]:.1%}**, with running statistics
  **{history.acc_bn_running[-1]:.1%}** (batch minus running: {100 * gap:+.1f} points); without BatchNorm
  **{history.acc_plain[-1]:.1%}**."""


def bn_label(config: BNConfig) -> str:
    """A run's settings in a legend entry: "3 x 100 MLP, sigmoid, lr 0.5, batch 60, 3,000 steps, seed 0"."""
    net = "3 x 100 MLP" if config.arch == "mlp" else "conv net"  # as the form names it (a walk read both names)
    return (
        f"{net}, {config.activation}, lr {config.lr:g}, batch {config.batch_size}, "
        f"{counted(config.steps, 'step')}, seed {config.seed}"
    )


def bn_config(arch: str, activation: str, lr: float, batch_size: int, steps: int, seed: int) -> BNConfig:
    """The run a visitor asks for, evaluated as often as its architecture's speed allows (`EVAL_EVERY`)."""
    return BNConfig(arch, activation, lr, batch_size, int(steps), int(seed))


@dataclass
class BNHistory:
    """The curves recorded so far."""

    steps: list[int] = field(default_factory=list)
    acc_plain: list[float] = field(default_factory=list)
    acc_bn_batch: list[float] = field(default_factory=list)  # BatchNorm net, train mode (batch statistics)
    acc_bn_running: list[float] = field(default_factory=list)  # BatchNorm net, eval mode (running statistics)
    pct_plain: list[list[float]] = field(default_factory=list)  # [p15, p50, p85] per evaluation
    pct_bn: list[list[float]] = field(default_factory=list)


class BNExperiment:
    """Two networks trained in lockstep; `advance(n)` runs n more steps and records as it goes."""

    def __init__(self, config: BNConfig):
        self.config = config
        size = CONV_INPUT if config.arch == "conv" else 8
        self.x_train, self.y_train, self.x_test, self.y_test = digits(size)
        with seeded_rngs(config.seed):
            self.plain = build(config.arch, False, config.activation)
        self.rng = PrivateRng(config.seed)  # the second initialisation and both nets' dropout draw from it
        with self.rng.active():
            self.bn = build(config.arch, True, config.activation)
        self.optimizers = [torch.optim.SGD(m.parameters(), lr=config.lr) for m in (self.plain, self.bn)]
        self.batches = batch_indices(len(self.y_train), config.batch_size, config.seed)
        self.step = 0
        self.history = BNHistory()
        self.last_batch = self.x_train[: config.batch_size]
        self._record()

    @property
    def done(self) -> bool:
        return self.step >= self.config.steps

    @property
    def total_steps(self) -> int:
        return self.config.steps

    def advance(self, n: int, tick: Callable[[], None] | None = None) -> None:
        """Train both networks for up to `n` more steps on the same batches; `tick()` after each step (where a live
        page redraws its progress)."""
        loss_fn = nn.CrossEntropyLoss()
        for _ in range(min(n, self.config.steps - self.step)):
            idx = next(self.batches)
            xb, yb = self.x_train[idx], self.y_train[idx]
            for model, opt in zip((self.plain, self.bn), self.optimizers, strict=True):
                model.train()
                with self.rng.active():
                    logits = model(xb)
                loss = loss_fn(logits, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            self.last_batch = xb
            self.step += 1
            if self.step % self.config.eval_every == 0 or self.step == self.config.steps:
                self._record()
            if tick:
                tick()

    def _record(self) -> None:
        h, x, y = self.history, self.x_test, self.y_test
        h.steps.append(self.step)
        plain, plain_pct = accuracy_and_percentiles(self.plain, x, y, self.config.unit)
        running, running_pct = accuracy_and_percentiles(self.bn, x, y, self.config.unit)
        h.acc_plain.append(plain)
        h.acc_bn_batch.append(batch_stats_accuracy(self.bn, x, y, self.config.batch_size))
        h.acc_bn_running.append(running)
        h.pct_plain.append(plain_pct)
        h.pct_bn.append(running_pct)


@contextmanager
def batch_statistics(model: nn.Module) -> Iterator[None]:
    """The model as deployed (eval mode) except its BatchNorm layers, which normalise by each batch's own
    statistics; the running statistics are left exactly as they were. Only BatchNorm's mode differs, as in Ioffe &
    Szegedy's comparison: the course's conv net has dropout, which `model.train()` would switch on too."""
    saved = copy.deepcopy(dict(model.named_buffers()))
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.train()
    try:
        with torch.no_grad():
            yield
    finally:
        for name, value in saved.items():
            model.get_buffer(name).copy_(value)
        model.eval()


def batch_stats_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    """Accuracy with BatchNorm normalising each test batch by its own statistics (`batch_statistics`)."""
    chunks = -(-len(x) // batch_size)  # near-equal batches: never one of a single image
    with batch_statistics(model):
        hits = sum(
            int((model(xb).argmax(1) == yb).sum())
            for xb, yb in zip(x.tensor_split(chunks), y.tensor_split(chunks), strict=True)
        )
    return hits / len(x)


@torch.no_grad()
def accuracy_and_percentiles(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, unit: int
) -> tuple[float, list[float]]:
    """Top-1 accuracy on (`x`, `y`) in eval mode, and the 15th, 50th and 85th percentiles over `x` of the input to
    one hidden unit's nonlinearity, from one pass (each evaluation read both; two passes had made evaluating the
    conv net cost as much as training it between evaluations). For a convolutional layer the unit is a channel's
    centre position."""
    seen: list[torch.Tensor] = []
    handle = probe_module(model).register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    model.eval()
    try:
        hits = int((model(x).argmax(1) == y).sum())
    finally:
        handle.remove()
    z = seen[0]
    values = z[:, unit] if z.dim() == 2 else z[:, unit, z.shape[2] // 2, z.shape[3] // 2]
    return hits / len(x), [round(float(v), 4) for v in np.percentile(values.numpy(), [15, 50, 85])]


def batchnorm_behaviour(model: nn.Module, x: torch.Tensor, batch: torch.Tensor) -> dict[str, float]:
    """Numbers for the train-vs-eval panel, for the first BatchNorm layer's unit 0: its running
    mean and variance against the mean and variance of the last training batch, and how much one
    test image's output moves when its batch companions change, in train mode and in eval mode."""
    bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d))
    seen: list[torch.Tensor] = []
    handle = bn.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    try:
        with torch.no_grad():
            model.eval()
            model(batch)
    finally:
        handle.remove()
    z = seen[0].transpose(0, 1).reshape(seen[0].shape[1], -1)[0]
    out: dict[str, float] = {
        "running_mean": float(bn.running_mean[0]),
        "running_var": float(bn.running_var[0]),
        "batch_mean": float(z.mean()),
        "batch_var": float(z.var(unbiased=True)),  # as PyTorch averages it into running_var (a fidelity review)
    }

    def shift() -> float:
        a = model(torch.cat([x[:1], x[1:40]]))[0]
        b = model(torch.cat([x[:1], x[40:79]]))[0]
        return float((a - b).abs().max())

    with batch_statistics(model):
        out["train_shift"] = shift()
    with torch.no_grad():
        out["eval_shift"] = shift()
    return out


def run(config: BNConfig, progress: Callable[[int, int], None] | None = None, chunk: int = 100) -> BNExperiment:
    """A whole run, for notebooks, tests and the terminal."""
    exp = BNExperiment(config)
    while not exp.done:
        exp.advance(chunk)
        if progress:
            progress(exp.step, config.steps)
    return exp


def load_default() -> tuple[BNConfig, BNHistory, dict[str, float]] | None:
    """The committed run of the default settings (config, curves, train-vs-eval numbers), if it
    was made with today's defaults."""
    if not DEFAULT_RESULT.is_file():
        return None
    record = read_json(DEFAULT_RESULT)
    try:
        if not isinstance(record["config"], dict):
            raise TypeError("no settings")
        if record["config"] != asdict(BNConfig()):
            return None
        history = BNHistory(**record["history"])
        lengths = {len(v) for v in asdict(history).values() if isinstance(v, list)}
        behaviour = {k: float(v) for k, v in record["behaviour"].items()}
        if len(lengths) != 1 or not history.steps:
            raise ValueError("curves of different lengths")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ResultsFileError(
            f"{public_path(DEFAULT_RESULT)} is damaged ({type(exc).__name__}); press Train to make a new run."
        ) from exc
    return BNConfig(**record["config"]), history, behaviour


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m models.experiments.batchnorm",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--write-default",
        action="store_true",
        help="save the run as results/bn_default.json, the run the page opens with",
    )
    args = ap.parse_args(argv)
    exp = run(BNConfig(), lambda s, t: print(f"step {s}/{t}", end="\r", flush=True))
    h = exp.history
    print(
        f"\nfinal test accuracy: plain {h.acc_plain[-1]:.3f}, BatchNorm (batch stats) {h.acc_bn_batch[-1]:.3f}, "
        f"BatchNorm (running stats) {h.acc_bn_running[-1]:.3f}"
    )
    if args.write_default:
        behaviour = batchnorm_behaviour(exp.bn, exp.x_test, exp.last_batch)
        write_json_atomic(DEFAULT_RESULT, {"config": asdict(exp.config), "history": asdict(h), "behaviour": behaviour})
        print(f"wrote {DEFAULT_RESULT}")


if __name__ == "__main__":
    main()
