"""The project's bundled models as typed records, parsed from the manifest, and the one function that builds
any of them: like torchvision's `Weights` with its `meta`, a record says what the weights are (architecture,
classes, configuration, held-out metrics, the command that trained them) and `build()` returns the network
with them loaded after the SHA-256 check."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import torch
from torch import nn

from models.hub import checkpoints
from models.hub.checkpoints import CheckpointError
from models.lock import seeded_rngs
from models.nets.resnet import ResNet18
from models.nets.shapes_maskrcnn import shapes_maskrcnn
from models.nets.unet import UNet


@dataclass(frozen=True)
class BundledWeights:
    """One manifest record: which file holds the weights (and its SHA-256), what network they belong to,
    and what the training command that wrote them measured on held-out data."""

    name: str
    file: str
    sha256: str
    architecture: str  # the constructor, as a dotted name; one of ARCHITECTURES
    classes: tuple[str, ...]
    config: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    trained: Mapping[str, Any] = field(default_factory=dict)
    command: str = ""

    @property
    def public_file(self) -> str:
        """The file as the app shows it, relative to the project."""
        return f"models/weights/{self.file}"

    def state(self) -> dict[str, torch.Tensor]:
        """The verified state dict, floats widened back to fp32. CheckpointError when the file is missing or
        does not match its hash."""
        state = checkpoints.load_verified(checkpoints.WEIGHTS_DIR / self.file, self.sha256)
        return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}

    def network(self) -> nn.Module:
        """The architecture with random weights (what training from scratch starts from)."""
        try:
            make = NETWORKS[self.architecture]
        except KeyError:
            raise CheckpointError(f"{self.name} names an unknown architecture {self.architecture!r}") from None
        return make(self)

    def build(self) -> nn.Module:
        """The network with these weights loaded, in eval mode on the CPU. Its random initialisation (overwritten
        at once) holds the global-RNG lock, so it never takes numbers from another session's seeded draws."""
        with seeded_rngs(0):
            model = self.network()
        try:
            model.load_state_dict(self.state())
        except RuntimeError as exc:
            raise CheckpointError(f"{self.file} does not fit {self.architecture} ({exc})") from exc
        return model.eval()


NETWORKS: dict[str, Callable[[BundledWeights], nn.Module]] = {  # by the manifest's architecture path
    "models.nets.resnet.ResNet18": lambda w: ResNet18(len(w.classes), width=w.config["width"]),
    "models.nets.unet.UNet": lambda w: UNet(
        num_classes=len(w.classes), base=w.config["base"], depth=w.config["depth"], skips=w.config["skips"]
    ),
    "models.nets.shapes_maskrcnn.shapes_maskrcnn": lambda w: shapes_maskrcnn(),
}


@lru_cache(maxsize=4)
def _records(manifest: str, version: tuple[int, int]) -> dict[str, BundledWeights]:
    raw = checkpoints.read_manifest()
    return {
        name: BundledWeights(
            name=name,
            file=e["file"],
            sha256=e["sha256"],
            architecture=e.get("architecture", ""),
            classes=tuple(e.get("classes", ())),
            config=e.get("config", {}),
            metrics=e.get("metrics", {}),
            trained=e.get("trained", {}),
            command=e.get("command", ""),
        )
        for name, e in raw.items()
    }


def manifest_records() -> dict[str, BundledWeights]:
    """Every bundled model, parsed once per version of the manifest file."""
    path = checkpoints.MANIFEST
    if not path.is_file():
        return {}
    st = path.stat()
    return _records(str(path), (st.st_mtime_ns, st.st_size))


def bundled(name: str) -> BundledWeights:
    """The record of one bundled model; CheckpointError when it has not been trained."""
    record = manifest_records().get(name)
    if record is None:
        raise CheckpointError(f"no bundled checkpoint named {name!r}; train it with the command in the README")
    return record


def load_bundled(name: str) -> tuple[dict[str, torch.Tensor], BundledWeights]:
    """The verified state dict and the record of a bundled model (for a caller that builds the network itself)."""
    record = bundled(name)
    return record.state(), record
