"""What a page explains, in one record (the image, the model, what its weights are and the tensor it sees), and the
one way a page caches a computation on it: keyed on the image's and the weights' full SHA-256."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import streamlit as st
import torch
from torch import nn

from models.hub.fallback import WeightsInfo
from ui.image_input import ChosenImage

T = TypeVar("T")


@dataclass(frozen=True)
class Subject:
    """The chosen image, the (shared, read-only) model, its weights record and the tensor the model sees."""

    chosen: ChosenImage
    model: nn.Module
    info: WeightsInfo
    x: torch.Tensor

    @property
    def cache_id(self) -> str:
        """What identifies this subject's numbers in every cache: the image's SHA-256, then the weights' cache key
        (network, source and the weights file's SHA-256)."""
        return f"{self.chosen.sha256}|{self.info.cache_key}"


def cached_on_subject(name: str, fn: Callable[..., T], max_entries: int = 64) -> Callable[..., T]:
    """`fn(subject, *args)` cached in `st.cache_data` per (subject.cache_id, args): the model and the tensor are
    never hashed, the key says what they hold. `name` keeps each computation's cache its own. The arguments after the
    subject must be hashable by Streamlit (numbers, strings, tuples)."""

    def compute(computation: str, cache_id: str, args: tuple, _subject: Subject) -> T:
        return fn(_subject, *args)

    compute.__qualname__ = f"cached_on_subject.{name}"  # Streamlit keys a function's cache on its qualified name
    cached = st.cache_data(max_entries=max_entries, show_spinner=False)(compute)

    def call(subject: Subject, *args: Any) -> T:
        return cached(name, subject.cache_id, args, subject)

    call.__name__ = call.__qualname__ = name
    return call
