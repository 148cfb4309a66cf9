"""The visitor's own network, held in their browser session only: at most one (a new one replaces the last, which
is then freed), never in a shared cache, never reachable from another session by picker or link."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import streamlit as st
from torch import nn

from explain.figures.render import png_bytes
from models.classifiers import ModelInfo
from models.devices import best_device
from models.hub.fallback import ModelSpec
from models.own import HELD, OwnCard, export, network_mb, own_classifier

OWN = "own"  # the pickers' key for the visitor's own network
_KEY = "own_model"
NOT_HERE = (
    "The link names a model trained or uploaded in another browser session, which this one cannot see: "
    "the default model is shown."
)


@dataclass(frozen=True)
class OwnModel:
    """The network, what the explainers take about it, its card, its data's sample images (with their true
    classes) and which set-up's data it has; its weights file is written when asked."""

    model: nn.Module
    info: ModelInfo
    card: OwnCard
    samples: dict[str, bytes]  # name -> PNG bytes: its own test images (none for an upload)
    truth: dict[str, str]  # name -> the true class of each of those images
    data: str | None = None  # the Build set-up it was trained on (its test set is its data), None for an upload

    def weights_file(self) -> bytes:
        """What its download gives: `torch.save` of its state_dict, written when asked (not held: a session keeps
        one copy of the network, its parameters)."""
        return export(self.model, self.card)[0]


def room_for(size: float, keep: nn.Module | None = None) -> None:
    """Refuse in one line a network of `size` MB past what the server holds of visitors' networks (`HELD`; this
    session's current one does not count: it is replaced); else hold `keep` among them. Called before a network is
    built, and as it is kept."""
    mine = own_model()
    HELD.make_room(size, replacing=mine.model if mine is not None else None, keep=keep)


def keep_own(
    model: nn.Module,
    card: OwnCard,
    samples: dict[str, tuple[np.ndarray, str]] | None = None,
    weights: bytes | None = None,
    data: str | None = None,
) -> OwnModel:
    """Hold `model` as this session's own network on the best device (replacing any earlier one, which is freed):
    `weights` is its file as uploaded (else written now, once), whose SHA-256 keys every cache of its results.
    OwnModelError when the server holds too much of visitors' networks (`room_for`)."""
    digest = hashlib.sha256(weights if weights is not None else export(model, card)[0]).hexdigest()
    model, info = own_classifier(model, card, digest, best_device())
    room_for(network_mb(model), keep=model)
    samples = samples or {}
    pictures = {k: png_bytes(p) for k, (p, _) in samples.items()}
    mine = OwnModel(model, info, card, pictures, {k: truth for k, (_, truth) in samples.items()}, data)
    st.session_state[_KEY] = mine
    return mine


def own_model() -> OwnModel | None:
    """This session's own network, if it has one."""
    return st.session_state.get(_KEY)


def forget_own() -> None:
    """Drop this session's own network (freed once nothing else holds it)."""
    st.session_state.pop(_KEY, None)


OWN_TITLE = "Yours: "  # how the pickers' entry for it begins


def own_spec(mine: OwnModel) -> ModelSpec:
    """The pickers' entry for it, titled as the visitor named it."""
    return ModelSpec(OWN, f"{OWN_TITLE}{mine.card.title}", None, fallback=OWN, retrain="")


def link_names_own(param: str) -> bool:
    """Whether the URL's `param` names a visitor's own network: as a picker bound to the URL writes it (its title,
    "Yours: ..."), or by its key. A review opened a copied link in another session and got ResNet-18 without a word:
    only the key, which no copied link holds, had been looked for."""
    value = st.query_params.get(param)
    return value is not None and (value == OWN or value.startswith(OWN_TITLE))


def own_samples(prefix: str) -> dict[str, bytes] | None:
    """The sample images of the visitor's own network when the picker keyed `prefix_model` has it chosen."""
    mine = own_model()
    return mine.samples if mine is not None and st.session_state.get(f"{prefix}_model") == OWN else None


def file_stem(name: str) -> str:
    """A download's file name from the model's name: letters, digits and dashes."""
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "my-model"


def own_files() -> tuple[str, str] | None:
    """The names the downloads of this session's own network get: (weights, card); None without one."""
    mine = own_model()
    return None if mine is None else (f"{file_stem(mine.card.name)}.pt", f"{file_stem(mine.card.name)}.json")
