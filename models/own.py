"""Your own network: one trained on the Build page, or a state_dict file you upload, made into a classifier the
explainers take (its model and a `ModelInfo`), and written back out as a state_dict with a small JSON card.

A file is read with `torch.load(..., weights_only=True)` (or safetensors), never unpickled; its architecture is
recognised from its keys (torchvision's ResNet-18/50, AlexNet, VGG-16; the lecture's ResNet-18 and the course's
at the width their tensors imply; the digits network), its classes from the head's shape, and it is loaded
strictly. Anything else is refused with one line (`OwnModelError`) a person can act on.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import pickle
import struct
import threading
import weakref
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch import nn
from torchvision import models as tvm
from torchvision.transforms import v2

from models.classifiers import ModelInfo
from models.data.preprocess import IMAGENET_MEAN, IMAGENET_STD
from models.experiments.lecture_loop import (
    SETUP_NAMES,
    SETUPS,
    LectureLoop,
    final_numbers,
    short_label,
    statistics,
)
from models.files import MB
from models.nets.digits_nets import CONV_INPUT, DigitsConvNet
from models.nets.lecture_resnet import Network
from models.nets.resnet import ResNet18
from models.text import code_span, counted, sendable

# The largest weights file a visitor may upload. A hosted server has about 2.7 GB: an upload is held three times
# at its peak (Streamlit's copy of the bytes, the tensors read from them, the network they fill), so 240 MB costs
# about 720 MB for one visitor; that admits ResNet-18 (45 MB), ResNet-50 (98 MB) and AlexNet (233 MB) and refuses
# VGG-16 (528 MB, about 1.6 GB held), which runs locally with EXPLAINER_MAX_MODEL_MB=600.
MAX_MODEL_MB = int(os.environ.get("EXPLAINER_MAX_MODEL_MB", "240"))
MAX_INPUT_SIZE = 512  # pixels a side, the card's as the form's (a card took 1,024: ResNet-50's activations, 2.5 GB)
MAX_CARD_BYTES = 200_000  # the JSON card and the class-names file: text, small
MAX_CLASSES = 10_000
MAX_WIDTH = 4.0  # times ResNet-18's 64 first-layer filters: the course's networks are 0.25 to 1

NORMALISATIONS: dict[str, tuple[str, tuple[float, ...], tuple[float, ...]]] = {
    "imagenet": ("ImageNet's mean and standard deviation", IMAGENET_MEAN, IMAGENET_STD),
    "unit": ("[0, 1]: pixels divided by 255, nothing subtracted", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
    "greyscale": ("greyscale in [0, 1]", (0.0,), (1.0,)),
}

ARCHITECTURES: dict[str, str] = {
    "resnet18": "torchvision's ResNet-18",
    "resnet50": "torchvision's ResNet-50",
    "alexnet": "torchvision's AlexNet",
    "vgg16": "torchvision's VGG-16",
    "lecture-resnet18": "the lecture's ResNet-18 (its Network and ResBlock)",
    "course-resnet18": "the course's ResNet-18 (the bundled models' network)",
    "digits-net": "the digits network (Build's lecture loop)",
}


class OwnModelError(ValueError):
    """A file or a card that cannot be used, in one sentence meant for a person; `about`: which of the files it is
    about ("weights", "card" or "classes"), so a page names that file (a walk read a broken card blamed on the
    weights file's name)."""

    def __init__(self, message: str, about: str = "weights") -> None:
        super().__init__(message)
        self.about = about


@dataclass(frozen=True)
class OwnCard:
    """What a network is, beside its weights: the small JSON that travels with a download."""

    architecture: str
    classes: tuple[str, ...]
    input_size: int = 224
    channels: int = 3
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    width: float = 1.0
    name: str = "My model"
    test_accuracy: float | None = None
    trained: str = ""  # how it was trained, in a phrase ("20 epochs of the lecture's loop on the digits")
    data: str = ""  # the Build set-up whose data it was trained on (`SETUPS`' key), "" where not known
    extra: dict = field(default_factory=dict, compare=False)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "format": "cv-explainer model card 1"}, indent=1)

    @property
    def title(self) -> str:
        """What the visitor sees: the name, and the measured test accuracy when known."""
        return f"{self.name} ({self.test_accuracy:.1%} test)" if self.test_accuracy is not None else self.name


def _bounded(value: object, kind: type, what: str, low: float, high: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
        raise OwnModelError(f"The model card's {what} must be a number from {low:g} to {high:g}.")
    return kind(value)


def read_card(text: str | bytes) -> dict:
    """A JSON card's fields, checked: architecture, classes, input size, channels, normalisation, width, name,
    test accuracy. Unknown fields are ignored; a bad one is refused in one line."""
    if len(text) > MAX_CARD_BYTES:
        raise OwnModelError(f"The model card is larger than {MAX_CARD_BYTES // 1000} kB; it should be a few lines.")
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):  # not JSON; 50,000 nested brackets; a 5,000-digit number (a loopback attack)
        raise OwnModelError("The model card is not JSON (it is the .json file the download gives).") from None
    if not isinstance(raw, dict):
        raise OwnModelError("The model card is not a JSON object.")
    card: dict = {}
    if "architecture" in raw:
        if not isinstance(raw["architecture"], str) or raw["architecture"] not in ARCHITECTURES:  # a list: unhashable
            raise OwnModelError(f"The model card names an unknown architecture; known: {', '.join(ARCHITECTURES)}.")
        card["architecture"] = raw["architecture"]
    if "classes" in raw:
        card["classes"] = class_names(raw["classes"])
    if "input_size" in raw:
        card["input_size"] = int(_bounded(raw["input_size"], int, "input size", 8, MAX_INPUT_SIZE))
    if "channels" in raw:
        card["channels"] = int(_bounded(raw["channels"], int, "channel count", 1, 3))
    for key in ("mean", "std"):
        if key in raw:
            values = raw[key]
            if not isinstance(values, list) or len(values) not in (1, 3):
                raise OwnModelError(f"The model card's {key} must be a list of 1 or 3 numbers.")
            card[key] = tuple(_bounded(v, float, key, -10.0 if key == "mean" else 1e-6, 10.0) for v in values)
    if "width" in raw:
        card["width"] = _bounded(raw["width"], float, "width", 0.05, 4.0)
    if "test_accuracy" in raw and raw["test_accuracy"] is not None:
        card["test_accuracy"] = _bounded(raw["test_accuracy"], float, "test accuracy", 0.0, 1.0)
    if isinstance(raw.get("name"), str):
        card["name"] = _sendable(raw["name"][:80], "model card's name")
    if isinstance(raw.get("trained"), str):
        card["trained"] = _sendable(raw["trained"][:200], "model card's training note")
    if (
        isinstance(raw.get("data"), str) and raw["data"] in SETUPS
    ):  # a network Build trained: its test images and what it is unlike come back with it
        card["data"] = raw["data"]
    return card


def setup_architecture(setup: str) -> str:
    """The architecture Build's set-up `setup` trains."""
    return "digits-net" if setup == "digits" else "course-resnet18"


def _sendable(text: str, what: str) -> str:
    """`text` as read, refused in one line where a browser could not be sent it (`models.text.sendable`)."""
    if not sendable(text):
        raise OwnModelError(f"The {what} holds characters that are not text (lone surrogates).")
    return text


def class_names(names: object) -> tuple[str, ...]:
    """Class names from a card's list or a text file's lines (one per line; blank lines dropped), checked."""
    if isinstance(names, bytes):
        try:
            names = names.decode("utf-8")
        except UnicodeDecodeError:
            raise OwnModelError("The class-names file is not UTF-8 text.") from None
    if isinstance(names, str):
        if len(names) > MAX_CARD_BYTES:
            raise OwnModelError(f"The class-names file is larger than {MAX_CARD_BYTES // 1000} kB.")
        names = [line.strip() for line in names.splitlines() if line.strip()]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or not 1 <= len(names) <= MAX_CLASSES:
        raise OwnModelError(f"Class names must be 1 to {MAX_CLASSES:,} lines of text, one name per class.")
    return tuple(_sendable(n[:80], "list of class names") for n in names)


def read_state_dict(data: bytes, filename: str = "") -> dict[str, torch.Tensor]:
    """The tensors of a weights file: safetensors for a `.safetensors` name, else what `torch.save` writes, read
    with `weights_only=True` (a whole pickled model is refused, never unpickled). One line for each way it fails:
    empty, too large, truncated, not a checkpoint, not a state_dict, NaN or infinite weights."""
    if not data:
        raise OwnModelError("The file is empty.")
    if len(data) > MAX_MODEL_MB * MB:
        raise OwnModelError(
            f"The file is {len(data) / MB:,.0f} MB; this server takes weights files up to {MAX_MODEL_MB} MB "
            "(VGG-16's 528 MB runs in a local copy started with EXPLAINER_MAX_MODEL_MB=600)."
        )
    state = _read_safetensors(data) if filename.lower().endswith(".safetensors") else _read_torch(data)
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]  # a training checkpoint that nests its weights (Lightning, many scripts)
    if not isinstance(state, Mapping) or not state:
        raise OwnModelError(f"The file holds {_kind(state)}, not a state_dict (a dict of layer names to tensors).")
    bad = [k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise OwnModelError(f"The file is not a state_dict: {code_span(str(bad[0]))} is not a tensor.")
    odd = [k for k, v in state.items() if v.layout != torch.strided or v.device.type != "cpu"]
    if odd:  # sparse or meta tensors: no network's weights are saved so
        raise OwnModelError(f"Its tensor {code_span(odd[0])} is not a plain (dense) tensor; save `model.state_dict()`.")
    held = sum(v.numel() * v.element_size() for v in state.values())
    if held > MAX_MODEL_MB * MB:  # a view saves one value and claims a shape: a few kB claimed a 759-MB network
        raise OwnModelError(
            f"Its tensors hold {held / MB:,.0f} MB of values; this server takes networks up to {MAX_MODEL_MB} MB."
        )
    for key, tensor in state.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise OwnModelError(
                f"Its weights contain NaN or infinite values (in {code_span(key)}): the training diverged."
            )
    return dict(state)


def _kind(value: object) -> str:
    if isinstance(value, Mapping):
        return "an empty dict"
    return f"a {type(value).__name__}"


LEGACY_MAGIC = b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19"  # how PyTorch's format before 1.6 begins (a pickle)


def _check_archive(data: bytes) -> None:
    """Refuse, before `torch.load` inflates anything, a checkpoint whose zip entries are compressed or declare more
    than MAX_MODEL_MB: `torch.save` stores them uncompressed, and a review over loopback sent 2.9 MB of deflated
    zeros that `torch.load` inflated to 3 GB. The format before PyTorch 1.6 (not a zip) is refused too: its
    storages' sizes are declared before their bytes, and no current `torch.save` writes it."""
    if data.startswith(LEGACY_MAGIC):
        raise OwnModelError(
            "The file is in PyTorch's format from before version 1.6; load it and save it again with today's "
            "`torch.save(model.state_dict(), path)`."
        )
    if data[:2] != b"PK":
        raise OwnModelError(NOT_CHECKPOINT)
    try:  # a truncated end record is struct.error here, not a traceback
        stated = _stated_directory(data)
    except struct.error:
        raise OwnModelError(INCOMPLETE_ZIP) from None
    if stated is not None and stated[0] > MAX_INDEX_BYTES:  # before zipfile reads the directory into Python objects
        raise OwnModelError(TOO_MANY_TENSORS)
    try:
        entries = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, struct.error):
        raise OwnModelError(INCOMPLETE_ZIP) from None
    # Python's zipfile finds the central directory by its size, just before the end record, while torch.load goes to
    # the offset the record states: a re-attack put a stored-looking directory where zipfile looks and a deflated one
    # where torch does. Both must be one (the directory ends where the record begins), and every entry's own (local)
    # header must say stored too.
    local = [_local_method(data, e) for e in entries]
    if stated is None or stated[1] + stated[0] != stated[2] or -1 in local:
        raise OwnModelError(INCOMPLETE_ZIP)
    if any(e.compress_type != zipfile.ZIP_STORED for e in entries) or any(m != zipfile.ZIP_STORED for m in local):
        raise OwnModelError(
            "The file's entries are compressed, which `torch.save` never does: save the state_dict with `torch.save`."
        )
    if any(e.filename.endswith("/data.pkl") and e.file_size > MAX_INDEX_BYTES for e in entries):
        raise OwnModelError(TOO_MANY_TENSORS)  # its pickle names every tensor: torch.load would rebuild each
    declared = sum(e.file_size for e in entries)
    if declared > MAX_MODEL_MB * MB:
        raise OwnModelError(
            f"The file declares {declared / MB:,.0f} MB of contents; "
            f"this server takes networks up to {MAX_MODEL_MB} MB."
        )


def _stated_directory(data: bytes) -> tuple[int, int, int] | None:
    """(size, offset, end) of the zip's central directory as its end record (or, for zip64 as torch.save writes, its
    zip64 end record) states them, `end` being where that record begins; None without an end record."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 65535))
    if end < 0:
        return None
    size, offset = struct.unpack("<II", data[end + 12 : end + 20])
    record = end
    if data[end - 20 : end - 16] == b"PK\x06\x07":  # the zip64 locator: the directory's numbers are in its record
        record = struct.unpack("<Q", data[end - 12 : end - 4])[0]
        if data[record : record + 4] != b"PK\x06\x06":
            return None
        size, offset = struct.unpack("<QQ", data[record + 40 : record + 56])
    return size, offset, record


# The most a file's index of tensors may take: its zip directory, its pickle (data.pkl), or a safetensors header.
# DenseNet-121's 727 tensors take 121 kB of pickle; a loopback review's 650,000 empty views of one value took 49 MB
# of file and 1.07 GB of memory (about 1.6 kB a tensor) while torch.load rebuilt them in the heavy-job slot.
MAX_INDEX_BYTES = 2 * MB
TOO_MANY_TENSORS = (
    "The file lists more tensors than any network this server takes: a state_dict of these networks lists at most "
    "a few thousand (DenseNet-121: 727)."
)


def _local_method(data: bytes, entry: zipfile.ZipInfo) -> int:
    """The compression method an entry's local header gives (-1 when no local header is there)."""
    header = data[entry.header_offset : entry.header_offset + 10]
    return struct.unpack("<H", header[8:10])[0] if header[:4] == b"PK\x03\x04" and len(header) == 10 else -1


def network_mb(model: nn.Module) -> float:
    """MB of a network's parameters and buffers: what the server holds for it."""
    return sum(t.numel() * t.element_size() for t in model.state_dict().values()) / MB


class HeldNetworks:
    """Every session's own network in this process, within `budget_mb` MB in all (a loopback review: eight sessions
    each loading a 241-kB file that builds a 233-MB AlexNet took a 2.7 GB-class server from 1,064 to 3,012 MB).
    Networks are held weakly, so each is freed with its session; thread-safe."""

    def __init__(self, budget_mb: float) -> None:
        self.budget_mb = budget_mb
        self._held: weakref.WeakSet[nn.Module] = weakref.WeakSet()
        self._lock = threading.Lock()

    def megabytes(self) -> float:
        """What the held networks take now."""
        with self._lock:
            return sum(network_mb(m) for m in list(self._held))

    def make_room(self, size: float, replacing: nn.Module | None = None, keep: nn.Module | None = None) -> None:
        """Refuse in one line a network of `size` MB that would take the held networks past the budget (`replacing`,
        the session's current one, does not count: it is replaced); else hold `keep`, under the same lock, so two
        sessions at once cannot both take the last room."""
        with self._lock:
            others = sum(network_mb(m) for m in list(self._held) if m is not replacing)
            if others + size > self.budget_mb:
                raise OwnModelError(
                    f"This server already holds {others:,.0f} MB of visitors' own networks and takes "
                    f"{self.budget_mb:,.0f} MB in all; this one needs {size:,.0f} MB. Try again in a few minutes, "
                    "when other sessions have closed, or run the dashboard on your own machine."
                )
            if keep is not None:
                self._held.add(keep)


# The process's: $EXPLAINER_OWN_SERVER_MB (default 720). A session's network is freed with its session (Streamlit
# drops a closed tab's session after a couple of minutes).
HELD = HeldNetworks(float(os.environ.get("EXPLAINER_OWN_SERVER_MB", "720")))


NOT_CHECKPOINT = "The file is not a PyTorch checkpoint (what `torch.save(model.state_dict(), path)` writes)."
INCOMPLETE_ZIP = "The file is a zip but not a complete PyTorch checkpoint (truncated, or not written by torch.save)."


def _read_torch(data: bytes) -> object:
    _check_archive(data)
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" in str(exc):  # weights_only met a class: a whole model, an optimizer, ...
            raise OwnModelError(
                "The file holds a whole pickled model or other Python objects, which this server never unpickles: "
                "save `model.state_dict()` instead."
            ) from None
        raise OwnModelError(NOT_CHECKPOINT) from None
    except Exception:  # the unpickler meets arbitrary bytes: any failure is a zip that is not a checkpoint
        raise OwnModelError(INCOMPLETE_ZIP) from None


def _read_safetensors(data: bytes) -> object:
    from safetensors.torch import load  # only for this kind of file

    if len(data) >= 8 and struct.unpack("<Q", data[:8])[0] > MAX_INDEX_BYTES:  # its JSON header lists every tensor
        raise OwnModelError(TOO_MANY_TENSORS)
    try:
        return load(data)
    except Exception:
        raise OwnModelError("The file is not a complete safetensors file.") from None


def identify(state: Mapping[str, torch.Tensor]) -> dict:
    """The architecture a state_dict belongs to, from its keys, and what its tensors imply: the number of classes
    (the head's rows, 1 to MAX_CLASSES), the width (at most MAX_WIDTH) and the input channels (1 or 3).
    OwnModelError naming its first keys when none fits, or the implied size out of range."""
    found = _identify(state)
    if not 1 <= found["classes"] <= MAX_CLASSES:
        raise OwnModelError(
            f"The head has {found['classes']:,} outputs; this server takes 1 to {MAX_CLASSES:,} classes."
        )
    if not 0 < found["width"] <= MAX_WIDTH:
        raise OwnModelError(
            f"The first layer has {round(found['width'] * 64):,} filters (width {found['width']:g}); this server takes "
            f"networks up to width {MAX_WIDTH:g} ({MAX_WIDTH * 64:g} filters)."
        )
    if found["channels"] not in (1, 3):
        raise OwnModelError(f"The first layer takes {found['channels']} input channels; images have 1 or 3.")
    return found


def _dims(state: Mapping[str, torch.Tensor], key: str, ndim: int) -> torch.Tensor:
    """`state[key]`, which must have `ndim` dimensions (a convolution's weight 4, a linear layer's 2)."""
    tensor = state[key]
    if tensor.dim() != ndim:
        raise OwnModelError(f"{key} has {tensor.dim()} dimensions where the network's has {ndim}.")
    return tensor


def _identify(state: Mapping[str, torch.Tensor]) -> dict:
    keys = set(state)
    if "layer0.0.weight" in keys and "fc.weight" in keys:
        stem = _dims(state, "layer0.0.weight", 4)
        arch = "lecture-resnet18" if "layer0.0.bias" in keys else "course-resnet18"
        return {
            "architecture": arch,
            "classes": _dims(state, "fc.weight", 2).shape[0],
            "width": stem.shape[0] / 64,
            "channels": stem.shape[1],
        }
    if "conv1.weight" in keys and "fc.weight" in keys and "layer4.0.conv1.weight" in keys:
        arch = "resnet50" if "layer1.0.conv3.weight" in keys else "resnet18"
        return {"architecture": arch, "classes": _dims(state, "fc.weight", 2).shape[0], "width": 1.0, "channels": 3}
    if "classifier.7.weight" in keys and "features.0.weight" in keys:
        return {
            "architecture": "digits-net",
            "classes": _dims(state, "classifier.7.weight", 2).shape[0],
            "width": 1.0,
            "channels": 1,
        }
    if "classifier.6.weight" in keys and "features.0.weight" in keys:
        arch = "vgg16" if "features.28.weight" in keys else "alexnet"
        return {
            "architecture": arch,
            "classes": _dims(state, "classifier.6.weight", 2).shape[0],
            "width": 1.0,
            "channels": 3,
        }
    first = ", ".join(code_span(k) for k in sorted(keys)[:4])
    raise OwnModelError(
        f"These weights are not of a supported architecture ({', '.join(ARCHITECTURES)}); its first keys: {first}."
    )


def build(architecture: str, classes: int, width: float = 1.0, channels: int = 3) -> nn.Module:
    """A freshly initialised network of a supported architecture with `classes` outputs."""
    if architecture == "lecture-resnet18":
        return Network(in_channels=channels, outputs=classes, width=width)
    if architecture == "course-resnet18":
        return ResNet18(classes, width=width)
    if architecture == "digits-net":
        return DigitsConvNet(batchnorm=False, activation="relu", num_classes=classes)
    makers: dict[str, Callable[..., nn.Module]] = {
        "resnet18": tvm.resnet18,
        "resnet50": tvm.resnet50,
        "alexnet": tvm.alexnet,
        "vgg16": tvm.vgg16,
    }
    return makers[architecture](weights=None, num_classes=classes)


def check_matches(model: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """OwnModelError unless every key and shape of `model` and `state` match, naming the first three that do not.
    `model` may be on the meta device: its shapes alone are read."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [k for k in expected if k in state and state[k].shape != expected[k].shape]

    def few(names: list[str]) -> str:
        return ", ".join(code_span(n) for n in names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")

    if missing:
        raise OwnModelError(f"The weights lack {len(missing)} of the network's tensors: {few(missing)}.")
    if unexpected:
        raise OwnModelError(f"The weights have {len(unexpected)} tensors the network does not: {few(unexpected)}.")
    if shapes:
        k = shapes[0]
        raise OwnModelError(
            f"{len(shapes)} tensors have the wrong shape, first {k}: {tuple(state[k].shape)} where the network "
            f"has {tuple(expected[k].shape)}."
        )


def preprocess_of(card: OwnCard) -> v2.Compose:
    """The image pipeline a card describes: greyscale when the network takes one channel, resize and centre-crop
    to its input size, [0, 1], then its normalisation."""
    steps: list = [v2.ToImage()]
    if card.channels == 1:
        steps.append(v2.Grayscale(1))
    steps += [
        v2.Resize(card.input_size, antialias=True),
        v2.CenterCrop(card.input_size),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(list(card.mean), list(card.std)),
    ]
    return v2.Compose(steps)


def own_classifier(
    model: nn.Module, card: OwnCard, weights_sha256: str, device: torch.device | str | None = None
) -> tuple[nn.Module, ModelInfo]:
    """A network and its card as the explainers take them: in eval mode, with a ModelInfo whose cache key holds
    the weights' SHA-256 and the card's (so no cache ever serves another network's results, nor the same weights'
    under another card: a class sharing one checkpoint gives it each student's class names and normalisation)."""
    mean = card.mean if len(card.mean) == card.channels else card.mean[:1] * card.channels
    std = card.std if len(card.std) == card.channels else card.std[:1] * card.channels
    card = replace(card, mean=tuple(mean), std=tuple(std))
    accuracy = f"{card.test_accuracy:.1%} test accuracy, measured when it was trained" if card.test_accuracy else ""
    info = ModelInfo(
        requested="own",
        name="own",
        title=card.title,
        source="own",
        categories=card.classes,
        metrics=accuracy or "test accuracy not stated",
        preprocess=preprocess_of(card),
        mean=card.mean if card.channels == 3 else card.mean * 3,
        std=card.std if card.channels == 3 else card.std * 3,
        weights_file=card.name,
        weights_sha256=weights_sha256,
        card_sha256=hashlib.sha256(card.to_json().encode()).hexdigest(),
    )
    device = device or next(model.parameters()).device
    return model.eval().to(device), info


def load_own_classifier(
    weights: bytes | str | os.PathLike,
    card: str | bytes | None = None,
    classes: str | bytes | None = None,
    *,
    filename: str = "",
    normalisation: str = "imagenet",
    input_size: int | None = None,
    device: torch.device | str | None = None,
    room: Callable[[float], None] | None = None,
) -> tuple[nn.Module, ModelInfo, OwnCard]:
    """Load your own weights file (a path or its bytes) into a classifier the explainers take, from a notebook as
    on the page: its JSON card if you have one, else class names (text, one per line; else "class 0..k-1"), the
    normalisation ("imagenet", "unit", "greyscale") and the input size. Returns (model, info, card). `room(MB)` is
    called with the network's size once its shapes are checked, before it is built: a server's budget refuses there
    (by raising OwnModelError), not after the memory is spent."""
    if not isinstance(weights, bytes):
        filename = filename or str(weights)
        path = Path(weights)
        if path.stat().st_size > MAX_MODEL_MB * MB:
            raise OwnModelError(f"The file is larger than the {MAX_MODEL_MB} MB this server takes.")
        weights = path.read_bytes()
    state = read_state_dict(weights, filename)
    found = identify(state)
    try:
        given = read_card(card) if card else {}
    except OwnModelError as exc:
        raise OwnModelError(str(exc), about="card") from None
    if given.get("architecture", found["architecture"]) != found["architecture"]:
        raise OwnModelError(
            f"The card says {given['architecture']} but the weights are {ARCHITECTURES[found['architecture']]}.",
            about="card",
        )
    try:
        names = class_names(classes) if classes else given.get("classes")
    except OwnModelError as exc:
        raise OwnModelError(str(exc), about="classes") from None
    k = found["classes"]
    if names is not None and len(names) != k:
        raise OwnModelError(
            f"There are {len(names)} class names for a head of {k} outputs.", about="classes" if classes else "card"
        )
    _, mean, std = NORMALISATIONS[normalisation if found["channels"] == 3 else "greyscale"]
    default_size = CONV_INPUT if found["architecture"] == "digits-net" else 224
    if found["architecture"] == "digits-net" and found["channels"] == 1:  # Build's loop standardised its digits
        mean, std = statistics("digits")  # what from_loop's card says (a walk: without the card, [0, 1] was assumed)
    data = given.get("data", "")
    made = OwnCard(
        architecture=found["architecture"],
        classes=names or tuple(f"class {i}" for i in range(k)),
        input_size=given.get("input_size", input_size or default_size),
        channels=found["channels"],
        mean=given.get("mean", mean),
        std=given.get("std", std),
        width=found["width"],
        name=given.get("name", Path(filename).stem[:80] or "My model"),
        test_accuracy=given.get("test_accuracy"),
        trained=given.get("trained", ""),
        data=data if data and setup_architecture(data) == found["architecture"] else "",  # the set-up its weights fit
    )
    with torch.device("meta"):  # the network's shapes alone, no memory: a file of a few kB claiming a head of a
        skeleton = build(made.architecture, k, made.width, made.channels)  # million classes took gigabytes to build
    check_matches(skeleton, state)  # every shape matches: the network is no bigger than the file's values
    if room is not None:
        room(network_mb(skeleton))
    model = build(made.architecture, k, made.width, made.channels)
    model.load_state_dict(state, strict=True)
    model, info = own_classifier(model, made, hashlib.sha256(weights).hexdigest(), device)
    return model, info, made


def export(model: nn.Module, card: OwnCard) -> tuple[bytes, bytes]:
    """(the weights file `torch.save(model.state_dict())` writes, the JSON card), for a download."""
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    return buffer.getvalue(), card.to_json().encode()


def from_loop(loop: LectureLoop) -> tuple[nn.Module, OwnCard]:
    """A network the Build page trained, as your own: a copy of it (the loop may go on), and its card (architecture,
    classes, input size, the training set's normalisation, its last test accuracy, how it was trained)."""
    config = loop.config
    setup = config.setup
    mean, std = statistics(setup)
    numbers = final_numbers(loop)
    epochs = len(loop.history.epoch)
    card = OwnCard(
        architecture=setup_architecture(setup),
        classes=tuple(loop.classes),
        input_size=int(loop.x_test.shape[-1]),
        channels=int(loop.x_test.shape[1]),
        mean=mean,
        std=std,
        width=1.0 if setup == "digits" else 0.25,
        name=f"My {SETUP_NAMES[setup]}, {counted(epochs, 'epoch')}",
        test_accuracy=numbers.get("test_accuracy"),
        trained=short_label(config),
        data=setup,
    )
    return copy.deepcopy(loop.model).cpu().eval(), card
