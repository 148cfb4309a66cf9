"""The Transfer page's results: the sweeps to read, one sweep's learning curves and training curves and its
settings (ui.views.transfer_sweep runs a small sweep live). Drawing only: models.transfer computes."""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from explain.figures.transfer import learning_curve_figure, lines_on_lines, training_curves_figure
from explain.methods.learning_curves import FIT_HELP, PAPER_N, PARAMETER_HEADERS, PARAMETER_HELP, PENALTY
from explain.methods.transfer_curves import (
    chosen_setting,
    crossovers,
    epoch_text,
    fit_curves,
    floor_note,
    images_seen_text,
    measured_columns,
    published_column,
    published_columns,
    summary_rows,
    sweep_csv,
    unfitted_text,
    without_curves,
)
from models.text import counted
from models.transfer import (
    REGIMES,
    SHIPPED,
    SweepRecord,
    TrainConfig,
    TransferRun,
    load_runs,
    sweep_progress,
    sweep_running,
    sweep_titles,
    terminal_sweeps,
    user_sweeps,
)
from models.transfer.published import PUBLISHED
from ui.presenter import chart, note, presenting, settings
from ui.view_link import BIND, explained, linked_values, select_number
from ui.views.transfer_sweep import SWEEP, YOURS, my_sweeps, stopped_ui


def sweep_folders() -> dict[str, Path]:
    """The shipped and published sweeps, every sweep a terminal or Ray writes under results/transfer (finished or
    not), and the sweeps this visitor launched from the page (another visitor's are not listed), by label."""
    mine = my_sweeps()
    return {
        "Shipped: digits, bundled glyphs encoder (3 seeds)": SHIPPED,
        "Published: Hoiem et al. 2021, ResNet-18, ImageNet -> CIFAR-100 (their measurements)": PUBLISHED,
        **{f"Terminal: {name}": folder for name, folder in terminal_sweeps().items()},
        **{f"{YOURS}{name}": folder for name, folder in user_sweeps().items() if name in mine},
    }


def sweep_names(folders: dict[str, Path]) -> dict[str, str]:
    """Each sweep's name without where it came from: the shipped and published sweeps' as their keys say, a
    terminal's or the visitor's its title (`sweep_titles`), not its folder's hash."""
    titles = sweep_titles({key: f for key, f in folders.items() if key.startswith(("Terminal: ", YOURS))})
    return {key: titles.get(key, key.split(": ", 1)[-1]) for key in folders}


def folder_titles(folders: dict[str, Path]) -> dict[str, str]:
    """What the lists show for each sweep: where it came from ("Yours", "Terminal", ...) and its name."""
    return {key: f"{key.split(': ', 1)[0]}: {name}" for key, name in sweep_names(folders).items()}


@dataclass(frozen=True)
class Listing:
    """The sweeps this visitor can see (`sweep_folders`) and the titles the lists show them by (`folder_titles`),
    read once a run of the page: the Results list and the comparison list both use them (each read every listed
    sweep's settings file again)."""

    folders: dict[str, Path]
    titles: dict[str, str]


def sweep_listing() -> Listing:
    """The sweeps listed on this run of the page, with their titles."""
    folders = sweep_folders()
    return Listing(folders, folder_titles(folders))


NOT_YOURS = (
    "This link names a sweep run from the page that this browser does not list: a visitor's sweeps are listed only "
    "in the browser that ran them, so this page {instead}."
)
MAX_COMPARED = 3  # sweeps drawn beside the one shown


def say_not_yours(key: str, listed: set[str], instead: str, shown: str | None = None) -> None:
    """On a link's first run: one line when its `key` names a page sweep (as the lists write it, "Yours: …") that
    this browser does not list (a walk opened a copied link in another browser and read only that the value was not
    one the page can show). `listed`: the titles the widget offers; `shown`: the sweep shown, which the comparison
    leaves out. The link's notice then leaves those values out, and names the others it dropped (a review: one went
    unsaid)."""
    values = list(dict.fromkeys(linked_values(key)))
    foreign = [v for v in values if v.startswith(YOURS) and v not in listed and v != shown]
    if foreign:
        st.info(NOT_YOURS.format(instead=instead), icon=":material/link_off:")
        explained(key, foreign)  # said here


def source_ui(listing: Listing) -> tuple[Path, str]:
    """The sweep to show (the one that just finished or was cancelled, if any): its folder and its title."""
    folders, titles = listing.folders, listing.titles
    if st.session_state.get("transfer_source_next") in folders:  # a sweep just ended: show it
        st.session_state["transfer_source"] = st.session_state.pop("transfer_source_next")
    say_not_yours("transfer_source", set(titles.values()), "shows the shipped sweep instead")
    label = st.selectbox("Results", list(folders), format_func=titles.__getitem__, key="transfer_source", bind=BIND)
    return folders[label], titles[label]


def sweep_in_use(title: str) -> None:
    """When presenting, the sweep shown (`source_ui`'s title), named under the folded settings as the other pages
    name their image and model (a lecturer's walk: the audience could not tell what data or encoder the curves were
    of)."""
    if presenting():
        st.caption(f":material/visibility: {title}")


def show_problems(problems: list[str]) -> None:
    """One warning per damaged file, the first five of them, then how many more were skipped."""
    for problem in problems[:5]:
        st.warning(problem, icon=":material/description:")
    if len(problems) > 5:
        st.warning(f"{len(problems) - 5} more damaged files in this sweep were skipped.")


@st.cache_data(max_entries=16, show_spinner=False)
def cached_fit(points: tuple, n_max: float, _runs: list[TransferRun]) -> dict:
    """The fits, once per set of (key, regime, size, seed, error) points."""
    return fit_curves(_runs, N=n_max)


def pick_from_chart() -> None:
    """A click on a learning-curve point selects that run for the training-curve view."""
    points = st.session_state["transfer_lc"].selection.points
    keys = [p.get("customdata") for p in points if isinstance(p.get("customdata"), str)]
    if keys:
        st.session_state["transfer_pick"] = keys[0]


# Column widths from what a column holds, so that both tables fit the 820 px the page's main column has at 1280 px
# wide (a walk found the fit column cut to "unreliab" past the right edge). A character's width at most, in the
# tables' 14-px font (measured in Chromium: 5.4-6.0 px a letter in the regimes' names and the fits' verdicts, 6.1-7.0 a
# digit, 6.1-6.5 in the short headers), and a cell's padding; no number column narrower than NUMBER_MIN_PX, which
# holds the widest short header ("gamma", 44 px of text).
TEXT_PX, DIGIT_PX, HEADER_PX, PADDING_PX, NUMBER_MIN_PX = 6.0, 7.0, 6.6, 16, 64
MAIN_COLUMN_PX = 820  # the page's main column at 1280 px with the sidebar open


def _px(texts: list[str], per_char: float, least: int = 0) -> int:
    """Pixels a column needs to show the longest of `texts` whole."""
    return max(least, PADDING_PX + round(per_char * max((len(t) for t in texts), default=0)))


def table_columns(table: pd.DataFrame, headers: dict[str, str] | None = None) -> dict:
    """Column settings that keep every number whole (sign included): numbers right-aligned at two decimals, each
    column as wide as its longest entry or header needs (so the table fits the page at 1280 px), the regime pinned
    while a narrower window scrolls the table sideways; a column in `headers` shows that short header, its full name
    in its help."""
    headers = headers or {}
    regimes = [str(r) for r in table["regime"]]
    config: dict = {"regime": st.column_config.TextColumn(pinned=True, width=_px(regimes, TEXT_PX))}
    for name in table.columns:
        label = headers.get(name)
        header = _px([label or name], HEADER_PX, NUMBER_MIN_PX)
        values = table[name].dropna()
        if name == "fit":  # "ok", "ok in range", "with care" or "unreliable": FIT_HELP says what each means
            width = _px([name, *(str(v) for v in values)], TEXT_PX)
            config[name] = st.column_config.TextColumn(width=width, help=FIT_HELP)
        elif pd.api.types.is_integer_dtype(table[name]):
            width = max(header, _px([f"{v:d}" for v in values], DIGIT_PX))
            config[name] = st.column_config.NumberColumn(label, format="%d", width=width)
        elif pd.api.types.is_numeric_dtype(table[name]):
            width = max(header, _px([f"{v:.2f}" for v in values], DIGIT_PX))
            # "e_N (N=101)" and the paper's "published e_N" are described as e_N; a short header keeps its full name
            key = name.removeprefix(published_column("")).split(" ")[0]
            described = f"{PARAMETER_HELP[key]}{f' ({name})' if label else ''}" if key in PARAMETER_HELP else name
            config[name] = st.column_config.NumberColumn(label, format="%.2f", width=width, help=described)
    return config


def show_settings(meta: SweepRecord | None, runs: list[TransferRun]) -> None:
    """The sweep's task, encoder, training settings and the command that reproduces it, in one caption."""
    st.caption(meta.describe(len(runs)) if meta else f"{counted(len(runs), 'run')}; this sweep's settings are unknown.")


def curve_options_ui(runs: list[TransferRun]) -> tuple[str, bool, list[str]]:
    """The learning curves' x axis, whether to overlay the paper's fits, and the regimes shown."""
    c1, c2 = st.columns(2)
    axis = c1.radio(
        "x axis",
        ["log", "inv_sqrt"],
        key="transfer_axis",
        bind=BIND,
        horizontal=True,
        format_func={"log": "n (log)", "inv_sqrt": "n^-1/2 (as in the paper)"}.get,
    )
    paper = c2.checkbox(
        "Overlay the paper's fits",
        key="transfer_paper",
        bind=BIND,
        help=(
            f"Hoiem et al.'s ResNet-18 fits for ImageNet -> CIFAR-100 (N = {PAPER_N}): another dataset and network, "
            "shown for their shape, not to be compared number for number."
        ),
    )
    present = [r for r in REGIMES if any(run.regime == r for run in runs)]
    if st.session_state.get("transfer_regimes_of") != present:  # another sweep, other regimes: show all of them
        st.session_state["transfer_regimes_of"] = present
        st.session_state["transfer_regimes"] = present
    kept = [r for r in st.session_state.get("transfer_regimes", present) if r in present]
    st.session_state["transfer_regimes"] = kept or present
    shown = st.multiselect(  # a row of its own: in a column the longest regime's chip was cut
        "Regimes", present, key="transfer_regimes", bind=BIND, format_func=REGIMES.get, wrap=True
    )
    return axis, paper, shown


def show_learning_curves(
    runs: list[TransferRun],
    curves: dict,
    n_max: int,
    axis: str,
    paper: bool,
    picked: str,
    published: dict | None = None,
    others: dict[str, list[TransferRun]] | None = None,
) -> None:
    """The learning curves (a click on a point picks its run), the crossovers and the table of the fits."""
    chart(
        st,
        learning_curve_figure(runs, curves, axis=axis, paper=paper, selected=picked, others=others),
        key="transfer_lc",
        on_select=pick_from_chart,
        selection_mode="points",
        width="stretch",
    )
    if run := next((r for r in runs if r.key == picked), None):  # a walk clicked and saw nothing change in view
        st.caption(
            f":material/arrow_downward: {REGIMES[run.regime]}, n = {run.n_per_class}, seed {run.seed} is picked: its "
            + ("training curve is" if run.history else "test error and why it has no training curve are")
            + " under **Training curves** below."
        )
    if missing := unfitted_text(runs):
        st.info(missing, icon=":material/show_chart:")
    unweighted = any(not c.weighted for c in curves.values())
    lines = (
        f"Lines: {'least-squares fit, unweighted' if unweighted else 'weighted least-squares fit'}, γ searched over "
        f"[-1, 0) with the authors' penalty {PENALTY:g}·|γ + 0.5| (allenai/learning-curve); bands: 95% "
        + (
            "from the residuals, at the chosen γ. With one seed per size there is no spread to weight by, and the "
            "penalty, set for the authors' variance-weighted errors, pulls γ by a different amount: read γ with care. "
            if unweighted
            else "from the variance model σ²(n) = v0 + v1/n, at the chosen γ (as the authors' code: γ's own "
            "uncertainty is left out, so the band is narrower than the fit's whole uncertainty). "
        )
    )
    note(
        "Points: one trained model each (seeds use disjoint training images where the class is large enough), "
        "each regime's nudged sideways a little so that regimes measured at one n do not hide each other (the hover "
        f"gives the true n). {lines if curves else ''}"
        # not where no run has one (a walk read it over the published sweep, whose section then said there were none)
        + ("Click a point to see that run's training curve below." if any(r.history for r in runs) else "")
    )
    for sentence in crossovers(curves, min(r.n_per_class for r in runs), n_max, runs):
        st.markdown(f"- {sentence}")
    table = pd.DataFrame(summary_rows(runs, curves, published))
    headers = {k: v for n in {r.n_per_class for r in runs} for k, v in measured_columns(n).items()}
    measured = [c for c in table.columns if c in headers]
    paper = published_columns(dict.fromkeys(k for fit in (published or {}).values() for k in fit))
    # the fits, the paper's fits, the measured errors: tables that fit the page's width, not one that scrolls sideways
    fits = table.drop(columns=[*measured, *(c for c in paper if c in table)])
    short = {c: "e_N" for c in fits.columns if c.startswith("e_N (")}  # its N in its help and in the caption below
    short |= {c: PARAMETER_HEADERS[c] for c in fits.columns if c in PARAMETER_HEADERS}
    if curves:  # no fit, no table of fits (a walk's one-size sweep showed one of runs alone)
        st.dataframe(fits, hide_index=True, width="stretch", column_config=table_columns(fits, short))
    if stated := [c for c in paper if c in table]:
        theirs = table[["regime", *stated]].dropna(subset=stated, how="all")
        st.dataframe(theirs, hide_index=True, width="stretch", column_config=table_columns(theirs, paper))
    # a column with no value at all (the sd of one seed) is left out, not shown as "None" in every row (a walk)
    sizes = table[["regime", *(c for c in measured if table[c].notna().any())]]
    st.dataframe(sizes, hide_index=True, width="stretch", column_config=table_columns(sizes, headers))
    if floors := floor_note(curves):  # hidden when presenting, with the other notes on reading the fits (a walk)
        note(f":material/info: {floors}")
    sd = "sd: the sample standard deviation over seeds (ddof = 1)" + (
        "; a size with one seed has none, so its sd column is left out."
        if len(sizes.columns) < 1 + len(measured)
        else "."
    )
    fitted = (
        f"e_N: predicted error at N = {n_max} images per class; β_N = −2ηγN^γ, the slope against n^-1/2 at N times "
        "N^-1/2 (so e(N/4) ≈ e_N + β_N): how much four times less data would cost. "
    )
    note(f"{fitted if curves else ''}{sd}")  # "sd", an abbreviation, in lower case even first


def training_curves_ui(
    runs: list[TransferRun], keys: dict[str, TransferRun]
) -> tuple[str, TransferRun | None, list[TransferRun]]:
    """The metric, and the run picked or else (None and) every seed's run at the size chosen. Where no run has a
    training curve (published measurements, the feature probe's one fit), no control: the run a click on the chart
    picked, else every run (a walk found the metric, Run and size controls over a section that had nothing to show)."""
    st.subheader("Training curves")
    if not any(r.history for r in runs):
        return "accuracy", keys.get(st.session_state.get("transfer_pick", "")), runs
    metric = st.radio("Show", ["accuracy", "loss"], key="transfer_metric", bind=BIND, horizontal=True)
    choice = st.selectbox(
        "Run",
        ["", *keys],
        key="transfer_pick",
        bind=BIND,
        # names the run only: Streamlit keeps a choice (and its URL) by this text, so a figure in it went stale
        # when another sweep with the same run was shown (a walk read the old sweep's error); the error is under the
        # curve
        format_func=lambda k: (
            "all seeds at one size (choose below)"
            if not k
            else f"{REGIMES[keys[k].regime]}, n = {keys[k].n_per_class}, seed {keys[k].seed}"
        ),
    )
    if choice:
        return metric, keys[choice], []
    sizes = sorted({r.n_per_class for r in runs})
    n = select_number(st, "Images per class", sizes, value=sizes[0], key="transfer_n")
    return metric, None, [r for r in runs if r.n_per_class == n]


def show_training_curves(
    metric: str, run: TransferRun | None, at_n: list[TransferRun], meta: SweepRecord | None
) -> None:
    """One run's training curve (or why a probe has none), else the band over the seeds at one size; `meta`, the
    sweep's record, says what an epoch was (its least batches and batch size; TrainConfig's without one)."""
    min_batches = meta.min_batches if meta else TrainConfig.min_batches
    batch_size = meta.batch_size if meta else TrainConfig.batch_size
    if run is not None:
        if run.device == "published":
            st.info(f"A published measurement: {run.test_error:.2f}% test error. The paper gives no training curve.")
        elif not run.history:
            st.info(
                "This probe has no epochs: the features are extracted once and scikit-learn's logistic regression "
                f"is fitted to them by L-BFGS ({run.seconds:.2f} s). Its test error is "
                f"{run.test_error:.1f}%."
            )
        else:
            chart(st, training_curves_figure([run], metric), width="stretch", key="transfer_one")
            st.caption(f"Its test error: {run.test_error:.1f}%. {images_seen_text(run, min_batches)}")
        if chosen_setting(run):
            st.caption(chosen_setting(run))
    elif not any(r.history for r in at_n):
        st.info("These runs have no training curves (published measurements, or the feature probe's one fit).")
    else:
        figure = training_curves_figure(at_n, metric)
        chart(st, figure, width="stretch", key="transfer_band")
        if on_top := lines_on_lines(figure):  # a walk saw a legend entry whose line lay hidden under another
            st.caption(on_top)
        seeds = len({r.seed for r in at_n})
        spread = (
            f"Mean over {seeds} seeds; the band spans the lowest to the highest seed (min-max, not a standard "
            "deviation)."
            if seeds > 1
            else "One seed: its own curve, with no spread between seeds to show."
        )
        note(f"{spread} Dashed: training batches.{without_curves(at_n)}{epoch_text(at_n, min_batches, batch_size)}")


def compare_ui(folder: Path, listing: Listing) -> dict[str, list[TransferRun]]:
    """Other sweeps (any this visitor can see) to draw beside this one, by label: their runs."""
    every = listing.folders
    titles = listing.titles  # as the Results list words them (over fewer sweeps, a title can lose its hash)
    folders = {label: f for label, f in every.items() if f != folder}
    shown = next((titles[label] for label, f in every.items() if f == folder), None)
    listed = {titles[label] for label in folders}
    say_not_yours("transfer_compare", listed, "compares with the others the link names", shown)
    chosen = st.multiselect(
        "Compare with",
        list(folders),
        format_func=titles.__getitem__,
        key="transfer_compare",
        bind=BIND,  # a walk: the chart's comparison was not in the link
        max_selections=MAX_COMPARED,
        help="Each chosen sweep's measured mean error per size, dashed, in the regimes' colours.",
    )
    names = sweep_names({label: folders[label] for label in chosen})  # the legend's, not parsed from the list's
    return {names[label]: load_runs(folders[label])[1] for label in chosen}


def results_view(meta: SweepRecord | None, runs: list[TransferRun], folder: Path, listing: Listing) -> None:
    """The learning curves (with other sweeps to compare, if chosen), table, crossovers and training curves of one
    sweep."""
    with settings("Chart settings"):  # folded when presenting: the curves come first (a walk found them below 720 px)
        show_settings(meta, runs)
        axis, paper, shown = curve_options_ui(runs)
        compared = compare_ui(folder, listing)
    others = {name: [r for r in rs if r.regime in shown] for name, rs in compared.items()}
    runs = [r for r in runs if r.regime in shown]
    if not runs:
        st.warning("Choose at least one regime.")
        return
    n_max = max(r.n_per_class for r in runs)
    points = tuple((r.key, r.regime, r.n_per_class, r.seed, r.test_error) for r in runs)
    curves = cached_fit(points, float(n_max), runs)
    keys = {r.key: r for r in runs}
    if st.session_state.get("transfer_pick") not in keys:
        st.session_state["transfer_pick"] = ""
    show_learning_curves(
        runs,
        curves,
        n_max,
        axis,
        paper,
        st.session_state["transfer_pick"],
        meta.published_fits if meta else None,
        {name: rs for name, rs in others.items() if rs},
    )
    show_training_curves(*training_curves_ui(runs, keys), meta)


REFRESH_SECONDS = 5.0  # how often the view of a sweep still being written re-reads its folder


def sweep_view(folder: Path, listing: Listing) -> None:
    """One sweep as it is on disk now: its damaged files, how far it is while runs are missing (the page then
    re-reads it every REFRESH_SECONDS, and draws everything again once the last run lands), its results."""
    meta, runs, problems = load_runs(folder)
    show_problems(problems)
    done, missing, live = sweep_progress(folder, meta, runs)
    shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
    if missing and live:
        st.info(
            f"**{done}**: this sweep is still being written; the view re-reads it every "
            f"{REFRESH_SECONDS:g} s. Missing: {shown}.",
            icon=":material/autorenew:",
        )
        st.session_state["transfer_incomplete"] = folder.name
    elif missing:
        stopped_ui(folder, meta, f"**{done}**; the sweep was stopped.", f"Missing: {shown}.")
    elif st.session_state.pop("transfer_incomplete", None) == folder.name:
        st.rerun()  # the last run landed: the whole page again, without the refresh
    if not runs:
        st.info(
            "This sweep has no finished runs yet. Start one below, or from the terminal: `python -m models.transfer`."
        )
        return
    results_view(meta, runs, folder, listing)
    st.download_button(
        "Download the sweep (CSV, one row per run)",
        sweep_csv(runs),
        f"{folder.name}.csv",
        "text/csv",
        key="transfer_csv",
    )


def sweep_section(folder: Path, listing: Listing) -> None:
    """One sweep's view; while a live process is still writing it (terminal, Ray), re-read every REFRESH_SECONDS.
    The heartbeat is checked first, so a finished sweep's run files are read once, in sweep_view. The page's own
    sweep, cancelled a moment ago, may still be unwinding in an earlier run of the page: it is waited for first."""
    SWEEP.settle()
    if sweep_running(folder) and sweep_progress(folder, *load_runs(folder)[:2])[2]:
        st.fragment(sweep_view, run_every=REFRESH_SECONDS)(folder, listing)
    else:
        sweep_view(folder, listing)
