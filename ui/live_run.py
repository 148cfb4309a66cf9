"""One way to run long work live on a page (Build's loop, BatchNorm's pair, a transfer sweep): the work is built
once the visitor's turn in the server's queue comes, advanced in chunks with its curves redrawn after a chunk at
most every `models.measured.REDRAW_SECONDS` (and after the last), stopped
and resumed with two buttons, and timed, so estimates come from this server's own measured speed.

One state machine per section, kept in the visitor's session under `{name}_live`:

    idle --Start--> pending --its turn--> running --last step--> done
                       |                  |    ^
                       +----Stop--> idle  Stop  Resume
                                          v    |
                                         stopped

A click other than Stop reruns the page mid-chunk: the state is still `running`, so the next run goes on from the
step reached (nothing is lost, nothing is done twice).

Streamlit's fast reruns (off in .streamlit/config.toml; a host's own config may turn them on) start the new run of
the page in a new thread while the old one is still unwinding (it stops at its next element: within a tick). The old
run holds its state's `busy` lock while it steps the work, and the new run waits for it before it reads the state: a
walk saw "Charts at step 39" over "Stopped at step 40", and a cancelled sweep read as "still being written" because
its heartbeat was removed just after the page was drawn.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from explain.figures.compare import Curve, coinciding_text, comparison_figure, distinct_runs
from models.measured import Pacer, seconds_left
from models.speed_probe import Probe
from models.speed_probe import estimate_parts as speed_estimate
from models.text import about, first_line
from ui.admission import heavy_job, server_queue
from ui.presenter import chart, fold_panel, presenting, press

_LOG = logging.getLogger("explainer.live_run")
Phase = Literal["idle", "pending", "running", "stopped", "done"]
TICK_SECONDS = 0.2  # the progress bar is redrawn at most five times a second; each redraw is where a click lands
SETTLE_SECONDS = 60.0  # the longest a new run of the page waits for the old one to let go of the work
ESTIMATE_AFTER = 2.0  # seconds timed before the time left is said from a step's part done (a whole step says it)
MAX_KEPT = 4  # finished runs a section keeps per visitor, to compare on one chart (a few curves each: kilobytes)
_DRAWS = itertools.count()


def redraw_number() -> int:
    """A number no other redraw in the process has had: charts redrawn in a placeholder while a run goes each need a
    key of their own."""
    return next(_DRAWS)


class Work(Protocol):
    """What the helper runs: a step counter, a known number of steps, and a way to take `n` more."""

    step: int

    @property
    def total_steps(self) -> int: ...

    @property
    def done(self) -> bool: ...

    def advance(self, n: int, tick: Callable[[], None] | None = None) -> None: ...

    # Optional: `units() -> (done, total)`, the work measured in what its steps cost (steps that cost unequal times),
    # the step in progress counted by its part done: the bar and the time left are reckoned in it; without it, in
    # whole steps.


@dataclass
class LiveState:
    """A section's run in one visitor's session: its phase, the settings waiting to be built, and the work."""

    phase: Phase = "idle"
    config: Any = None
    work: Any = None
    message: str = ""  # a line shown under the controls until the next run starts (a sweep that ended, say)
    aside: str = ""  # what became of a stopped run a new one replaced: shown until that new one is stopped
    toast: str = ""  # said once more in a toast, in view wherever the page is scrolled, on the next run
    busy: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)  # held while stepping
    stepper: int | None = field(default=None, repr=False, compare=False)  # the thread that holds `busy`

    def settle(self) -> None:
        """Wait (at most SETTLE_SECONDS) until no other thread is stepping the work: an earlier run of the page
        still unwinding after a click (see the module's note). The stepping thread itself does not wait."""
        if self.stepper in (None, threading.get_ident()):
            return
        if self.busy.acquire(timeout=SETTLE_SECONDS):
            self.busy.release()
        else:
            _LOG.warning("an earlier run still held the live work after %.0f s", SETTLE_SECONDS)


@dataclass
class Speed:
    """Seconds per step measured on this server for one kind of step (drawing included), over finished chunks."""

    seconds: float = 0.0
    steps: int = 0

    @property
    def per_step(self) -> float | None:
        return self.seconds / self.steps if self.steps else None


@dataclass
class Speeds:
    """This server's measured speeds, by the cost key of a kind of step; shared by every visitor (a property of the
    machine, not of anyone's run)."""

    by_kind: dict[Hashable, Speed] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: Hashable, seconds: float, steps: int) -> None:
        with self.lock:
            speed = self.by_kind.setdefault(kind, Speed())
            speed.seconds, speed.steps = speed.seconds + seconds, speed.steps + steps

    def per_step(self, kind: Hashable) -> float | None:
        with self.lock:
            speed = self.by_kind.get(kind)
            return None if speed is None else speed.per_step


@st.cache_resource
def server_speeds() -> Speeds:
    """The one record of measured speeds of this server process."""
    return Speeds()


# Under a form, an estimate is for the settings last applied: a form sends its values when its button is pressed
LAST_APPLIED = " at the settings last applied"


def estimate_text(
    kind: Hashable,
    steps: int,
    bench_per_step: float,
    bench: str,
    settings: str = "",
    probe: Probe | None = None,
    measure: bool = True,
    bench_adds: str = "",
) -> str:
    """'About 3.2 minutes for 400 steps (what it comes from)': `models.speed_probe.estimate_parts` in one line, with
    this server's measured speed for `kind`; a probe is timed now only where `measure` allows and no heavy job is
    running in the server's queue."""
    figure, basis = estimate_parts(kind, steps, bench_per_step, bench, settings, probe, measure, bench_adds)
    return f"{figure} ({basis})"


def estimate_parts(
    kind: Hashable,
    steps: int,
    bench_per_step: float,
    bench: str,
    settings: str = "",
    probe: Probe | None = None,
    measure: bool = True,
    bench_adds: str = "",
) -> tuple[str, str]:
    """`estimate_text`'s figure and what it comes from, apart (`models.speed_probe.estimate_parts`)."""
    return speed_estimate(
        kind,
        steps,
        bench_per_step,
        bench,
        server_speeds().per_step(kind),
        probe,
        measure and server_queue().counts()[0] == 0,
        settings,
        bench_adds,
    )


@contextmanager
def stepping(state: LiveState) -> Iterator[None]:
    """Hold the state's `busy` lock while this thread builds and steps its work (a later run of the page waits)."""
    with state.busy:
        state.stepper = threading.get_ident()
        try:
            yield
        finally:
            state.stepper = None


class LiveRun:
    """The live run of one page section, named `name` (its session keys, its buttons' keys)."""

    def __init__(
        self,
        name: str,
        stop_label: str = "Stop",
        resume_label: str = "Resume",
        units: str = "steps",
        set_aside: str = "The {state} run ({done}) was set aside for this new one.",
        on_stop: Callable[[Any], None] | None = None,
        settings_key: str | None = None,
        start_label: str = "",
    ) -> None:
        """`set_aside`: the line said when a new run replaces a stopped or unfinished one, `{state}` which, `{done}`
        its progress. `on_stop(work)`: called when a running work is stopped, before the page is drawn again.
        `settings_key`: the key of the run's Settings panel (`ui.presenter.settings`), folded on Resume when
        presenting; `start_label`: the button in that panel that starts a run."""
        self.name, self.stop_label, self.resume_label, self.units = name, stop_label, resume_label, units
        self.set_aside, self.on_stop, self.settings_key = set_aside, on_stop, settings_key
        self.start_label = start_label

    @property
    def state(self) -> LiveState:
        """The section's state in this session, once no earlier run of the page is still stepping its work."""
        state = st.session_state.setdefault(f"{self.name}_live", LiveState())
        state.settle()
        return state

    def settle(self) -> None:
        """Wait until no earlier run of the page is stepping this section's work (before reading what it writes):
        reading `state` waits for it."""
        self.state  # noqa: B018

    @property
    def work(self) -> Any:
        return self.state.work

    @property
    def active(self) -> bool:
        """Whether work is waiting for its turn or running (a rerun then goes on with it)."""
        return self.state.phase in ("pending", "running")

    def start(self, config: Any) -> None:
        """Ask for a new run of `config`; it replaces the last and is built when the visitor's turn comes. A stopped
        or still running run it replaces is named in a line (a walk saw a stopped one vanish without a word)."""
        state = self.state
        state.message = state.aside = state.toast = ""  # a new run: the last one's lines go
        if state.phase in ("stopped", "running") and state.work is not None and not state.work.done:
            work, which = state.work, "stopped" if state.phase == "stopped" else "unfinished"
            state.aside = self.set_aside.format(state=which, done=f"{work.step:,} of {work.total_steps:,} {self.units}")
        state.phase, state.config, state.work = "pending", config, None

    def stop(self) -> None:
        state = self.state
        if state.phase == "pending":
            state.phase, state.config = "idle", None
        elif state.phase == "running":
            state.phase = "stopped"
            if self.on_stop and state.work is not None:
                self.on_stop(state.work)

    def resume(self) -> None:
        if self.state.phase == "stopped":
            self.state.phase = "running"
            if self.settings_key:
                fold_panel(self.settings_key)

    def say_next(self, message: str, toast: bool = False) -> None:
        """A line shown under the controls until the next run starts (say, what a finished run saved): it stays
        through the reruns a run makes, which a line shown once would not. With `toast`, it is also said once in a
        toast, seen wherever the page is scrolled: a walk found a resumed sweep's end, and this line, pushed below
        the fold by the results it added above."""
        self.state.message = message
        self.state.toast = message if toast else ""

    @property
    def kept(self) -> list[list[Curve]]:
        """This visitor's finished runs of this section, oldest first (the last MAX_KEPT), each as its curves."""
        return st.session_state.setdefault(f"{self.name}_kept", [])

    def keep(self, curves: list[Curve]) -> None:
        """Keep a finished run's curves for the comparison chart (the oldest is dropped beyond MAX_KEPT)."""
        kept = self.kept
        kept.append(curves)
        del kept[:-MAX_KEPT]

    def show_kept(self, x_title: str, percent: tuple[str, ...] = ()) -> None:
        """Once the visitor has finished two runs or more: all of them on one chart, each labelled with its settings,
        the newest drawn thicker, and a button that forgets all but the newest."""
        kept = self.kept
        if len(kept) < 2:
            return
        st.subheader("Your runs, compared")
        curves = distinct_runs(kept)
        chart(st, comparison_figure(curves, x_title, percent), width="stretch")
        runs = len(dict.fromkeys(c.run for c in curves))  # a "train it twice" is one training of two runs (a walk)
        said = f"Your last {runs} finished runs (of at most {MAX_KEPT} trainings kept); the newest is drawn thicker."
        st.caption(" ".join(line for line in (said, coinciding_text(curves)) if line))
        st.button("Forget the earlier runs", key=f"{self.name}_forget_runs", on_click=self.forget_earlier)

    def forget_earlier(self) -> None:
        del self.kept[:-1]

    def controls(self, resumable: bool = True) -> DeltaGenerator:
        """Stop and (when `resumable`) Resume, acting in callbacks so both are drawn in the state their click made.
        Returns the place beside them for the run's progress bar (`run`'s `where`): one row under the form that
        started the run, in view at 1280 x 720 (a walk found the bar and Stop below the fold, under the estimate)."""
        phase = self.state.phase
        row = st.container(horizontal=True, vertical_alignment="center", gap="medium")
        if presenting() and self.start_label and not self.active and phase != "stopped":
            # nothing to stop or resume: where to start one, not two greyed buttons (a walk presenting BatchNorm saw
            # Stop and Resume in view and Train folded away in Settings, without a word)
            row.caption(f"{press(self.start_label)} to train.")
        else:
            row.button(self.stop_label, key=f"{self.name}_stop", disabled=not self.active, on_click=self.stop)
            if resumable:
                row.button(
                    self.resume_label, key=f"{self.name}_resume", disabled=phase != "stopped", on_click=self.resume
                )
        bar = row.container(width="stretch")
        state = self.state
        # the aside while the new run waits, runs or stands finished: not once it is stopped or cancelled in turn
        for line in (state.aside if state.phase in ("pending", "running", "done") else "", state.message):
            if line:
                st.info(line, icon=":material/info:")
        if state.toast:
            st.toast(state.toast, icon=":material/task_alt:", duration="long")
            state.toast = ""
        return bar

    def run(
        self,
        build: Callable[[Any], Work],
        draw: Callable[[Work], None],
        chunk: Callable[[Work], int],
        label: str,
        kind: Callable[[Work], Hashable] | None = None,
        detail: Callable[[Work], str] | None = None,
        where: DeltaGenerator | None = None,
        on_done: Callable[[Work], None] | None = None,
        shares: bool = True,
    ) -> None:
        """If active, take the server's queue, build the pending work, and advance it `chunk(work)` steps at a time,
        drawing it after the first chunk and then at most every REDRAW_SECONDS (and after the last) under a progress
        bar drawn in `where` (else where this is called: put it above the charts), with the time left at the speed
        measured so far.
        `kind(work)` names what a step costs, for estimates; `detail(work)` adds where the work is (a sweep's run).
        When the work ends, `on_done(work)` is called and the page is drawn again. `shares`: a run that has held the
        server's slot TURN_SECONDS lets waiting jobs go first between two chunks (`ui.admission.heavy_job`)."""
        if not self.active:
            return
        state = self.state
        bar = (where or st).empty()
        bar.progress(0.0, text=f"{label}: waiting for the server…")
        try:
            self._advance(build, draw, chunk, label, kind, detail, bar, where, shares)
        except Exception as exc:  # a run that cannot go on says so in one line; the server log has the trace
            _LOG.exception("%s stopped", label)
            state.phase = "stopped" if state.work is not None else "idle"
            state.config = None
            # in the bar's place, beside Resume: at the tab's end, under the charts, it was out of view
            bar.error(f"{label} stopped: {first_line(exc)}", icon=":material/error:")
            return
        work = state.work
        bar.empty()
        if work.done:
            state.phase = "done"
            if on_done:
                on_done(work)
            st.rerun()  # draw the page again, its buttons in the state the end of the run made

    def _advance(self, build, draw, chunk, label, kind, detail, bar, where, shares) -> None:
        """The body of `run`: the queue, the build, the chunks, the timing. The queue's place and the build are
        said in the bar's place, in view beside Stop (a spinner at the page's end was below the fold)."""
        state = self.state
        with heavy_job(label, where) as share, stepping(state):  # waiting visitors do no work, not even building
            if state.phase == "pending":
                bar.progress(0.0, text=f"{label}: building…")
                state.work = build(state.config)
                state.phase, state.config = "running", None
            work = state.work
            units = getattr(work, "units", lambda: (float(work.step), float(work.total_steps)))
            timer = {"t": time.monotonic(), "step": work.step, "shown": 0.0, "seconds": 0.0, "steps": 0}
            timer["done"] = units()[0]

            def show(milestone: bool = False) -> None:
                """Redraw the bar: at most every TICK_SECONDS while steps run, always when a chunk ends (a run that
                ends within a tick of the last redraw is still counted on the page)."""
                now = time.monotonic()
                if now - timer["shown"] < TICK_SECONDS and not (work.done or milestone):
                    return
                timer["shown"] = now
                seconds, steps = timer["seconds"] + now - timer["t"], timer["steps"] + work.step - timer["step"]
                done_units, total_units = units()
                timed = steps or seconds >= ESTIMATE_AFTER  # a step's part done within a second reads too noisy
                left = (
                    seconds_left(seconds, timer["done"], done_units, total_units) if timed and not work.done else None
                )
                left = "" if left is None else f"; {about(left)} left"
                more = f" · {detail(work)}" if detail else ""
                fraction = min(1.0, done_units / max(total_units, 1e-9))
                done = f"{work.step:,} of {work.total_steps:,} {self.units} done"
                bar.progress(fraction, text=f"{label}: {done}{left}{more}")

            redraw, undrawn = Pacer(), False
            while not work.done and state.phase == "running":
                work.advance(chunk(work), show)
                undrawn = not redraw.due(now=work.done)
                if not undrawn:
                    draw(work)
                now = time.monotonic()
                steps = work.step - timer["step"]
                timer["seconds"] += now - timer["t"]
                timer["steps"] += steps
                if kind is not None and steps:
                    server_speeds().record(kind(work), now - timer["t"], steps)
                timer["t"], timer["step"] = now, work.step
                show(milestone=True)
                if shares and not work.done and share():  # another job went meanwhile: its time is not this run's
                    timer["t"] = time.monotonic()
            if undrawn:  # stopped between redraws: the charts show the step it stopped at
                draw(work)
