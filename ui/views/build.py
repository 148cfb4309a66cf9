"""The Build page's tabs: ResNet-18's anatomy layer by layer with its residual block, and the lecture's training loop
run live with Stop and Resume. Drawing and the live loop: models/ and explain/ compute."""

import inspect
from collections.abc import Callable

import pandas as pd
import streamlit as st
import torch

from explain.figures.anatomy import block_figure
from explain.figures.compare import Curve
from explain.figures.training_loop import loop_curve, loop_figure, scheduler_figure
from explain.methods.anatomy import (
    anatomy,
    anatomy_columns,
    block_paths,
    block_text,
    blocks,
    field_note,
    lecture_blocks,
    repeated_calls_note,
    residual_blocks,
    total_params,
    upsampling_pool_note,
)
from explain.methods.classify import prepare
from models.architectures import ARCHITECTURES, architecture_input
from models.devices import model_device
from models.experiments.lecture_loop import (
    DEPARTURES,
    EXPECTED,
    MAX_EPOCHS,
    SETUP_NAMES,
    SETUPS,
    LectureLoop,
    LoopConfig,
    SchedulerComparison,
    describe,
    estimate_seconds,
    final_numbers,
    loop_code,
    loop_probe,
    loop_steps,
    memorised_note,
    scheduler_effect,
    scheduler_idle_note,
    short_label,
)
from models.text import counted
from ui.image_input import ChosenImage
from ui.live_run import LAST_APPLIED, LiveRun, estimate_text, redraw_number
from ui.own_model import NOT_HERE, OWN, link_names_own, own_model, own_spec
from ui.presenter import chart, fold_panel, note, presenting, press, prose, settings
from ui.view_link import BIND, explained, select_number
from ui.views.own import keep_loop_ui


@st.cache_resource(max_entries=6, show_spinner="Building the network…")
def cached_architecture(name: str) -> torch.nn.Module:
    """One of the course's architectures, built once per process in eval mode (the anatomy reads it, never trains)."""
    return ARCHITECTURES[name].build().eval()


@st.cache_data(max_entries=32, show_spinner=False)
def cached_anatomy(name: str, image_sha: str, _image) -> list:
    """The anatomy of network `name` for the image with this hash (its rows are plain data)."""
    return anatomy(cached_architecture(name), architecture_input(name, _image))


def anatomy_ui() -> tuple[str, bool]:
    """The network to dissect, and whether every layer is listed (or only the blocks a slide shows)."""
    c1, c2 = st.columns([3, 2])
    mine = own_model()
    if mine is None and link_names_own("build_net"):
        st.info(NOT_HERE, icon=":material/link_off:")
        explained("build_net")  # said here: the link's notice leaves it out
    names = [*ARCHITECTURES, *([OWN] if mine else [])]
    titles = {**{n: a.title for n, a in ARCHITECTURES.items()}, **({OWN: own_spec(mine).title} if mine else {})}
    name = c1.selectbox("Network", names, format_func=titles.get, key="build_net", bind=BIND)
    every = c2.toggle(
        "Every layer",
        key="build_every",
        bind=BIND,
        help="Off: the stem, each residual block and the head, as a slide shows them.",
    )
    return name, every


@st.cache_data(max_entries=8, show_spinner=False)
def cached_own_anatomy(weights_key: str, image_sha: str, _model: torch.nn.Module, _x: torch.Tensor) -> list:
    """The anatomy of the visitor's own network (keyed on its weights' SHA-256) for one image."""
    return anatomy(_model, _x)


def dissected(name: str, chosen: ChosenImage) -> tuple[str, torch.nn.Module, torch.Tensor, list, int | None, str]:
    """(title, network, its input for the image, its anatomy rows, torchvision's published parameter count, where it
    departs from the paper's network)."""
    mine = own_model()
    if name == OWN and mine is not None:
        x = prepare(chosen.image, mine.info.preprocess, model_device(mine.model))
        return (
            mine.card.title,
            mine.model,
            x,
            cached_own_anatomy(mine.info.cache_key, chosen.sha256, mine.model, x),
            None,
            "",
        )
    arch = ARCHITECTURES[name]
    x = architecture_input(name, chosen.image)
    return (
        arch.title,
        cached_architecture(name),
        x,
        cached_anatomy(name, chosen.sha256, chosen.image),
        arch.published_params,
        arch.departs,
    )


def show_anatomy(name: str, every: bool, chosen: ChosenImage) -> None:
    """The network's anatomy on the chosen image: every layer or its blocks, the parameter count beside the paper's,
    and where the network departs from it."""
    title, model, x, rows, published_params, departs = dissected(name, chosen)
    shown = [r for r in rows if r.leaf] if every else blocks(rows)
    count = total_params(model)
    published = f" (torchvision's own figure: {published_params:,})" if published_params else ""
    st.markdown(
        f"**{title}** on {chosen.name}, as {' x '.join(map(str, x.shape[1:]))} input: "
        f"**{count:,} parameters**{published}."
    )
    if departs:
        st.caption(departs)
    st.dataframe(
        pd.DataFrame(anatomy_columns(shown)),
        hide_index=True,
        width="stretch",
        # the blocks all in view (the fully connected rows hold most parameters); every layer scrolls past 40 rows
        height=35 * (min(len(shown), 40 if every else len(shown)) + 1) + 3,
        column_config={"parameters": st.column_config.NumberColumn(format="localized")},
    )
    if pooled := upsampling_pool_note(rows):
        st.caption(f":material/info: {pooled}")
    if every and (repeated := repeated_calls_note(shown)):
        st.caption(f":material/info: {repeated}")
    note(field_note(rows, model, int(x.shape[-1])))
    show_block(name, title, model)


def show_block(name: str, title: str, model: torch.nn.Module) -> None:
    """The residual block drawn like the U-Net page draws its U, then its PyTorch code at the full width (a walk found
    torchvision's long lines wrapped mid-expression in a half-width column)."""
    found = residual_blocks(model)
    if not found:
        st.info(
            f"{title} has no residual block: it is a plain stack of convolutions, "
            "ReLUs and pooling, then fully connected layers. Its code:",
            icon=":material/info:",
        )
        with settings("Its code"):  # folded when presenting (a walk projected the whole source)
            st.code(inspect.getsource(type(model)), language="python", wrap_lines=True)
        return
    paths = {n: block_paths(b) for n, b in found.items()}
    projecting, plain = lecture_blocks(found)  # the lecture's case first: a block that halves the resolution
    which = st.radio(
        "Block",
        [projecting, plain],
        horizontal=True,
        key=f"build_block_{name}",
        bind=BIND,
        format_func=lambda n: (
            f"{n} (projection shortcut: {paths[n][1][0]})" if paths[n][1] else f"{n} (identity shortcut)"
        ),
    )
    block = found[which]
    left, right = st.columns(2)
    chart(left, block_figure(*paths[which], which), width="stretch", key=f"build_block_fig_{which}")
    right.markdown(block_text(*paths[which]))
    with settings("The block's code"):  # folded when presenting (a walk projected torchvision's whole BasicBlock)
        st.code(inspect.getsource(type(block)), language="python", wrap_lines=True)


LOOP = LiveRun("build", settings_key="build_settings", start_label="Train")  # the lecture loop's live run


def loop_kind(config: LoopConfig) -> tuple:
    """What one step of the loop costs: its data and network, and its batch size."""
    return ("loop", config.setup, config.batch_size)


def loop_settings_ui() -> tuple[LoopConfig, bool]:
    """The run's settings (the lecture's defaults) in a form with Train: the config and whether to train it twice."""
    with st.form("build_loop_form"):
        c1, c2, c3 = st.columns(3)
        setup = c1.selectbox(  # short names that fit a third of the page (a walk: the data's sizes were cut off)
            "Data and network",
            list(SETUPS),
            format_func=SETUP_NAMES.get,
            key="build_setup",
            bind=BIND,
            help="  \n".join(f"**{SETUP_NAMES[k]}**: {v}" for k, v in SETUPS.items()),
        )
        epochs = c1.number_input("Epochs", 1, MAX_EPOCHS, 20, key="build_epochs", bind=BIND)
        lr = select_number(
            c2,
            "AdamW learning rate",
            [1e-4, 3e-4, 1e-3, 3e-3],
            3e-4,
            key="build_lr",
            format_func=lambda v: f"{v:g}",
        )
        batch_size = select_number(c2, "Batch size", [16, 32, 64, 128], 64, key="build_batch")
        step_size = c3.number_input("StepLR step size (epochs)", 1, MAX_EPOCHS, 5, key="build_step", bind=BIND)
        gamma = select_number(c3, "StepLR gamma", [0.1, 0.25, 0.5, 0.75, 1.0], 0.5, key="build_gamma")
        # the seed beside the two switches, not in a row of its own: Train then shows at 1280 x 720 (a walk)
        c_seed, c_switches = st.columns([1, 2], vertical_alignment="bottom")
        seed = c_seed.number_input("Seed", 0, 10_000, 0, key="build_seed", bind=BIND)
        forget = c_switches.toggle(
            "Forget `lr_scheduler.step()` (the lecture's TO DO)",
            key="build_forget",
            bind=BIND,
            help="The rate then never decays.",
        )
        compare = c_switches.toggle(
            "Train it twice, with and without `lr_scheduler.step()`",
            key="build_compare",
            bind=BIND,
            help="From the same seed, on one chart; twice the time. The numbers below the chart say what forgetting "
            "the step did in this run.",
        )
        # folds the open Settings panel when presenting, before the page is drawn again
        submitted = st.form_submit_button("Train", type="primary", on_click=fold_panel, args=(LOOP.settings_key,))
    config = LoopConfig(
        setup, int(epochs), float(lr), int(batch_size), int(step_size), float(gamma), not forget, int(seed)
    )
    if submitted:  # the network is built once this visitor's turn in the server's queue comes
        LOOP.start((config, compare))
    return config, compare


def loop_estimate_ui(config: LoopConfig, compare: bool) -> None:
    """How long the settings last applied take, and what Train, Stop and Resume do; drawn under Stop and Resume so
    that a run's progress bar shows beside them, in view (a walk found it below the fold under this note)."""
    forget = not config.scheduler_step
    steps = loop_steps(config) * (2 if compare else 1)
    batches = f"{counted(config.epochs, 'epoch')} of {loop_steps(config) // config.epochs} batches"
    note(  # in steps, which the form does not ask for: a walk could not tell where "400 steps" came from
        estimate_text(
            loop_kind(config),
            steps,
            estimate_seconds(config) / loop_steps(config),
            "bench/bench_training.py",
            f" ({batches}{', twice' if compare else ''}){LAST_APPLIED}",
            loop_probe(config),
        )
        + ". A change in the form counts once you press **Train**. **Stop** pauses the run between steps; **Resume** "
        "goes on from there. A run lives in this browser tab: a reload or a new tab starts afresh, with the settings "
        "the link holds."  # a walk lost a finished run on a reload, without a word on why
    )
    if expected := EXPECTED.get(config.setup):
        note(expected)
    # folded with the settings when presenting, as it was inside them
    if (forget or compare) and not presenting() and (idle := scheduler_idle_note(config)):
        st.info(idle, icon=":material/schedule:")


def stepped(work: LectureLoop | SchedulerComparison) -> LectureLoop:
    """The run the panels, numbers and Keep follow: a comparison's run with `lr_scheduler.step()`, else the run."""
    return work.stepped if isinstance(work, SchedulerComparison) else work


def draw_loop(work: LectureLoop | SchedulerComparison, places: tuple) -> None:
    """The run's four panels and its numbers; for a comparison, the stepped run's panels, then both runs' test
    curves on one chart and what forgetting the step did, in numbers."""
    panel, numbers = places
    loop = stepped(work)
    n = redraw_number()
    with panel.container():
        chart(st, loop_figure(loop.history, loop.steps_per_epoch), width="stretch", key=f"build_fig_{n}")
        if isinstance(work, SchedulerComparison):  # a walk could not tell which run the four panels showed
            st.caption("The four panels above follow the run with `lr_scheduler.step()`; the chart below has both.")
            chart(
                st,
                scheduler_figure(work.stepped.history, work.forgotten.history, work.steps_per_epoch),
                width="stretch",
                key=f"build_cmp_{n}",
            )
    done = final_numbers(loop)
    # Named as the charts' moment: they are redrawn each half epoch while the progress bar above counts every step
    # (a walk read "Step 10 of 400" under "20 of 400 steps done")
    text = f"Charts at step {loop.step:,} of {loop.total_steps:,}"
    if isinstance(work, SchedulerComparison):  # a walk read "400 steps" estimated, then "Step 200 of 200"
        text += " of each of the two runs"
    if done:
        text += (
            f" · after epoch {loop.history.epoch[-1]}: test accuracy {done['test_accuracy']:.1%}, test loss "
            f"{done['test_loss']:.3f}, the last step's learning rate {done['lr']:g}"
        )
    if memorised := memorised_note(loop):
        text += f"  \n{memorised}"
    if isinstance(work, SchedulerComparison) and (
        effect := scheduler_effect(work.stepped.history, work.forgotten.history)
    ):
        text += f"  \n{effect}"
    numbers.markdown(text)


def kept_curves(work: LectureLoop | SchedulerComparison) -> list[Curve]:
    """A finished run's test curves, labelled with its settings (both runs of a comparison)."""
    loops = [work.stepped, work.forgotten] if isinstance(work, SchedulerComparison) else [work]
    return [loop_curve(loop.history, short_label(loop.config)) for loop in loops]


def training_tab() -> Callable[[], None]:
    """The Training loop tab: the loop's settings with their time estimate, its code, the run so far. Returns what
    trains the live run, to be called in the tab once the rest of the page is drawn. The page draws this tab first:
    the estimate's probe then times the run's steps before the browser draws the Anatomy tab's charts (a walk saw a
    probe beside that drawing read 4x slow)."""
    prose(
        "The lecture's loop on data this machine has: AdamW, StepLR, cross-entropy, an evaluation on the test "
        "set after every epoch. Every step records the loss, the batch's accuracy, the learning rate and each "
        "layer's gradient norm."  # the switches say the rest: Train's row then shows at 1280 x 720 (a walk)
    )
    with settings(key=LOOP.settings_key):
        config, compare = loop_settings_ui()
    bar = LOOP.controls()
    # drawn now, so a line from a stopped run is gone while a resumed one trains (a walk); under the buttons, as on
    # the BatchNorm tab (a walk found Build's under the charts, below the fold, and read the stop as unsaid)
    said = st.empty()
    loop_estimate_ui(config, compare)
    # The charts and what to do with the run under the Train button, the full width (a walk found the four panels
    # cramped beside the code); then the code, wide enough for its longest line unwrapped, beside its notes.
    places, after = (st.empty(), st.empty()), st.container()
    loop: LectureLoop | None = LOOP.work
    pending = LOOP.state.config
    code, notes = st.columns([7, 3])
    shown = loop.config if loop is not None else (pending[0] if pending else config)
    code.code(loop_code(shown), language="python", wrap_lines=True)
    with notes:
        if loop is not None:
            st.caption(f"This run: {describe(loop.config)}.")
        else:  # the form applies its settings on Train only (a walk read a changed choice beside the old code)
            st.caption("The code for the settings as last applied: a change in the form shows here on **Train**.")
        st.caption("Departures from the lecture's code: " + "; ".join(DEPARTURES[shown.setup]) + ".")
    if loop is not None:
        draw_loop(loop, places)
    elif not LOOP.active:
        places[1].info(f"{press('Train')} to start the loop.", icon=":material/play_arrow:")
    # drawn now too, Keep and its "Kept as" line: a walk saw the last run's, faded, during a new one
    keep = after.empty()
    kept = st.container()

    def train() -> None:
        LOOP.run(
            lambda c: SchedulerComparison(c[0]) if c[1] else LectureLoop(c[0]),
            lambda w: draw_loop(w, places),
            lambda w: max(1, w.steps_per_epoch // 2),
            "Training",
            kind=lambda w: loop_kind(w.config),
            where=bar,
            on_done=lambda w: LOOP.keep(kept_curves(w)),
        )
        if LOOP.state.phase == "stopped":  # a comparison counted per run, as the line under its charts
            one = stepped(loop)
            each = " of each run" if one is not loop else ""
            said.caption(f"Stopped at step {one.step:,} of {one.total_steps:,}{each}: press **Resume** to go on.")
        with after:
            if LOOP.state.phase == "done" and loop is not None:
                with keep.container():
                    which = "the run with lr_scheduler.step()" if stepped(loop) is not loop else ""
                    keep_loop_ui(stepped(loop), which)
        with kept:
            LOOP.show_kept("epoch", percent=("Test accuracy",))

    return train
