"""Measurements of this server's speed, kept a while: each is taken at most once per `ttl` seconds per key, and
only one at a time in the whole process (two at once would slow each other down and both read too slow)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

_MEASURING = threading.Lock()  # shared by every KeptMeasurements: one measurement at a time in the process


class KeptMeasurements:
    """Seconds measured on this server, by key, each kept `ttl` seconds (the load on a server changes)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._kept: dict[Hashable, tuple[float, float]] = {}  # key -> (seconds, when they were measured)

    def kept(self, key: Hashable) -> float | None:
        """The figure measured under `key` within the last `ttl` seconds, or None; nothing is measured."""
        kept = self._kept.get(key)
        return kept[0] if kept is not None and time.monotonic() - kept[1] <= self.ttl else None

    def get(self, key: Hashable, measure: Callable[[], float]) -> float:
        """The kept figure, or `measure()` taken now (after any other measurement in the process ends) and kept."""
        with _MEASURING:
            seconds = self.kept(key)
            if seconds is None:
                seconds = measure()
                now = time.monotonic()
                # expired figures go: keys can come from visitors (a pipeline from a link), one per link (a review)
                self._kept = {k: v for k, v in self._kept.items() if now - v[1] <= self.ttl}
                self._kept[key] = (seconds, now)
        return seconds

    def fresh(self) -> list[tuple[Hashable, float]]:
        """(key, when it was measured) for each figure kept now (measured within the last `ttl` seconds), so that a
        figure measured again reads as new; nothing is measured."""
        now = time.monotonic()
        return [(key, when) for key, (_, when) in self._kept.items() if now - when <= self.ttl]

    def measured(self) -> list[Hashable]:
        """The keys measured (kept, or expired since the last measurement)."""
        return list(self._kept)


def seconds_left(seconds: float, done_at_start: float, done: float, total: float) -> float | None:
    """The time the rest of a piece of work should take at the speed measured so far: `seconds` spent taking it from
    `done_at_start` to `done` units of `total` (units a step costs: runs, or their estimated seconds). None before a
    unit is done."""
    if done <= done_at_start:
        return None
    return seconds / (done - done_at_start) * max(total - done, 0.0)


REDRAW_SECONDS = 0.5  # the least time between two redraws of a live run's charts (a walk: redrawn ten times a second,
# BatchNorm's charts stayed blank until the run ended: each redraw mounts the chart afresh, and the browser had not
# drawn one before the next replaced it)


class Pacer:
    """Says yes the first time, then once `seconds` have passed since it last said yes (or when told `now`): how
    often a live run redraws its charts, on the page and in bench/bench_training.py alike."""

    def __init__(self, seconds: float = REDRAW_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.clock, self.last = seconds, clock, None

    def due(self, now: bool = False) -> bool:
        t = self.clock()
        if now or self.last is None or t - self.last >= self.seconds:
            self.last = t
            return True
        return False
