"""What every model family shares: a spec (torchvision weights, or none, and the bundled model that stands in),
the record of what actually runs, and the loading order: the torch hub cache, a download, then the bundled
model with the reason recorded. Classifiers and detectors differ only in how they build and describe a model."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from torchvision.models import WeightsEnum

from models.files import public_path
from models.hub import weights_cache
from models.hub.checkpoints import CheckpointError

log = logging.getLogger("explainer.models")
Source = Literal["cache", "download", "bundled", "own"]  # own: a visitor's network (models.own)
Status = Literal["bundled", "cached", "damaged", "downloadable", "unavailable"]


@dataclass(frozen=True)
class ModelSpec:
    """An entry of a model family: torchvision weights (None for a bundled-only model), the bundled model that
    stands in when they are unavailable, and the command that retrains it."""

    name: str
    title: str
    weights: WeightsEnum | None
    fallback: str
    retrain: str


@dataclass(frozen=True, kw_only=True)
class WeightsInfo:
    """What is actually running: which weights, from where, why, and the held-out figures that describe them."""

    requested: str
    name: str  # the model that runs: `requested`, or the fallback
    title: str
    source: Source
    categories: tuple[str, ...]
    metrics: str  # held-out figures, as a phrase
    reason: str = ""  # why the bundled model stands in for the requested one
    weights_file: str = ""
    weights_sha256: str = ""  # the full SHA-256 of the weights file that runs
    card_sha256: str = ""  # a visitor's network: the SHA-256 of its card (classes, normalisation, input size)

    @property
    def cache_key(self) -> str:
        """What identifies this model's numbers in every cache: the network, where its weights came from, and
        the weights' content hash, so a retrained or replaced file never serves another file's results; for a
        visitor's own network also its card's, as the same weights under another card (other class names or
        normalisation) give other results."""
        card = f":{self.card_sha256}" if self.card_sha256 else ""
        return f"{self.name}:{self.source}:{self.weights_sha256}{card}"

    @property
    def is_fallback(self) -> bool:
        return self.name != self.requested


def status(weights: WeightsEnum | None) -> Status:
    """'bundled' (a project model), 'cached' (its hash checked), 'damaged' (a cached file whose hash does not
    match), 'downloadable' (network and a writable cache), or 'unavailable' (the fallback will run)."""
    if weights is None:
        return "bundled"
    if weights_cache.is_cached(weights):
        return "cached" if weights_cache.is_verified(weights) else "damaged"
    if weights_cache.network_available(weights.url)[0] and weights_cache.cache_writable():
        return "downloadable"
    return "unavailable"


Loaded = TypeVar("Loaded", bound=tuple)


def load_with_fallback(
    spec: ModelSpec,
    what: str,
    pretrained: Callable[[], Loaded],
    bundled: Callable[[str, str], Loaded],
    note: str = "",
) -> Loaded:
    """`pretrained()` for a spec with torchvision weights, else (or when those are unavailable or damaged)
    `bundled(requested, reason)`, with a reason that says what failed and where to put the file. Raises
    CheckpointError only when the bundled model itself is bad."""
    if spec.weights is None:
        return bundled(spec.name, "")
    try:
        return pretrained()
    except (weights_cache.WeightsUnavailable, CheckpointError) as exc:
        path = weights_cache.weights_path(spec.weights)
        log.info("%s falls back to %s: %s", spec.name, spec.fallback, exc)
        return bundled(
            spec.name,
            f"{what} weights for {spec.title} are unavailable: {exc}. To use them offline, put {path.name} "
            f"into {public_path(path.parent)}{note}",
        )
