"""Is this server ready for a lecture? Per zoo model, whether its real weights are here (cached and hash-checked),
can be fetched, or the bundled model will stand in, with the file's size; and one call that fetches every missing
file the network allows, each failure in one line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from models.classifiers import CLASSIFIERS
from models.detectors import DETECTORS
from models.hub import weights_cache
from models.hub.fallback import ModelSpec, Status, status

FAMILIES: dict[str, dict[str, ModelSpec]] = {"classifier": CLASSIFIERS, "detector": DETECTORS}


@dataclass(frozen=True)
class ModelReadiness:
    """One zoo model's standing on this server."""

    name: str
    title: str
    family: str
    status: Status
    size_mb: float | None  # the weights file's size as torchvision states it; None for a bundled model
    stand_in: str  # the bundled model that runs while the real weights are missing ("" for a bundled model)


def readiness() -> list[ModelReadiness]:
    """Every classifier and detector of the zoo with real weights, and where its weights stand now."""
    rows = []
    for family, specs in FAMILIES.items():
        for spec in specs.values():
            if spec.weights is None:
                continue
            fallback = specs.get(spec.fallback)
            rows.append(
                ModelReadiness(
                    spec.name,
                    spec.title,
                    family,
                    status(spec.weights),
                    spec.weights.meta.get("_file_size"),
                    fallback.title if fallback else spec.fallback,
                )
            )
    return rows


def fetch_missing(progress: Callable[[str, int, int], None] | None = None) -> dict[str, str]:
    """Download every zoo model's weights that are missing or damaged, one after another (each written whole and
    hash-checked before it counts as cached). Returns, by model name, a one-line reason for each that could not be
    fetched; an empty dict when all are here."""
    failures = {}
    for row in readiness():
        if row.status in ("cached", "bundled"):
            continue
        weights = FAMILIES[row.family][row.name].weights
        report = (lambda done, total, name=row.title: progress(name, done, total)) if progress else None
        try:
            weights_cache.download(weights, report)
        except weights_cache.WeightsUnavailable as exc:
            failures[row.name] = f"{row.title}: {str(exc).splitlines()[0] if str(exc) else 'not fetched'}"
    return failures
