"""One admission queue per server for heavy jobs, and a shared store for their results.

A hosted copy serves a whole class on two cores: training, sweeps, top-9 scans, sanity checks and
occlusion each take seconds to minutes of both cores. They wait in one first-come, first-served
queue with a few slots, and every waiting visitor sees their place in it. Results are kept in a
server-wide store keyed by full content hashes; the computation runs outside any `st.cache_*`
function, so its progress bar is drawn live and never replayed from a cache.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import streamlit as st

from ui.view_link import visitor

T = TypeVar("T")
WAIT_POLL_SECONDS = 2.0
Report = Callable[[int, int], None]  # (done, total), the progress callback of every long computation


def heavy_slots() -> int:
    """How many heavy jobs run at once: $EXPLAINER_HEAVY_SLOTS, else one per two cores (at least one)."""
    try:
        return max(1, int(os.environ.get("EXPLAINER_HEAVY_SLOTS", "")))
    except ValueError:
        return max(1, (os.cpu_count() or 2) // 2)


class AdmissionQueue:
    """At most `slots` tickets hold a slot; the others wait round by round over their owners, then in order of
    arrival: an owner's k-th job of this busy spell (counting those already let in) waits behind every other owner's
    earlier rounds. A visitor's several tabs cannot keep the others waiting behind a queue of their own jobs (a
    re-attack queued several). The rounds start again whenever the queue is idle."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._cond = threading.Condition()
        self._waiting: deque[int] = deque()
        self._running: set[int] = set()
        self._owners: dict[int, Hashable] = {}
        self._served: dict[Hashable, int] = {}  # jobs let in this busy spell, by owner
        self._tickets = itertools.count(1)

    def join(self, owner: Hashable = None) -> int:
        """Take a ticket at the back of the queue, for `owner` (None: a ticket of its own)."""
        with self._cond:
            ticket = next(self._tickets)
            self._waiting.append(ticket)
            self._owners[ticket] = ticket if owner is None else owner
            return ticket

    def _order(self) -> list[int]:
        """The waiting tickets in the order they go: by round (the owner's jobs let in this busy spell and its waiting
        tickets ahead of this one), then by arrival."""
        held = dict(self._served)
        rounds = []
        for arrival, ticket in enumerate(self._waiting):
            owner = self._owners[ticket]
            rounds.append((held.get(owner, 0), arrival, ticket))
            held[owner] = held.get(owner, 0) + 1
        return [ticket for *_, ticket in sorted(rounds)]

    def position(self, ticket: int) -> int:
        """0 when the ticket holds a slot, else its 1-based place among those waiting."""
        with self._cond:
            return 0 if ticket in self._running else self._order().index(ticket) + 1

    def _admissible(self, ticket: int) -> bool:
        free = self.slots - len(self._running)
        return free > 0 and ticket in self._order()[:free]

    def admit(self, ticket: int, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a slot; True once the ticket holds one."""
        with self._cond:
            if ticket in self._running:
                return True
            if self._cond.wait_for(lambda: self._admissible(ticket), timeout):
                self._waiting.remove(ticket)
                self._running.add(ticket)
                owner = self._owners[ticket]
                self._served[owner] = self._served.get(owner, 0) + 1
                return True
            return False

    def leave(self, ticket: int) -> None:
        """Give the slot back, or the place in the queue; the next in line may go."""
        with self._cond:
            self._running.discard(ticket)
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            self._owners.pop(ticket, None)
            if not self._running and not self._waiting:  # idle: the next busy spell's rounds start afresh
                self._served.clear()
            self._cond.notify_all()

    def counts(self) -> tuple[int, int]:
        """(running, waiting) now."""
        with self._cond:
            return len(self._running), len(self._waiting)

    @contextmanager
    def slot(
        self, on_wait: Callable[[int], None] | None = None, poll: float = 0.5, owner: Hashable = None
    ) -> Iterator[None]:
        """Hold a slot for the body of a `with`, for `owner`; `on_wait(place)` is called every `poll` seconds while
        waiting (a Streamlit rerun raised there ends the wait). The slot is always given back."""
        ticket = self.join(owner)
        try:
            while not self.admit(ticket, poll):
                if on_wait is not None:
                    on_wait(self.position(ticket))
            yield
        finally:
            self.leave(ticket)


class ResultStore:
    """A thread-safe LRU of computed results, at most `max_entries`. Values are shared between
    visitors: callers treat them as read-only."""

    def __init__(self, max_entries: int = 64) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return None

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)


@st.cache_resource
def server_queue() -> AdmissionQueue:
    """The one queue of this server process."""
    return AdmissionQueue(heavy_slots())


@st.cache_resource
def result_store() -> ResultStore:
    """The one store of heavy results of this server process."""
    return ResultStore()


@contextmanager
def heavy_job(what: str) -> Iterator[None]:
    """Wait for a slot in the server's queue, showing the visitor their place, then run the body."""
    queue = server_queue()
    note = st.empty()

    def waiting(place: int) -> None:
        running, _ = queue.counts()
        note.info(
            f"{what}: waiting for a free slot; you are number {place} in the queue ({running} heavy job"
            f"{'s' if running != 1 else ''} running, {queue.slots} at a time on this server).",
            icon=":material/hourglass_top:",
        )

    # Each redraw is where Streamlit notices a click or a closed tab; every 2 s keeps a long queue of
    # waiting visitors from loading the server (at 0.5 s, 11 waiting sessions slowed other pages 3x).
    with queue.slot(waiting, poll=WAIT_POLL_SECONDS, owner=visitor()):  # the visitor's tabs share their rounds
        note.empty()
        yield


def cached_heavy(what: str, key: tuple[Hashable, ...], compute: Callable[[Report], T], *, unit: str) -> T:
    """`compute(report)` through the queue with a live progress bar, or its stored result for `key`
    (which must hold full content hashes of every input). `what` names the job for the visitor, `unit` what
    `report(done, total)` counts (a walk read "Training twice… 39 of 60" and could not tell 60 of what). The bar
    goes when the job ends, failed or not."""
    store = result_store()
    if (hit := store.get(key)) is not None:
        return hit
    with heavy_job(what):
        if (hit := store.get(key)) is not None:  # computed by another visitor while this one waited
            return hit
        bar = st.progress(0.0, text=f"{what}…")

        def report(done: int, total: int) -> None:
            bar.progress(min(done / max(total, 1), 1.0), text=f"{what}… {done:,} of {total:,} {unit}")

        try:
            value = compute(report)
        finally:  # a failed job leaves its one-line error, not a bar stopped part way (a walk)
            bar.empty()
    store.put(key, value)
    return value
