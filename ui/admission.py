"""One admission queue per server for heavy jobs, and a shared store for their results.

A hosted copy serves a whole class on two cores: training, sweeps, top-9 scans, sanity checks and
occlusion each take seconds to minutes of both cores. They wait in one first-come, first-served
queue with a few slots, and every waiting visitor sees their place in it. Results are kept in a
server-wide store keyed by full content hashes; the computation runs outside any `st.cache_*`
function, so its progress bar is drawn live and never replayed from a cache.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from models.admission import MB, TURN_SECONDS, AdmissionQueue, ResultStore, heavy_slots
from ui.view_link import visitor

T = TypeVar("T")
WAIT_POLL_SECONDS = 2.0
BAR_SECONDS = 0.1  # the least time between two redraws of a heavy job's progress bar
Report = Callable[[int, int], None]  # (done, total), the progress callback of every long computation


@st.cache_resource
def server_queue() -> AdmissionQueue:
    """The one queue of this server process."""
    return AdmissionQueue(heavy_slots())


@st.cache_resource
def result_store() -> ResultStore:
    """The one store of heavy results of this server process: $EXPLAINER_RESULTS_STORE_MB (default 256) in all, and
    1,024 results (a review: at 64, Attributions' maps of 16 images filled it for a whole class)."""
    try:
        megabytes = max(1, int(os.environ.get("EXPLAINER_RESULTS_STORE_MB", "256")))
    except ValueError:
        megabytes = 256
    return ResultStore(max_entries=1024, max_bytes=megabytes * MB)  # the bytes bind first (a map: about 0.6 MB)


@contextmanager
def heavy_job(what: str, where: DeltaGenerator | None = None) -> Iterator[Callable[[], bool]]:
    """Wait for a slot in the server's queue, showing the visitor their place (in `where`, else here), then run the
    body. The body of a long job calls what this yields between its pieces: after TURN_SECONDS holding the slot, and
    only when another job waits, it passes its turn and waits again, said the same way; True when it waited."""
    queue = server_queue()
    note = (where or st).empty()

    def waiting(place: int) -> None:
        running, _ = queue.counts()
        note.info(
            f"{what}: waiting for a free slot; you are number {place} in the queue ({running} heavy job"
            f"{'s' if running != 1 else ''} running, {queue.slots} at a time on this server).",
            icon=":material/hourglass_top:",
        )

    # Each redraw is where Streamlit notices a click or a closed tab; every 2 s keeps a long queue of
    # waiting visitors from loading the server (at 0.5 s, 11 waiting sessions slowed other pages 3x).
    with queue.slot(waiting, poll=WAIT_POLL_SECONDS, owner=visitor()) as turn:  # the visitor's tabs share rounds
        note.empty()

        def share() -> bool:
            waited = turn.share(TURN_SECONDS)
            if waited:
                note.empty()
            return waited

        yield share


def stored(key: tuple[Hashable, ...]) -> bool:
    """Whether the server's store holds the result of `key` (a press would show it at once)."""
    return result_store().get(key) is not None


def cached_heavy(what: str, key: tuple[Hashable, ...], compute: Callable[[Report], T], *, unit: str) -> T:
    """`compute(report)` through the queue with a live progress bar, or its stored result for `key`
    (which must hold full content hashes of every input). `what` names the job for the visitor, `unit` what
    `report(done, total)` counts (a walk read "Training twice… 39 of 60" and could not tell 60 of what). The bar
    goes when the job ends, failed or not. Its place is drawn whether the result is stored or not, the queue's note
    and the bar in it: the page's later elements then keep their places from run to run (a walk pressed a button in
    Attributions' Faithfulness tab and the tabs, shifted up by the first run's emptied bars, opened on Maps again)."""
    place = st.empty()
    store = result_store()
    if (hit := store.get(key)) is not None:
        return hit
    with heavy_job(what, place):
        if (hit := store.get(key)) is not None:  # computed by another visitor while this one waited
            return hit
        bar = place.progress(0.0, text=f"{what}…")
        drawn = [0.0]  # when the bar was last drawn

        def report(done: int, total: int) -> None:
            # each redraw is where Streamlit notices a click or a closed tab: at most every BAR_SECONDS, as the browser
            # drawing a bar moved each batch of the augmentation comparison (540 of them) made it take 11 s, not 5
            now = time.monotonic()
            if now - drawn[0] >= BAR_SECONDS or done >= total:
                drawn[0] = now
                bar.progress(min(done / max(total, 1), 1.0), text=f"{what}… {done:,} of {total:,} {unit}")

        try:
            value = compute(report)
        finally:  # a failed job leaves its one-line error, not a bar stopped part way (a walk)
            bar.empty()
    store.put(key, value)
    return value
