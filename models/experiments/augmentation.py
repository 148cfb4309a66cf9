"""Augmentation pipelines built from a plain list of steps, with torchvision transforms v2.

A step is `{"name": "rotation", "params": {"degrees": 15}}`. The same list builds the pipeline
(`build_pipeline`), prints the Python that builds it (`pipeline_code`, which executed gives the
same outputs for the same seed), transforms a detection sample's boxes and masks along with its
image (`augment_scene`), and trains the digits classifier with and without it (`compare_on_digits`).
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision import tv_tensors
from torchvision.transforms import v2

from models.data.batches import accuracy, batch_indices
from models.data.digits import raw_split
from models.data.shapes import SHAPE_CLASSES, Scene
from models.lock import seeded_rngs
from models.measured import KeptMeasurements
from models.params import Param
from models.speed_probe import SPANS, WARMUP, Probe
from models.text import code_span, counted, difference_as_shown


@dataclass(frozen=True)
class TransformSpec:
    """A transform a user can add: its v2 class and its parameters, each with a default and (for each number,
    or each end of a pair) the range a visitor may choose, which bounds one preview's memory and time."""

    cls: str
    params: tuple[Param, ...]

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    @property
    def bounds(self) -> dict[str, tuple[float, float]]:
        return {p.name: (p.low, p.high) for p in self.params if p.kind != "bool"}

    def param(self, key: str) -> Param:
        return next(p for p in self.params if p.name == key)


MAX_STEPS = 12  # transforms in one pipeline
MAX_SIDE = 512  # output sizes of crops, in pixels: 24 previews of 512 x 512 are 19 MB


def _p(name: str, default: Any, low: float = 0.0, high: float = 1.0, **extra: Any) -> Param:
    """A transform's parameter, labelled by its torchvision name; numbers step by 0.05 in the form."""
    kind = "bool" if isinstance(default, bool) else "pair" if isinstance(default, tuple) else type(default).__name__
    step = extra.pop("step", None if kind in ("int", "bool") else 0.05)
    return Param(
        name, name, default, kind, None if kind == "bool" else low, None if kind == "bool" else high, step=step, **extra
    )


TRANSFORMS: dict[str, TransformSpec] = {
    "horizontal flip": TransformSpec("RandomHorizontalFlip", (_p("p", 0.5),)),
    "vertical flip": TransformSpec("RandomVerticalFlip", (_p("p", 0.5),)),
    "rotation": TransformSpec("RandomRotation", (_p("degrees", 15.0, 0.0, 180.0),)),
    "resized crop": TransformSpec(
        "RandomResizedCrop", (_p("size", 192, 8, MAX_SIDE), _p("scale", (0.5, 1.0), 0.01, 1.0, ordered=True))
    ),
    "random crop": TransformSpec(
        "RandomCrop", (_p("size", 160, 8, MAX_SIDE), _p("padding", 16, 0, 128), _p("pad_if_needed", True))
    ),
    "colour jitter": TransformSpec(
        "ColorJitter",
        (
            _p("brightness", 0.4, 0.0, 2.0),
            _p("contrast", 0.4, 0.0, 2.0),
            _p("saturation", 0.4, 0.0, 2.0),
            _p("hue", 0.1, 0.0, 0.5),
        ),
    ),
    "grayscale": TransformSpec("RandomGrayscale", (_p("p", 0.2),)),
    "gaussian blur": TransformSpec(
        "GaussianBlur",
        (_p("kernel_size", 9, 1, 31, step=2, odd=True), _p("sigma", (0.1, 2.0), 0.01, 10.0, ordered=True)),
    ),
    "perspective": TransformSpec("RandomPerspective", (_p("distortion_scale", 0.4), _p("p", 0.5))),
    "affine": TransformSpec(
        "RandomAffine",
        (
            _p("degrees", 10.0, 0.0, 180.0),
            _p("translate", (0.1, 0.1)),
            _p("scale", (0.9, 1.1), 0.1, 3.0, ordered=True),
            _p("shear", 5.0, 0.0, 45.0),
        ),
    ),
    "random erasing": TransformSpec("RandomErasing", (_p("p", 0.5), _p("scale", (0.02, 0.2), ordered=True))),
}


def check_param(name: str, key: str, value: Any) -> Any:
    """`value` for parameter `key` of transform `name`, of the default's type and within its bounds;
    ValueError with a one-line message otherwise."""
    return TRANSFORMS[name].param(key).check(value, name)


# Our MNIST-style preset: small rotations, shifts and scale changes, no flips (a flipped 2 is no 2).
PRESETS: dict[str, list[dict[str, Any]]] = {
    "MNIST-style (rotation, shift, scale)": [
        {"name": "rotation", "params": {"degrees": 10.0}},
        {"name": "affine", "params": {"degrees": 0.0, "translate": (0.1, 0.1), "scale": (0.9, 1.1), "shear": 0.0}},
    ],
    "ImageNet-style (crop, flip, colour)": [
        {"name": "resized crop", "params": {"size": 192, "scale": (0.35, 1.0)}},
        {"name": "horizontal flip", "params": {"p": 0.5}},
        {"name": "colour jitter", "params": {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1}},
    ],
}


def step(name: str, **params: Any) -> dict[str, Any]:
    """A pipeline step with the transform's defaults, overridden by `params`, each checked against
    its bounds (ValueError with a one-line message)."""
    # a name or key from a link is said as inline code: a page shows the message as Markdown, and a loopback review's
    # link put a working link and a remote image into the warning through them
    if name not in TRANSFORMS:
        raise ValueError(f"unknown transform {code_span(name)}; choose one of {', '.join(TRANSFORMS)}")
    unknown = set(params) - set(TRANSFORMS[name].defaults)
    if unknown:
        raise ValueError(f"{name} has no parameter(s) {', '.join(code_span(k) for k in sorted(unknown))}")
    checked = {k: check_param(name, k, v) for k, v in params.items()}
    return {"name": name, "params": {**TRANSFORMS[name].defaults, **checked}}


def check_steps(steps: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps with every parameter checked, one to MAX_STEPS of them (ValueError otherwise)."""
    if not steps:  # v2.Compose's own "Pass at least one transform" came three times on the page (a walk)
        raise ValueError("it has no transform left; add one or load a preset (with none, every image stays as it is)")
    if len(steps) > MAX_STEPS:
        raise ValueError(f"a pipeline has at most {MAX_STEPS} transforms (this one has {len(steps)})")
    return [step(s["name"], **s.get("params", {})) for s in steps]


MAX_LINK_CHARS = 2_000  # a pipeline in a link: twelve steps of the longest transform take about 1,100 characters


def pipeline_link(steps: Sequence[dict[str, Any]]) -> str:
    """The checked steps as a link carries them (the page's `aug_pipeline` parameter): compact JSON,
    [[name, {parameter: value}], ...] naming only the values that differ from the transform's defaults ([name] when
    none does), so a reload or a shared link opens the same pipeline (a walk lost its own on a reload)."""
    out = []
    for s in check_steps(steps):
        changed = {k: v for k, v in s["params"].items() if v != TRANSFORMS[s["name"]].defaults[k]}
        out.append([s["name"], changed] if changed else [s["name"]])
    return json.dumps(out, separators=(",", ":"))


def pipeline_from_link(text: str) -> list[dict[str, Any]]:
    """The steps `pipeline_link` wrote, checked as the editor checks them; ValueError, in one line, for text it did
    not write (too long, not its JSON, an unknown transform, a value out of bounds)."""
    if len(text) > MAX_LINK_CHARS:
        raise ValueError(f"it is longer than a pipeline of {MAX_STEPS} transforms can be")

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a number a pipeline takes")

    try:  # nesting deeper than Python's recursion limit: RecursionError (a loopback review's 1,990 brackets)
        raw = json.loads(text, parse_constant=no_constant)
    except (json.JSONDecodeError, RecursionError):
        raise ValueError("it is not a pipeline this page wrote") from None
    if not isinstance(raw, list) or not all(
        isinstance(r, list)
        and r
        and isinstance(r[0], str)
        and (len(r) == 1 or (len(r) == 2 and isinstance(r[1], dict)))
        for r in raw
    ):
        raise ValueError("it is not a pipeline this page wrote")
    return check_steps([{"name": r[0], "params": r[1] if len(r) == 2 else {}} for r in raw])


def build_pipeline(steps: Sequence[dict[str, Any]]) -> v2.Compose:
    """The v2.Compose the steps describe, in order."""
    return v2.Compose([getattr(v2, TRANSFORMS[s["name"]].cls)(**s["params"]) for s in check_steps(steps)])


def steps_names(steps_json: str) -> str:
    """A pipeline's transforms' names, in order ("no transforms" for none)."""
    return ", ".join(s["name"] for s in json.loads(steps_json)) or "no transforms"


def pipeline_code(steps: Sequence[dict[str, Any]]) -> str:
    """Python source that builds the same pipeline, ready to copy."""
    lines = ["from torchvision.transforms import v2", "", "pipeline = v2.Compose(", "    ["]
    for full in check_steps(steps):
        args = ", ".join(f"{k}={v!r}" for k, v in full["params"].items())
        lines.append(f"        v2.{TRANSFORMS[full['name']].cls}({args}),")
    lines += ["    ]", ")", ""]
    return "\n".join(lines)


def seeded(seed: int, fn: Callable[[], Any]) -> Any:
    """Run `fn` with torch's global RNG seeded (transforms v2 draw from it), then restore it; no other thread draws
    from it meanwhile."""
    with seeded_rngs(seed):
        return fn()


def augment_image(pipeline: v2.Compose, image: torch.Tensor, n: int, seed: int) -> list[torch.Tensor]:
    """`n` augmented copies of a 3 x H x W uint8 image, reproducible from `seed`."""
    img = tv_tensors.Image(image)
    return seeded(seed, lambda: [pipeline(img).as_subclass(torch.Tensor) for _ in range(n)])


def scene_target(scene: Scene) -> tuple[tv_tensors.Image, dict[str, Any]]:
    """A generated scene as v2 inputs: the image and a target with boxes, masks and labels."""
    h, w = scene.image.shape[:2]
    image = tv_tensors.Image(torch.from_numpy(scene.image.copy()).permute(2, 0, 1))
    target = {
        "boxes": tv_tensors.BoundingBoxes(torch.from_numpy(scene.boxes), format="XYXY", canvas_size=(h, w)),
        "masks": tv_tensors.Mask(torch.from_numpy(scene.masks.copy())),
        "labels": torch.from_numpy(scene.labels),
    }
    return image, target


def augment_scene(
    pipeline: v2.Compose, scene: Scene, n: int, seed: int
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]]:
    """`n` augmented copies of a detection sample: (image, boxes, masks, label names) each, with
    boxes and masks moved along with the pixels and instances that left the picture dropped."""
    image, target = scene_target(scene)
    full = v2.Compose(
        [pipeline, v2.ClampBoundingBoxes(), v2.SanitizeBoundingBoxes(labels_getter=lambda s: s[1]["labels"])]
    )

    def one():
        with warnings.catch_warnings():  # RandomErasing leaves boxes and masks as they are, and says so
            warnings.filterwarnings("ignore", "RandomErasing", UserWarning)
            img, t = full(image, target)
        names = [SHAPE_CLASSES[int(i)] for i in t["labels"]]
        return img.as_subclass(torch.Tensor), t["boxes"].as_subclass(torch.Tensor), t["masks"].bool(), names

    return seeded(seed, lambda: [one() for _ in range(n)])


DIGIT_SIDE = 28  # the digits the comparison trains on, in pixels
TRAIN_SIZE = 300  # the training digits the comparison keeps
COMPARE_EPOCHS = 30  # the comparison's epochs, the page's default too: at 8 the MNIST-style preset still costs points


def digits_uint8(
    size: int = DIGIT_SIDE, first: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The digits split as 3 x size x size uint8 grey images, the form every transform accepts; only the `first` of
    each part where given (a large size of the whole split is hundreds of MB)."""
    x_tr, y_tr, x_te, y_te = raw_split()
    if first is not None:
        x_tr, y_tr, x_te, y_te = x_tr[:first], y_tr[:first], x_te[:first], y_te[:first]

    def prep(x):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        return (x.clamp(0, 1) * 255).round().to(torch.uint8).repeat(1, 3, 1, 1)

    return prep(x_tr), y_tr, prep(x_te), y_te


def small_cnn() -> nn.Module:
    """The classifier of the augmentation experiment: two conv layers and a linear layer."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 10),
    )


def _digits_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 N x 3 x 28 x 28 -> float N x 1 x 28 x 28 in [0, 1] (the grey channel)."""
    return images.float().mean(dim=1, keepdim=True) / 255.0


@dataclass(frozen=True)
class PipelineResult:
    """One "does it help?" run: the checked pipeline it trained with (`check_steps` as JSON, parameters and all),
    the epochs, and the test accuracy without and with it."""

    steps_json: str
    epochs: int
    without: float
    with_pipeline: float

    @property
    def gain_points(self) -> float:
        """With minus without, in percentage points, from the two accuracies as shown (one decimal): so the three
        figures add up on the page (a walk read 88.5% and 75.1% beside "-13.5 points")."""
        return difference_as_shown(100 * self.with_pipeline, 100 * self.without, 1)

    @property
    def pipeline_text(self) -> str:
        """The transforms' names, in order."""
        return steps_names(self.steps_json)

    @property
    def parameters_text(self) -> str:
        """Each step's parameters, "name: k=v, ..." joined by "; " (a walk: two runs of the same transforms with
        other parameters read as one pipeline twice)."""
        steps = json.loads(self.steps_json)
        return "; ".join(f"{s['name']}: " + ", ".join(f"{k}={v}" for k, v in s["params"].items()) for s in steps)

    def measures(self, steps_json: str, epochs: int) -> bool:
        """Whether this run trained with exactly this pipeline (parameters included) for this many epochs."""
        return self.steps_json == steps_json and self.epochs == epochs

    def row(self) -> dict[str, Any]:
        """The result as a table row, accuracies in percent."""
        return {
            "pipeline": self.pipeline_text,
            "parameters": self.parameters_text,
            "epochs": self.epochs,
            "without (%)": round(100 * self.without, 1),
            "with (%)": round(100 * self.with_pipeline, 1),
            "change (points)": self.gain_points,
        }


MAX_SHIFT = 0.15  # of the picture's side: a random crop moving the digit further cuts much of it off


PIXELS_ONLY = ("random erasing",)  # transforms v2 passes boxes and masks through these unchanged


def targets_note(steps: Sequence[dict[str, Any]]) -> str:
    """One line where the pipeline has a transform that changes pixels but not the boxes and masks drawn over them
    (v2.RandomErasing passes them through, as torchvision warns; the previews silence that warning), else "": a
    fidelity review found the page saying boxes and masks move with the pixels while an erased object kept both."""
    named = sorted({s["name"] for s in steps if s["name"] in PIXELS_ONLY})
    if not named:
        return ""
    return (
        f"{' and '.join(named).capitalize()} changes pixels only: the boxes and masks stay as they were, also over "
        "an erased patch."
    )


def on_digits_note(steps: Sequence[dict[str, Any]]) -> str:
    """Where a pipeline's crops change the digits' scale or move them far in `compare_on_digits`, one line saying by
    how much, else "". The image's side and the digit's span are followed through the steps: a resized crop's output
    size rescales both (its own zoom is the augmentation); a random crop pads by `padding` (and to its size with
    `pad_if_needed`), so its window moves the digit by up to half the slack, and it sets the side. The network gets
    the result resized to DIGIT_SIDE, while the test digits keep their scale and place (a walk added the photo-sized
    default crop, 160 px with padding 16, and read chance accuracy as 'cropping ruins training')."""
    side = digit = float(DIGIT_SIDE)
    shift = 0.0  # the most the digit moves, as a fraction of the side
    for s in check_steps(steps):
        p = s["params"]
        if s["name"] == "resized crop":
            digit, side = digit * p["size"] / side, float(p["size"])
        elif s["name"] == "random crop":
            canvas = side + 2 * p["padding"]
            if p["size"] > canvas and not p["pad_if_needed"]:
                return ""  # the pipeline fails on the digits, and the previews say so
            slack = max(canvas, p["size"]) - p["size"]
            shift, side = max(shift, slack / 2 / p["size"]), float(p["size"])
    scale = digit / side
    said = []
    if abs(scale - 1) > 0.1:
        said.append(f"the digits train at {scale:.0%} of their size")
    if shift > MAX_SHIFT:
        said.append(f"random crop moves them by up to {shift:.0%} of the picture, cutting part of each off")
    if not said:
        return ""
    return (
        f"On the {DIGIT_SIDE}-px digits, resized back to {DIGIT_SIDE} px for the network, "
        + " and ".join(said)
        + f", while the test digits keep theirs. For the digits, a random crop of size {DIGIT_SIDE} with padding up "
        f"to {round(MAX_SHIFT * DIGIT_SIDE)} (the usual shift) keeps both."
    )


PREVIEW_SECONDS = 10.0  # all of one pipeline's preview draws, at most (a loopback review: 37 s, outside the queue)
TRAIN_SECONDS = 300.0  # the pipeline's part of "Train with and without", at most (the review's: about 4.5 hours)


DRAW_TIMING_SECONDS, DRAW_TIMINGS = 0.05, 10  # what timing a pipeline's draw may spend, and its most draws
FIRST_DRAW_ALONE = 0.5  # a pipeline whose first draw takes this long is timed by that draw alone (an upper bound)


def seconds_per_draw(steps: Sequence[dict[str, Any]], side: int) -> float:
    """Seconds one draw of the pipeline takes on this server on a `side` x `side` image: timed once, so what the page
    allows follows this server's speed and the pipeline's real cost (twelve 31-pixel blurs after a 512-pixel crop
    cost seconds a draw; a rotation, milliseconds): after the first draw, the median of as many as fit in
    DRAW_TIMING_SECONDS (a pipeline whose first draw takes FIRST_DRAW_ALONE is drawn once), on a training digit.
    Timed with every transform applied (each `p` at 1): a re-attack chose each step's `p` just below the timed
    draw's random number, so it skipped them all and read 18x cheap."""
    always = [{**s, "params": {**s["params"], **({"p": 1.0} if "p" in s["params"] else {})}} for s in steps]
    pipeline = build_pipeline(always)
    # a digit, not a blank image: a blur of an all-zero image read 35 ms a draw, of a digit 97 ms (the digit's edges
    # fade into denormal floats, which the CPU computes slowly; a review)
    image = tv_tensors.Image(digits_uint8(side, first=1)[0][0])

    def timed() -> float:
        start = time.perf_counter()
        pipeline(image)
        return time.perf_counter() - start

    def draws() -> float:
        # the first draw pays what a pipeline's first call costs (read 4.8 ms for the MNIST-style preset on 28 px,
        # 0.7 ms a draw after), and is left out unless it alone takes FIRST_DRAW_ALONE: the median of the draws that
        # fit in DRAW_TIMING_SECONDS after it, one at least (the fastest picked the cheapest random parameters; a
        # review). A first draw over the budget once stood for the pipeline: beside a busy test worker, the preset's
        # read 0.11 s, its comparison was estimated at 2.2 minutes, and 30 epochs would have been refused for the
        # server's life.
        if (first := timed()) >= FIRST_DRAW_ALONE:
            return first
        times = []
        while not times or (sum(times) < DRAW_TIMING_SECONDS and len(times) < DRAW_TIMINGS):
            times.append(timed())
        return float(np.median(times))

    return seeded(0, draws)


DRAW_TIMING_TTL = 600.0  # seconds a pipeline's draw timing is kept
_DRAW_TIMINGS = KeptMeasurements(DRAW_TIMING_TTL)


def kept_seconds_per_draw(steps: Sequence[dict[str, Any]], side: int) -> float:
    """`seconds_per_draw`, timed at most once per DRAW_TIMING_TTL seconds per pipeline and side, and not beside
    another of the server's measurements (`KeptMeasurements`): a timing is a property of the server's load at the
    time, which one kept for the server's life froze (a draw timed beside a loaded machine read 28x slow, near what
    refuses 30 epochs)."""
    return _DRAW_TIMINGS.get((json.dumps(list(steps), sort_keys=True), side), lambda: seconds_per_draw(steps, side))


def affordable_draws(per_draw: float, wanted: int, budget: float) -> int:
    """How many of `wanted` draws fit in `budget` seconds at `per_draw` seconds each (at least one)."""
    return max(1, min(wanted, int(budget // max(per_draw, 1e-9))))


def preview_draws(per_draw: float, wanted: Sequence[int], budget: float = PREVIEW_SECONDS) -> list[int]:
    """How many of each set of `wanted` draws fit in `budget` seconds at `per_draw` seconds each, the budget shared
    between the sets as their wants are (at least one each): the page's draws on the visitor's image and on the
    detection sample."""
    total = max(sum(wanted), 1)
    return [affordable_draws(per_draw, w, budget * w / total) for w in wanted]


def training_refusal(per_digit: float, epochs: int, train_size: int = TRAIN_SIZE) -> str:
    """One line when applying the pipeline to every training digit each epoch would take over TRAIN_SECONDS at
    `per_digit` seconds a draw (measured on this server: `seconds_per_draw`), else "": the run would hold the
    server's heavy-job slot for that long."""
    seconds = per_digit * train_size * epochs
    if seconds <= TRAIN_SECONDS:
        return ""
    return (
        f"This pipeline takes {per_digit:.2g} s per digit on this server, and {counted(epochs, 'epoch')} apply it "
        f"{train_size * epochs:,} times: about {seconds / 60:.0f} minutes, where the page trains for at most "
        f"{TRAIN_SECONDS / 60:.0f} minutes. Use fewer epochs, or fewer or smaller transforms (crop sizes, blur "
        "kernels)."
    )


BATCH = 32  # digits a training step takes


class DigitsComparison:
    """The "does it help?" experiment stepped a pair at a time: the small CNN trained on digits without the pipeline
    and a second one with it (each training image re-augmented every epoch; test images never), a batch of each per
    step. Each run keeps its own seeded weights, batch order and augmentation draws, so stepping them in pairs gives
    what training one after the other gives; a speed probe (`models.speed_probe`) times the same steps the run takes.
    `train_size` keeps a small, stratified-by-order subset, where augmentation matters most."""

    def __init__(
        self, steps: Sequence[dict[str, Any]], epochs: int = 8, seed: int = 0, train_size: int | None = TRAIN_SIZE
    ) -> None:
        x_tr, y_tr, self.x_te, self.y_te = digits_uint8()
        if train_size:
            x_tr, y_tr = x_tr[:train_size], y_tr[:train_size]
        self.x_tr, self.y_tr = x_tr, y_tr
        self.pipeline = build_pipeline(steps)
        self.total = comparison_steps(epochs, len(y_tr))  # pairs of steps
        self.done = 0
        self.runs = []
        for _ in range(2):  # without, then with the pipeline: the same seeded start
            with seeded_rngs(seed):
                model = small_cnn()
            self.runs.append(
                (model, torch.optim.Adam(model.parameters(), lr=2e-3), batch_indices(len(y_tr), BATCH, seed))
            )
        self.draws = torch.Generator().manual_seed(seed + 1)  # the seed of each augmented batch's draws

    def advance(self, n: int) -> None:
        """Train `n` more pairs of steps (fewer where the run ends sooner)."""
        for _ in range(min(n, self.total - self.done)):
            for use, (model, opt, batches) in zip((False, True), self.runs, strict=True):
                idx = next(batches)
                xb = self._augmented(self.x_tr[idx]) if use else self.x_tr[idx]
                model.train()
                loss = F.cross_entropy(model(_digits_input(xb)), self.y_tr[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            self.done += 1

    def _augmented(self, xb: torch.Tensor) -> torch.Tensor:
        """A batch of digits drawn through the pipeline (seeded from the run's own stream), back at the digits' size."""
        with seeded_rngs(int(torch.randint(0, 2**31, (1,), generator=self.draws))):
            xb = torch.stack([self.pipeline(tv_tensors.Image(img)).as_subclass(torch.Tensor) for img in xb])
        if xb.shape[-1] != DIGIT_SIDE:
            xb = F.interpolate(xb.float(), size=(DIGIT_SIDE, DIGIT_SIDE)).round().to(torch.uint8)
        return xb

    def accuracies(self) -> dict[str, float]:
        """Test accuracy of each network as trained so far."""
        x_te = _digits_input(self.x_te)
        return {
            name: accuracy(model, x_te, self.y_te)
            for name, (model, _, _) in zip(("without", "with"), self.runs, strict=True)
        }


# Seconds per pair of steps of "Train with and without" at the page's defaults (the MNIST-style preset, 30 epochs; the
# digits' loading, the evaluations and the progress reports included), of its speed probe (a bare pair), and of a pair
# with the pipeline's draws left out, measured in one run of `python bench/bench_training.py` on the 2-core CI-sized
# machine (2026-12-06). The page's estimate is the probe timed on its server times the first over the second; before
# the server can probe, the third plus the pipeline's draws as one was timed on the server.
PAIR_SECONDS, PAIR_PROBE_SECONDS, PAIR_TRAIN_SECONDS = 0.0176, 0.0170, 0.0083
PROBE_DRAWS_SECONDS = 1.0  # the most a probe of a pipeline may spend on its draws: a costlier one is not probed


def comparison_steps(epochs: int, train_size: int = TRAIN_SIZE) -> int:
    """Pairs of steps in a comparison of `epochs` epochs."""
    return epochs * (train_size // BATCH)


def comparison_probe(steps: Sequence[dict[str, Any]], epochs: int) -> Probe:
    """How to time the comparison's steps on the server now (`models.speed_probe`), with what its evaluations add."""
    return Probe(lambda: DigitsComparison(steps, epochs), comparison_steps(epochs), PAIR_SECONDS / PAIR_PROBE_SECONDS)


def probe_affordable(per_digit: float) -> bool:
    """Whether a probe of a pipeline drawing `per_digit` seconds a digit stays within PROBE_DRAWS_SECONDS of draws
    (it trains WARMUP + SPANS pairs at least)."""
    return (WARMUP + SPANS) * BATCH * per_digit <= PROBE_DRAWS_SECONDS


def bench_pair_seconds(per_digit: float) -> float:
    """A pair of steps as the bench's machine trains it, plus a batch of this pipeline's draws at `per_digit` seconds
    each (timed on the server: the bench cannot know a visitor's pipeline)."""
    return PAIR_TRAIN_SECONDS + BATCH * per_digit


def compare_on_digits(
    steps: Sequence[dict[str, Any]],
    epochs: int = COMPARE_EPOCHS,
    seed: int = 0,
    train_size: int | None = TRAIN_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, float]:
    """Test accuracy of the small CNN trained on digits without and with the pipeline (`DigitsComparison`, run to
    its end). `progress(done, total)` counts its steps (a batch for each network), every step: where a closed tab
    stops the run (each epoch: minutes, a review)."""
    run = DigitsComparison(steps, epochs, seed, train_size)
    while run.done < run.total:
        run.advance(1)
        if progress:
            progress(run.done, run.total)
    return run.accuracies()


def as_numpy(image: torch.Tensor) -> np.ndarray:
    """3 x H x W uint8 tensor -> H x W x 3 array."""
    return image.permute(1, 2, 0).numpy()
