"""The server's admission queue for heavy jobs and its store of their results, without Streamlit (ui.admission
holds the process's one of each and draws the waiting): a hosted copy serves a whole class on a few cores, so
heavy jobs take turns over visitors, and results are kept within a count and a size."""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from PIL import Image

from models.files import MB


def heavy_slots() -> int:
    """How many heavy jobs run at once: $EXPLAINER_HEAVY_SLOTS, else one per two cores (at least one)."""
    try:
        return max(1, int(os.environ.get("EXPLAINER_HEAVY_SLOTS", "")))
    except ValueError:
        return max(1, (os.cpu_count() or 2) // 2)


TURN_SECONDS = 30.0  # a live training run (Build's loop, BatchNorm) holds a slot this long before waiting jobs go


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
        self._behind: dict[int, set[int]] = {}  # a ticket that passed its turn -> the tickets it waits behind
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
            behind = bool(self._behind.get(ticket, set()) & set(self._waiting))  # passed its turn to one still here
            rounds.append((behind, held.get(owner, 0), arrival, ticket))
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
                self._behind.pop(ticket, None)
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
            self._behind.pop(ticket, None)
            if not self._running and not self._waiting:  # idle: the next busy spell's rounds start afresh
                self._served.clear()
            self._cond.notify_all()

    def pass_turn(self, ticket: int) -> bool:
        """A running ticket's owner lets every job waiting now go first, in one step: the ticket waits again behind all
        of them, whatever the rounds say (its owner may have been served fewer times), and its going on is not counted
        as a new round. False, and the ticket keeps its slot, when nobody waits."""
        with self._cond:
            if ticket not in self._running or not self._waiting:
                return False
            self._running.discard(ticket)
            self._waiting.append(ticket)
            self._behind[ticket] = set(self._waiting) - {ticket}
            self._served[self._owners[ticket]] -= 1  # `admit` counts it again when it goes on
            self._cond.notify_all()
            return True

    def counts(self) -> tuple[int, int]:
        """(running, waiting) now."""
        with self._cond:
            return len(self._running), len(self._waiting)

    @contextmanager
    def slot(
        self, on_wait: Callable[[int], None] | None = None, poll: float = 0.5, owner: Hashable = None
    ) -> Iterator[Turn]:
        """Hold a slot for the body of a `with`, for `owner`; `on_wait(place)` is called at once when the slot is not
        free and then every `poll` seconds while waiting (a Streamlit rerun raised there ends the wait): a walk saw
        the page blank for the first 2 s of a wait. The slot is always given back. A long job passes its turn now
        and then through the `Turn` it is given (`Turn.share`)."""
        turn = Turn(self, owner, on_wait, poll)
        try:
            turn.wait()
            yield turn
        finally:
            turn.leave()


class Turn:
    """One job's hold on a slot of `queue`: taken by `wait`, given back by `leave`, and passed to whoever waits by
    `share` (a loopback review: a 345-minute BatchNorm run held the server's one slot, and another visitor's
    one-second attribution waited behind it with no end)."""

    def __init__(
        self, queue: AdmissionQueue, owner: Hashable, on_wait: Callable[[int], None] | None, poll: float
    ) -> None:
        self.queue, self.owner, self.on_wait, self.poll = queue, owner, on_wait, poll
        self.ticket: int | None = None
        self.since = 0.0  # when the slot was last taken (time.monotonic)

    def wait(self) -> None:
        """Join the queue (unless the ticket waits already, its turn passed) and wait for a slot, saying the place as
        `AdmissionQueue.slot` does."""
        if self.ticket is None:
            self.ticket = self.queue.join(self.owner)
        timeout = 0.0  # the first look does not wait: a busy queue is said at once
        while not self.queue.admit(self.ticket, timeout):
            if self.on_wait is not None:
                self.on_wait(self.queue.position(self.ticket))
            timeout = self.poll
        self.since = time.monotonic()

    def leave(self) -> None:
        if self.ticket is not None:
            self.queue.leave(self.ticket)
            self.ticket = None

    def share(self, held_seconds: float) -> bool:
        """Between two pieces of a long job: when it has held the slot `held_seconds` and other jobs wait, let every
        one of them go first (`AdmissionQueue.pass_turn`), then wait as `wait` does. True when it waited (the time
        between is not the job's)."""
        if time.monotonic() - self.since < held_seconds or not self.queue.pass_turn(self.ticket):
            return False
        self.wait()
        return True


class ResultStore:
    """A thread-safe LRU of computed results, at most `max_entries` and `max_bytes` (`size_of` each; a result larger
    than the whole store is returned but not kept). Values are shared between visitors: callers treat them as
    read-only. A review: 64 sanity checks' maps could take 2 GB, past what a class's server holds."""

    def __init__(self, max_entries: int = 64, max_bytes: int = 256 * MB) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
            return None

    def put(self, key: Hashable, value: Any) -> None:
        size = size_of(value)
        with self._lock:
            if key in self._items:
                self._bytes -= self._items.pop(key)[1]
            if size > self.max_bytes:
                return
            self._items[key] = (value, size)
            self._bytes += size
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                self._bytes -= self._items.popitem(last=False)[1][1]

    def bytes(self) -> int:
        """What the kept results hold, by `size_of`."""
        with self._lock:
            return self._bytes


def size_of(value: Any, depth: int = 8) -> int:
    """About how many bytes `value` holds: arrays, tensors, images and bytes by their data, containers and plain
    objects by what they hold (`depth` levels down; deeper, or anything else, by `sys.getsizeof`)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, torch.Tensor):
        return value.element_size() * value.nelement()
    if isinstance(value, Image.Image):
        return value.width * value.height * len(value.getbands())
    if isinstance(value, bytes | bytearray | str):
        return len(value)
    if depth <= 0:
        return sys.getsizeof(value)
    if isinstance(value, dict):
        return sum(size_of(k, depth - 1) + size_of(v, depth - 1) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return sum(size_of(v, depth - 1) for v in value)
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return size_of(vars(value), depth - 1)
    if hasattr(value, "__slots__"):
        return sum(size_of(getattr(value, s, None), depth - 1) for s in value.__slots__)
    return sys.getsizeof(value)
