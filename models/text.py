"""Counts in words: "1 epoch", "2 epochs". Every caption that states how many of something says it through here."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and the noun, singular for exactly one ("1 epoch", "3 epochs", "1,300 images"); `plural` when the noun
    does not take an "s"."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
