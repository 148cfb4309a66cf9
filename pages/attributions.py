"""Attribution explorer: Captum's methods side by side, a sanity check, and faithfulness scores."""

from ui.shell import app_shell

app_shell()  # first: a visitor arriving here after a restart sees the app while the imports below load

import streamlit as st

from explain import (
    attribution_views,
    input_image,
    magnitude_methods,
    method_summary,
    padded_size,
    panel_note,
    seen_caption,
)
from ui.model_picker import image_and_classifier_ui, out_of_distribution
from ui.presenter import in_use, prose, settings
from ui.views.attribution_checks import batch_tab, faithfulness_tab, reproduce_tab, sanity_tab
from ui.views.attributions import attribution_maps, display_ui, layer_names, params_ui, show_maps, target_ui

st.title("Attributions: which pixels made the decision?")
prose(
    "Pick an image, a classifier and a class. Each method credits pixels for that class's score; "
    "compare them side by side, check that they depend on what the model learned, and measure which is most faithful."
)
with settings():
    subject = image_and_classifier_ui("attr")
    left, right = st.columns([1, 2])
    target = target_ui(left, subject)
    methods, mode, percentile, alpha, alone = display_ui(right)
    params = params_ui(methods, subject, mode)
info = subject.info
in_use(
    subject.chosen.name,
    info.title,
    info.is_fallback,
    out_of_distribution(info, subject.chosen),
    info.categories[target],
)
maps, failures = attribution_maps(subject, target, methods, params)

seen = input_image(subject.x, info.mean, info.std)
magnitude = magnitude_methods(params)  # gradients: their absolute maps are |gradient| per channel, summed
view, shown = attribution_views(maps, subject.chosen.image, info.preprocess, mode, percentile, alpha, magnitude)
overlays = {m: v.picture(alone) for m, v in shown.items()}

tab_maps, tab_sanity, tab_faith, tab_batch, tab_code = st.tabs(
    ["Maps", "Sanity check", "Faithfulness", "A labelled set", "Download & reproduce"]
)
with tab_maps:
    sides = layer_names(subject)[2]
    notes = {m: panel_note(m, params[m], a, mode, sides.get(params[m].get("layer") or "")) for m, a in maps.items()}
    summaries = {m: method_summary(m, mode, subject.x.shape[1], params[m]) for m in methods}
    show_maps(
        methods,
        view,
        seen_caption(view.shape[:2], tuple(subject.x.shape[-2:]), padded_size(subject.chosen.image.size)),
        overlays,
        failures,
        notes,
        summaries,
        info.categories[target],
        mode,
        percentile,
        None if alone else alpha,
    )
with tab_sanity:
    sanity_tab(subject, target, percentile, params, maps, seen)
with tab_faith:
    faithfulness_tab(subject, target, params, maps)
with tab_batch:
    batch_tab(subject)
with tab_code:
    reproduce_tab(subject, target, mode, percentile, alpha, alone, methods, params, overlays)
