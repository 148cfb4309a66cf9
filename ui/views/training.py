"""The Training-tricks page's tabs: BatchNorm on and off trained live side by side, and a data-augmentation pipeline
with its previews, its code and a short comparison run. Drawing and the live loop: models/ trains."""

import json
import time
from collections.abc import Callable

import numpy as np
import streamlit as st
from PIL import Image
from streamlit.delta_generator import DeltaGenerator

from explain.figures.augmentation import PREVIEW_SIDE, image_previews, preview_note, scene_previews
from explain.figures.charts import bn_accuracy_chart, bn_distribution_chart
from explain.figures.compare import bn_curves
from models.experiments.augmentation import (
    COMPARE_EPOCHS,
    DIGIT_SIDE,
    PRESETS,
    PREVIEW_SECONDS,
    TRANSFORMS,
    PipelineResult,
    bench_pair_seconds,
    check_steps,
    compare_on_digits,
    comparison_probe,
    comparison_steps,
    kept_seconds_per_draw,
    on_digits_note,
    pipeline_code,
    pipeline_from_link,
    pipeline_link,
    preview_draws,
    probe_affordable,
    step,
    steps_names,
    targets_note,
    training_refusal,
)
from models.experiments.batchnorm import (
    BNConfig,
    BNExperiment,
    batchnorm_behaviour,
    bn_config,
    bn_label,
    bn_probe,
    estimate_seconds,
    load_default,
    summary,
)
from models.files import ResultsFileError
from models.text import counted, first_line
from ui.admission import cached_heavy, stored
from ui.image_input import ChosenImage, image_input
from ui.live_run import LAST_APPLIED, MAX_KEPT, LiveRun, estimate_text, redraw_number, server_speeds
from ui.page_end import end_page
from ui.param_form import param_widgets
from ui.presenter import chart, fold_panel, note, press, prose, settings
from ui.view_link import BIND, select_number

# short enough for the Network box in a third of the page (a walk: "the paper's: 3 x 100 fully connected" was cut)
ARCH_NAMES = {"mlp": "3 x 100 MLP (the paper's)", "conv": "conv net (the course's)"}


PIPELINE = "aug_pipeline"  # the URL parameter that carries the augmentation pipeline
TABS = ["BatchNorm", "Data augmentation"]


def opening_tab() -> str:
    """The tab the page opens on: Data augmentation for a link that carries a pipeline (a walk opened one on the
    BatchNorm tab and saw no pipeline), else BatchNorm; fixed for the session, so a later change of the URL never
    switches the tab under the visitor."""
    return st.session_state.setdefault("training_opening_tab", TABS[1] if PIPELINE in st.query_params else TABS[0])


FIRST_PRESET = next(iter(PRESETS))  # the pipeline the page opens with
BN = LiveRun("bn", settings_key="bn_settings", start_label="Train both networks")  # the BatchNorm pair's live run


def bn_kind(config: BNConfig) -> tuple:
    """What one step of a BatchNorm run costs: its network and batch size."""
    return ("bn", config.arch, config.batch_size)


def bn_settings_ui() -> BNConfig:
    """The run's settings; Train asks for the run. Returns the settings last applied."""
    prose(
        "The same network trained twice on scikit-learn's handwritten digits (1,300 training and 497 test scans), "
        "once with BatchNorm. Both start from the same weights and see the same batches. Try the paper's sigmoid "
        "network at a small rate, then a large one: at 0.05 the network without BatchNorm is still under 30% "
        "(chance is 10%) after 3,000 steps while the BatchNorm network passes 90% within 100; at 2.0 both learn, "
        "the one without BatchNorm in about 650 steps (seed 0, batches of 60; the dashboard's own tests check these "
        "figures)."
    )
    with st.form("bn_form"):
        c1, c2, c3 = st.columns(3)
        arch = c1.selectbox(
            "Network",
            ["mlp", "conv"],
            key="bn_arch",
            bind=BIND,
            format_func=ARCH_NAMES.get,
            help="The paper's network: three fully connected layers of 100 units; or the course's convolutional net.",
        )
        activation = c1.selectbox("Activation", ["sigmoid", "relu"], key="bn_act", bind=BIND)
        lr = select_number(c2, "Learning rate (SGD)", [0.01, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0], 0.5, key="bn_lr")
        batch_size = select_number(c2, "Batch size", [8, 16, 32, 60, 128, 256], 60, key="bn_bs")
        steps = c3.number_input("Steps", 100, 20_000, 3000, 100, key="bn_steps", bind=BIND)
        seed = c3.number_input("Seed", 0, 10_000, 0, key="bn_seed", bind=BIND)
        # folds the open Settings panel when presenting, before the page is drawn again
        submitted = st.form_submit_button(
            "Train both networks", type="primary", on_click=fold_panel, args=(BN.settings_key,)
        )
    config = bn_config(arch, activation, lr, batch_size, steps, seed)
    if submitted:  # the networks are built once this visitor's turn in the server's queue comes
        BN.start(config)
    return config


def bn_estimate_ui(config: BNConfig) -> None:
    """The time the settings take at this server's measured speed, and what Train, Stop and Resume do; drawn under
    Stop and Resume so that a run's progress bar shows beside them, in view (a walk found it below the fold)."""
    note(
        estimate_text(
            bn_kind(config),
            config.steps,
            estimate_seconds(config.arch, 1, config.batch_size),
            "bench/bench_training.py",
            " of both networks" + LAST_APPLIED,
            bn_probe(config),
        )
        + ". A change in the form counts once you press **Train both networks**. **Stop** pauses "
        "between steps; **Resume** goes on."
    )


def draw_bn(exp_or_run: BNExperiment | tuple, places: tuple) -> None:
    """A run's accuracy and distribution charts and its train-vs-eval panel, which follows the run ("so far"
    until its last step). `exp_or_run` is the visitor's experiment or the default run (config, history, numbers)."""
    if isinstance(exp_or_run, BNExperiment):
        exp = exp_or_run
        config, history = exp.config, exp.history
        behaviour = batchnorm_behaviour(exp.bn, exp.x_test, exp.last_batch)
    else:
        config, history, behaviour = exp_or_run
    acc, dist, panel = places
    n = redraw_number()
    chart(acc, bn_accuracy_chart(history), width="stretch", key=f"bn_acc_{n}")
    chart(dist, bn_distribution_chart(history, config.unit, config.arch == "conv"), width="stretch", key=f"bn_dist_{n}")
    if behaviour and history.steps:
        panel.markdown(summary(history, behaviour, config.steps))


def show_bn_run(exp: BNExperiment | None) -> tuple:
    """The visitor's run, else (while none is waiting to start) the default run computed in advance; returns the
    placeholders it is drawn in."""
    default = None
    if exp is None and not BN.active:
        try:
            default = load_default()
        except ResultsFileError as exc:
            st.warning(str(exc), icon=":material/description:")
    if default is not None:
        c = default[0]
        st.caption(  # the settings in words (it showed their JSON); shown when presenting too: they are what the
            # curves are of (a lecturer's walk: nothing on the projected screen named the learning rate)
            f"The default run, computed in advance: {ARCH_NAMES[c.arch]}, {c.activation}, learning rate {c.lr:g}, "
            f"batches of {c.batch_size}, {counted(c.steps, 'step')}, seed {c.seed}."
        )
    elif exp is not None and not BN.active:  # above the charts, where the default run's line was (a walk)
        # a walk could not tell a finished run of the defaults from the run computed in advance
        same = " The same settings as the default run computed in advance, shown here before." * (
            exp.config == BNConfig()
        )
        st.caption(f"Your run: {bn_label(exp.config)}; {exp.step:,} of {exp.config.steps:,} steps trained.{same}")
    places = st.empty(), st.empty(), st.empty()
    if exp is None:
        if default is not None:
            draw_bn(default, places)
        elif not BN.active:
            st.info(f"{press('Train both networks')} to start (no cached run of the default settings was found).")
    else:
        draw_bn(exp, places)
    return places


def pipeline_ui() -> tuple[list[dict], str]:
    """The pipeline editor; returns its steps and their checked JSON, or stops the page if it cannot be built."""
    prose(
        "Build a pipeline from torchvision's transforms v2, see what it does to an image and to a detection sample "
        "(boxes and masks move with the pixels), copy its code, and measure whether it helps a small digits classifier."
    )
    if "aug_steps" not in st.session_state:  # a link's pipeline, else the first preset
        st.session_state["aug_steps"] = linked_steps()
    steps_state = st.session_state["aug_steps"]
    c1, c2 = st.columns(2)
    preset = c1.selectbox(  # opens on the preset loaded below (a walk read "—" beside it)
        "Start from a preset",
        list(PRESETS),
        key="aug_preset",
        help="Load preset replaces the pipeline below with these steps; the page opens with the first loaded.",
    )
    if c1.button("Load preset", key="aug_load"):
        st.session_state["aug_steps"] = [dict(s) for s in PRESETS[preset]]
        st.rerun()
    new = c2.selectbox("Add a transform", list(TRANSFORMS), key="aug_new")
    if c2.button("Add", key="aug_add"):
        steps_state.append(step(new))
        st.rerun()

    for i, s in enumerate(list(steps_state)):
        with st.expander(f"{i + 1}. {s['name']}", expanded=False):
            s["params"] = param_widgets(TRANSFORMS[s["name"]].params, f"aug_{i}_{s['name']}", s.get("params", {}))
            b1, b2, _ = st.columns([1, 1, 4])
            if b1.button("Move up", key=f"aug_up_{i}", disabled=i == 0):
                steps_state[i - 1], steps_state[i] = steps_state[i], steps_state[i - 1]
                st.rerun()
            if b2.button("Remove", key=f"aug_rm_{i}"):
                steps_state.pop(i)
                st.rerun()

    try:
        steps_json = json.dumps(check_steps(steps_state))
    except (ValueError, TypeError) as exc:
        st.error(f"This pipeline cannot be built: {first_line(exc)}")
        end_page()
    link = pipeline_link(steps_state)  # in the URL, so a reload or a shared link opens it (a walk lost it)
    if link != pipeline_link(PRESETS[FIRST_PRESET]):
        st.query_params[PIPELINE] = link
    else:  # the page's default: links stay short
        st.query_params.pop(PIPELINE, None)
    return steps_state, steps_json


def linked_steps() -> list[dict]:
    """The pipeline the URL carries (its `aug_pipeline`, as `pipeline_link` wrote it), else the first preset's; one
    that cannot be used says why in one line."""
    if text := st.query_params.get(PIPELINE):
        try:
            return pipeline_from_link(text)
        except ValueError as exc:
            st.warning(f"The link's pipeline cannot be used ({exc}); the first preset is loaded instead.")
    return [dict(s) for s in PRESETS[FIRST_PRESET]]


def samples_ui() -> tuple[ChosenImage | None, int, int]:
    """The image to augment, how many draws to show and the seed (Reseed adds one): (image, n, seed)."""
    chosen = image_input("aug")
    c1, c2 = st.columns(2)
    n = c1.slider("Samples", 4, 24, 12, 4, key="aug_n", bind=BIND)
    seed = st.session_state.setdefault("aug_seed", 0)
    if c2.button("Reseed", key="aug_reseed"):
        st.session_state["aug_seed"] = seed = seed + 1
    c2.caption(f"seed {seed}")
    return chosen, n, seed


@st.cache_data(max_entries=64, show_spinner=False)
def cached_image_previews(steps_json: str, image_sha: str, n: int, seed: int, _image: Image.Image) -> np.ndarray:
    """The pipeline's draws on the image, once per (pipeline, image's SHA-256, n, seed)."""
    return image_previews(json.loads(steps_json), _image, n, seed)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_scene_previews(steps_json: str, seed: int, n: int) -> np.ndarray:
    """The pipeline's draws on the detection sample, once per (pipeline, seed, n)."""
    return scene_previews(json.loads(steps_json), seed, n)


def draw_seconds(steps_json: str, side: int) -> float:
    """One draw of the pipeline timed on this server (`kept_seconds_per_draw`): kept a while per pipeline and side."""
    return kept_seconds_per_draw(json.loads(steps_json), side)


def digit_draw_seconds(steps_json: str) -> float | None:
    """A draw on a training digit, read once per run for the press, its refusal and its estimate alike (a review: a
    timing re-taken after a minutes-long press could refuse what the press had just trained), or None where the
    pipeline fails on a digit (the previews say why)."""
    try:
        return draw_seconds(steps_json, DIGIT_SIDE)
    except Exception:
        return None


SCENE_DRAWS = 4  # draws on the detection sample


def show_previews(steps_json: str, chosen: ChosenImage | None, n: int, seed: int) -> None:
    """The pipeline's draws on the chosen image and on the detection sample, or why it fails on them; as many as
    PREVIEW_SECONDS of this server's time allow (the rest are left out, and the page says so)."""
    try:
        per_draw = draw_seconds(steps_json, PREVIEW_SIDE)
    except Exception as exc:  # e.g. a crop larger than the image without padding
        st.error(f"The pipeline fails on an image of {PREVIEW_SIDE} pixels: {first_line(exc)}")
        return
    shown, scene = preview_draws(per_draw, [n, SCENE_DRAWS])
    if shown < n:  # a loopback review's twelve blurs after 512-pixel crops took 37 s of the server, unqueued
        st.info(
            f"These transforms take {per_draw:.2g} s a draw on this server: {shown} of the {n} draws are shown, as "
            f"the page spends at most {PREVIEW_SECONDS:g} s on previews.",
            icon=":material/timer:",
        )
    if chosen is not None:
        if note := preview_note(chosen.image):
            st.info(note, icon=":material/photo_size_select_small:")
        try:
            st.image(
                cached_image_previews(steps_json, chosen.sha256, shown, seed, chosen.image),
                # the transforms named: presenting, the pipeline's code is folded away (a lecturer's walk)
                caption=f"{shown} draws of the pipeline ({steps_names(steps_json)}) on {chosen.name}",
                width="stretch",
            )
        except Exception as exc:  # e.g. a crop larger than the image without padding
            st.error(f"The pipeline fails on this image: {first_line(exc)}")

    st.subheader("The same pipeline on a detection sample")
    try:
        st.image(
            cached_scene_previews(steps_json, seed, scene),
            caption="instance masks (tinted, outlined in magenta) and boxes, transformed with the image",
            width="stretch",
        )
        if passed := targets_note(json.loads(steps_json)):
            st.caption(f":material/info: {passed}")
    except Exception as exc:
        st.error(f"The pipeline fails on the detection sample: {first_line(exc)}")


def comparison_ui(steps: list[dict]) -> tuple[int, bool, DeltaGenerator]:
    """The "Does it help?" experiment's epochs, whether its button was pressed, and the place under it for how long a
    press takes (`show_estimate`, once a pressed run is done); a warning where the pipeline's crop changes the digits'
    scale."""
    st.subheader("Does it help?")
    prose(
        "A small CNN trained on 300 digits, once without and once with the pipeline (test images are never "
        "augmented; 497 of them). Flips and strong crops can hurt: a flipped 2 is no longer a 2. Augmented data "
        "is harder to fit, so it needs more epochs to pay off: the MNIST-style preset costs about 3 points at 8 "
        "epochs and gains about 4 at 30 (seed 0; the dashboard's own tests check these figures)."
    )
    if note := on_digits_note(steps):
        st.warning(note, icon=":material/crop:")
    epochs = st.slider("Epochs", 2, COMPARE_EPOCHS, COMPARE_EPOCHS, key="aug_epochs", bind=BIND)
    return epochs, st.button("Train with and without", key="aug_train"), st.empty()


def comparison_kind(steps_json: str) -> tuple[str, str]:
    """What a step of the comparison costs depends on: its pipeline (the key of its measured speed and probe)."""
    return ("augmentation", steps_json)


def show_estimate(where: DeltaGenerator, steps_json: str, epochs: int, per_digit: float | None) -> None:
    """How long a press of "Train with and without" takes (a walk found no word on it), under the button: drawn after
    a pressed run, so it quotes the speed that run measured."""
    if said := comparison_estimate(steps_json, epochs, per_digit):
        where.caption(said)


def comparison_key(steps_json: str, epochs: int) -> tuple:
    """The comparison's result in the server's store: its pipeline, epochs and seed."""
    return ("augmentation", steps_json, epochs, 0)


def comparison_estimate(steps_json: str, epochs: int, per_digit: float | None) -> str:
    """How long "Train with and without" takes at these settings (`ui.live_run.estimate_text`: this server's
    measured speed, else a probe of its steps, else the bench's figure with this pipeline's draws timed here, at
    `per_digit` seconds a digit: `digit_draw_seconds`), or "" where the pipeline fails or the press would be refused
    (the press says why)."""
    if per_digit is None or training_refusal(per_digit, epochs):
        return ""
    # a walk pressed again and read "About 7.4 s" for a 0.5-s answer; a later walk, reading "by your press or another
    # visitor's" under its own finished run, could not tell whether it had trained anything
    if stored(comparison_key(steps_json, epochs)):
        return (
            "A press shows the result at once: this pipeline has been trained for these epochs on this server "
            "already, and its result is kept for every visitor (every press trains it from seed 0)."
        )
    steps = comparison_steps(epochs)
    return estimate_text(
        comparison_kind(steps_json),
        steps,
        bench_pair_seconds(per_digit),
        "bench/bench_training.py",
        f", each training both networks on a batch, {counted(epochs, 'epoch')} of {steps // epochs} batches",
        comparison_probe(json.loads(steps_json), epochs),
        probe_affordable(per_digit),
        ", plus this pipeline's draws as timed here",  # for a costly pipeline, nearly all of it (a review)
    )


def timed_comparison(steps_json: str, epochs: int, report: Callable[[int, int], None]) -> dict[str, float]:
    """`compare_on_digits` on seed 0, its steps' speed recorded as this server's for the pipeline (later estimates):
    from its first step's end to its last's, the bar's redraws included, so the digits' loading and the two
    evaluations, the same whatever the epochs, do not weigh on it (a review: a 2-epoch press read 1.5x slow a step)."""
    ended: dict[int, float] = {}  # when each step ended, by its number

    def timed(done: int, total: int) -> None:
        report(done, total)
        ended[done] = time.perf_counter()

    accuracy = compare_on_digits(json.loads(steps_json), epochs=epochs, seed=0, progress=timed)
    if (last := max(ended, default=0)) > 1:
        server_speeds().record(comparison_kind(steps_json), ended[last] - ended[1], last - 1)
    return accuracy


def compare_pipeline(steps_json: str, epochs: int, per_digit: float | None) -> None:
    """Trains the digits classifier without and with the pipeline (in the server's queue) and keeps the result
    with the visitor's earlier ones (the last MAX_KEPT); refused where `per_digit` (`digit_draw_seconds`) says the
    pipeline's draws would hold the server too long."""
    try:
        if per_digit is not None and (refusal := training_refusal(per_digit, epochs)):
            st.warning(refusal, icon=":material/timer:")  # it would hold the server's heavy-job slot that long
            return
        accuracy = cached_heavy(
            "Training twice",
            comparison_key(steps_json, epochs),
            lambda report: timed_comparison(steps_json, epochs, report),
            unit="steps (a batch for each network)",  # as its estimate counts (a walk read 270 steps, then 540 batches)
        )
    except Exception as exc:
        st.error(f"Training failed with this pipeline: {first_line(exc)}")
        return
    results = st.session_state.setdefault("aug_results", [])
    results.append(PipelineResult(steps_json, epochs, accuracy["without"], accuracy["with"]))
    del results[:-MAX_KEPT]


def show_comparison(results: list[PipelineResult], steps_json: str, epochs: int) -> None:
    """The newest result's two test accuracies and settings, saying when the pipeline or epochs above have changed
    since; with earlier ones, all of them in a table."""
    if not results:
        return
    last = results[-1]
    a, b = st.columns(2)
    a.metric("Test accuracy without augmentation", f"{last.without:.1%}")
    b.metric("with the pipeline", f"{last.with_pipeline:.1%}", delta=f"{last.gain_points:+.1f} points")
    said = f"{counted(last.epochs, 'epoch')}, pipeline: {last.pipeline_text}."
    if not last.measures(steps_json, epochs):  # a walk loaded a preset and read the old run's result under it
        said += (
            " The pipeline or epochs above differ from this run's: press **Train with and without** to measure them."
        )
    st.caption(said)
    if len(results) > 1:
        st.markdown("**Your pipelines, compared** (newest last)")
        points = {c: st.column_config.NumberColumn(format="%.1f") for c in ("without (%)", "with (%)")}
        points["change (points)"] = st.column_config.NumberColumn(format="%+.1f")  # as the metric writes it
        st.dataframe([r.row() for r in results], hide_index=True, column_config=points)


def bn_tab() -> Callable[[], None]:
    """The BatchNorm tab: settings, the progress of a live run above its curves, the run so far. Returns what
    trains the live run, to be called in the tab once the rest of the page is drawn: the other tab's elements are
    then this run's, not faded as stale while the run holds the script (a walk found that tab greyed out)."""
    with settings(key=BN.settings_key):
        config = bn_settings_ui()
    bar = BN.controls()
    said = st.empty()  # drawn now, so a line from a stopped run is gone while a resumed one trains (a walk)
    bn_estimate_ui(config)
    exp: BNExperiment | None = BN.work
    places = show_bn_run(exp)
    kept = st.container()

    def train() -> None:
        BN.run(
            BNExperiment,
            lambda e: draw_bn(e, places),
            lambda e: max(e.config.eval_every, 1),
            "Training both networks",
            kind=lambda e: bn_kind(e.config),
            where=bar,
            on_done=lambda e: BN.keep(bn_curves(e.history, bn_label(e.config))),
        )
        if BN.state.phase == "stopped":
            said.caption(f"Stopped at step {BN.work.step:,} of {BN.work.total_steps:,}: press **Resume** to go on.")
        with kept:
            BN.show_kept("step", percent=("Test accuracy",))

    return train


def augmentation_tab() -> None:
    """The augmentation tab: the pipeline, its previews and code, and the comparison run."""
    with settings():  # folded when presenting: the draws come first (a walk found them below 720 px)
        steps, steps_json = pipeline_ui()
        chosen, n, seed = samples_ui()
    show_previews(steps_json, chosen, n, seed)
    st.subheader("The code")
    st.code(pipeline_code(steps), language="python", wrap_lines=True)
    epochs, train, estimate = comparison_ui(steps)
    per_digit = digit_draw_seconds(steps_json)
    if train:
        compare_pipeline(steps_json, epochs, per_digit)
    show_estimate(estimate, steps_json, epochs, per_digit)
    show_comparison(st.session_state.get("aug_results", []), steps_json, epochs)
