"""Counts and durations in words: "1 epoch", "2 epochs", "4.2 s". Every caption that states how many of something, or
how long an estimate says it takes, says it through here."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and the noun, singular for exactly one ("1 epoch", "3 epochs", "1,300 images"); `plural` when the noun
    does not take an "s"."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def duration(seconds: float) -> str:
    """An estimated time as a person reads it: "under 0.01 s", "0.42 s", "4.2 s", "35 s", "2.5 minutes" (from 90 s):
    never "0 s" for a job that takes a fraction of a second."""
    if seconds < 0.01:
        return "under 0.01 s"
    if seconds < 1:
        return f"{seconds:.2g} s"
    if seconds < 9.95:  # what rounds to 10.0 reads as 10 s
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} minutes"


def about(seconds: float) -> str:
    """An estimate: "about 4.2 s", or "under a second", which is as near as an estimate gets there (a walk read
    "about 0.032 s" for a sweep that took 0.55 s, a process's first run paying a one-off half second)."""
    return "under a second" if seconds < 1 else f"about {duration(seconds)}"


def percent(p: float, places: int = 1) -> str:
    """A probability as the pages write it: "12.3%" (`places` decimals), "<0.1%" for one that would round to "0.0%"
    (a walk read "<0.1%" on Classify and "0.0%" for the same class on Attributions), and ">99.9%" for one under 1
    that would round to "100.0%" (a walk read a detection of score 0.998 as "star 100%", a certainty)."""
    if not math.isfinite(p):  # a diverged network's output (a review: "nan%")
        return "not a number"
    written, step = f"{p:.{places}%}", 10.0**-places  # step: the smallest percentage written
    if float(written[:-1]) == 0:
        return f"<{step:.{places}f}%"
    if p < 1 and float(written[:-1]) >= 100:
        return f">{100 - step:.{places}f}%"
    return written


def difference_as_shown(new: float, old: float, places: int) -> float:
    """`new - old` as the difference of the two figures written to `places` decimals, so the three add up on the page
    (a walk read 88.5% and 75.1% beside "-13.5 points")."""
    return round(round(new, places) - round(old, places), places)


def first_line(exc: BaseException, max_chars: int | None = None) -> str:
    """An error in one line for a page: its message's first line (at most `max_chars`), or its type's name where it
    has no message (a bare `AssertionError()` had raised IndexError on the page)."""
    text = str(exc)
    return text.splitlines()[0][:max_chars] if text.strip() else type(exc).__name__


def sendable(text: str) -> bool:
    """Whether `text` can be sent to a browser as UTF-8: a file name that is not UTF-8, or JSON's "\\ud800" escape,
    gives lone surrogates, which broke a page wherever they were shown (a loopback attack)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def display_name(name: str, max_chars: int = 80) -> str:
    """A file name a visitor sent, safe to show anywhere: letters, digits, spaces and `.()/-` kept, and `_` between two
    letters or digits (`my_photo.png`: Markdown never reads that as emphasis); every other character (Markdown, HTML,
    control characters, a `_` beside anything else: a re-attack's `**b**` had become `__b__`, bold) replaced by `-`,
    at most `max_chars`. A walk read `walk-chelsea.png` for its `walk_chelsea.png`: between letters `_` stays."""

    def kept(i: int, c: str) -> bool:
        if c == "_":
            return 0 < i < len(name) - 1 and name[i - 1].isalnum() and name[i + 1].isalnum()
        return c.isalnum() or c in " .()/-"

    safe = "".join(c if kept(i, c) else "-" for i, c in enumerate(name)).strip() or "unnamed file"
    if len(safe) > max_chars:
        _, dot, ext = safe.rpartition(".")
        keep = f"{dot}{ext}" if dot and len(ext) <= 8 else ""
        safe = safe[: max_chars - len(keep) - 1] + "…" + keep
    return safe


def code_span(text: str, max_chars: int = 60) -> str:
    """Text from a visitor's file that must stay exact (a tensor's name, `layer1.0.bn1.running_mean`), as Markdown
    inline code: nothing inside is emphasis, a link or HTML; backticks and control characters become `'` and spaces,
    and a long text ends in `…`."""
    clean = printable(text).replace("`", "'")
    if not clean.strip():  # two backticks alone are drawn as they are (a loopback review's `home_model=`)
        return "*(empty)*" if not clean else f"*({counted(len(clean), 'space')})*"
    return f"`{clean[:max_chars] + '…' if len(clean) > max_chars else clean}`"


def printable(text: str) -> str:
    """`text` with every character that cannot be shown as a space (control characters: a tab, a new line), or as
    "\ufffd" for a lone surrogate, which cannot even be sent to the browser (a loopback review's category name
    "\\ud800" stopped the page)."""
    return "".join(c if c.isprintable() else "\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else " " for c in text)


def code_spans(texts: Sequence[str], shown: int = 5, max_chars: int = 40) -> str:
    """The first `shown` of `texts` as `code_span`s, comma-separated, then "and N more": names from a visitor's file
    in one line of bounded length (a review's 1,000 unknown categories made a 97 KB warning)."""
    more = f" and {len(texts) - shown:,} more" if len(texts) > shown else ""
    return ", ".join(code_span(t, max_chars) for t in texts[:shown]) + more


def row_number(text: str | None, count: int) -> int | None:
    """A table row a link names, as a person counts (`"3"`: the third of `count` rows) -> its 0-based index; None for
    no row, or for anything but a whole number from 1 to `count` (ASCII digits only, at most six of them), as a bound
    widget drops a URL value it cannot take."""
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > 6:
        return None
    row = int(text) - 1
    return row if 0 <= row < count else None


_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _number(text: str) -> float | None:
    """A URL value as a finite number, or None (not a plain decimal in ASCII digits, infinite, or over 32 characters):
    Python's float() also reads "0_5" as 5, "٥" and "５" as 5 and spaces around a number, which a link's typo must not
    turn into another setting (a review: `bn_lr=0_5` showed the rate 5.0)."""
    if len(text) > 32 or not _DECIMAL.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def number_named(text: str | None, options: Sequence[float]) -> int | None:
    """The index of the option that `text` names as a number ("0.50", "5e-1" and ".5" name 0.5; "1" names 1.0), or
    None (not a finite number of at most 32 characters, or no option equal to it): a link a person types writes a
    number as they like, while a bound widget takes only its option's exact label."""
    value = None if text is None else _number(text)
    if value is None:
        return None
    return next((i for i, option in enumerate(options) if float(option) == value), None)


def same_values(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether two lists of URL values say the same: equal texts, or the same finite number ("0.50" and "0.5")."""
    return len(a) == len(b) and all(
        x == y or ((n := _number(x)) is not None and n == _number(y)) for x, y in zip(a, b, strict=True)
    )
