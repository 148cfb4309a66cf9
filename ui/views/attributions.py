"""The Attributions page's maps: the target and display choices, each method's settings, and the maps side by side,
computed in the server's queue (ui.views.attribution_checks checks them). Drawing only: explain/ computes."""

import json

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from explain.figures.charts import colorbar
from explain.figures.render import png_bytes
from explain.methods.attributions import (
    METHODS,
    SettingsError,
    attribute,
    defaults,
    method_summary,
    params_for,
)
from explain.methods.layers import default_cam_layer, spatial_layers
from models.text import first_line, percent
from ui.admission import heavy_job, result_store
from ui.model_picker import out_of_distribution
from ui.page_end import end_page
from ui.param_form import param_widgets
from ui.predictions import top5
from ui.presenter import chart, per_row, presenting
from ui.subject import Subject, cached_on_subject
from ui.view_link import BIND

DEFAULT_METHODS = ["saliency", "integrated_gradients", "guided_backprop", "grad_cam"]


def _layer_names(subject: Subject) -> tuple[list[str], str, dict[str, int]]:
    """The layers with spatial maps, the default Grad-CAM layer, and each layer's smaller side in cells."""
    layers = spatial_layers(subject.model, subject.x)
    return [layer.name for layer in layers], default_cam_layer(layers), {la.name: min(la.shape[1:]) for la in layers}


def attribution_key(subject: Subject, target: int, method: str, params: str) -> tuple[str, ...]:
    """Where the server's result store keeps a map: the image's and network's hashes, the class, method and its
    parameters (JSON, keys sorted)."""
    return ("attribution", subject.cache_id, str(target), method, params)


layer_names = cached_on_subject("spatial_layers", _layer_names, max_entries=32)


def target_ui(where: DeltaGenerator, subject: Subject) -> int:
    """The class to explain: the top prediction by default, the top five listed first, any class of the model."""
    predictions, info, chosen = top5(subject), subject.info, subject.chosen
    top = [p.index for p in predictions]
    # Keyed by image and model (a new one starts again from its own top prediction); the option labels are the
    # class names alone, so a link names the class the same way on any device.
    target = where.selectbox(
        "Explain the class",
        [*top, *(i for i in range(len(info.categories)) if i not in top)],
        format_func=info.categories.__getitem__,
        key=f"attr_class_{chosen.sha256[:12]}_{info.name}",
        bind=BIND,
        help="The model's five most likely classes come first, most likely at the top.",
    )
    where.caption("Top five: " + ", ".join(f"{p.label} {percent(p.probability)}" for p in predictions))
    if ood := out_of_distribution(info, chosen):
        where.caption(f":material/help: {ood}")
    return target


def display_ui(where: DeltaGenerator) -> tuple[list[str], str, float, float, bool]:
    """The methods to compare, and how their maps are shown: values, clipping percentile, overlay opacity, and
    whether each panel shows the map alone instead of over the image."""
    methods = where.multiselect(
        "Methods",
        list(METHODS),
        DEFAULT_METHODS,
        format_func=lambda k: METHODS[k].title,
        key="attr_methods",
        bind=BIND,
        wrap=True,  # in a column Streamlit keeps the chips on one scrolling row: with 13 methods most were hidden
    )
    c1, c2, c3 = where.columns(3)
    mode = c1.radio(
        "Values",
        ["absolute", "signed"],
        horizontal=True,
        key="attr_mode",
        bind=BIND,
        help="absolute: how strongly each pixel counts, either way (the channels' sum, made positive; for Saliency "
        "and SmoothGrad over it, the gradient's size in R, G and B added up, so opposite signs do not cancel). "
        "signed: red where the method's value is positive, "
        "blue where negative: evidence for and against the class for Integrated Gradients, SHAP and Occlusion; for "
        "plain gradients, the direction in which a small change raises the score.",
    )
    percentile = c2.slider(
        "Clip at percentile",
        90.0,
        100.0,
        99.0,
        0.5,
        key="attr_pct",
        bind=BIND,
        help="Values above this percentile of the map's magnitudes are drawn at full colour, so a few extreme pixels "
        "do not leave the rest dark. Captum's visualize_image_attr clips elsewhere: at the value below which 98% of "
        "the map's total magnitude lies (its outlier_perc=2).",
    )
    alone = c1.toggle("The map alone", key="attr_alone", bind=BIND, help="Each map in full colour, without the image.")
    alpha = c3.slider(
        "Overlay opacity",
        0.0,
        1.0,
        0.7,
        0.05,
        key="attr_alpha",
        bind=BIND,
        disabled=alone,
        help="Off while the maps are shown alone."
        if alone
        else "Each pixel takes the map's colour by its value times this (0: the image alone; at 1, pixels at the clip "
        "value show the map alone, weaker ones less).",
    )
    return methods, mode, percentile, alpha, alone


def params_ui(methods: list[str], subject: Subject, mode: str) -> dict[str, dict]:
    """Each ticked method's parameters, in an expander; the page stops here while no method is ticked."""
    layers, default_layer, _ = layer_names(subject)
    chosen_params = {}
    with st.expander("Method parameters", expanded=False):
        for m in methods:
            head = st.empty()  # the summary above the widgets, written once they give its parameters
            side = subject.x.shape[-1]
            chosen_params[m] = param_widgets(
                params_for(m, side), f"attr_{m}", defaults(m, side, default_layer), layers, linked=True
            )
            head.markdown(f"**{METHODS[m].title}**: {method_summary(m, mode, subject.x.shape[1], chosen_params[m])}")
    if not methods:
        st.info("Tick at least one method above.")
        end_page()
    return chosen_params


def attribution_maps(
    subject: Subject, target: int, methods: list[str], params: dict[str, dict]
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Each method's map, from the server's result store or computed under a progress bar, and a one-line reason for
    each method that failed. Maps not yet stored are computed each in a turn of the server's queue (a review: up to
    13 methods, Occlusion's 1,024 passes among them, had run beside every queued job, from a link alone); a page whose
    maps are all stored (a slider moved) does not wait."""
    store = result_store()
    keys = {m: attribution_key(subject, target, m, json.dumps(params[m], sort_keys=True)) for m in methods}
    found = {m: hit for m in methods if (hit := store.get(keys[m])) is not None}  # a map, or why there is none
    todo = [m for m in methods if m not in found]
    # One place for the bar and the queue's notes, drawn whether or not a map is computed: the page's later
    # elements keep their places from run to run (a walk's tabs, shifted by a first run's five emptied notes and
    # bar, opened on Maps again after a press in Faithfulness)
    place = st.empty()
    for i, m in enumerate(todo):  # a turn of the queue each: the slot is given back between maps (an attack's link
        # asked for all 13 at their heaviest settings in one turn)
        what = f"{METHODS[m].title} ({i + 1} of {len(todo)})"
        with heavy_job(what, place):
            place.progress(i / len(todo), text=f"{what}…")
            if (hit := store.get(keys[m])) is None:  # else computed by another visitor while this one waited
                hit = _attribution_or_why(subject, target, m, json.loads(keys[m][-1]))
                store.put(keys[m], hit)  # a failure too: a slider moved beside it neither queues nor retries
        found[m] = hit
    place.empty()
    maps = {m: found[m] for m in methods if not isinstance(found[m], str)}
    return maps, {m: found[m] for m in methods if isinstance(found[m], str)}


def _attribution_or_why(subject: Subject, target: int, method: str, settings: dict) -> np.ndarray | str:
    """The method's map, or the one line that says why it has none."""
    try:
        return attribute(subject.model, subject.x, method, target, **settings)[0].cpu().numpy()
    except SettingsError as exc:  # the settings, not the model (a walk read "Occlusion does not work on ...")
        return f"{METHODS[method].title} cannot run with these settings: {exc}"
    except Exception as exc:  # one method failing must not take the others down
        return f"{METHODS[method].title} does not work on {subject.info.title}: {first_line(exc, 160)}"


def show_maps(
    methods: list[str],
    view: np.ndarray,
    seen: str,
    overlays: dict[str, np.ndarray],
    failures: dict[str, str],
    notes: dict[str, str],
    summaries: dict[str, str],
    target_name: str,
    mode: str,
    percentile: float,
    alpha: float | None,
) -> None:
    """The shared colour bar (as the overlays blend it; `alpha` None: the maps are shown alone), then the image and
    a panel per method, in rows that start level whatever their captions (fewer, larger ones when presenting): each
    method's picture at the image's own resolution with a PNG download, or why it failed, and a line saying why a
    map is empty, flat or coarse. `summaries`: each method's caption (`method_summary`: for this mode and model)."""
    chart(st, colorbar(mode, percentile, alpha, explained=not presenting()), width="stretch", key="attr_colorbar")
    panels = [None, *methods]  # None: the image itself
    cols = per_row(3)
    for row in range(0, len(panels), cols):
        for col, m in zip(st.columns(cols), panels[row : row + cols], strict=False):
            with col:
                method_panel(m, view, overlays, failures, notes, summaries, target_name, seen)


def method_panel(
    m: str | None,
    view: np.ndarray,
    overlays: dict[str, np.ndarray],
    failures: dict[str, str],
    notes: dict[str, str],
    summaries: dict[str, str],
    target_name: str,
    seen: str,
) -> None:
    """One panel of the grid: the image the model saw (m None), captioned `seen` (`seen_caption`), or method m's map
    over it."""
    if m is None:
        st.markdown("**The image**")
        st.image(view, caption=seen, width="stretch")
        return
    st.markdown(f"**{METHODS[m].title}**")
    if m in failures:
        st.warning(failures[m], icon=":material/block:")
        return
    st.image(overlays[m], caption=f"{target_name} · {summaries[m]}", width="stretch")
    if notes.get(m):
        st.caption(f":material/info: {notes[m]}")
    st.download_button("PNG", png_bytes(overlays[m]), f"{m}_{target_name}.png", "image/png", key=f"attr_png_{m}")
