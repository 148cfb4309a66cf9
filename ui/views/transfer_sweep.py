"""The Transfer page's live sweep: the form that asks for one, its queued run with Stop and Resume, a stopped
sweep's way to go on, and the record of which page sweeps each visitor launched. Drawing and the live loop:
models.transfer computes."""

from pathlib import Path

import streamlit as st

from models.devices import best_device
from models.hub.checkpoints import CheckpointError
from models.hub.weights_cache import WeightsUnavailable
from models.text import about, counted
from models.transfer import (
    ENCODER_TITLES,
    ENCODERS,
    FORM_DEFAULT,
    REGIMES,
    TASK_TITLES,
    TASKS,
    SweepRecord,
    SweepRequest,
    SweepWork,
    TaskUnavailable,
    TrainConfig,
    user_folder,
    user_results,
)
from models.transfer.launched import Launched
from models.transfer.sweep import (
    FORM_EPOCHS,
    FORM_FT_RATIOS,
    FORM_LAYER_DECAYS,
    FORM_SEEDS,
    FORM_SIZES_CHARS,
    FORM_WARM_EPOCHS,
    running_among,
)
from ui.live_run import LiveRun
from ui.page_end import end_page
from ui.presenter import note, prose
from ui.readiness import default_sweep_estimate
from ui.view_link import BIND, select_number, visitor

YOURS = "Yours: "  # how the Results list's key and title of a visitor's own page sweep begin
REFUSED = (ValueError, TaskUnavailable, WeightsUnavailable, CheckpointError)  # what `SweepRequest.check` raises
MINE = "tf_mine"  # the folders of the page sweeps this visitor launched: only these are listed, as theirs


@st.cache_resource
def launched_sweeps() -> Launched:
    """The server's one record of which page sweeps each visitor's browser launched."""
    return Launched()


def my_sweeps() -> set[str]:
    """The folder names of the page sweeps this visitor launched: this session's, and those the server remembers for
    their browser (a reload or a new tab finds them)."""
    return st.session_state.get(MINE, set()) | launched_sweeps().of(visitor())


def stopped_ui(folder: Path, meta: SweepRecord | None, done: str, missing: str) -> None:
    """A stopped sweep: how far it got, what is missing, how to finish it; for one of the visitor's own, a button
    that goes on with it (a reload leaves the form at its defaults and Resume with nothing to resume: a walk)."""
    request = SweepRequest.resuming(meta, folder, visitor()) if meta else None  # None for another visitor's
    if SWEEP.state.phase == "stopped" and SWEEP.work is not None and SWEEP.work.folder == folder:
        # stopped in this session: one button for it, not two; said first (a walk read "Run it again" here, the
        # form's settings not being ones a resumed request is made from, with Resume enabled below)
        request, how = None, "**Resume** below finishes it."
    elif request is None or SWEEP.active:
        request, how = None, "Run it again with the same settings to finish it."
    else:
        how = "**Go on with this sweep** finishes it (its finished runs are kept)."
    st.info(f"{done} {how} {missing}", icon=":material/pause_circle:")
    if request is not None and st.button("Go on with this sweep", key="tf_go_on", type="primary"):
        start_sweep(request, expected=folder)


def sweep_form_ui() -> SweepRequest | None:
    """The sweep's form: what it asks for when Run is pressed, else None."""
    st.divider()
    st.subheader("Run a sweep")
    prose(
        "Train a small sweep here; every finished run is saved at once, so a stopped sweep resumes where it was when "
        "you press **Run** again with the same settings. It trains while this page is open: going to another page "
        "pauses it (it goes on when you come back, the run it was training started again), and a reload or closing "
        "the tab stops it; its finished runs stay saved (choose it under **Results** to go on). Large sweeps belong in "
        "the terminal (`python -m models.transfer --help`), on a GPU for the photo datasets."
    )
    above = st.container()  # the defaults' estimate, drawn once Estimate (which may time the pace) has answered
    with st.form("transfer_form"):
        regimes = st.multiselect(  # a row of its own, as above the chart: every regime's name whole
            "Regimes",
            list(REGIMES),
            default=list(FORM_DEFAULT.regimes),
            key="tf_regimes",
            bind=BIND,
            format_func=REGIMES.get,
            wrap=True,
        )
        c1, c2, c3 = st.columns(3)
        task_name = c1.selectbox(
            "Task",
            TASKS,
            format_func=TASK_TITLES.__getitem__,
            key="tf_task",
            bind=BIND,
            help="Only the digits are available without a network.",
        )
        encoder_name = c1.selectbox(
            "Pretrained encoder", ENCODERS, format_func=ENCODER_TITLES.__getitem__, key="tf_encoder", bind=BIND
        )
        sizes_text = c2.text_input(
            "Images per class",
            FORM_DEFAULT.sizes_text,
            max_chars=FORM_SIZES_CHARS,  # a review's link put 6,000 characters here
            key="tf_sizes",
            bind=BIND,
            help="Comma-separated; 'max' for all.",
        )
        seeds = c3.number_input("Seeds", *FORM_SEEDS, FORM_DEFAULT.seeds, key="tf_seeds", bind=BIND)
        epochs = c3.number_input("Epochs", *FORM_EPOCHS, FORM_DEFAULT.train.epochs, key="tf_epochs", bind=BIND)
        c4, c5, c6 = st.columns(3)
        ft_ratio = select_number(
            c4,
            "Fine-tuning rate ratio",
            FORM_FT_RATIOS,
            FORM_DEFAULT.train.ft_ratio,
            key="tf_ratio",
            help="Fine-tuning: the pretrained encoder learns at this times the head's learning rate.",
        )
        warm = c5.number_input(
            "Warm start (frozen epochs)",
            *FORM_WARM_EPOCHS,
            FORM_DEFAULT.train.warm_epochs,
            key="tf_warm",
            bind=BIND,
            help="Fine-tuning: this many first epochs train the head alone, the encoder frozen, before both train.",
        )
        decay = select_number(
            c6,
            "Layer decay (earlier stages)",
            FORM_LAYER_DECAYS,
            FORM_DEFAULT.train.layer_decay,
            key="tf_decay",
            help="Fine-tuning: each stage of the encoder nearer the input learns at this times the next stage's rate "
            "(1: all at one rate).",
        )
        # one sweep at a time per visitor: Run while one runs would drop it mid-run (Cancel first, a walk's request)
        running = "Stop the sweep that is running to start another." if SWEEP.active else None
        buttons = st.container(horizontal=True)
        submitted = buttons.form_submit_button("Run", type="primary", disabled=bool(running), help=running)
        # settings other than the defaults had no estimate until Run refused or started them (left in a note)
        priced = buttons.form_submit_button("Estimate", help="How many runs and how long, without starting them.")
    train = TrainConfig(epochs=int(epochs), ft_ratio=ft_ratio, warm_epochs=int(warm), layer_decay=decay)
    request = SweepRequest(task_name, encoder_name, tuple(regimes), sizes_text, int(seeds), train)
    if priced:
        try:
            if busy := running_elsewhere():  # Run refuses it now whatever the settings (a review)
                raise ValueError(busy)
            st.info(request.estimate_text(best_device(), visitor()), icon=":material/schedule:")
        except REFUSED as exc:
            st.warning(f"Run would refuse this: {exc}", icon=":material/block:")
    with above:  # after Estimate, re-made as it was: it read 33 s "not yet scaled" above a scaled 23 s for the defaults
        default_estimate_note(fresh=priced)
    return request if submitted else None


def default_estimate_note(fresh: bool = False) -> None:
    """How long Run takes at the form's defaults, where it can be said (a walk found no word on it before pressing);
    `fresh`: not the figure kept for a minute (beside an Estimate made now, it must read the same)."""
    if default := default_sweep_estimate(fresh=fresh):
        runs, estimate = default
        note(
            f"At the form's defaults ({counted(runs, 'run')}): {about(estimate.seconds)} {estimate.where()}. "
            "**Estimate** prices other settings without starting them; a sweep estimated over the page's limit is "
            "refused. The estimate takes this server's speed at that moment; if the server gets busier while the "
            "sweep runs, it takes longer, as its progress line shows."  # a walk: a 213-s estimate took twice that
        )


def stopped_text(work: SweepWork | None) -> str:
    """What a stopped sweep left, and how to go on."""
    go_on = "Press **Resume**, or **Run** with the same settings, to go on."
    if work is None or not work.step:
        return f"Sweep stopped before its first run finished. {go_on}"
    return (
        f"Sweep stopped with {work.step} of {counted(work.total_steps, 'run')} finished: they are saved and shown "
        f"above under **Results**. {go_on}"
    )


def show_above(work: SweepWork) -> None:
    """A cancelled sweep with finished runs is shown above, as a finished one is (a walk cancelled a sweep and
    still saw the shipped one there)."""
    if work.step:
        st.session_state["transfer_source_next"] = f"{YOURS}{work.folder.name}"


def cancelled(work: SweepWork) -> None:
    """Cancel: the work notes the stop, so that what it saves once resumed is told apart (not on finishing: a walk
    read a resumed sweep's line without the runs before its stop), and it is shown above."""
    work.stopped()
    show_above(work)


SWEEP = LiveRun(  # a sweep launched from the page
    "tf",
    stop_label="Stop sweep",  # Stop and Resume, as on every live run (a walk: a "Cancel" that resumes read oddly)
    units="runs",
    set_aside="The stopped sweep's finished runs ({done}) stay saved; a sweep with its settings goes on from them.",
    on_stop=cancelled,
)


def running_elsewhere() -> str:
    """One line when another tab of this visitor's is running one of their sweeps now, else "": one page sweep at a
    time per visitor (a loopback review ran two at once from two tabs, both holding the server's heavy-job slots)."""
    other = running_among([user_results() / name for name in sorted(my_sweeps())])
    if other is None:
        return ""
    return "another tab of yours is running a sweep now: stop it there, or let it finish, before starting one here"


def start_sweep(request: SweepRequest | None, expected: Path | None = None) -> None:
    """Check the sweep the form asked for (or the one in `expected`, a stopped sweep's folder, goes on with) and
    queue it; a request that cannot run gets one line."""
    if request is None:
        return
    try:
        sweep, task, encoder, estimate = request.check(best_device())
        folder = user_folder(sweep, visitor())
        if expected is not None and folder != expected:
            raise ValueError("its settings no longer give the sweep shown; run it again from the form")
        if busy := running_elsewhere():
            raise ValueError(busy)
    except REFUSED as exc:
        st.error(f"Cannot start the sweep: {exc}")
        end_page()
    st.session_state.setdefault(MINE, set()).add(folder.name)
    launched_sweeps().add(visitor(), folder.name)
    SWEEP.start((sweep, task, encoder, folder, estimate.by_run(sweep) if estimate else None))
    st.rerun()  # the page again, its form's Run disabled while the sweep runs (drawn before it started: a walk)


def build_sweep(config: tuple) -> SweepWork:
    """The queued sweep's work, once this visitor's turn comes; refused in one line if another tab of theirs started
    one meanwhile (both were queued)."""
    sweep, task, encoder, folder, costs = config
    if busy := running_elsewhere():
        raise ValueError(busy)
    return SweepWork(sweep, folder, task, encoder, costs)


def finished(work: SweepWork) -> None:
    """Show the sweep that just finished, and say what it saved and where it is shown: a walk read the line at the
    page's foot while the chart it changed was 3,000 px above, unsaid."""
    show_above(work)
    SWEEP.say_next(f"{work.saved_text()} {SHOWN_ABOVE}", toast=True)


SHOWN_ABOVE = "Its learning curves are now the ones at the top of the page (the **Results** list names it)."


def sweep_run_section() -> None:
    """The live sweep: Stop and Resume, its progress run by run (a stopped sweep keeps its finished runs)."""
    bar = SWEEP.controls()  # with the line a finished sweep left: what it saved
    said = st.empty()  # drawn always: a resumed sweep's run replaces the stopped line, which stayed faded (a walk)
    if SWEEP.state.phase == "stopped":
        said.info(stopped_text(SWEEP.work))
    SWEEP.run(
        build_sweep,
        lambda work: None,  # each finished run is on disk: the view above shows the sweep once it ends
        lambda work: 1,
        "The sweep",
        detail=lambda work: work.detail,
        where=bar,
        on_done=finished,
        # not between its runs: its marker of a sweep running goes with each piece, so while it waited the visitor
        # could start a second sweep (a review); a page sweep is capped at about 5 minutes instead
        shares=False,
    )
