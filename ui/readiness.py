"""The home page's "Ready for the lecture?" panel: per zoo model, whether its real weights are here, one button
that fetches every missing file the network allows, and the time each heavy job takes on this server."""

from __future__ import annotations

import threading

import pandas as pd
import streamlit as st
import torch

from models.devices import best_device
from models.experiments.batchnorm import BNConfig, bn_probe
from models.experiments.batchnorm import estimate_seconds as bn_seconds
from models.experiments.lecture_loop import SETUP_NAMES, SETUPS, LoopConfig, loop_probe, loop_steps, network_size
from models.experiments.lecture_loop import estimate_seconds as loop_seconds
from models.hub import weights_cache
from models.readiness import fetch_missing, readiness
from models.text import about, counted
from models.transfer import pace
from models.transfer.sweep import FORM_DEFAULT, Estimate
from ui.admission import server_queue
from ui.live_run import estimate_parts
from ui.views.build import loop_kind
from ui.views.training import bn_kind

STANDING = {
    "cached": "here (hash checked)",
    "damaged": "damaged file",
    "downloadable": "not here; can be fetched",
    "unavailable": "not here, no network",
}
_FETCHING = threading.Lock()  # one fetch at a time for the whole server: a class pressing the button fetches once


def models_table() -> pd.DataFrame:
    """One row per zoo model with real weights: where they stand and what runs meanwhile."""
    return pd.DataFrame(
        [
            {
                "model": r.title,
                "weights": STANDING[r.status],
                "file (MB)": r.size_mb,
                "runs now": r.title if r.status == "cached" else r.stand_in,
            }
            for r in readiness()
        ]
    )


def fetch_ui() -> None:
    """The fetch-all button (disabled when nothing can be fetched), its progress, and one line per failure."""
    rows = readiness()
    missing = [r for r in rows if r.status in ("downloadable", "damaged")]
    size = sum(r.size_mb or 0 for r in missing)
    label = f"Fetch all missing weights ({len(missing)} files, {size:,.0f} MB)" if missing else "Fetch missing weights"
    offline = sum(r.status == "unavailable" for r in rows)
    why = (
        None
        if missing
        else f"Nothing to fetch: this server has no network, so the {counted(offline, 'network')} not here run on "
        "their bundled stand-ins (the table's last column)."
        if offline
        else "Nothing to fetch: every file is here."
    )
    if not st.button(label, key="ready_fetch", disabled=not missing, help=why):
        if why:  # said beside the greyed button, not only on hovering it (a walk saw it greyed without a word)
            st.caption(why)
        return
    if not _FETCHING.acquire(blocking=False):
        st.info("Another visitor is fetching the weights now; press **Check again** in the sidebar in a minute.")
        return
    try:
        bar = st.progress(0.0, text="Fetching…")
        failures = fetch_missing(
            lambda name, done, total: (
                bar.progress(min(done / total, 1.0), text=f"{name}: {done / 2**20:.0f} MB") if total else None
            )
        )
        bar.empty()
    finally:
        _FETCHING.release()
    weights_cache.forget_network_state()  # the models fetched load under their weights' new status (cached)
    for line in failures.values():
        st.warning(line, icon=":material/cloud_off:")
    if not failures:
        st.success("Every model's real weights are here now.")


@st.cache_data(show_spinner=False, ttl=60)
def page_sweep_estimate(device: str = "cpu", paces: tuple[str, ...] = ()) -> tuple[int, Estimate | None]:
    """The Transfer page's default sweep (FORM_DEFAULT): its number of runs and how long it should take on `device`,
    scaled to this server's pace once a sweep asked for has measured it (neither the home page nor the form waits).
    `paces` (`kept_paces`) keys the cache on the paces held: an estimate made before a sweep measured one is not
    shown after it (a walk read "not yet scaled to this server's own speed" above the form after a sweep had run)."""
    sweep, _, _, estimate = FORM_DEFAULT.check(torch.device(device), measure_pace=False)
    return len(list(sweep.runs())), estimate


def kept_paces() -> tuple[str, ...]:
    """The training paces this server holds now (`models.transfer.pace`) and when each was timed, named for a cache
    key: a pace timed again after it expired makes a new key (a review: the kept estimate outlived it)."""
    return tuple(sorted(f"{key!r}@{when:.3f}" for key, when in pace.PACES.fresh()))


def default_sweep_estimate(measure: bool = False, fresh: bool = False) -> tuple[int, Estimate] | None:
    """`page_sweep_estimate` on this server's device, or None where there is none. A courtesy, for the home page and
    the Transfer form alike: a sweep that cannot run (a missing encoder) says why when Run is pressed. `measure`:
    time this server's training pace first (under a second), so the estimate is scaled to it. `fresh`: made now, not
    the figure kept for up to a minute (which a sweep finished since, or a pace timed again, has changed)."""
    try:
        if measure:
            FORM_DEFAULT.check(best_device(), measure_pace=True)  # the pace is kept for every estimate after it
        made = page_sweep_estimate.__wrapped__ if fresh else page_sweep_estimate
        runs, estimate = made(best_device().type, kept_paces())
    except Exception:
        return None
    return None if estimate is None else (runs, estimate)


def job_times(measure: bool = False) -> tuple[str, list[str]]:
    """The heavy jobs at their defaults, each timed at this server's measured speed once it has run one, else from
    its steps timed here in the last minute (timed now only where `measure`: the home page must draw at once), else
    at the figure the bench measured on an idle 2-core CPU: (where the training jobs' figures all come from, said
    once when they share it, else "", and a line per job saying the rest; a walk read the same 40 words under each of
    four)."""
    bn = BNConfig()
    timed = [
        (
            "**BatchNorm pair** (Training tricks, defaults)",
            estimate_parts(
                bn_kind(bn),
                bn.steps,
                bn_seconds(bn.arch, 1, bn.batch_size),
                "bench/bench_training.py",
                probe=bn_probe(bn),
                measure=measure,
            ),
        )
    ]
    for setup in SETUPS:
        config = LoopConfig(setup=setup)
        steps = loop_steps(config)
        timed.append(
            (
                f"**Training loop**, {SETUP_NAMES[setup]} ({network_size(setup)}; Build, {config.epochs} epochs)",
                estimate_parts(
                    loop_kind(config),
                    steps,
                    loop_seconds(config) / steps,
                    "bench/bench_training.py",
                    probe=loop_probe(config),
                    measure=measure,
                ),
            )
        )
    bases = {basis for _, (_, basis) in timed}
    shared = bases.pop() if len(bases) == 1 else ""
    lines = [f"{job}: {figure}" + (f" ({basis})" if not shared else "") for job, (figure, basis) in timed]
    if default := default_sweep_estimate(measure and server_queue().counts()[0] == 0):  # not beside a heavy job
        runs, estimate = default
        lines.append(
            f"**A page sweep** (Transfer, the form's defaults: {counted(runs, 'run')}): "
            f"{about(estimate.seconds)} {estimate.where()}"
        )
    return (
        f"The BatchNorm pair and the training loops at their defaults (where their figures come from: {shared}):"
        if shared
        else ""
    ), lines


def readiness_ui() -> None:
    """The panel, folded: the models table, the fetch button, the job times."""
    with st.expander("Ready for the lecture? Models and timings on this server", icon=":material/checklist:"):
        st.dataframe(
            models_table(), hide_index=True, column_config={"file (MB)": st.column_config.NumberColumn(format="%.0f")}
        )
        fetch_ui()
        timed = st.button(  # a walk planned a lecture on the bench's idle figure, half what Build then measured
            "Time them on this server now",
            key="home_time_jobs",
            help="Trains a few steps of each job here (a second or two in all), so each figure is this server's "
            "speed now rather than the bench's on an idle machine.",
        )
        if timed and server_queue().counts()[0]:  # estimate_text times nothing beside a heavy job
            st.caption(
                "Heavy jobs are running on this server now: timing steps beside them would read their load. "
                "Try again when they end."
            )
        shared, lines = job_times(measure=timed)
        st.markdown("\n\n".join([*([shared] if shared else []), "\n".join(f"- {line}" for line in lines)]))
