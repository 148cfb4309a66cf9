"""Cached model outputs that several pages show: the top-5 of the page's subject."""

from __future__ import annotations

from explain.methods.classify import Prediction, top_k
from ui.subject import Subject, cached_on_subject

_top5 = cached_on_subject("top5", lambda s: top_k(s.model, s.x, s.info.categories, k=5), max_entries=256)


def top5(subject: Subject) -> list[Prediction]:
    """Top-5 for (weights, image), computed once per pair."""
    return _top5(subject)
